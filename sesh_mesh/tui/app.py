"""The sesh TUI: every session in the mesh, live, with keys to filter, manage and pick.

A thin client: the rows come from the daemon's `subscribe` stream and every change goes back
through the daemon's `mutate` op; the table shows what the daemon says, never a local guess.
The app exits with the chosen record (Enter) or None (cancelled).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Container
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.events import Resize
from textual.widgets import Input, Static

from sesh_mesh import ids
from sesh_mesh.errors import SeshError
from sesh_mesh.store.record import Record
from sesh_mesh.tui import clipboard
from sesh_mesh.tui.attention import Attention
from sesh_mesh.tui.cwd_labels import CwdLabels, FormatterFailed
from sesh_mesh.tui.dialogs import ChooserScreen, ConfirmScreen, PromptScreen
from sesh_mesh.tui.forms import HelpScreen, MessageScreen, NewSession, NewSessionScreen
from sesh_mesh.tui.link import DaemonLink, call
from sesh_mesh.tui.preview import Preview
from sesh_mesh.tui.rows import Row, RowSet, View
from sesh_mesh.tui.table import DEFAULT_COLUMNS, SessionTable
from sesh_mesh.tui.terminal_driver import TerminalDriver

FLAGS_SAVE_S = 1.0
"""Changed attention flags reach their file within this, not only when the TUI exits."""

AGE_REFRESH_S = 15.0
"""How often the age column is redrawn; ages are shown in whole units, so this is plenty."""
SIDE_BY_SIDE_MIN_WIDTH = 140
"""Narrower than this, the preview goes below the list instead of beside it."""

KEY_HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("Move and find", [
        ("↑ ↓  j k  C-j C-k", "move (wraps at the ends)"), ("PgUp PgDn", "a page"),
        ("/", "fuzzy filter (Esc applies it and returns)"),
        ("Tab", "views: active → archived → all → needs you"), ("i", "show the ID column"),
    ]),
    ("Look", [
        ("p", "preview the selected session (its last turns, live)"),
        ("v", "preview: switch between the transcript and the live pane"),
        ("f", "flag / unflag the session as needing you"),
        ("N", "notifications for the session on / off (this machine's [notify])"),
        ("y", "show and copy the full uuid"),
    ]),
    ("Act (on any machine)", [
        ("Enter", "enter the session (goto if live, resume otherwise)"), ("m", "send a message (reply in the preview)"),
        ("n", "new session (a form)"), ("R", "resume: relaunch it in tmux"), ("X", "stop its agent (confirm)"),
        ("A", "abort the running turn"),
    ]),
    ("Organise", [
        ("r", "rename"), ("t", "add a tag"), ("x", "remove a tag"), ("a / u", "archive / unarchive"),
        ("d", "delete (confirm)"),
    ]),
    ("Anywhere", [
        ("?", "this help"), ("Ctrl+P", "command palette: every action by name"), ("Esc", "close / clear / quit"),
        ("q", "quit"), ("Ctrl+C", "quit"),
    ]),
]  # fmt: skip
"""The help screen; every binding below is listed here (tests/tui checks it)."""


@dataclass
class Options:
    socket: Path
    enter_acts: bool = False
    enter_mark: Callable[[Record], str] | None = None
    """What Enter does with another machine's row (`cli/remote_enter.marker`); None: nothing shown."""
    """`sesh tui --enter`: Enter enters the session (the caller acts on the result)."""
    cursor: str | None = None
    cwd_labels: CwdLabels = field(default_factory=CwdLabels)
    now: Callable[[], datetime] | None = None
    """A fixed clock for stable snapshots; None means the wall clock."""
    title: str = "sesh"
    machine: str | None = None
    """`--machine M`: only that machine's sessions are shown."""
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    """`[tui] columns` / `--columns`."""
    attention_path: Path | None = None
    """Where the needs-you flags are kept between runs (None: for this run only)."""
    preview: bool = False
    """Open with the preview shown."""


class FilterInput(Input):
    """The `/` prompt: typing filters live; arrows still move the cursor; Esc returns."""


class SeshCommands(Provider):
    """Every cockpit action in Textual's command palette (Ctrl+P), by name and key."""

    def _actions(self) -> list[tuple[str, str, str]]:
        app = self.app
        assert isinstance(app, SeshApp)
        return [(f"{what} ({key})", action, what) for key, what, action in app.palette_actions()]

    async def discover(self) -> Hits:
        for label, action, what in self._actions():
            yield DiscoveryHit(label, self._runner(action), help=what)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action, what in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._runner(action), help=what)

    def _runner(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.app.run_action(action)
        return run


class SeshApp(App[Record | None]):
    CSS = """
    Screen { layout: vertical; }
    #filter { height: 1; border: none; padding: 0 1; background: $surface; }
    #filter:focus { background: $boost; }
    #body { height: 1fr; layout: horizontal; }
    #body.below { layout: vertical; }
    #body > SessionTable { width: 1fr; height: 1fr; }
    #preview { display: none; width: 45%; height: 1fr; }
    #body.below > #preview { width: 1fr; height: 45%; }
    #body.previewing > #preview { display: block; }
    #status { height: 1; background: $panel; padding: 0 1; }
    #keys { height: auto; color: $text-muted; padding: 0 1; }
    """
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {SeshCommands}
    # Priority bindings, checked by the app as each key arrives, gated by `check_action`: a
    # non-priority binding runs only after the key reached the focused widget's queue, so keys
    # typed in one burst after `/` ("/au2" from a paste or tmux send-keys) would still go to
    # the list as commands instead of into the filter.
    BINDINGS = [
        Binding("up,ctrl+k", "move(-1)", "up", show=False, priority=True),
        Binding("down,ctrl+j", "move(1)", "down", show=False, priority=True),
        Binding("k", "move(-1)", show=False, priority=True),
        Binding("j", "move(1)", show=False, priority=True),
        Binding("pageup", "move_page(-1)", show=False, priority=True),
        Binding("pagedown", "move_page(1)", show=False, priority=True),
        Binding("slash", "filter", "filter", show=False, priority=True),
        Binding("tab", "cycle_view", "view", show=False, priority=True),
        Binding("i", "toggle_id", "id", show=False, priority=True),
        Binding("y", "copy_uuid", "copy", show=False, priority=True),
        Binding("a", "archive", "archive", show=False, priority=True),
        Binding("u", "unarchive", "unarchive", show=False, priority=True),
        Binding("r", "rename", "rename", show=False, priority=True),
        Binding("t", "add_tag", "tag", show=False, priority=True),
        Binding("x", "remove_tag", "untag", show=False, priority=True),
        Binding("d", "delete", "delete", show=False, priority=True),
        Binding("p", "toggle_preview", "preview", show=False, priority=True),
        Binding("v", "preview_mode", "transcript/pane", show=False, priority=True),
        Binding("f", "toggle_flag", "flag", show=False, priority=True),
        Binding("m", "message", "message", show=False, priority=True),
        Binding("n", "new_session", "new", show=False, priority=True),
        Binding("R", "resume", "resume", show=False, priority=True),
        Binding("X", "stop_agent", "stop", show=False, priority=True),
        Binding("A", "abort_turn", "abort", show=False, priority=True),
        Binding("N", "toggle_notify", "notify", show=False, priority=True),
        Binding("question_mark", "help", "help", show=False, priority=True),
        Binding("enter", "choose", "enter", show=False, priority=True),
        Binding("q", "quit_list", "quit", show=False, priority=True),
        Binding("escape", "escape", show=False, priority=True),
        Binding("ctrl+c", "cancel", show=False, priority=True),
    ]
    ANYWHERE = frozenset({"cancel"})
    """Actions that work in dialogs too."""
    WHILE_FILTERING = frozenset({"move", "move_page", "cycle_view", "choose", "escape"})
    """Actions that keep working while the filter prompt has focus (letters go to the prompt)."""


    def get_driver_class(self) -> type[Driver]:
        """Textual's own choice, except that on a POSIX terminal frames are written whole
        (`terminal_driver`: Textual's driver drops the rest of a frame a signal interrupts)."""
        chosen = super().get_driver_class()
        return TerminalDriver if chosen is LinuxDriver else chosen

    def __init__(self, options: Options) -> None:
        super().__init__()
        self.options = options
        self.labels = options.cwd_labels
        self.rowset = RowSet(self.labels.label)
        self.link = DaemonLink(options.socket, self)
        self.link_state = "connecting"
        self.loaded = False
        self._cursor_pending = options.cursor
        self._formatter_reported = False
        self._filter_pending = False
        self._heap_frozen = False
        # Kept as attributes: `query_one` would search a dialog while one is open.
        self.attention = Attention.load(options.attention_path)
        self.rowset.flagged = self.attention.flags
        self.here: str | None = None
        """This daemon's machine name (asked at start; the new-session form's default)."""
        self.filter_input = FilterInput(placeholder="/ to filter", id="filter")
        self.table = SessionTable(self.rowset, now=options.now, id="table", columns=options.columns,
                                  flagged=self.attention.flags)
        self.preview = Preview(options.socket, id="preview")
        self.body = Container(self.table, self.preview, id="body", classes="previewing" if options.preview else "")
        self.status_line = Static(id="status")

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.filter_input
        yield self.body
        yield self.status_line
        yield Static(self._keys_text(), id="keys")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """List keys act only on the list screen; while filtering, only the non-letter ones."""
        if action in self.ANYWHERE:
            return True
        if len(self.screen_stack) > 1:
            return False  # a dialog is open: the key is its own
        if self.focused is self.filter_input:
            return action in self.WHILE_FILTERING
        return True

    def on_mount(self) -> None:
        self.title = self.options.title
        self.table.focus()
        self.run_worker(self.link.run(), name="daemon-link", group="link", exit_on_error=False)
        self.run_worker(self._ask_machine(), group="call", exit_on_error=False)
        self.set_interval(AGE_REFRESH_S, self.table.refresh)
        self.set_interval(FLAGS_SAVE_S, self.attention.save_if_changed)
        self._place_preview(self.size.width)
        self._update_status()

    def on_unmount(self) -> None:
        self.attention.save()

    async def _ask_machine(self) -> None:
        try:
            found = await call(self.options.socket, "ping", {})
        except (SeshError, OSError, ValueError):
            return  # the link reports the daemon's absence; the form then asks for a machine
        if isinstance(found, dict) and isinstance(found.get("machine"), str):
            self.here = found["machine"]

    def on_resize(self, event: Resize) -> None:
        self._place_preview(event.size.width)

    def _place_preview(self, width: int) -> None:
        below = width < SIDE_BY_SIDE_MIN_WIDTH
        self.body.set_class(below, "below")
        self.preview.set_class(below, "below")

    @property
    def previewing(self) -> bool:
        return self.body.has_class("previewing")

    def preview_text(self) -> str:
        """What the preview shows now, as plain text (tests and the bench read it)."""
        return "\n".join(line.text for line in self.preview.lines)

    def palette_actions(self) -> list[tuple[str, str, str]]:
        """(key, what, action) for the command palette: every action a key runs."""
        keys = {b.action: b.key for b in self.BINDINGS if isinstance(b, Binding)}
        out = []
        for key, what in [kw for _, group in KEY_HELP for kw in group]:
            action = _ACTION_OF.get(key)
            if action:
                out.append((keys.get(action, key), what, action))
        return out

    def _keys_text(self) -> str:
        enter = "go" if self.options.enter_acts else "pick"
        return (
            f"↑↓/jk move  / filter  Tab view  i id  y uuid  a/u archive  r rename  t tag  x untag  d delete  "
            f"p preview  v pane  m message  n new  R resume  X stop  A abort  f flag  N notify  Enter {enter}  ? help  "
            f"q quit"
        )

    def _update_status(self) -> None:
        counts = self.rowset.counts()
        view = self.rowset.view
        shown = len(self.rowset.visible)
        parts = [f"{shown} of {counts[view.value]} {view.value}" if self.rowset.query else f"{shown} {view.value}"]
        needs = counts[View.NEEDS.value]
        if needs:
            parts.insert(0, f"{needs} need{'s' if needs == 1 else ''} you")
        parts.append(f"{counts['all']} total, {counts['archived']} archived")
        parts.append(f"view: {view.value}")
        if self.rowset.query:
            parts.append(f"filter: {self.rowset.query}")
        parts.append(f"daemon: {self.link_state}")
        row = self.table.current
        why = self.attention.flags.get(row.uuid) if row is not None else None
        if row is not None and why:
            parts.append(f"{row.cells['name']}: {why}")
        # One line of fixed height and full width: a new text needs no layout pass (a reflow
        # of the whole screen on every filter keystroke).
        self.status_line.update(" · ".join(parts), layout=False)

    def _rows_changed(self, remeasure: bool = True) -> None:
        self.table.connected = self.link.connected
        self.table.rows_changed(remeasure)
        self._update_status()

    # ---- daemon link ----------------------------------------------------------------------

    async def on_daemon_link_connected(self, message: DaemonLink.Connected) -> None:
        if self.link_state == "unreachable, retrying":
            self.notify("Connected to the daemon again.", title="Daemon back")
        self.link_state = "connected"
        self._update_status()

    def _mine(self, records: list[Record]) -> list[Record]:
        machine = self.options.machine
        mine = records if machine is None else [r for r in records if r.get("machine") == machine]
        mark = self.options.enter_mark
        return mine if mark is None else [{**r, "enterMark": mark(r)} for r in mine]

    async def on_daemon_link_snapshot(self, message: DaemonLink.Snapshot) -> None:
        records = self._mine(message.records)
        await self._label(records)
        if not self.loaded:
            self.attention.opened(records)
        else:  # a reconnect: what changed while the link was down counts as a change
            self._observe(records)
        self.rowset.replace_all(records)
        if not self._heap_frozen:
            # The rows live as long as the app: keep the collector from rescanning them (and
            # the decoded snapshot) on every full collection while the user types.
            self._heap_frozen = True
            gc.freeze()
        self.loaded = True
        if self._cursor_pending:
            self._place_initial_cursor(self._cursor_pending)
            self._cursor_pending = None
        self._rows_changed()

    async def on_daemon_link_changed(self, message: DaemonLink.Changed) -> None:
        records = self._mine(message.records)
        await self._label(records)
        self._observe(records)
        self.rowset.apply(records)
        self._rows_changed()
        current = self.table.current
        if self.previewing and current is not None and any(r["uuid"] == current.uuid for r in records):
            self.preview.show(current.record, self.attention.flags.get(current.uuid))

    def _looking_at(self) -> str | None:
        """The session in front of you: the selected one while its preview is open."""
        return self.table.cursor_uuid if self.previewing and not self._screen_covered() else None

    def _screen_covered(self) -> bool:
        return len(self.screen_stack) > 1

    def _observe(self, records: Iterable[Record]) -> None:
        looking = self._looking_at()
        for record in records:
            before = self.rowset.rows.get(str(record["uuid"]))
            self.attention.changed(before.record if before is not None else None, record, looking)

    def on_daemon_link_disconnected(self, message: DaemonLink.Disconnected) -> None:
        self.link_state = "unreachable, retrying"
        self.notify(
            f"{message.reason}. Showing the last known sessions; reconnecting when it is back.",
            title="Daemon unreachable (run sesh daemon start)",
            severity="error",
        )
        self.table.connected = False
        self._update_status()
        self.table.refresh()

    async def _label(self, records: list[Record]) -> None:
        """Ask the cwd formatter about cwds it has not labelled yet (one run per batch)."""
        unknown = self.labels.unknown(str(r.get("cwd") or "") for r in records if not r.get("deleted"))
        if not unknown:
            return
        try:
            await self.labels.run_formatter(unknown)
        except FormatterFailed as exc:
            if not self._formatter_reported:
                self._formatter_reported = True
                self.notify(f"{exc}; showing cwds by the config rules", title="cwd formatter", severity="error")

    def _place_initial_cursor(self, prefix: str) -> None:
        row = self.rowset.find_prefix(prefix.lower())
        if row is None:
            self.notify(f"no session {prefix!r} to put the cursor on", severity="warning")
            return
        if not self.rowset.view.shows(row.archived):
            self.rowset.set_view(View.ALL)
        self.table.cursor_uuid = row.uuid

    # ---- movement, filter, views ------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.table.move(delta)

    def action_move_page(self, direction: int) -> None:
        self.table.move(direction * max(1, self.table.size.height - 2))

    def action_filter(self) -> None:
        # set_focus, not focus(): focus() is deferred, and keys typed right after `/` (a paste,
        # tmux send-keys) would still reach the list and act as commands.
        self.screen.set_focus(self.filter_input)
        self.filter_input.cursor_position = len(self.filter_input.value)

    def action_filter_done(self) -> None:
        """Esc while editing: keep the filter, go back to the list."""
        if self._filter_pending:
            self._apply_filter()
        self.screen.set_focus(self.table)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # Coalesce: keys typed while a re-filter runs are applied together, once, so a burst
        # of typing at 10,000 rows costs one filter pass instead of queueing one per key.
        if not self._filter_pending:
            self._filter_pending = True
            self.call_later(self._apply_filter)

    def _apply_filter(self) -> None:
        self._filter_pending = False
        query = self.filter_input.value
        if query == self.rowset.query:
            return
        self.rowset.set_query(query)
        self.table.cursor = 0  # the best match, nearest the prompt
        self.table.cursor_uuid = None
        self._rows_changed(remeasure=False)
        self._repaint_now()

    def _repaint_now(self) -> None:
        """Put the new rows into the frame that shows the new prompt text. The prompt asked for
        that frame before the filter ran; the table's own refresh reaches the screen only after
        it is drawn, and Textual's frame timer, late by then, waits one to two frame periods
        (16-33 ms) before the next. A screen refresh is marked at once, so the waiting frame
        draws everything."""
        self.screen.refresh()

    def clear_filter(self) -> None:
        self.filter_input.value = ""
        self.rowset.set_query("")
        self._rows_changed(remeasure=False)
        self._repaint_now()

    def action_cycle_view(self) -> None:
        self.rowset.set_view(self.rowset.view.next())
        self._rows_changed(remeasure=False)

    def action_toggle_id(self) -> None:
        self.table.toggle_id()

    def action_escape(self) -> None:
        """Dialogs close themselves on Esc first; here: apply a filter being edited, else clear an
        applied filter, else quit."""
        if self.focused is self.filter_input:
            self.action_filter_done()
        elif self.rowset.query:
            self.clear_filter()
        else:
            self.exit(None)

    def action_quit_list(self) -> None:
        self.exit(None)

    def action_cancel(self) -> None:
        self.exit(None)

    def action_choose(self) -> None:
        if self._filter_pending:
            self._apply_filter()
        if self.focused is self.filter_input:
            self.action_filter_done()  # Enter in the prompt picks the best match, like fzf
        row = self.table.current
        if row is None:
            return  # nothing to choose on an empty list
        self.attention.seen(row.uuid)
        self.attention.save()
        self.exit(row.record)

    # ---- the cockpit: preview, attention, acting ------------------------------------------------

    def on_session_table_cursor_moved(self, message: SessionTable.CursorMoved) -> None:
        if self.previewing:
            self._preview_current()
        self._update_status()

    def _preview_current(self) -> None:
        row = self.table.current
        flag = self.attention.flags.get(row.uuid) if row is not None else None
        self.preview.show(row.record if row is not None else None, flag)
        if row is not None and self.attention.seen(row.uuid):
            self.rowset.flags_changed()
            self._rows_changed(remeasure=False)

    def action_toggle_preview(self) -> None:
        showing = not self.previewing
        self.body.set_class(showing, "previewing")
        if showing:
            self._preview_current()
        else:
            self.preview.show(None)

    def action_preview_mode(self) -> None:
        if not self.previewing:
            self.action_toggle_preview()
        self.preview.switch_mode()

    def action_toggle_flag(self) -> None:
        row = self._current()
        if row is None:
            return
        flagged = self.attention.toggle(row.uuid)
        self.rowset.flags_changed()
        self._rows_changed(remeasure=False)
        self.notify(f"{row.cells['name']} {'flagged' if flagged else 'unflagged'}", timeout=2)

    @work(group="call", exit_on_error=False)
    async def action_toggle_notify(self) -> None:
        row = self._current()
        if row is None:
            return
        now = await self._op("notify", {"uuid": row.uuid}, "notify")
        if not isinstance(now, dict):
            return
        after = await self._op("notify", {"uuid": row.uuid, "on": not now.get("notify", True)}, "notify")
        if isinstance(after, dict):
            state = "on" if after.get("notify") else "off"
            note = "" if after.get("configured") else " ([notify] is not set in config.toml, so none are sent)"
            self.notify(f"notifications for {row.cells['name']}: {state}{note}", timeout=4)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(KEY_HELP))

    def action_message(self) -> None:
        row = self._current()
        if row is None:
            return
        uuid, name = row.uuid, row.cells["name"]

        def done(text: str | None) -> None:
            if text is not None:
                if not self.previewing:
                    self.action_toggle_preview()
                self.send_message(uuid, name, text)

        self.push_screen(MessageScreen(f"Message to {name} ({row.cells['agent']} on {row.record.get('machine')})"),
                         done)

    @work(group="call", exit_on_error=False)
    async def send_message(self, uuid: str, name: str, text: str) -> None:
        """Send and wait for the reply; the preview follows the transcript meanwhile."""
        self.notify(f"sent to {name}; the reply shows in the preview", timeout=3)
        result = await self._op("send", {"uuid": uuid, "message": text}, f"message to {name}")
        if isinstance(result, dict):
            reply = str(result.get("reply") or "").strip()
            first = reply.splitlines()[0] if reply else "(no text)"
            self.notify(first[:200], title=f"reply from {name}", timeout=6)

    def action_new_session(self) -> None:
        machines = {str(r.record.get("machine")) for r in self.rowset.rows.values() if r.record.get("machine")}
        here = self.here or (min(machines) if machines else "")

        def done(form: NewSession | None) -> None:
            if form is not None:
                self.create_session(form.op_args(here), form.name or form.agent)

        try:
            cwd = os.getcwd()
        except OSError:
            cwd = os.path.expanduser("~")
        row = self.table.current
        agent = str(row.record.get("agent")) if row is not None else None
        self.push_screen(NewSessionScreen(machines, here, cwd, agent), done)

    @work(group="call", exit_on_error=False)
    async def create_session(self, args: dict[str, Any], label: str) -> None:
        result = await self._op("new", {**args}, f"new {label}")
        if isinstance(result, dict) and isinstance(result.get("uuid"), str):
            uuid = result["uuid"]
            if not self.table.place_cursor(uuid):
                self.table.cursor_uuid = uuid  # the subscription brings it; the cursor waits for it
            self.notify(f"started {result.get('name') or label} ({uuid[:8]})", timeout=4)

    def action_resume(self) -> None:
        row = self._current()
        if row is not None:
            self.act(row.uuid, "resume", {}, f"resumed {row.cells['name']}")

    def action_abort_turn(self) -> None:
        row = self._current()
        if row is not None:
            self.act(row.uuid, "abort", {}, f"aborted the turn of {row.cells['name']}")

    def action_stop_agent(self) -> None:
        row = self._current()
        if row is None:
            return
        uuid, name = row.uuid, row.cells["name"]

        def done(yes: bool | None) -> None:
            if yes:
                self.act(uuid, "stop", {}, f"stopped {name}")

        self.push_screen(ConfirmScreen(f"Stop the agent of {name}?", "The record is kept; R resumes it."), done)

    @work(group="call", exit_on_error=False)
    async def act(self, uuid: str, op: str, args: dict[str, Any], done: str) -> None:
        if await self._op(op, {"uuid": uuid, **args}, op) is not None:
            self.notify(done, timeout=3)

    async def _op(self, op: str, args: dict[str, Any], what: str) -> Any:
        """One op on the daemon (routed to the session's owner); failures become a notification."""
        try:
            result = await call(self.options.socket, op, args)
        except SeshError as exc:
            self.notify(exc.what + (f" ({exc.fix})" if exc.fix else ""), title=f"{what} failed", severity="error")
            return None
        except (OSError, ValueError) as exc:
            self.notify(f"{exc}", title=f"{what} failed: daemon unreachable", severity="error")
            return None
        return {} if result is None else result

    # ---- per-session actions ----------------------------------------------------------------

    def _current(self) -> Row | None:
        row = self.table.current
        if row is None:
            self.notify("no session selected", severity="warning")
        return row

    def action_copy_uuid(self) -> None:
        row = self._current()
        if row is None:
            return
        self.copy_to_clipboard(row.uuid)  # OSC 52
        self._copy_with_tools(row.uuid)
        self.notify(row.uuid, title=f"uuid of {row.cells['name']} (copied)", timeout=8)

    @work(thread=True, group="clipboard", exit_on_error=False)
    def _copy_with_tools(self, text: str) -> None:
        clipboard.copy(text)

    def action_archive(self) -> None:
        row = self._current()
        if row is not None:
            self.mutate(row.uuid, "archive", {}, f"archived {row.cells['name']}")

    def action_unarchive(self) -> None:
        row = self._current()
        if row is not None:
            self.mutate(row.uuid, "unarchive", {}, f"unarchived {row.cells['name']}")

    def action_rename(self) -> None:
        row = self._current()
        if row is None:
            return
        uuid = row.uuid

        def done(name: str | None) -> None:
            if name is not None and name != row.record.get("name"):
                self.mutate(uuid, "rename", {"name": name}, f"renamed to {name.strip()}")

        self.push_screen(PromptScreen(f"Rename {row.cells['name']}", str(row.record.get("name") or "")), done)

    def action_add_tag(self) -> None:
        row = self._current()
        if row is None:
            return
        uuid = row.uuid

        def done(text: str | None) -> None:
            if text is not None:
                tags = text.split() or [text]
                self.mutate(uuid, "tag", {"tags": tags}, f"tagged {' '.join(tags)}")

        prompt = PromptScreen(f"Add tag to {row.cells['name']}", placeholder="tag (spaces separate tags)")
        self.push_screen(prompt, done)

    def action_remove_tag(self) -> None:
        row = self._current()
        if row is None:
            return
        tags = list(row.record.get("tags") or [])
        if not tags:
            self.notify(f"{row.cells['name']} has no tags", severity="warning")
            return
        uuid = row.uuid

        def done(tag: str | None) -> None:
            if tag is not None:
                self.mutate(uuid, "untag", {"tags": [tag]}, f"removed tag {tag}")

        self.push_screen(ChooserScreen(f"Remove a tag from {row.cells['name']}", tags), done)

    def action_delete(self) -> None:
        row = self._current()
        if row is None:
            return
        uuid = row.uuid
        detail = f"{uuid}  ({row.cells['agent']} on {row.record.get('machine')})"

        def done(yes: bool | None) -> None:
            if yes:
                self.mutate(uuid, "delete", {}, f"deleted {row.cells['name']}")

        self.push_screen(ConfirmScreen(f"Delete session {row.cells['name']}?", detail), done)

    @work(group="call", exit_on_error=False)
    async def mutate(self, uuid: str, op: str, op_args: dict[str, Any], done: str) -> None:
        """Ask the daemon to change a record; the subscription brings the change back."""
        args = {"uuid": uuid, "op": op, "args": op_args, "key": ids.new_uuid()}
        try:
            await call(self.options.socket, "mutate", args)
        except SeshError as exc:
            self.notify(exc.what + (f" ({exc.fix})" if exc.fix else ""), title=f"{op} refused", severity="error")
        except (OSError, ValueError) as exc:
            self.notify(f"{exc}", title=f"{op} failed: daemon unreachable", severity="error")
        else:
            self.notify(done, timeout=3)

    async def settle(self) -> None:
        """Wait for pending daemon calls (tests and the bench use it, not the UI)."""
        for worker in list(self.workers):
            if worker.group in ("call", "clipboard"):
                await worker.wait()

    def on_session_table_activated(self, message: SessionTable.Activated) -> None:
        self.action_choose()


_ACTION_OF = {
    "/": "filter", "Tab": "cycle_view", "i": "toggle_id", "p": "toggle_preview", "v": "preview_mode",
    "f": "toggle_flag", "y": "copy_uuid", "Enter": "choose", "m": "message", "n": "new_session", "R": "resume",
    "X": "stop_agent", "A": "abort_turn", "r": "rename", "t": "add_tag", "x": "remove_tag", "a / u": "archive",
    "d": "delete", "?": "help", "q": "quit_list", "N": "toggle_notify",
}  # fmt: skip
"""Help-screen key -> the action it runs (the palette offers these by name)."""
