"""Inventory verbs: list, find, info, state, tags, register, rename, tag…, delete, import."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sesh_mesh import ids
from sesh_mesh.cli import render
from sesh_mesh.cli.checks import check_agent, resolve_cwd
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import SeshError
from sesh_mesh.store import mutations

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands


def register(commands: Commands) -> None:
    # ---- reads
    p = commands.add("list", "list active sessions on every machine", [
        "sesh list", "sesh list --agent claude --tag work", "sesh list --columns uuid,name,status",
        "sesh list --archived --json", "sesh list --only-archived"], cmd_list)
    p.add_argument("--archived", "--include-archived", action="store_true", dest="archived",
                   help="include archived sessions (as in the original sesh)")
    p.add_argument("--only-archived", action="store_true", help="only archived sessions")
    p.add_argument("--agent", help="only this agent (claude, codex, pi)")
    p.add_argument("--tag", help="only sessions with this tag")
    p.add_argument("--columns", help="print TSV with these columns, no header")

    p = commands.add("find", "every session (archived too) whose uuid or agent id starts with a prefix",
                     ["sesh find a808", "sesh find a808 --json"], cmd_find)
    p.add_argument("prefix")

    p = commands.add("info", "the full record of a session (deleted ones too)", ["sesh info a808", "sesh info --json"],
                     cmd_info)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    p = commands.add("state", "turn status and live extras of a session", ["sesh state a808", "sesh state --json"],
                     cmd_state)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    commands.add("tags", "every tag in use across the mesh, with counts", ["sesh tags", "sesh tags --json"], cmd_tags)

    # ---- mutations
    p = commands.add("register", "record an already-running agent conversation",
                     ["sesh register 0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d6e --agent claude --name auth --tag work"],
                     cmd_register)
    p.add_argument("session_id", metavar="session-id", help="the agent's own conversation id (a uuid)")
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("--name", help="display name")
    p.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    p.add_argument("--cwd", help="working directory (default $PWD)")

    p = commands.add("rename", "rename a session (turns autoRename off unless --keep-auto)",
                     ["sesh rename a808 auth-refactor", "sesh rename a808 auth --keep-auto"], cmd_rename)
    p.add_argument("uuid")
    p.add_argument("name")
    p.add_argument("--keep-auto", action="store_true", help="keep automatic renaming on")

    for verb, text, func in (("tag", "add tags to a session", cmd_tag),
                             ("untag", "remove tags from a session", cmd_untag)):
        p = commands.add(verb, text, [f"sesh {verb} a808 work urgent"], func)
        p.add_argument("uuid")
        p.add_argument("tags", nargs="+", metavar="tag")

    p = commands.add("retag", "rename tags on a session", ["sesh retag a808 wip=review"], cmd_retag)
    p.add_argument("uuid")
    p.add_argument("pairs", nargs="+", metavar="old=new")

    for verb, text, func in (("archive", "archive a session (hidden from list)", cmd_archive),
                             ("unarchive", "bring a session back", cmd_unarchive)):
        p = commands.add(verb, text, [f"sesh {verb} a808"], func)
        p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    p = commands.add("autoname-toggle", "turn automatic renaming on or off", [
        "sesh autoname-toggle a808", "sesh autoname-toggle a808 --off"], cmd_autoname_toggle)
    p.add_argument("uuid", nargs="?")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--on", action="store_const", const=True, dest="value")
    group.add_argument("--off", action="store_const", const=False, dest="value")

    p = commands.add("delete", "delete a session (a tombstone that propagates); never inferred", [
        "sesh delete a808", "sesh delete a808 --force"], cmd_delete)
    p.add_argument("uuid")
    p.add_argument("--force", action="store_true",
                   help="delete an orphan whose owner is unreachable or gone (never a live session)")
    p.add_argument("--purge", action="store_true", help="also remove the transcript")

    p = commands.add("import", "one-shot, idempotent import of a legacy sessions.json", [
        "sesh import", "sesh import ~/old/sessions.json"], cmd_import)
    p.add_argument("file", nargs="?", help="default: $SESH_HOME/sessions.json")


def show_records(ctx: Context, records: list[dict[str, Any]]) -> int:
    if ctx.json:
        render.print_json(records)
    else:
        render.print_records(records)
    return 0


def show_record(ctx: Context, record: dict[str, Any]) -> int:
    if ctx.json:
        render.print_json(record)
    else:
        render.print_record(record)
    return 0


def cmd_list(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    columns = render.parse_columns(a.columns) if a.columns is not None else None
    if a.tag is not None:
        mutations.check_tag(a.tag)
    records = ctx.call("list", {"machine": ctx.machine, "agent": a.agent, "tag": a.tag,
                                "archived": a.archived or a.only_archived, "archived_only": a.only_archived})
    if columns is not None:
        render.print_tsv(records, columns)
        return 0
    return show_records(ctx, records)


def cmd_find(ctx: Context) -> int:
    prefix = ids.check_prefix(ctx.args.prefix)
    return show_records(ctx, ctx.call("find", {"prefix": prefix, "machine": ctx.machine}))


def cmd_info(ctx: Context) -> int:
    uuid = ctx.session(ctx.args.uuid)
    return show_record(ctx, ctx.call("info", {"uuid": uuid}))


def cmd_state(ctx: Context) -> int:
    uuid = ctx.session(ctx.args.uuid)
    state = ctx.call("state", {"uuid": uuid})
    if ctx.json:
        render.print_json(state)
        return 0
    render.print_record(state)
    return 0


def cmd_tags(ctx: Context) -> int:
    tags = ctx.call("tags", {"machine": ctx.machine})
    if ctx.json:
        render.print_json(tags)
    elif not tags:
        sys.stderr.write("no tags in use (add one with `sesh tag <uuid> <tag>`)\n")
    else:
        render.print_table([[t["tag"], str(t["count"])] for t in tags], ["TAG", "COUNT"])
    return 0


def cmd_register(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    session_id = ids.check_uuid(a.session_id)
    cwd = resolve_cwd(a.cwd)
    record = ctx.call(
        "register", {"agent": a.agent, "sessionId": session_id, "cwd": cwd, "name": a.name, "tags": a.tag}
    )
    return show_record(ctx, record) if ctx.json else _say(f"registered {record['uuid']} ({record['agent']})")


def _say(text: str) -> int:
    sys.stdout.write(text + "\n")
    return 0


def mutate(ctx: Context, uuid_text: str, op: str, op_args: dict[str, Any]) -> int:
    """`op` on the session; the daemon checks `op_args` (an empty tag, a bad retag pair)."""
    uuid = ids.check_prefix(uuid_text)
    record = ctx.call("mutate", {"uuid": uuid, "op": op, "args": op_args, "key": ids.new_uuid()})
    if ctx.json:
        render.print_json(record)
        return 0
    label = record.get("name") or record["uuid"][:8]
    summary = {
        "rename": f"renamed {record['uuid'][:8]} to {record.get('name')}",
        "tag": f"{label}: tags {','.join(record.get('tags') or []) or '(none)'}",
        "untag": f"{label}: tags {','.join(record.get('tags') or []) or '(none)'}",
        "retag": f"{label}: tags {','.join(record.get('tags') or []) or '(none)'}",
        "archive": f"archived {label}",
        "unarchive": f"unarchived {label}",
        "autoname-toggle": f"{label}: autoRename {'on' if record.get('autoRename') else 'off'}",
        "delete": f"deleted {record['uuid']}",
    }[op]
    return _say(summary)


def cmd_rename(ctx: Context) -> int:
    return mutate(ctx, ctx.args.uuid, "rename", {"name": ctx.args.name, "keep_auto": ctx.args.keep_auto})


def cmd_tag(ctx: Context) -> int:
    return mutate(ctx, ctx.args.uuid, "tag", {"tags": ctx.args.tags})


def cmd_untag(ctx: Context) -> int:
    return mutate(ctx, ctx.args.uuid, "untag", {"tags": ctx.args.tags})


def cmd_retag(ctx: Context) -> int:
    return mutate(ctx, ctx.args.uuid, "retag", {"pairs": ctx.args.pairs})


def cmd_archive(ctx: Context) -> int:
    return mutate(ctx, ctx.current_session(ctx.args.uuid), "archive", {})


def cmd_unarchive(ctx: Context) -> int:
    return mutate(ctx, ctx.current_session(ctx.args.uuid), "unarchive", {})


def cmd_autoname_toggle(ctx: Context) -> int:
    return mutate(ctx, ctx.current_session(ctx.args.uuid), "autoname-toggle", {"value": ctx.args.value})


def cmd_delete(ctx: Context) -> int:
    return mutate(ctx, ctx.args.uuid, "delete", {"force": ctx.args.force, "purge": ctx.args.purge})


def cmd_import(ctx: Context) -> int:
    path = str(Path(ctx.args.file).expanduser().resolve()) if ctx.args.file else None
    summary = ctx.call("import", {"path": path})
    if ctx.json:
        render.print_json(summary)
    else:
        _say(
            f"imported {summary['imported']} from {summary['file']} "
            f"({summary['alreadyPresent']} already present, {summary['otherMachines']} owned by other machines, "
            f"{summary['invalid']} invalid)"
        )
    shown = summary.get("invalidEntries") or []
    for problem in shown:
        sys.stderr.write(f"sesh: import skipped {problem}\n")
    if summary["invalid"] > len(shown):
        sys.stderr.write(f"sesh: import skipped {summary['invalid'] - len(shown)} more invalid entries\n")
    if summary["imported"] or summary["alreadyPresent"]:
        return 0
    if summary["invalid"]:
        why = f"{summary['invalid']} invalid, {summary['otherMachines']} owned by other machines"
        fix = "fix the entries named above"
    elif summary["otherMachines"]:
        why, fix = f"all {summary['otherMachines']} owned by other machines", "import them on their own machine"
    else:
        why, fix = "the file holds no sessions", "pass a legacy sessions.json"
    raise SeshError(f"nothing imported from {summary['file']}: {why}", fix)
