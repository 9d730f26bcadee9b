"""The namer's input and output: a transcript excerpt, the prompt and argv of a headless naming turn
for each agent, the `[autoname]` config, and the parsing of a namer's reply into (name, summary).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sesh_mesh import errors
from sesh_mesh.agent_names import AGENT_NAMES, is_agent_name
from sesh_mesh.agents.base import TranscriptEntry
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.errors import SeshError, UsageError

EXCERPT_CHARS = 6000
"""What the namer reads: enough for the gist of a conversation, small enough for any argv and any
model's context."""

ENTRY_CHARS = 700
"""One message's share of the excerpt; long pastes and replies are cut."""

RECENT_ENTRIES = 12
"""The excerpt is the first prompt plus this many of the latest user/assistant texts."""

NAME_CHARS = 60
SUMMARY_CHARS = 200

DEFAULT_TIMEOUT_S = 120.0

PROMPT = (
    "You name coding-agent conversations for a session list. Read the conversation excerpt below and "
    "answer with one JSON object and nothing else. It has two keys: name (2 to 5 lowercase words joined "
    "by hyphens, naming the task) and summary (one sentence under 120 characters saying what the "
    "conversation is doing). Do not use tools.\n\n--- conversation excerpt ---\n"
)
"""No braces in the prompt itself: an echo of it must not parse as an answer."""


@dataclass(frozen=True)
class NamerConfig:
    """`[autoname]` in config.toml: exactly one of agent / command, plus options."""

    agent: str | None = None
    command: str | None = None
    model: str | None = None
    every_turns: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def configured(self) -> bool:
        return self.agent is not None or self.command is not None


def load_namer_config(table: dict[str, Any], source: str) -> NamerConfig:
    """Validate `[autoname]`; a UsageError naming the key and the file otherwise."""
    agent, command, model = table.get("agent"), table.get("command"), table.get("model")
    every, timeout = table.get("every_turns", 0), table.get("timeout", DEFAULT_TIMEOUT_S)
    if agent is not None and not is_agent_name(agent):
        raise UsageError(f"{source}: [autoname].agent = {agent!r} is not an agent",
                         errors.unknown_agent(agent, AGENT_NAMES).fix)
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise UsageError(f"{source}: [autoname].command must be a non-empty string", "quote the command")
    if agent is not None and command is not None:
        raise UsageError(f"{source}: [autoname] sets both agent and command", "keep one of them")
    if model is not None and not isinstance(model, str):
        raise UsageError(f"{source}: [autoname].model must be a string", 'e.g. model = "haiku"')
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise UsageError(f"{source}: [autoname].every_turns must be a whole number ≥ 0", "0 turns it off")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise UsageError(f"{source}: [autoname].timeout must be a positive number of seconds", "e.g. timeout = 60")
    return NamerConfig(agent=agent, command=command, model=model, every_turns=every, timeout_s=float(timeout))


def excerpt(entries: Sequence[TranscriptEntry], first_prompt: str | None) -> str:
    """The first prompt and the latest user/assistant texts, as `role: text` paragraphs."""
    texts = [e for e in entries if e.type == "text" and e.role in ("user", "assistant") and e.text.strip()]
    chosen = texts[-RECENT_ENTRIES:]
    parts = []
    first = (first_prompt or "").strip()
    if first and (not chosen or chosen[0].text.strip() != first):
        parts.append(f"user (first message): {_clip(first)}")
    parts += [f"{entry.role}: {_clip(entry.text.strip())}" for entry in chosen]
    text = "\n\n".join(parts)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _clip(text: str) -> str:
    return text if len(text) <= ENTRY_CHARS else text[: ENTRY_CHARS - 1] + "…"


def prompt(excerpt_text: str) -> str:
    return PROMPT + excerpt_text + "\n--- end of excerpt ---\n"


def agent_argv(agent: str, binary: str, model: str | None, prompt_text: str) -> list[str]:
    """A headless, tool-less, unsaved turn: the namer's own run must not become a conversation
    that discovery later adopts (claude --no-session-persistence, codex --ephemeral, pi --no-session)."""
    return get_adapter(agent).namer_argv(binary, model, prompt_text)


def clean_name(name: str) -> str:
    """One line, no surrounding quotes or markup, at most NAME_CHARS."""
    text = " ".join(name.split()).strip("`'\"*# ")
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS].rstrip(" -")


def clean_summary(summary: str) -> str:
    text = " ".join(summary.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _json_answers(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"\{", text):
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"].strip():
            found.append(value)
    return found


def parse_reply(text: str, *, plain_ok: bool) -> tuple[str, str]:
    """(name, summary) from a namer's stdout: the last JSON object with a `name` in it (models wrap
    JSON in prose or fences); with `plain_ok`, else the first line is the name, the second the summary."""
    answers = _json_answers(text)
    if answers:
        answer = answers[-1]
        summary = answer.get("summary")
        name = clean_name(str(answer["name"]))
        if name:
            return name, clean_summary(summary) if isinstance(summary, str) else ""
    if plain_ok:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines and clean_name(lines[0]):
            return clean_name(lines[0]), clean_summary(lines[1]) if len(lines) > 1 else ""
    shown = " ".join(text.split())[:120] or "(nothing)"
    raise SeshError(
        f"the namer's reply has no name: {shown}",
        'it must print a JSON object {"name": …, "summary": …}' + (" or a name line" if plain_ok else ""),
    )
