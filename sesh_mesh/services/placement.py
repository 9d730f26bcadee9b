"""Where a transcript goes so its agent can resume it, moving a transcript to another cwd, and
writing one without clobbering a different conversation.

Native places, relative to the agent's data dir:
  claude  projects/<cwd with every non-alphanumeric char → '-'>/<session-uuid>.jsonl
  codex   sessions/YYYY/MM/DD/rollout-<start ts>-<uuid>.jsonl   (the day of the name's timestamp)
  pi      sessions/--<cwd, '/' → '-'>--/<start ts>_<uuid>.jsonl
claude and pi look a conversation up under the directory of the cwd it ran in, so a transcript
restored for another cwd must move there, and its recorded cwd must say so.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.errors import SeshError, UsageError

WriteAction = str
"""written | unchanged | overwritten"""


def native_relpath(agent: str, cwd: str, file_name: str, content: bytes = b"") -> Path:
    """The transcript's path relative to the agent's data dir, as the agent itself would name it."""
    return get_adapter(agent).native_relpath(cwd, file_name, content)


def native_path(agent: str, env: dict[str, str] | os._Environ[str], cwd: str, file_name: str,
                content: bytes = b"") -> Path:
    """Where the agent run with `env` looks for this transcript (its data dir from the env)."""
    return get_adapter(agent).data_dir(env) / native_relpath(agent, cwd, file_name, content)


def dir_path(root: Path, agent: str, cwd: str, file_name: str, content: bytes = b"") -> Path:
    """`--to-dir ROOT`: the native layout under ROOT/<agent>/, so `CLAUDE_CONFIG_DIR=ROOT/claude`
    (CODEX_HOME=ROOT/codex, PI_CODING_AGENT_DIR=ROOT/pi) resumes from there."""
    return root / agent / native_relpath(agent, cwd, file_name, content)


def parse_rewrite(text: str) -> tuple[str, str]:
    """`OLD=NEW` with both sides absolute paths; trailing slashes dropped."""
    old, sep, new = text.partition("=")
    old, new = old.rstrip("/") or "/", new.rstrip("/") or "/"
    if not sep or not old.startswith("/") or not new.startswith("/"):
        raise UsageError(f"bad --rewrite-cwd {text!r}", "write OLD=NEW with two absolute paths, e.g. /old/app=/new/app")
    if old == "/":
        raise UsageError("--rewrite-cwd cannot rewrite /", "name the project directory that moved")
    return old, new


def rewrite_path(value: str, old: str, new: str) -> str:
    """`value` with OLD replaced by NEW where it is the path itself or a directory prefix of it."""
    if value == old:
        return new
    if value.startswith(old + "/"):
        return new + value[len(old):]
    return value


def _path_pattern(old: str) -> re.Pattern[str]:
    # OLD as a whole path inside free text: not preceded by a path character (so /x/old stays) and
    # not continued by a name character (so /old2 stays); /old/sub is rewritten.
    return re.compile(r"(?<![\w./-])" + re.escape(old) + r"(?![\w.-])")


def rewrite_cwd(content: bytes, old: str, new: str) -> bytes:
    """Every JSON string value of every line with OLD replaced by NEW where it names OLD or a path
    under it (cwd fields, tool-call paths, environment blocks). Lines that are not JSON, and lines
    that do not mention OLD, are kept byte for byte."""
    needle = old.encode()
    pattern = _path_pattern(old)
    out: list[bytes] = []
    for line in content.split(b"\n"):
        if needle not in line:
            out.append(line)
            continue
        try:
            record = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        changed = _rewrite_value(record, pattern, new)
        out.append(json.dumps(changed, ensure_ascii=False, separators=(",", ":")).encode() if changed != record
                   else line)
    return b"\n".join(out)


def _rewrite_value(value: Any, pattern: re.Pattern[str], new: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda _match: new, value)
    if isinstance(value, list):
        return [_rewrite_value(item, pattern, new) for item in value]
    if isinstance(value, dict):
        return {key: _rewrite_value(item, pattern, new) for key, item in value.items()}
    return value


def encode_content(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def decode_content(payload: dict[str, Any]) -> bytes:
    """The transcript bytes of a `transcript-fetch` reply (base64), checked against its sha256."""
    try:
        content = base64.b64decode(str(payload["content"]), validate=True)
    except (KeyError, ValueError) as exc:
        raise UsageError("transcript payload has no valid base64 content", "update sesh on both machines") from exc
    if hashlib.sha256(content).hexdigest() != payload.get("sha256"):
        raise SeshError("the transcript arrived damaged (sha256 mismatch)", "retry the command")
    return content


@dataclass(frozen=True)
class Described:
    agent_session_id: str | None
    cwd: str | None
    turns_completed: int


def describe(agent: str, content: bytes) -> Described:
    """The conversation id, cwd and turn count a transcript itself records."""
    state = get_adapter(agent).new_transcript_state(keep_entries=False)
    state.feed(content if content.endswith(b"\n") else content + b"\n")
    return Described(state.agent_session_id, state.cwd, state.turns_completed)


def complete_lines(data: bytes) -> bytes:
    """`data` up to its last newline: a line the agent is still writing is not part of a snapshot."""
    if not data or data.endswith(b"\n"):
        return data
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def write_transcript(dest: Path, content: bytes, *, force: bool) -> WriteAction:
    """Write `content` at `dest` atomically. An identical file is left alone; a different one is
    refused unless `force` (it is another state of the conversation, or another conversation)."""
    try:
        existing: bytes | None = dest.read_bytes()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise SeshError(f"cannot read {dest}: {exc.strerror}", "check the path's permissions") from exc
    if existing == content:
        return "unchanged"
    if existing is not None and not force:
        raise SeshError(
            f"{dest} exists and differs from the transcript being written ({len(existing)} vs {len(content)} bytes)",
            "pass --force to overwrite it",
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".sesh-", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as exc:
        raise SeshError(f"cannot write {dest}: {exc.strerror}", "check the directory's permissions") from exc
    return "written" if existing is None else "overwritten"
