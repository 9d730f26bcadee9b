"""What one table row shows for a record, and the ordered, filtered view over all rows.

Pure (no textual): the TUI's state lives here so it can be tested with hand-built records and
so live changes update only the rows they touch.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from sesh_mesh import fuzzy, ids
from sesh_mesh.glyphs import glyph
from sesh_mesh.store.record import Record

STALE_MARK = "(stale)"
"""Appended to the machine of a record whose owner this daemon cannot reach."""

RECENT_QUERIES = 16
"""How many earlier queries keep their scores (a few hundred KB each at 10,000 rows)."""

LENGTH_BITS = 20
LENGTH_MAX = (1 << LENGTH_BITS) - 1
"""A row's line length as a rank tiebreak, capped to fit its bits of the sort key."""

SEARCHED_COLUMNS = ("name", "agent", "machine", "cwd", "tags", "id")
"""The columns the filter matches, in the order they are joined into one searchable line."""


class View(Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    ALL = "all"
    NEEDS = "needs you"
    """Flagged sessions only (a turn ended or the agent asks something while you looked away)."""

    def next(self) -> View:
        order = list(View)
        return order[(order.index(self) + 1) % len(order)]

    def shows(self, archived: bool, flagged: bool = False) -> bool:
        if self is View.NEEDS:
            return flagged
        return self is View.ALL or (self is View.ARCHIVED) == archived


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(then: datetime | None, now: datetime) -> str:
    """A compact age: 42s, 5m, 3h, 2d, 6w, 1y ('-' when unknown, 'now' under a second)."""
    if then is None:
        return "-"
    seconds = int((now - then).total_seconds())
    if seconds < 1:
        return "now"
    for unit, size in (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(slots=True)
class Row:
    """One record as shown: display strings per column, plus the line the filter searches."""

    record: Record
    uuid: str
    cells: dict[str, str]
    text: str
    folded: str
    classes: str
    """fuzzy.classes_of(text), computed once: the filter scores this row on every keystroke."""
    spans: dict[str, int]
    """Start offset of each searched column inside `text`."""
    sort_key: tuple[str, str]
    archived: bool
    length: int
    """len(text), capped to LENGTH_MAX: the filter's tiebreak, part of each hit's sort key."""
    _updated: datetime | None = None
    _parsed: bool = False

    @property
    def stale(self) -> bool:
        return bool(self.record.get("stale"))

    @property
    def updated(self) -> datetime | None:
        if not self._parsed:
            record = self.record
            self._updated = parse_time(record.get("lastActivity") or record.get("updatedAt"))
            self._parsed = True
        return self._updated

    @property
    def activity(self) -> datetime | None:
        """The transcript's last entry (None until the daemon has read one)."""
        return parse_time(self.record.get("lastActivity"))

    def highlights(self, positions: Iterable[int]) -> dict[str, list[int]]:
        """Matched offsets of `text`, regrouped as offsets inside each column's cell."""
        out: dict[str, list[int]] = {}
        starts = [self.spans[column] for column in SEARCHED_COLUMNS]
        for position in positions:
            slot = bisect.bisect_right(starts, position) - 1
            column = SEARCHED_COLUMNS[slot]
            offset = position - starts[slot]
            if offset < len(self.cells[column]):
                out.setdefault(column, []).append(offset)
        return out


def make_row(record: Record, cwd_label: Callable[[str], str], short_id: str | None = None) -> Row:
    machine = str(record.get("machine") or "")
    if record.get("stale"):
        machine = f"{machine} {STALE_MARK}"
    if record.get("enterMark"):
        machine = f"{machine} {record['enterMark']}"
    cells = {
        "glyph": glyph(record),
        "id": short_id or str(record["uuid"])[: ids.SHORT_ID_LEN],
        "name": str(record.get("name") or "-"),
        "agent": str(record.get("agent") or ""),
        "machine": machine,
        "cwd": cwd_label(str(record.get("cwd") or "")),
        "tags": ",".join(record.get("tags") or []),
        "ctx": _percent(record.get("contextPct")),
        "model": str(record.get("model") or ""),
        "turns": _count((record.get("lastTurn") or {}).get("count") if isinstance(record.get("lastTurn"), dict)
                        else None),
    }
    spans: dict[str, int] = {}
    parts: list[str] = []
    at = 0
    for column in SEARCHED_COLUMNS:
        spans[column] = at
        parts.append(cells[column])
        at += len(cells[column]) + 1
    text = " ".join(parts)
    updated = str(record.get("lastActivity") or record.get("updatedAt") or "")
    uuid = str(record["uuid"])
    return Row(record, uuid, cells, text, fuzzy.fold(text), fuzzy.classes_of(text), spans, (updated, uuid),
               bool(record.get("archived")), min(len(text), LENGTH_MAX))


def _percent(value: object) -> str:
    return f"{value}%" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "-"


@dataclass(slots=True)
class Scores:
    """One query's results per row uuid: the match (None: no match), and for each match the
    part of its sort key that orders hits (`rank_key`)."""

    matches: dict[str, fuzzy.Match | None] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)

    def forget(self, uuid: str) -> None:
        self.matches.pop(uuid, None)
        self.ranks.pop(uuid, None)


def rank_key(found: fuzzy.Match, row: Row) -> int:
    """Orders like (-score, line length): best first, then the shorter line."""
    return (-found.score << LENGTH_BITS) + row.length


@dataclass
class RowSet:
    """Every non-deleted record as a Row, and the view the table shows: rows of the current view
    (active / archived / all), filtered and ranked by the query, or newest first without one.

    Changes are applied per record; the filter re-scores only changed rows, and a query that
    extends the previous one only re-scores the previous matches.
    """

    cwd_label: Callable[[str], str]
    view: View = View.ACTIVE
    query: str = ""
    rows: dict[str, Row] = field(default_factory=dict)
    visible: list[Row] = field(default_factory=list)
    _filtering: bool = False
    _scored_query: str = ""
    _scored: Scores = field(default_factory=Scores)
    _in_view: list[Row] | None = None
    _in_view_uuids: list[str] = field(default_factory=list)
    _counts: dict[str, int] | None = None
    _recent: dict[str, Scores] = field(default_factory=dict)
    """Scores of the last few queries, so backspace is as fast as typing (fzf does the same)."""
    flagged: Container[str] = field(default_factory=frozenset)
    """The sessions that need you: shown first in the active view, alone in the needs-you view."""
    short: dict[str, str] = field(default_factory=dict)
    """Each row's shown id, unique among all rows (`ids.short_ids`)."""

    def replace_all(self, records: Iterable[Record]) -> None:
        self.rows = {}
        self._scored = Scores()
        self._recent.clear()
        self.apply(records)

    def apply(self, records: Iterable[Record]) -> None:
        """Insert, update or (for tombstones) drop each record, then re-derive the view."""
        ids_changed = False
        for record in records:
            uuid = str(record["uuid"])
            self._forget_scores(uuid)
            if record.get("deleted"):
                ids_changed |= self.rows.pop(uuid, None) is not None
            else:
                before = self.rows.get(uuid)
                ids_changed |= before is None or before.record.get("agentSessionId") != record.get("agentSessionId")
                self.rows[uuid] = make_row(record, self.cwd_label, self.short.get(uuid))
        if ids_changed:
            self._reshorten()
        self._in_view = None
        self._counts = None
        self.refresh()

    def _forget_scores(self, uuid: str) -> None:
        self._scored.forget(uuid)
        for scores in self._recent.values():
            scores.forget(uuid)

    def _reshorten(self) -> None:
        """Sessions came, went or learned their agent id: rows whose shown id must grow (or may
        shrink) to stay unique are rebuilt."""
        self.short = ids.short_ids([(uuid, row.record.get("agentSessionId")) for uuid, row in self.rows.items()])
        for uuid, shown in self.short.items():
            row = self.rows[uuid]
            if row.cells["id"] != shown:
                self.rows[uuid] = make_row(row.record, self.cwd_label, shown)
                self._forget_scores(uuid)

    def relabel(self) -> None:
        """Rebuild every row's display strings (the cwd labels changed)."""
        self.replace_all([row.record for row in self.rows.values()])

    def set_view(self, view: View) -> None:
        self.view = view
        self._in_view = None
        self.refresh()

    def set_query(self, query: str) -> None:
        self.query = query
        self.refresh()

    def flags_changed(self) -> None:
        """The set behind `flagged` changed: re-derive the order (flagged rows move)."""
        self._in_view = None
        self._counts = None
        self.refresh()

    def counts(self) -> dict[str, int]:
        """Rows per view; kept until rows or flags change (the status line asks on every key)."""
        if self._counts is None:
            archived = sum(1 for row in self.rows.values() if row.archived)
            flagged = self.flagged
            needs = sum(1 for uuid in self.rows if uuid in flagged)
            self._counts = {"all": len(self.rows), "archived": archived, "active": len(self.rows) - archived,
                            View.NEEDS.value: needs}
        return dict(self._counts)

    def refresh(self) -> None:
        in_view = self._in_view
        if in_view is None:  # rows or view changed: re-derive the newest-first order once
            view, flagged = self.view, self.flagged
            in_view = [row for row in self.rows.values() if view.shows(row.archived, row.uuid in flagged)]
            in_view.sort(key=lambda row: row.sort_key, reverse=True)
            if view is View.ACTIVE and flagged:
                in_view.sort(key=lambda row: row.uuid not in flagged)  # stable: newest first within each
            self._in_view = in_view
            self._in_view_uuids = [row.uuid for row in in_view]
        terms = fuzzy.terms_of(self.query)
        if not terms:
            self.visible = in_view
            self._filtering = False
            return
        self._rescore(in_view, terms)
        self._filtering = True
        # Best first; ties: shorter line, then newer (the place in newest-first order). Each hit
        # is one int that orders like (-score, length, place), looked up through C-level `map`:
        # ints sort without the per-comparison cost of tuples, 10,000 of them per keystroke.
        place_bits = len(in_view).bit_length()
        hits = [(rank << place_bits) + place
                for place, rank in enumerate(map(self._scored.ranks.get, self._in_view_uuids)) if rank is not None]
        hits.sort()
        place_mask = (1 << place_bits) - 1
        self.visible = [in_view[key & place_mask] for key in hits]

    def match_of(self, uuid: str) -> fuzzy.Match | None:
        """How the shown query matched this row (None without a query or when it did not)."""
        return self._scored.matches.get(uuid) if self._filtering else None

    def _rescore(self, rows: list[Row], terms: list[str]) -> None:
        query = " ".join(terms)
        previous: dict[str, fuzzy.Match | None] = {}
        if query != self._scored_query:
            if self._scored_query:
                self._recent[self._scored_query] = self._scored
                while len(self._recent) > RECENT_QUERIES:
                    del self._recent[next(iter(self._recent))]
            cached = self._recent.pop(query, None)
            if cached is not None:
                self._scored = cached
            else:
                narrowing = bool(self._scored_query) and _extends(query, self._scored_query)
                previous = self._recent[self._scored_query].matches if narrowing else {}
                # A row the shorter query rejected cannot match the longer one: keep it rejected.
                self._scored = Scores({uuid: None for uuid, found in previous.items() if found is None})
                if len(terms) > 1 or " " in self._scored_query:
                    previous = {}  # extend_run follows one term's run
            self._scored_query = query
        sensitive = fuzzy.smart_case(query)
        folded_terms = terms if sensitive else [fuzzy.fold(term) for term in terms]
        if len(folded_terms) > 1:
            self._rescore_terms(rows, terms, folded_terms, sensitive)
            return
        matches, ranks = self._scored.matches, self._scored.ranks
        # The usual query is one term typed a letter at a time: a row whose match is a run the
        # new letter continues is scored without a search (fuzzy.extend_run).
        term = folded_terms[0]
        match_term, extend_run, previous_match = fuzzy.match_term, fuzzy.extend_run, previous.get
        for row in rows:
            uuid = row.uuid
            if uuid in matches:
                continue
            haystack = row.text if sensitive else row.folded
            before = previous_match(uuid)
            found = extend_run(haystack, term, before, row.classes) if before is not None else None
            if found is None:
                found = match_term(row.text, haystack, term, row.classes)
            matches[uuid] = found
            if found is not None:
                ranks[uuid] = (-found.score << LENGTH_BITS) + row.length  # rank_key, inlined

    def _rescore_terms(self, rows: list[Row], terms: list[str], folded: list[str], sensitive: bool) -> None:
        """A query of several terms: each term's match is taken from that term's own earlier
        query when one is remembered in the same case mode (typing `auth cl` reuses `auth`),
        else matched; a row matches when every term does (fuzzy.combine)."""
        caches = [self._term_scores(term, sensitive) for term in terms]
        matches, ranks = self._scored.matches, self._scored.ranks
        match_term, combine = fuzzy.match_term, fuzzy.combine
        for row in rows:
            uuid = row.uuid
            if uuid in matches:
                continue
            haystack = row.text if sensitive else row.folded
            found: list[fuzzy.Match] = []
            for term, cache in zip(folded, caches, strict=True):
                # A remembered query may lack the row (it changed since, or was not in view).
                one = cache[uuid] if cache is not None and uuid in cache else match_term(
                    row.text, haystack, term, row.classes)
                if one is None:
                    break
                found.append(one)
            if len(found) < len(folded):
                matches[uuid] = None
                continue
            both = matches[uuid] = combine(found)
            ranks[uuid] = rank_key(both, row)

    def _term_scores(self, term: str, sensitive: bool) -> dict[str, fuzzy.Match | None] | None:
        """The remembered matches of the one-term query `term`, if they were made in this case
        mode (a one-term query is case-sensitive exactly when its term has an upper-case letter)."""
        scores = self._recent.get(term)
        return scores.matches if scores is not None and fuzzy.smart_case(term) == sensitive else None

    def index_of(self, uuid: str | None) -> int | None:
        if uuid is None:
            return None
        for index, row in enumerate(self.visible):
            if row.uuid == uuid:
                return index
        return None

    def find_prefix(self, prefix: str) -> Row | None:
        """The row whose uuid (or agent session id) starts with `prefix`, preferring the view."""
        for row in [*self.visible, *self.rows.values()]:
            agent_id = str(row.record.get("agentSessionId") or "")
            if row.uuid.startswith(prefix) or (agent_id and agent_id.startswith(prefix)):
                return row
        return None


def _extends(query: str, previous: str) -> bool:
    """Whether every row matching `query` also matches `previous`, so only previous hits need
    scoring: same case mode, and each earlier term is a subsequence-prefix of the new term."""
    if fuzzy.smart_case(query) != fuzzy.smart_case(previous):
        return False
    old, new = previous.split(), query.split()
    if len(new) < len(old):
        return False
    return all(new_term.startswith(old_term) for old_term, new_term in zip(old, new, strict=False))

