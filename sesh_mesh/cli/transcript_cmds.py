"""Transcript commands: backup, restore, copy, autoname, search.

backup, copy --to MACHINE, autoname and search run in the daemons (they need the mesh); restore
and copy --to native / --to-dir write files here, with the agent data dirs of this shell's
environment (CLAUDE_CONFIG_DIR, CODEX_HOME, PI_CODING_AGENT_DIR), and register through the daemon.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sesh_mesh import ids
from sesh_mesh.cli import render
from sesh_mesh.cli.checks import check_agent
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import SeshError, UsageError

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands

PROGRESS_AFTER_S = 1.0
"""Runs shorter than this print no progress at all."""

HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "\x02", "\x03"
"""The daemon's markers around matched terms (services/search_index)."""

JSON_HIGHLIGHT = ("«", "»")
BOLD = ("\x1b[1m", "\x1b[0m")


def register(commands: Commands) -> None:
    p = commands.add(
        "backup", "every transcript of every local session into one portable SQLite file (content-addressed: a "
        "second run adds nothing; a grown transcript adds only the new version)", [
            "sesh backup", "sesh backup --to ~/sesh-backup.sqlite", "sesh backup --all-machines --json"], cmd_backup)
    p.add_argument("--to", metavar="FILE", help="the backup file (default $SESH_HOME/backup.sqlite; created if absent)")
    p.add_argument("--all-machines", action="store_true",
                   help="also fetch the transcripts of sessions owned by other machines of the mesh")

    p = commands.add(
        "restore", "write transcripts back from a backup: --to native (the default: where the agent resumes them) or "
        "--to DIR / --to-dir DIR", [
            "sesh restore --from ~/sesh-backup.sqlite",
            "sesh restore a808 --from b.sqlite --to native --rewrite-cwd /old/app=/new/app",
            "sesh restore --from b.sqlite --to-dir /tmp/transcripts --json"], cmd_restore)
    p.add_argument("uuid", nargs="?", help="uuid or prefix (or the agent's id) of one session (default: every one)")
    p.add_argument("--from", dest="source", metavar="FILE", required=True, help="the backup file")
    p.add_argument("--to", metavar="native|DIR", help="native (the default): the agent's own transcript location; "
                   "a directory path (has a / or starts with . or ~): as --to-dir")
    p.add_argument("--to-dir", metavar="DIR", help="DIR/<agent>/… in the agent's own layout")
    p.add_argument("--rewrite-cwd", metavar="OLD=NEW", help="the project moved: rewrite OLD to NEW in the transcript "
                   "and its place")
    p.add_argument("--force", action="store_true", help="overwrite an existing transcript that differs")

    p = commands.add(
        "copy", "copy a session's transcript to another machine (registered there, same agent, resumable), to the "
        "native location here, or to a directory", [
            "sesh copy a808 server", "sesh copy a808 native", "sesh copy a808 ./out",
            "sesh copy a808 --to server --rewrite-cwd /home/me/app=/srv/app", "sesh copy a808 --to-dir /tmp/x"],
        cmd_copy)
    p.add_argument("uuid", help="uuid or unique prefix")
    p.add_argument("dest", nargs="?", metavar="DEST",
                   help="a machine of the mesh, native (this machine) or a directory path (same as --to)")
    p.add_argument("--to", metavar="MACHINE|native|DIR",
                   help="a machine of the mesh, native (this machine), or a directory (a path: has a / or starts "
                   "with . or ~)")
    p.add_argument("--to-dir", metavar="DIR", help="DIR/<agent>/… in the agent's own layout")
    p.add_argument("--rewrite-cwd", metavar="OLD=NEW", help="the project lives elsewhere there: rewrite OLD to NEW")
    p.add_argument("--force", action="store_true", help="overwrite an existing transcript that differs")

    p = commands.add(
        "autoname", "name a session (and summarise it) from its transcript with the [autoname] namer; only sessions "
        "with autoRename on", ["sesh autoname a808", "sesh autoname --all", "sesh autoname --all --json"], cmd_autoname)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
    p.add_argument("--all", action="store_true",
                   help="every nameable session in the mesh; skips autoRename=false and sessions with no transcript")

    p = commands.add(
        "search", "full-text search over the transcripts of every machine of the mesh, best match first", [
            'sesh search "flaky test"', 'sesh search "migration*" --agent codex --limit 5',
            'sesh search \'"exact phrase"\' --machine server --json'], cmd_search)
    p.add_argument("query", help='words (all must match); "a phrase" in quotes; word* matches a prefix')
    p.add_argument("--agent", help="only sessions of this agent (claude, codex, pi)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N sessions (default 20)")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


@dataclass
class Progress:
    """Progress lines on stderr, throttled; on a terminal one line rewritten in place."""

    out: TextIO
    started: float
    shown_at: float = 0.0
    dirty: bool = False

    def update(self, item: dict[str, Any]) -> None:
        now = time.monotonic()
        tty = self.out.isatty()
        if now - self.started < PROGRESS_AFTER_S or now - self.shown_at < (0.2 if tty else 2.0):
            return
        self.shown_at = now
        line = f"backup: {item.get('done')}/{item.get('total')} sessions, {_mb(int(item.get('bytes') or 0))} read"
        self.out.write(("\r" + line + "\x1b[K") if tty else line + "\n")
        self.out.flush()
        self.dirty = tty

    def finish(self) -> None:
        if self.dirty:
            self.out.write("\n")
            self.out.flush()


def _rewrite(ctx: Context) -> tuple[str, str] | None:
    from sesh_mesh.services.placement import parse_rewrite

    return parse_rewrite(ctx.args.rewrite_cwd) if ctx.args.rewrite_cwd is not None else None


def _is_path(text: str) -> bool:
    """A destination that names a directory rather than a machine (machine names never hold a `/`)."""
    return "/" in text or text.startswith(("~", "."))


def _destination(ctx: Context, verb: str) -> tuple[str | None, Path | None]:
    """(machine or `native`, directory): exactly one, from the positional destination (copy), `--to`
    (a machine, `native` or a path) or `--to-dir`; restore defaults to native."""
    given = [value for value in (getattr(ctx.args, "dest", None), ctx.args.to, ctx.args.to_dir) if value is not None]
    if len(given) > 1:
        where = "--to native or --to-dir DIR" if verb == "restore" else "DEST, --to MACHINE|native|DIR or --to-dir DIR"
        raise UsageError(f"{verb} takes one destination: {where}", f"see `sesh {verb} --help`")
    if not given:
        if verb == "restore":
            return "native", None
        raise UsageError("copy needs a destination: a machine, native or a directory",
                         "e.g. `sesh copy a808 server`, `sesh copy a808 native` or `sesh copy a808 ./out`")
    [to] = given
    if not to.strip():
        raise UsageError(f"{verb} destination is empty", "name a machine, native or a directory")
    if ctx.args.to_dir is not None or _is_path(to):
        return None, Path(to).expanduser().absolute()
    if verb == "restore" and to != "native":
        raise UsageError(f"restore --to takes native or a directory, not {to!r}",
                         f"for a directory write it as a path, e.g. --to ./{to}")
    return to, None


# ---- backup ----------------------------------------------------------------------------------------


def cmd_backup(ctx: Context) -> int:
    target = Path(ctx.args.to).expanduser().absolute() if ctx.args.to else ctx.home / "backup.sqlite"
    progress = Progress(sys.stderr, time.monotonic())
    summary: dict[str, Any] = {}
    try:
        for kind, item in ctx.client().stream("backup", {"to": str(target), "allMachines": ctx.args.all_machines}):
            if kind == "item":
                progress.update(item)
            else:
                summary = item
    finally:
        progress.finish()
    failed = summary.get("failed") or []
    if ctx.json:
        render.print_json(summary)
    else:
        skipped = summary.get("skipped") or []
        sys.stdout.write(
            f"backup: {_count(summary['sessions'], 'session')} into {summary['file']}: "
            f"{_count(summary['newVersions'], 'new version')}, "
            f"{summary['unchanged']} unchanged, {len(skipped)} without a transcript, {len(failed)} failed; "
            f"read {_mb(summary['bytesRead'])}, stored {_mb(summary['bytesStored'])} in {summary['seconds']:.1f}s\n")
    for entry in failed:
        sys.stderr.write(f"sesh: backup of {entry['uuid']} ({entry['machine']}) failed: {entry['error']}"
                         " (bring that machine up and run the backup again)\n")
    return 1 if failed else 0


# ---- restore ---------------------------------------------------------------------------------------


def cmd_restore(ctx: Context) -> int:
    from sesh_mesh.services import placement
    from sesh_mesh.services.backup_file import BackupFile

    _to, to_dir = _destination(ctx, "restore")
    rewrite = _rewrite(ctx)
    wanted = ids.check_prefix(ctx.args.uuid) if ctx.args.uuid else None
    source = Path(ctx.args.source).expanduser().absolute()
    backup = BackupFile.open(source, create=False)
    try:
        snapshots = backup.latest()
        if wanted is not None:
            exact = [s for s in snapshots if wanted in (s.session.uuid, s.session.agent_session_id)]
            snapshots = exact or [s for s in snapshots if s.session.uuid.startswith(wanted)
                                  or (s.session.agent_session_id or "").startswith(wanted)]
            if len(snapshots) > 1:
                shown = ", ".join(s.session.uuid for s in snapshots[:8])
                raise SeshError(f"ambiguous prefix {wanted!r} matches {shown} in {source}",
                                "type more characters of the uuid")
        if not snapshots:
            raise SeshError(f"no session {'matching ' + repr(wanted) + ' ' if wanted else ''}in backup {source}",
                            "list it with `sesh restore --from FILE --to-dir /tmp/x --json`" if wanted
                            else "run `sesh backup` first")
        plans = []
        for snapshot in snapshots:
            info = snapshot.session
            content = backup.content(snapshot.version)
            cwd = info.cwd
            if rewrite is not None:
                content = placement.rewrite_cwd(content, *rewrite)
                cwd = placement.rewrite_path(cwd, *rewrite)
            dest = (placement.dir_path(to_dir, info.agent, cwd, info.file_name, content) if to_dir is not None
                    else placement.native_path(info.agent, os.environ, cwd, info.file_name, content))
            plans.append((snapshot, content, cwd, dest))
    finally:
        backup.close()
    _refuse_differing([(dest, content) for _s, content, _c, dest in plans], ctx.args.force)
    results = []
    for snapshot, content, cwd, dest in plans:
        info = snapshot.session
        action = placement.write_transcript(dest, content, force=ctx.args.force)
        result: dict[str, Any] = {"uuid": info.uuid, "agent": info.agent, "agentSessionId": info.agent_session_id,
                                  "machine": info.machine, "cwd": cwd, "path": str(dest), "action": action,
                                  "registered": None}
        if to_dir is None:
            described = placement.describe(info.agent, content)
            adopted = ctx.call("adopt-transcript", {
                "record": {**info.record, "uuid": info.uuid, "agent": info.agent, "machine": info.machine},
                "agentSessionId": described.agent_session_id or info.agent_session_id, "cwd": cwd,
                "filePath": str(dest), "agentDataDir": str(_data_dir(info.agent)), "keepUuid": True,
                "via": "restoredFrom"})
            result["registered"] = adopted["uuid"]
            result["agentSessionId"] = described.agent_session_id or info.agent_session_id
        results.append(result)
    if ctx.json:
        render.print_json(results)
    else:
        for result in results:
            note = f"; session {result['registered']}" if result["registered"] else ""
            sys.stdout.write(f"{result['action']} {result['path']} ({result['agent']} {result['uuid'][:8]}{note})\n")
    return 0


def _data_dir(agent: str) -> Path:
    from sesh_mesh.agents.registry import get_adapter

    return get_adapter(agent).data_dir(os.environ)


def _refuse_differing(writes: list[tuple[Path, bytes]], force: bool) -> None:
    """Every refusal before any write: a refused restore changes nothing."""
    if force:
        return
    for dest, content in writes:
        try:
            existing = dest.read_bytes()
        except OSError:
            continue
        if existing != content:
            raise SeshError(f"{dest} exists and differs from the backup ({len(existing)} vs {len(content)} bytes)",
                            "pass --force to overwrite it")


# ---- copy ------------------------------------------------------------------------------------------


def cmd_copy(ctx: Context) -> int:
    to, to_dir = _destination(ctx, "copy")
    rewrite = _rewrite(ctx)
    uuid = ids.check_prefix(ctx.args.uuid)
    if to is not None and to != "native":
        result = ctx.call("copy", {"uuid": uuid, "to": to, "force": ctx.args.force,
                                   "rewriteCwd": list(rewrite) if rewrite else None})
    else:
        result = _copy_here(ctx, uuid, to_dir, rewrite)
    shaped = {key: result.get(key) for key in ("uuid", "machine", "agent", "path", "action", "registered")}
    if ctx.json:
        render.print_json(shaped)
    else:
        where = f"session {shaped['uuid']} on {shaped['machine']}" if shaped["uuid"] else "(not registered)"
        sys.stdout.write(f"{shaped['action']} {shaped['path']}: {where}\n")
    return 0


def _copy_here(ctx: Context, uuid: str, to_dir: Path | None, rewrite: tuple[str, str] | None) -> dict[str, Any]:
    from sesh_mesh.services import placement

    fetched = ctx.call("transcript-fetch", {"uuid": uuid})
    source = fetched["record"]
    agent = str(source["agent"])
    content = placement.decode_content(fetched)
    cwd = str(source.get("cwd") or "")
    if rewrite is not None:
        content = placement.rewrite_cwd(content, *rewrite)
        cwd = placement.rewrite_path(cwd, *rewrite)
    file_name = Path(str(fetched["fileName"])).name
    dest = (placement.dir_path(to_dir, agent, cwd, file_name, content) if to_dir is not None
            else placement.native_path(agent, os.environ, cwd, file_name, content))
    action = placement.write_transcript(dest, content, force=ctx.args.force)
    result: dict[str, Any] = {"uuid": None, "machine": None, "agent": agent, "path": str(dest), "action": action,
                              "registered": False}
    if to_dir is None:
        described = placement.describe(agent, content)
        adopted = ctx.call("adopt-transcript", {
            "record": source, "agentSessionId": described.agent_session_id, "cwd": cwd, "filePath": str(dest),
            "agentDataDir": str(_data_dir(agent)), "keepUuid": False, "via": "copiedFrom"})
        record = adopted["record"]
        result.update(uuid=adopted["uuid"], machine=record["machine"], registered=adopted["registered"])
    return result


# ---- autoname --------------------------------------------------------------------------------------


def cmd_autoname(ctx: Context) -> int:
    if ctx.args.all:
        if ctx.args.uuid:
            raise UsageError("autoname takes a uuid or --all, not both", "see `sesh autoname --help`")
        report = ctx.call("autoname", {"all": True})
        failed = [entry for entry in report if entry["status"] == "failed"]
        if ctx.json:
            render.print_json(report)
        elif report:
            rows = [[e["status"], e["uuid"][:8], str(e["machine"]), str(e.get("agent") or ""), e["name"] or "-",
                     str(e["reason"] or e.get("summary") or "")] for e in report]
            render.print_table(rows, ["STATUS", "ID", "MACHINE", "AGENT", "NAME", "SUMMARY / REASON"])
        else:
            sys.stderr.write("no sessions to name\n")
        if failed:
            sys.stderr.write(f"sesh: {len(failed)} of {len(report)} sessions could not be named "
                             f"(first: {failed[0]['uuid'][:8]}: {failed[0]['reason']})\n")
            return 1
        return 0
    uuid = ctx.session(ctx.args.uuid)
    record = ctx.call("autoname", {"uuid": uuid})
    if ctx.json:
        render.print_json(record)
    else:
        sys.stdout.write(f"named {record['uuid'][:8]} {record['name']}: {record.get('summary') or ''}\n")
    return 0


# ---- search ----------------------------------------------------------------------------------------


def cmd_search(ctx: Context) -> int:
    query = ctx.args.query  # the daemon checks it has words, and --limit
    agent = check_agent(ctx.args.agent)
    answer = ctx.call("search", {"query": query, "agent": agent, "machine": ctx.machine, "limit": ctx.args.limit})
    results, errors = answer["results"], answer["errors"]
    for error in errors:
        sys.stderr.write(f"sesh: machine {error['machine']} did not answer the search: {error['error']} "
                         "(its sessions are missing from the results)\n")
    if ctx.json:
        render.print_json([{**hit, "snippet": _highlight(hit["snippet"], JSON_HIGHLIGHT)} for hit in results])
    elif not results:
        sys.stderr.write(f"no matches for {query!r}\n")
    else:
        marks = BOLD if sys.stdout.isatty() else JSON_HIGHLIGHT
        for hit in results:
            stamp = str(hit.get("timestamp") or "")[:19].replace("T", " ")
            sys.stdout.write(f"{hit['uuid'][:8]}  {hit['machine']}  {hit['agent']}  {hit['name'] or '-'}  {stamp}\n"
                             f"    {_highlight(hit['snippet'], marks)}\n")
    return 1 if errors and len(errors) == len(answer["machines"]) else 0


def _highlight(snippet: str, marks: tuple[str, str]) -> str:
    return snippet.replace(HIGHLIGHT_OPEN, marks[0]).replace(HIGHLIGHT_CLOSE, marks[1])
