"""The portable backup file: every backed-up version of every session's transcript, in one SQLite file.

Content addressing: a transcript version is named by the sha256 of its bytes and stored as a list
of fixed-size chunks, each named by its own sha256 and stored once. Transcripts only ever grow by
appending, so a grown transcript shares every full chunk with its previous version: backing it
up again stores the new tail chunks only, and backing up an unchanged file stores nothing.

Tables:
  meta(key, value)                        format name and version
  chunks(sha256, size, data)              zlib-compressed CHUNK_BYTES slices of transcripts
  versions(sha256, size, chunks)          one transcript content: its chunk hashes, in order (JSON)
  snapshots(id, uuid, version, …)         "session uuid had content `version`", with its record
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh.errors import SeshError

FORMAT = "sesh-backup"
FORMAT_VERSION = 1

CHUNK_BYTES = 256 * 1024
"""Small enough that re-storing the last partial chunk of a grown transcript costs little, large
enough that a 200 MB transcript is under a thousand rows."""

ZLIB_LEVEL = 1
"""JSONL compresses about 5x even at level 1, which runs at hundreds of MB/s; higher levels
gain a few percent and cost most of the throughput."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS versions (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL,
    version TEXT NOT NULL REFERENCES versions(sha256),
    machine TEXT NOT NULL,
    agent TEXT NOT NULL,
    agent_session_id TEXT,
    cwd TEXT NOT NULL,
    file_name TEXT NOT NULL,
    source_path TEXT NOT NULL,
    record TEXT NOT NULL,
    backed_up_at TEXT NOT NULL,
    UNIQUE (uuid, version)
);
CREATE INDEX IF NOT EXISTS snapshots_by_agent_id ON snapshots(agent_session_id);
"""


class NoSuchBackup(SeshError):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    """What a backup keeps about the session a transcript belongs to."""

    uuid: str
    machine: str
    agent: str
    agent_session_id: str | None
    cwd: str
    file_name: str
    source_path: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """One stored (session, version) pair."""

    id: int
    version: str
    size: int
    backed_up_at: str
    session: SessionInfo


@dataclass(frozen=True)
class Added:
    new_snapshot: bool
    new_version: bool
    stored_bytes: int
    """Compressed bytes of the chunks this add wrote (0 when everything was already there)."""


class BackupFile:
    """One open backup file. Not thread-safe: use it from one thread at a time."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    @classmethod
    def open(cls, path: Path, *, create: bool) -> BackupFile:
        """Open (with `create`, make) a backup; NoSuchBackup / SeshError when it is missing or foreign."""
        if not create and not path.is_file():
            raise NoSuchBackup(f"no such backup file {path}", "pass the file `sesh backup --to FILE` wrote")
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SeshError(f"cannot create {path.parent}: {exc.strerror}", "pick another --to path") from exc
        try:
            # check_same_thread off: the daemon opens it in one worker thread and uses it in others,
            # one at a time.
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            if create:
                # WAL: a commit per session without an fsync each (3 ms apiece, most of a backup's
                # time); close() turns the file back into a plain single-file database.
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            backup = cls(path, conn)
            backup._check_format(create)
        except sqlite3.DatabaseError as exc:
            raise SeshError(f"{path} is not a sesh backup file ({exc})", "pass the file `sesh backup` wrote") from exc
        return backup

    def _check_format(self, create: bool) -> None:
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            if tables or not create:
                raise SeshError(f"{self.path} is not a sesh backup file", "pass the file `sesh backup` wrote")
            with self.conn:
                self.conn.executescript(SCHEMA)
                self.conn.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("version", str(FORMAT_VERSION))],
                )
            return
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise SeshError(f"{self.path} is not a sesh backup file", "pass the file `sesh backup` wrote")
        if int(meta.get("version", "0")) > FORMAT_VERSION:
            raise SeshError(
                f"{self.path} was written by a newer sesh (backup format {meta.get('version')})",
                "upgrade sesh on this machine",
            )

    def close(self) -> None:
        """Checkpoint and close; the file left behind is one self-contained SQLite database."""
        try:
            self.conn.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.OperationalError:
            pass  # another connection still has it open (a second backup running): it stays WAL for now
        self.conn.close()

    # ---- writing -------------------------------------------------------------------------------

    def add(self, session: SessionInfo, content: bytes, now: str) -> Added:
        """Record that `session` had `content`; stores only chunks and versions not already held."""
        version = sha256_hex(content)
        stored = 0
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = conn.execute("SELECT 1 FROM versions WHERE sha256 = ?", (version,)).fetchone()
            if known is None:
                hashes = []
                for start in range(0, len(content), CHUNK_BYTES):
                    piece = content[start : start + CHUNK_BYTES]
                    digest = sha256_hex(piece)
                    hashes.append(digest)
                    if conn.execute("SELECT 1 FROM chunks WHERE sha256 = ?", (digest,)).fetchone() is None:
                        packed = zlib.compress(piece, ZLIB_LEVEL)
                        conn.execute("INSERT INTO chunks(sha256, size, data) VALUES (?, ?, ?)",
                                     (digest, len(piece), packed))
                        stored += len(packed)
                conn.execute("INSERT INTO versions(sha256, size, chunks) VALUES (?, ?, ?)",
                             (version, len(content), json.dumps(hashes)))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO snapshots(uuid, version, machine, agent, agent_session_id, cwd, file_name,"
                " source_path, record, backed_up_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.uuid, version, session.machine, session.agent, session.agent_session_id, session.cwd,
                 session.file_name, session.source_path, json.dumps(session.record, ensure_ascii=False), now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Added(new_snapshot=cursor.rowcount == 1, new_version=known is None, stored_bytes=stored)

    # ---- reading -------------------------------------------------------------------------------

    def versions_of(self, uuid: str) -> list[str]:
        rows = self.conn.execute("SELECT version FROM snapshots WHERE uuid = ? ORDER BY id", (uuid,))
        return [row[0] for row in rows]

    def latest(self) -> list[Snapshot]:
        """The newest snapshot of every session in the file, oldest session first."""
        rows = self.conn.execute(
            "SELECT s.id, s.version, v.size, s.backed_up_at, s.uuid, s.machine, s.agent, s.agent_session_id, s.cwd,"
            " s.file_name, s.source_path, s.record FROM snapshots s JOIN versions v ON v.sha256 = s.version"
            " WHERE s.id IN (SELECT max(id) FROM snapshots GROUP BY uuid) ORDER BY s.id"
        ).fetchall()
        return [
            Snapshot(
                id=row[0], version=row[1], size=row[2], backed_up_at=row[3],
                session=SessionInfo(uuid=row[4], machine=row[5], agent=row[6], agent_session_id=row[7], cwd=row[8],
                                    file_name=row[9], source_path=row[10], record=_json_object(row[11])),
            )
            for row in rows
        ]

    def stats(self) -> dict[str, int]:
        sessions, snapshots = self.conn.execute("SELECT count(DISTINCT uuid), count(*) FROM snapshots").fetchone()
        versions, raw = self.conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM versions").fetchone()
        chunks, stored = self.conn.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM chunks").fetchone()
        return {"sessions": sessions, "snapshots": snapshots, "versions": versions, "chunks": chunks,
                "versionBytes": raw, "storedBytes": stored}

    def content(self, version: str) -> bytes:
        """The bytes of a version, checked against its sha256 (a damaged file fails loudly)."""
        row = self.conn.execute("SELECT chunks FROM versions WHERE sha256 = ?", (version,)).fetchone()
        if row is None:
            raise SeshError(f"{self.path} lacks transcript version {version[:12]}", "the backup file is damaged")
        parts = []
        for digest in json.loads(row[0]):
            chunk = self.conn.execute("SELECT data FROM chunks WHERE sha256 = ?", (digest,)).fetchone()
            if chunk is None:
                raise SeshError(f"{self.path} lacks chunk {digest[:12]}", "the backup file is damaged")
            parts.append(zlib.decompress(chunk[0]))
        data = b"".join(parts)
        if sha256_hex(data) != version:
            raise SeshError(f"transcript version {version[:12]} in {self.path} fails its checksum",
                            "the backup file is damaged")
        return data


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
