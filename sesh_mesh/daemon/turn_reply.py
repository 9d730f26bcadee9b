"""Which turn is ours: the reply `send` prints is the reply of the turn its own message opened.

Before a message is typed into a pane (or a headless turn runs) `send` notes where the transcript
ends (`Mark`). The turn it answers with is the first turn that opened at or after that position
with the message as its prompt; never "the last assistant text". A turn that failed or was
aborted is a `TurnFailed` carrying the agent's own error text. See docs/live-state.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh.agents.base import Turn
from sesh_mesh.agents.transcript import TranscriptState
from sesh_mesh.errors import TurnFailed

DELIVERED = "delivered"
UNCONFIRMED = "delivered-unconfirmed"
NOT_DELIVERED = "not-delivered"


@dataclass(frozen=True)
class Mark:
    """The transcript's end before the message went in: its path (None: not known yet) and size."""

    path: Path | None
    offset: int


def mark_of(path: Path | None) -> Mark:
    """The mark of `path` now; a transcript that does not exist yet marks offset 0."""
    if path is None:
        return Mark(None, 0)
    try:
        return Mark(path, os.stat(path).st_size)
    except OSError:
        return Mark(path, 0)


def same_text(prompt: str | None, message: str) -> bool:
    """The agents strip and re-wrap whitespace at the edges (and claude normalises line ends), so
    the prompt is compared with runs of whitespace folded."""
    return prompt is not None and " ".join(prompt.split()) == " ".join(message.split())


def preview(text: str | None, limit: int = 80) -> str:
    """A prompt quoted on one line for an error message."""
    flat = " ".join((text or "").split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def find_turn(state: TranscriptState, path: Path | None, mark: Mark, message: str) -> Turn | None:
    """The turn `message` opened after `mark` in the transcript `state` parses (read from `path`)."""
    start = mark.offset if mark.path is not None and mark.path == path else 0
    for turn in state.turns_after(start):
        if same_text(turn.prompt, message):
            return turn
    return None


def usage_of(state: TranscriptState) -> dict[str, Any] | None:
    if state.usage is None:
        return None
    return {"inputTokens": state.usage.input_tokens, "outputTokens": state.usage.output_tokens,
            "contextTokens": state.usage.context_tokens}


def turn_usage_of(turn: Turn, state: TranscriptState) -> dict[str, Any] | None:
    """The turn's usage summed over its model responses (`responses` of them); the transcript's
    latest usage when the agent wrote none inside the turn."""
    summed = turn.usage()
    latest = usage_of(state)
    if summed is None:
        return latest
    input_tokens, output_tokens, responses = summed
    return {"inputTokens": input_tokens, "outputTokens": output_tokens,
            "contextTokens": None if latest is None else latest["contextTokens"], "responses": responses}


def result_of(agent: str, uuid: str, turn: Turn, state: TranscriptState, via: str) -> dict[str, Any]:
    """The reply of a finished turn, or TurnFailed with what the agent said went wrong."""
    if turn.outcome == "completed":
        return {"reply": turn.reply or "", "usage": turn_usage_of(turn, state), "outcome": "completed",
                "delivery": DELIVERED, "via": via}
    raise turn_failed(agent, uuid, turn)


def turn_failed(agent: str, uuid: str, turn: Turn) -> TurnFailed:
    if turn.outcome == "aborted":
        return TurnFailed(f"the {agent} turn was aborted before it replied" + (f": {turn.error}" if turn.error else ""),
                          f"send the message again; `sesh tail {uuid[:8]}` shows the conversation")
    return TurnFailed(f"the {agent} turn failed: {turn.error or 'the agent reported no error text'}",
                      f"fix the cause and send again; `sesh tail {uuid[:8]}` shows the conversation")


@dataclass(frozen=True)
class Expected:
    """What a headless turn was started with, to find its turn in the transcript afterwards."""

    message: str
    mark: Mark
    command: bool = False
    """A slash command (`/compact`): it opens no turn of its own, so its answer is the newest reply."""


def settle_headless(agent: str, uuid: str, state: TranscriptState | None, path: Path | None, expected: Expected,
                    returncode: int | None, detail: str) -> dict[str, Any]:
    """The result of a finished headless turn: its own turn's reply, or TurnFailed with the agent's
    error (from its transcript, else `detail`, the tail of what it printed)."""
    if expected.command:
        if returncode != 0:
            raise TurnFailed(f"{agent} exited with status {returncode}: {detail}", f"see `sesh tail {uuid[:8]}`")
        return {"reply": (state.last_reply if state is not None else None) or "",
                "usage": None if state is None else usage_of(state), "delivery": DELIVERED, "via": "headless"}
    turn = None if state is None else find_turn(state, path, expected.mark, expected.message)
    ended = state is not None and turn is not None and turn.outcome is not None
    if ended and state is not None and turn is not None and (turn.outcome != "completed" or returncode == 0):
        return result_of(agent, uuid, turn, state, "headless")
    if returncode != 0:
        raise TurnFailed(f"{agent} exited with status {returncode}: {detail}",
                         f"see the agent's own error; `sesh tail {uuid[:8]}` shows the conversation")
    raise TurnFailed(f"{agent} exited without a reply to this message in its transcript",
                     f"see `sesh tail {uuid[:8]}` for what happened")
