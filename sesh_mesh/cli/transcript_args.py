"""Arguments of the transcript commands: backup, restore, copy, autoname, search (stdlib only: the
parser is built on every CLI start)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def add_commands(command: Callable[..., Any]) -> None:
    p = command("backup", "every transcript of every local session into one portable SQLite file "
                "(content-addressed: a second run adds nothing; a grown transcript adds only the new version)", [
                    "sesh backup", "sesh backup --to ~/sesh-backup.sqlite", "sesh backup --all-machines --json"])
    p.add_argument("--to", metavar="FILE", help="the backup file (default $SESH_HOME/backup.sqlite; created if absent)")
    p.add_argument("--all-machines", action="store_true",
                   help="also fetch the transcripts of sessions owned by other machines of the mesh")

    p = command("restore", "write transcripts back from a backup: --to native (where the agent resumes them) or "
                "--to-dir DIR", [
                    "sesh restore --from ~/sesh-backup.sqlite --to native",
                    "sesh restore a808 --from b.sqlite --to native --rewrite-cwd /old/app=/new/app",
                    "sesh restore --from b.sqlite --to-dir /tmp/transcripts --json"])
    p.add_argument("uuid", nargs="?", help="uuid or prefix (or the agent's id) of one session (default: every one)")
    p.add_argument("--from", dest="source", metavar="FILE", required=True, help="the backup file")
    p.add_argument("--to", metavar="native", help="native: the agent's own transcript location")
    p.add_argument("--to-dir", metavar="DIR", help="DIR/<agent>/… in the agent's own layout")
    p.add_argument("--rewrite-cwd", metavar="OLD=NEW", help="the project moved: rewrite OLD to NEW in the transcript "
                   "and its place")
    p.add_argument("--force", action="store_true", help="overwrite an existing transcript that differs")

    p = command("copy", "copy a session's transcript to another machine (registered there, same agent, resumable), "
                "to the native location here, or to a directory", [
                    "sesh copy a808 --to server", "sesh copy a808 --to native",
                    "sesh copy a808 --to server --rewrite-cwd /home/me/app=/srv/app", "sesh copy a808 --to-dir /tmp/x"])
    p.add_argument("uuid", help="uuid or unique prefix")
    p.add_argument("--to", metavar="MACHINE|native", help="a machine of the mesh, or native (this machine)")
    p.add_argument("--to-dir", metavar="DIR", help="DIR/<agent>/… in the agent's own layout")
    p.add_argument("--rewrite-cwd", metavar="OLD=NEW", help="the project lives elsewhere there: rewrite OLD to NEW")
    p.add_argument("--force", action="store_true", help="overwrite an existing transcript that differs")

    p = command("autoname", "name a session (and summarise it) from its transcript with the [autoname] namer; "
                "only sessions with autoRename on", [
                    "sesh autoname a808", "sesh autoname --all", "sesh autoname --all --json"])
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
    p.add_argument("--all", action="store_true",
                   help="every nameable session in the mesh; skips autoRename=false and sessions with no transcript")

    p = command("search", "full-text search over the transcripts of every machine of the mesh, best match first", [
        'sesh search "flaky test"', 'sesh search "migration*" --agent codex --limit 5',
        'sesh search \'"exact phrase"\' --machine server --json'])
    p.add_argument("query", help='words (all must match); "a phrase" in quotes; word* matches a prefix')
    p.add_argument("--agent", help="only sessions of this agent (claude, codex, pi)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N sessions (default 20)")
