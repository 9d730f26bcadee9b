"""The cockpit's forms: a message to send (`m`), a new session (`n`), and the key help (`?`).

Each dismisses with its answer, or None when cancelled (Esc). Multi-line inputs keep Enter for
new lines, so Ctrl+S sends; the hint under each form says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from sesh_mesh.agent_names import AGENT_NAMES
from sesh_mesh.tui.dialogs import DIALOG_CSS

FORM_CSS = DIALOG_CSS + """
{name} > Vertical {{ width: 80; }}
{name} TextArea {{ height: 8; }}
{name} Input, {name} Select {{ margin-bottom: 1; }}
{name} .row {{ height: auto; }}
{name} .row > Label {{ width: 10; padding-top: 1; }}
{name} .row > Input, {name} .row > Select {{ width: 1fr; }}
{name} .error {{ color: $error; }}
"""


class MessageScreen(ModalScreen[str | None]):
    """`m`: a multi-line message for the selected session."""

    DEFAULT_CSS = FORM_CSS.format(name="MessageScreen")
    BINDINGS = [
        Binding("escape", "cancel", "cancel", priority=True),
        Binding("ctrl+s", "send", "send", priority=True),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield TextArea(id="message", soft_wrap=True, show_line_numbers=False)
            yield Label("", classes="error", id="message-error")
            yield Label("Ctrl+S: send    Enter: new line    Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            self.query_one("#message-error", Label).update("the message is empty: type it, or Esc to cancel")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PathSuggester(Suggester):
    """Completes a directory path on this machine as it is typed (Right arrow accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, stem = os.path.split(expanded)
        try:
            names = sorted(entry.name for entry in os.scandir(folder or ".") if entry.is_dir()
                           and entry.name.startswith(stem) and (stem.startswith(".") or not entry.name.startswith(".")))
        except OSError:
            return None
        if not names or names[0] == stem:
            return None
        return value + names[0][len(stem):] + "/"


@dataclass(frozen=True)
class NewSession:
    agent: str
    name: str
    cwd: str
    machine: str
    model: str
    message: str
    headless: bool

    def op_args(self, here: str) -> dict[str, Any]:
        """The `new` op's arguments (empty fields left for the daemon's defaults)."""
        args: dict[str, Any] = {"agent": self.agent}
        for key, value in (("name", self.name), ("cwd", self.cwd), ("model", self.model), ("msg", self.message)):
            if value.strip():
                args[key] = value if key == "msg" else value.strip()
        if self.machine and self.machine != here:
            args["machine"] = self.machine
        if self.headless:
            args["headless"] = True
        return args


class NewSessionScreen(ModalScreen[NewSession | None]):
    """`n`: agent, name, cwd (with completion), machine, model, first message, headless."""

    DEFAULT_CSS = FORM_CSS.format(name="NewSessionScreen")
    BINDINGS = [
        Binding("escape", "cancel", "cancel", priority=True),
        Binding("ctrl+s", "create", "create", priority=True),
    ]

    def __init__(self, machines: Iterable[str], here: str, cwd: str, agent: str | None = None) -> None:
        super().__init__()
        self.machines = sorted(set(machines) | {here})
        self.here = here
        self.cwd = cwd
        self.agent = agent if agent in AGENT_NAMES else AGENT_NAMES[0]
        """Preselected: the agent of the selected row (a second one like it is the usual ask)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New session", classes="title")
            with Horizontal(classes="row"):
                yield Label("agent")
                yield Select([(a, a) for a in AGENT_NAMES], value=self.agent, allow_blank=False, id="agent")
            with Horizontal(classes="row"):
                yield Label("machine")
                yield Select([(m, m) for m in self.machines], value=self.here, allow_blank=False, id="machine")
            with Horizontal(classes="row"):
                yield Label("name")
                yield Input(placeholder="optional (auto-named otherwise)", id="name")
            with Horizontal(classes="row"):
                yield Label("cwd")
                yield Input(value=self.cwd, suggester=PathSuggester(), id="cwd")
            with Horizontal(classes="row"):
                yield Label("model")
                yield Input(placeholder="the agent's default", id="model")
            yield Checkbox("headless (no pane: a child that answers sends)", id="headless")
            yield Label("first message (optional)")
            yield TextArea(id="message", soft_wrap=True, show_line_numbers=False)
            yield Label("", classes="error", id="new-error")
            yield Label("Ctrl+S: create    Tab: next field    Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def action_create(self) -> None:
        agent = self.query_one("#agent", Select).value
        machine = self.query_one("#machine", Select).value
        headless = self.query_one("#headless", Checkbox).value
        message = self.query_one("#message", TextArea).text
        if headless and not message.strip():
            self.query_one("#new-error", Label).update("a headless session starts with a message: type one")
            return
        cwd = self.query_one("#cwd", Input).value.strip()
        if cwd and machine == self.here and not Path(os.path.expanduser(cwd)).is_dir():
            self.query_one("#new-error", Label).update(f"no such folder {cwd!r} on {self.here}")
            return
        self.dismiss(NewSession(
            agent=str(agent), name=self.query_one("#name", Input).value, cwd=os.path.expanduser(cwd) if cwd else "",
            machine=str(machine), model=self.query_one("#model", Input).value, message=message, headless=headless,
        ))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """`?`: every key of the list, grouped; Esc, q or ? closes it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + """
    HelpScreen > Vertical { width: 76; max-height: 90%; }
    HelpScreen VerticalScroll { height: auto; max-height: 30; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "close", priority=True)]

    def __init__(self, groups: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("sesh keys", classes="title")
            with VerticalScroll():
                for title, keys in self.groups:
                    yield Static(f"[b]{title}[/b]")
                    for key, what in keys:
                        yield Static(f"  {key:<16} {what}", markup=False)
            yield Label("Ctrl+P: every action in the command palette    Esc: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
