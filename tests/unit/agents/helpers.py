"""Access to the real agent samples (captured from the pinned CLIs, kept in ./samples) for the adapter tests."""

from __future__ import annotations

from pathlib import Path

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.transcript import TranscriptState

SAMPLES = Path(__file__).parent / "samples"

TRANSCRIPTS = {
    "claude-transcript-interactive.jsonl": "claude",
    "claude-transcript-headless.jsonl": "claude",
    "codex-rollout-interactive.jsonl": "codex",
    "codex-rollout-headless.jsonl": "codex",
    "pi-session-interactive.jsonl": "pi",
    "pi-session-headless.jsonl": "pi",
}


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def parse_whole(name: str) -> TranscriptState:
    state = get_adapter(TRANSCRIPTS[name]).new_transcript_state()
    state.feed(sample_bytes(name))
    return state


def parse_bytes(kind: str, data: bytes) -> TranscriptState:
    state = get_adapter(kind).new_transcript_state()
    state.feed(data)
    return state


def lines(*records: str) -> bytes:
    return "".join(record + "\n" for record in records).encode()
