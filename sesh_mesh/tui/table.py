"""The session table: a header line and a virtualised list of rows with a cursor.

Only the lines on screen are rendered (Textual's line API), so 10,000 rows cost what 40 do;
the cursor is kept by uuid so rows can change, appear and vanish around it.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from sesh_mesh.glyphs import GLYPH_BUSY, GLYPH_IDLE
from sesh_mesh.tui.columns import CAPS, DEFAULT_COLUMNS, FIXED, FLAG_MARK, MIN_CWD, RIGHT, TITLES
from sesh_mesh.tui.rows import Row, RowSet, View, age

__all__ = ["DEFAULT_COLUMNS", "SessionTable", "fit", "fit_tail"]

SEPARATOR = "  "
EMPTY_STORE = (
    "No sessions yet.",
    "",
    "Start one:                 sesh new --agent claude   (or codex, pi)",
    "Adopt ones already on disk: sesh discover --register",
    "Record a running one:      sesh register <session-id> --agent claude",
)


def fit_tail(text: str, width: int) -> tuple[str, int]:
    """`text` cut to its last `width` cells, starting with '…' when cut (a path keeps the project
    name, its meaningful end); returns the text and the offset in `text` where the kept part starts."""
    if cell_len(text) <= width:
        return text, 0
    kept: list[str] = []
    used = 0
    for char in reversed(text):
        size = cell_len(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "…" + "".join(reversed(kept)), len(text) - len(kept)


def fit(text: str, width: int) -> tuple[str, int]:
    """`text` cut to `width` cells (ending in '…' when cut) and the number of characters kept."""
    if cell_len(text) <= width:
        return text, len(text)
    kept, used = [], 0
    for char in text:
        size = cell_len(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…", len(kept)


class SessionTable(Widget, can_focus=True):
    """Rows of the RowSet's view; `cursor_uuid` is the selected session."""

    DEFAULT_CSS = """
    SessionTable { height: 1fr; }
    SessionTable > .session-table--header { text-style: bold; color: $text-muted; }
    SessionTable > .session-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    SessionTable:blur > .session-table--cursor { background: $block-cursor-blurred-background; }
    SessionTable > .session-table--match { color: $accent; text-style: bold underline; }
    SessionTable > .session-table--stale { color: $text-disabled; }
    SessionTable > .session-table--busy { color: $warning; }
    SessionTable > .session-table--live { color: $success; }
    SessionTable > .session-table--note { color: $text-muted; }
    SessionTable > .session-table--flag { color: $error; text-style: bold; }
    """
    COMPONENT_CLASSES = {
        "session-table--header", "session-table--cursor", "session-table--match", "session-table--stale",
        "session-table--busy", "session-table--live", "session-table--note", "session-table--flag",
    }  # fmt: skip

    class CursorMoved(Message):
        def __init__(self, uuid: str | None) -> None:
            super().__init__()
            self.uuid = uuid

    class Activated(Message):
        """The user clicked a row twice (Enter is handled by the app's bindings)."""

    def __init__(self, rowset: RowSet, now: Callable[[], datetime] | None = None, id: str | None = None,
                 columns: tuple[str, ...] = DEFAULT_COLUMNS, flagged: Container[str] = frozenset()) -> None:
        super().__init__(id=id)
        self.rowset = rowset
        self.chosen_columns = columns
        self.flagged = flagged
        self.now = now or (lambda: datetime.now(UTC))
        self.cursor = 0
        self.cursor_uuid: str | None = None
        self.top = 0
        self.show_id = False
        self.connected = False
        self.widths: dict[str, int] = {}
        self._laid_out_width = -1
        self._content_widths: dict[str, int] = {}

    # ---- state changes, called by the app after it changed the RowSet ---------------------

    def rows_changed(self, remeasure: bool = True) -> None:
        """Re-find the cursor's session after the view changed; keep its index if it is gone.

        `remeasure` is for record changes; a new filter or view keeps the column widths (widths
        follow all rows, so columns do not jump while typing)."""
        if remeasure or not self._content_widths:
            self._content_widths = self._measure()
        found = self.rowset.index_of(self.cursor_uuid)
        if found is not None:
            self.cursor = found
        self._clamp()
        self._relayout()
        self.refresh()

    def place_cursor(self, uuid: str) -> bool:
        found = self.rowset.index_of(uuid)
        if found is None:
            return False
        self.cursor = found
        self._clamp()
        self.refresh()
        return True

    def toggle_id(self) -> None:
        self.show_id = not self.show_id
        self._relayout()
        self.refresh()

    def move(self, delta: int) -> None:
        """Move the cursor, wrapping past either end."""
        count = len(self.rowset.visible)
        if not count:
            return
        self.cursor = (self.cursor + delta) % count
        self._clamp()
        self.refresh()

    @property
    def current(self) -> Row | None:
        visible = self.rowset.visible
        return visible[self.cursor] if 0 <= self.cursor < len(visible) else None

    def _clamp(self) -> None:
        count = len(self.rowset.visible)
        self.cursor = max(0, min(self.cursor, count - 1)) if count else 0
        body = max(1, self.size.height - 1)
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + body:
            self.top = self.cursor - body + 1
        self.top = max(0, min(self.top, max(0, count - body)))
        uuid = self.current.uuid if self.current else None
        if uuid != self.cursor_uuid:
            self.cursor_uuid = uuid
            self.post_message(self.CursorMoved(uuid))

    # ---- layout ---------------------------------------------------------------------------

    def columns(self) -> list[str]:
        base = list(self.chosen_columns)
        if self.show_id and "id" not in base:
            base.insert(1, "id")
        return base

    def _measure(self) -> dict[str, int]:
        widest = {column: cell_len(TITLES[column]) for column in CAPS}
        for row in self.rowset.rows.values():
            cells = row.cells
            for column in ("name", "agent", "machine", "tags", "model"):
                widest[column] = max(widest[column], len(cells[column]))
        widths = {column: min(widest[column], cap) for column, cap in CAPS.items()}
        widths.update({column: CAPS[column] for column in FIXED})
        return widths

    def _relayout(self) -> None:
        if not self._content_widths:
            self._content_widths = self._measure()
        columns = self.columns()
        widths = {column: self._content_widths.get(column, 0) for column in columns if column != "cwd"}
        fixed = sum(widths.values()) + len(SEPARATOR) * (len(columns) - 1)
        spare = self.size.width - fixed
        # Narrow terminal: give back width from the widest flexible columns first.
        for column in ("tags", "model", "name", "machine"):
            if spare >= MIN_CWD or column not in widths:
                continue
            give = min(widths[column] - len(TITLES[column]), MIN_CWD - spare)
            if give > 0:
                widths[column] -= give
                spare += give
        widths["cwd"] = max(spare, 3)
        self.widths = widths
        self._laid_out_width = self.size.width

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()
        self._clamp()
        self.refresh()

    # ---- rendering ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._laid_out_width:
            # Rows can arrive before the first layout (size 0): lay out for the width drawn now.
            self._relayout()
        if y == 0:
            return self._header(width)
        visible = self.rowset.visible
        if not visible:
            return self._note(y - 1, width)
        index = self.top + y - 1
        if index >= len(visible):
            return Strip.blank(width)
        return self._row(visible[index], index == self.cursor, width)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("session-table--header")
        parts = []
        for column in self.columns():
            title = TITLES[column]
            w = self.widths[column]
            parts.append(title.rjust(w) if column in RIGHT else title.ljust(w))
        return Strip([Segment(SEPARATOR.join(parts), style)]).adjust_cell_length(width)

    def _note(self, line: int, width: int) -> Strip:
        lines: tuple[str, ...]
        rowset = self.rowset
        if not self.connected and not rowset.rows:
            lines = ("Connecting to the sesh daemon…",)
        elif not rowset.rows:
            lines = EMPTY_STORE
        elif rowset.query:
            lines = (f"No {rowset.view.value} session matches {rowset.query!r}.", "", "Esc clears the filter.")
        elif rowset.view is View.ARCHIVED:
            lines = ("No archived sessions.", "", "Tab shows the next view.")
        else:
            lines = (f"No {rowset.view.value} sessions.", "", "Tab shows the next view (archived, all).")
        text = lines[line - 1] if 1 <= line <= len(lines) else ""
        style = self.get_component_rich_style("session-table--note")
        return Strip([Segment("  " + text, style)]).adjust_cell_length(width)

    def _row(self, row: Row, is_cursor: bool, width: int) -> Strip:
        base = self.get_component_rich_style("session-table--stale") if row.stale else Style()
        match_style = self.get_component_rich_style("session-table--match")
        found = self.rowset.match_of(row.uuid)
        marks = row.highlights(found.positions) if found else {}
        segments: list[Segment] = []
        sep = Segment(SEPARATOR, base)
        for order, column in enumerate(self.columns()):
            if order:
                segments.append(sep)
            w = self.widths.get(column, 0)
            if column in ("age", "activity"):
                when = row.updated if column == "age" else row.activity
                segments.append(Segment(age(when, self.now()).rjust(w)[-w:], base))
                continue
            if column in RIGHT:
                segments.append(Segment(row.cells[column].rjust(w)[-w:], base))
                continue
            if column == "cwd":
                text, start = fit_tail(row.cells[column], w)
                shift = start - (1 if start else 0)  # the '…' stands where the cut text was
                hits = [offset - shift for offset in marks.get(column, ()) if offset >= start]
            else:
                text, kept = fit(row.cells[column], w)
                hits = [offset for offset in marks.get(column, ()) if offset < kept]
            if column == "glyph" and row.uuid in self.flagged and cell_len(text) < w:
                text += FLAG_MARK
            style = base + self._glyph_style(row) if column == "glyph" else base
            segments.extend(_highlighted(text, hits, style, style + match_style))
            padding = w - cell_len(text)
            if padding > 0:
                segments.append(Segment(" " * padding, base))
        strip = Strip(segments).adjust_cell_length(width)
        if is_cursor:
            strip = strip.apply_style(self.get_component_rich_style("session-table--cursor"))
        return strip

    def _glyph_style(self, row: Row) -> Style:
        if row.uuid in self.flagged:
            return self.get_component_rich_style("session-table--flag")
        mark = row.cells["glyph"][:1]
        if mark == GLYPH_BUSY:
            return self.get_component_rich_style("session-table--busy")
        if mark == GLYPH_IDLE:
            return self.get_component_rich_style("session-table--live")
        return Style()

    # ---- mouse ----------------------------------------------------------------------------

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.move(1)
        event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.move(-1)
        event.stop()

    def on_click(self, event: events.Click) -> None:
        index = self.top + event.y - 1
        if event.y >= 1 and 0 <= index < len(self.rowset.visible):
            already = index == self.cursor
            self.cursor = index
            self._clamp()
            self.refresh()
            if already and event.chain >= 2:
                self.post_message(self.Activated())


def _highlighted(text: str, hits: list[int], style: Style, match_style: Style) -> list[Segment]:
    if not hits:
        return [Segment(text, style)]
    out: list[Segment] = []
    marked = set(hits)
    run_start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or ((index in marked) != (run_start in marked)):
            out.append(Segment(text[run_start:index], match_style if run_start in marked else style))
            run_start = index
    return out
