"""The full-text index of one machine's own transcripts (SQLite FTS5), kept current incrementally.

Every transcript entry (user and assistant text, tool calls and results) is one FTS row. A row's
rowid is `sid << 32 | n` (sid: the session's small integer id, n: its entry number), so all rows
of one session form a rowid range: deleting a session is a range delete, and the best row per
session is a GROUP BY on `rowid >> 32`, without an indexed session column.

`sync()` reads only the bytes appended since the last sync (a shrunk or replaced file is indexed
again from the start) and drops sessions no longer given, deleted ones included.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.transcript import TranscriptState
from sesh_mesh.errors import SeshError, UsageError

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    sid INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    path TEXT NOT NULL,
    inode INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    entries INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries USING fts5(
    text, ts UNINDEXED, role UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
"""

READ_LIMIT_BYTES = 64 * 1024 * 1024
"""One sync reads at most this much of one transcript; a bigger backlog is finished by later syncs."""

SNIPPET_TOKENS = 16
HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "\x02", "\x03"
"""Control characters around matched terms; they never occur in transcript text, so the CLI can
render them (bold at a terminal, «…» in JSON) without ambiguity."""

INDEXED_TYPES = frozenset({"text", "tool_call", "tool_result", "command", "error", "compaction"})
"""Everything with words in it; turn_end markers are sesh's own and carry none."""

_TERM_RE = re.compile(r'"([^"]*)"|(\S+)')
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class IndexTarget:
    """A session this machine owns, and where its transcript is."""

    uuid: str
    agent: str
    path: Path


@dataclass(frozen=True)
class Hit:
    uuid: str
    agent: str
    ts: str | None
    role: str
    snippet: str
    score: float


@dataclass
class SyncStats:
    sessions: int = 0
    bytes_read: int = 0
    entries_added: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


def fts_query(text: str) -> str:
    """A user query as an FTS5 expression: every word must match (AND), `"a b"` is a phrase,
    `word*` a prefix. FTS5 syntax characters in the input are words, never operators."""
    parts: list[str] = []
    for match in _TERM_RE.finditer(text):
        phrase, bare = match.group(1), match.group(2)
        if phrase is not None:
            words = _WORD_RE.findall(phrase)
            if words:
                parts.append('"' + " ".join(words) + '"')
            continue
        prefix = bare.endswith("*")
        words = _WORD_RE.findall(bare)
        for index, word in enumerate(words):
            star = "*" if prefix and index == len(words) - 1 else ""
            parts.append(f'"{word}"{star}')
    if not parts:
        raise UsageError(f"search query {text!r} has no words", 'search for words, e.g. sesh search "flaky test"')
    return " ".join(parts)


class SearchIndex:
    """One index file. Not thread-safe: the daemon runs every call in one worker at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._states: dict[int, TranscriptState] = {}

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.executescript(SCHEMA)
                version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise SeshError(f"search index {self.path} is unreadable: {exc}",
                                "delete it; the daemon rebuilds it from the transcripts") from exc
            if version is None:
                conn.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- keeping it current --------------------------------------------------------------------

    def sync(self, targets: Iterable[IndexTarget]) -> SyncStats:
        """Index what was appended to every target; forget sessions that are not targets any more."""
        conn = self.conn()
        stats = SyncStats()
        wanted = {target.uuid: target for target in targets}
        known = {row[1]: row for row in conn.execute(
            "SELECT sid, uuid, agent, path, inode, offset, entries FROM sessions")}
        for uuid, row in known.items():
            if uuid not in wanted:
                self._drop(row[0])
                conn.execute("DELETE FROM sessions WHERE sid = ?", (row[0],))
                stats.dropped += 1
        for uuid, target in wanted.items():
            stats.sessions += 1
            try:
                self._sync_one(target, known.get(uuid), stats)
            except (sqlite3.Error, ValueError, MemoryError) as exc:
                # One transcript SQLite or the parser cannot take must not stop the others from
                # being indexed; it is retried next time.
                stats.errors.append(f"{target.path}: {exc}")
        return stats

    def _drop(self, sid: int) -> None:
        self._states.pop(sid, None)
        assert self._conn is not None
        self._conn.execute("DELETE FROM entries WHERE rowid BETWEEN ? AND ?", (sid << 32, (sid << 32) | 0xFFFFFFFF))

    def _sync_one(self, target: IndexTarget, row: tuple[int, str, str, str, int, int, int] | None,
                  stats: SyncStats) -> None:
        conn = self.conn()
        try:
            stat = target.path.stat()
        except OSError:
            return  # no transcript yet, or it vanished: keep what was indexed
        if row is None:
            cursor = conn.execute(
                "INSERT INTO sessions(uuid, agent, path, inode, offset, entries) VALUES (?, ?, ?, ?, 0, 0)",
                (target.uuid, target.agent, str(target.path), stat.st_ino))
            sid, offset, count = int(cursor.lastrowid or 0), 0, 0
        else:
            sid, offset, count = row[0], row[5], row[6]
            replaced = row[3] != str(target.path) or row[4] != stat.st_ino or stat.st_size < offset
            if replaced or row[2] != target.agent:
                self._drop(sid)
                offset, count = 0, 0
        if stat.st_size <= offset:
            if row is not None and offset == 0:
                conn.execute("UPDATE sessions SET path = ?, inode = ?, agent = ?, offset = 0, entries = 0"
                             " WHERE sid = ?", (str(target.path), stat.st_ino, target.agent, sid))
            return
        state = self._states.get(sid)
        if state is None or state.offset != offset:
            # After a daemon restart the parser resumes at the stored offset without the context of
            # earlier lines (a tool result may lose its tool's name); re-parsing every transcript
            # from the start on each restart would cost far more.
            state = get_adapter(target.agent).new_transcript_state(keep_entries=True)
            state.offset = offset
            self._states[sid] = state
        try:
            with target.path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(READ_LIMIT_BYTES)
        except OSError:
            return
        state.feed(data)
        rows = []
        for entry in state.entries:
            if entry.type in INDEXED_TYPES and entry.text.strip():
                rows.append(((sid << 32) | count, entry.text, entry.ts, entry.role))
                count += 1
        state.entries.clear()
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT INTO entries(rowid, text, ts, role) VALUES (?, ?, ?, ?)", rows)
            conn.execute("UPDATE sessions SET path = ?, inode = ?, agent = ?, offset = ?, entries = ? WHERE sid = ?",
                         (str(target.path), stat.st_ino, target.agent, state.offset, count, sid))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self._states.pop(sid, None)
            raise
        stats.bytes_read += state.offset - offset
        stats.entries_added += len(rows)

    # ---- searching -----------------------------------------------------------------------------

    def search(self, query: str, *, agent: str | None = None, limit: int = 20) -> list[Hit]:
        """The best-matching entry of each session, best session first (score: higher is better)."""
        conn = self.conn()
        expression = fts_query(query)
        sql = ("SELECT rowid >> 32 AS sid, rowid, min(rank) AS best FROM entries WHERE entries MATCH ?"
               + (" AND (rowid >> 32) IN (SELECT sid FROM sessions WHERE agent = ?)" if agent else "")
               + " GROUP BY sid ORDER BY best LIMIT ?")
        params: list[object] = [expression, *([agent] if agent else []), limit]
        try:
            best = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise UsageError(f"bad search query {query!r}: {exc}", "search for plain words") from exc
        sessions = {row[0]: (row[1], row[2]) for row in conn.execute("SELECT sid, uuid, agent FROM sessions")}
        hits = []
        for sid, rowid, rank in best:
            if sid not in sessions:
                continue
            detail = conn.execute(
                "SELECT snippet(entries, 0, ?, ?, '…', ?), ts, role FROM entries WHERE entries MATCH ? AND rowid = ?",
                (HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE, SNIPPET_TOKENS, expression, rowid)).fetchone()
            if detail is None:
                continue
            uuid, session_agent = sessions[sid]
            hits.append(Hit(uuid=uuid, agent=session_agent, ts=detail[1], role=detail[2],
                            snippet=" ".join(str(detail[0]).split()), score=-float(rank)))
        return hits

    def stats(self) -> dict[str, int]:
        conn = self.conn()
        sessions, entries = conn.execute("SELECT count(*), coalesce(sum(entries), 0) FROM sessions").fetchone()
        return {"sessions": int(sessions), "entries": int(entries)}
