"""Numbered schema migrations. Each is a named function recorded in `schema_migrations`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
# executescript() would COMMIT the migration's transaction early, so statements run one by one.


def m001_initial(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE origins (
            origin TEXT PRIMARY KEY,
            epoch TEXT NOT NULL DEFAULT '',
            max_seq INTEGER NOT NULL DEFAULT 0,
            last_contact TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE records (
            uuid TEXT PRIMARY KEY,
            origin TEXT NOT NULL,
            origin_seq INTEGER NOT NULL CHECK (origin_seq > 0),
            machine TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            agent TEXT,
            agent_session_id TEXT,
            body TEXT NOT NULL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX records_by_origin_seq ON records (origin, origin_seq)")
    db.execute("CREATE INDEX records_by_agent_session ON records (agent, agent_session_id)")


def m002_forward_results(db: sqlite3.Connection) -> None:
    """Idempotency keys of forwarded mutations, so a retried forward applies exactly once."""
    db.execute(
        "CREATE TABLE forward_results (key TEXT PRIMARY KEY, result TEXT NOT NULL, created_at REAL NOT NULL)"
    )


def m003_seq_index_per_lineage(db: sqlite3.Connection) -> None:
    """A seq is unique within one lineage (origin, epoch), not across lineages: a replica may hold
    records of a reset or restored origin's earlier lineage under the same seq as newer ones, and
    a UNIQUE index would refuse the batch that carries them (and stop the link for good)."""
    db.execute("DROP INDEX records_by_origin_seq")
    db.execute("CREATE INDEX records_by_origin_seq ON records (origin, origin_seq)")


def m004_purged(db: sqlite3.Connection) -> None:
    """Uuids whose tombstones were garbage-collected: every later version of them is refused."""
    db.execute("CREATE TABLE purged (uuid TEXT PRIMARY KEY, purged_at REAL NOT NULL)")


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "m001_initial", m001_initial),
    (2, "m002_forward_results", m002_forward_results),
    (3, "m003_seq_index_per_lineage", m003_seq_index_per_lineage),
    (4, "m004_purged", m004_purged),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection) -> int:
    """Apply pending migrations, each in its own transaction; returns the schema version."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    for version, name, migration in MIGRATIONS:
        if version in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            migration(db)
            db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    newest = max(done | {v for v, _, _ in MIGRATIONS})
    if newest > SCHEMA_VERSION:
        raise RuntimeError(f"store schema {newest} is newer than this sesh ({SCHEMA_VERSION})")
    return SCHEMA_VERSION
