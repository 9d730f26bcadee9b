"""probe_pane on every real pane capture, plus dialogs written after the ones other tools recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesh_mesh.agents.base import PaneProbe
from sesh_mesh.agents.pi import footer_context_window
from sesh_mesh.agents.registry import get_adapter

from .helpers import SAMPLES

IDLE = PaneProbe(busy=False, needs_input=False, ready=True)
BUSY = PaneProbe(busy=True, needs_input=False, ready=True)
GONE = PaneProbe(busy=None, needs_input=False, ready=False)

CODEX_BUSY_TITLE = "⠦ Fake title | proj"
"""The pane title codex showed during the whole turn; the capture has no title."""

EXPECTED = {
    "claude-idle-start.txt": ("", IDLE),
    "claude-busy-waiting.txt": ("✳ Claude Code", BUSY),
    "claude-busy-streaming.txt": ("✳ Claude Code", BUSY),
    "claude-idle-after-turn.txt": ("✳ Claude Code", IDLE),
    "claude-after-tool.txt": ("✳ Claude Code", IDLE),
    "claude-after-exit.txt": ("", GONE),
    "codex-idle-start.txt": ("proj", IDLE),
    "codex-busy-waiting.txt": (CODEX_BUSY_TITLE, BUSY),
    "codex-busy-streaming.txt": (CODEX_BUSY_TITLE, BUSY),
    "codex-idle-after-turn.txt": ("Fake title | proj", IDLE),
    "codex-after-tool.txt": ("Fake title | proj", IDLE),
    "codex-after-exit.txt": ("", GONE),
    "pi-idle-start.txt": ("π - proj", IDLE),
    "pi-busy-waiting.txt": ("π - proj", BUSY),
    "pi-busy-streaming.txt": ("π - proj", BUSY),
    "pi-idle-after-turn.txt": ("π - proj", IDLE),
    "pi-after-tool.txt": ("π - proj", IDLE),
}


def test_every_pane_sample_is_covered() -> None:
    captures = {path.name for path in SAMPLES.glob("*.txt")} - {"pi-rpc-demo-output.txt"}
    assert captures == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pane_sample(name: str) -> None:
    title, expected = EXPECTED[name]
    adapter = get_adapter(name.split("-", 1)[0])
    assert adapter.probe_pane((SAMPLES / name).read_text(), title) == expected


def test_codex_streaming_is_invisible_without_the_title() -> None:
    # codex hides its Working line while text streams; only the title spinner tells
    text = (SAMPLES / "codex-busy-streaming.txt").read_text()
    assert get_adapter("codex").probe_pane(text, "Fake title | proj").busy is False
    waiting = (SAMPLES / "codex-busy-waiting.txt").read_text()
    assert get_adapter("codex").probe_pane(waiting, "Fake title | proj").busy is True


def test_pi_dead_pane() -> None:
    text = (SAMPLES / "pi-idle-after-turn.txt").read_text() + "\nPane is dead (status 0, Sat Nov 21 10:12:30 2026)\n"
    assert get_adapter("pi").probe_pane(text) == GONE


def test_pi_footer_window() -> None:
    assert footer_context_window((SAMPLES / "pi-after-tool.txt").read_text()) == 128_000
    assert footer_context_window("x\n↑1k ↓2 3.5%/1M (auto)   (p) m\n") == 1_000_000
    assert footer_context_window("no footer") is None


DIALOGS = Path(__file__).parent / "dialogs"
"""Dialog screens as other tools recorded them (the demo never hit one), re-typed in the same layout."""


def dialog(name: str) -> str:
    return (DIALOGS / name).read_text()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("claude", "claude-trust.txt"),
        ("claude", "claude-permission.txt"),
        ("codex", "codex-trust.txt"),
        ("codex", "codex-approval.txt"),
    ],
)
def test_dialogs_need_input(kind: str, name: str) -> None:
    probe = get_adapter(kind).probe_pane(dialog(name), "")
    assert probe.needs_input is True
    assert probe.ready is False


def test_dialog_text_in_the_conversation_is_not_a_dialog() -> None:
    assert get_adapter("claude").probe_pane(dialog("claude-idle-quoting-a-dialog.txt")) == IDLE


def test_blank_pane_is_unknown() -> None:
    for kind in ("claude", "codex", "pi"):
        assert get_adapter(kind).probe_pane("\n\n$ \n") == PaneProbe(busy=None, needs_input=False, ready=False)


def with_input(screen: str, line: str) -> str:
    """`screen` with its input line (the last line starting with the prompt glyph) replaced."""
    lines = screen.split("\n")
    index = max(i for i, text in enumerate(lines) if text.startswith("\u276f"))
    return "\n".join([*lines[:index], line, *lines[index + 1:]])


def test_claude_reads_an_empty_input_line_and_nothing_else_as_empty() -> None:
    claude = get_adapter("claude")
    for name in ("claude-idle-start.txt", "claude-idle-after-turn.txt"):
        screen = (SAMPLES / name).read_text()
        assert claude.input_is_empty(screen), name
        # A draft, a second draft line, shell mode: not empty, so the clearing keys are sent.
        for draft in ("\u276f\u00a0half a thought", "\u276f\u00a0first\n  second", "!\u00a0ls"):
            assert not claude.input_is_empty(with_input(screen, draft)), (name, draft)
    for name in ("claude-busy-streaming.txt", "claude-busy-waiting.txt"):
        screen = (SAMPLES / name).read_text()
        assert not claude.input_is_empty(with_input(screen, "\u276f\u00a0typed while busy")), name
    for agent in ("codex", "pi"):  # not read: always cleared
        assert not get_adapter(agent).input_is_empty((SAMPLES / "claude-idle-start.txt").read_text())
