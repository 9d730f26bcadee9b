"""Synthetic Claude Code transcripts in the real on-disk format, for tests and
benchmarks that need many or big conversations without running the CLI."""

from __future__ import annotations

import json
import random
import uuid as uuid_mod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sesh_mesh.agents.claude import project_dir_name

VOCABULARY = (
    "refactor auth token session cache database migration schema index query flaky test retry timeout "
    "socket daemon mesh peer replica store record transcript parser tmux pane window agent model prompt "
    "reply turn compact context budget latency throughput benchmark profile memory leak thread async loop "
    "event queue worker build deploy release version config yaml toml json api endpoint handler router "
    "request response header cookie login logout password hash encrypt decrypt signature certificate"
)
WORDS = tuple(VOCABULARY.split())


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def turn_lines(session_id: str, cwd: str, user: str, reply: str, ts: str, *,
               tool: tuple[str, str] | None = None) -> bytes:
    """One complete turn: the user text, optionally a Bash call and its result, the reply, turn end."""
    base = {"sessionId": session_id, "cwd": cwd, "timestamp": ts, "version": "2.1.329", "gitBranch": "HEAD"}
    out = [_line({**base, "type": "user", "uuid": str(uuid_mod.uuid4()), "parentUuid": None,
                  "message": {"role": "user", "content": user}})]
    if tool is not None:
        tool_id = "toolu_" + uuid_mod.uuid4().hex[:20]
        out.append(_line({**base, "type": "assistant", "uuid": str(uuid_mod.uuid4()),
                          "message": {"id": "msg_" + uuid_mod.uuid4().hex[:20], "model": "claude-opus-5-5",
                                      "role": "assistant", "stop_reason": "tool_use",
                                      "content": [{"type": "tool_use", "id": tool_id, "name": "Bash",
                                                   "input": {"command": tool[0]}}],
                                      "usage": {"input_tokens": 1200, "output_tokens": 20}}}))
        out.append(_line({**base, "type": "user", "uuid": str(uuid_mod.uuid4()),
                          "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                                                   "content": tool[1], "is_error": False}]}}))
    out.append(_line({**base, "type": "assistant", "uuid": str(uuid_mod.uuid4()),
                      "message": {"id": "msg_" + uuid_mod.uuid4().hex[:20], "model": "claude-opus-5-5",
                                  "role": "assistant", "stop_reason": "end_turn",
                                  "content": [{"type": "text", "text": reply}],
                                  "usage": {"input_tokens": 1400, "output_tokens": 40}}}))
    out.append(_line({**base, "type": "system", "subtype": "turn_duration", "durationMs": 1234}))
    return b"".join(out)


def transcript_path(data_dir: Path, cwd: str, session_id: str) -> Path:
    return data_dir / "projects" / project_dir_name(cwd) / f"{session_id}.jsonl"


def write_session(data_dir: Path, cwd: str, turns: Sequence[tuple[str, str]], session_id: str | None = None,
                  day: str = "2026-11-21") -> tuple[str, Path]:
    """A claude transcript with these (user, reply) turns; returns (session id, path)."""
    session_id = session_id or str(uuid_mod.uuid4())
    path = transcript_path(data_dir, cwd, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        for index, (user, reply) in enumerate(turns):
            handle.write(turn_lines(session_id, cwd, user, reply, f"{day}T10:{index // 60 % 60:02d}:{index % 60:02d}Z"))
    return session_id, path


RARE_TERMS = 50_000
"""Benchmark text draws some words from this many rare terms (`term123`), like real text's long tail."""


def random_text(rng: random.Random, words: int, rare: float = 0.0) -> str:
    """`words` words from the common vocabulary; a `rare` share of them are rare terms instead."""
    return " ".join(f"term{rng.randrange(RARE_TERMS)}" if rare and rng.random() < rare else rng.choice(WORDS)
                    for _ in range(words))


def write_bulk_session(data_dir: Path, cwd: str, rng: random.Random, target_bytes: int,
                       rare: float = 0.1) -> tuple[str, Path, int]:
    """A transcript of about `target_bytes` of realistic turns (text, tool calls with output)."""
    session_id = str(uuid_mod.uuid4())
    path = transcript_path(data_dir, cwd, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    turn = 0
    with path.open("wb") as handle:
        while size < target_bytes:
            ts = f"2026-11-{1 + turn // 1440 % 28:02d}T{turn // 60 % 24:02d}:{turn % 60:02d}:00Z"
            tool = (f"grep -rn {rng.choice(WORDS)} src/", random_text(rng, rng.randint(40, 400), rare))
            chunk = turn_lines(session_id, cwd, random_text(rng, rng.randint(8, 60), rare),
                               random_text(rng, rng.randint(30, 250), rare), ts, tool=tool if turn % 2 else None)
            handle.write(chunk)
            size += len(chunk)
            turn += 1
    return session_id, path, size
