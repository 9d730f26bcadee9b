"""Inventory verbs: list, find, info, state, tags, register, rename, tag…, delete, import."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from sesh_mesh import ids
from sesh_mesh.cli import render
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import UsageError
from sesh_mesh.store import mutations
from sesh_mesh.store.record import AGENTS


def check_agent(agent: str | None) -> str | None:
    if agent is not None and agent not in AGENTS:
        raise UsageError(f"unknown agent {agent!r}", "use claude, codex or pi")
    return agent


def resolve_cwd(given: str | None) -> str:
    """The realpath of --cwd (relative to $PWD), which must be an existing directory."""
    here = _working_dir()
    raw = given if given is not None else here
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(here) / path
    if not path.is_dir():
        raise UsageError(f"cwd {raw!r} does not exist or is not a directory", "pass --cwd with an existing directory")
    return os.path.realpath(path)


def _working_dir() -> str:
    """$PWD when it names the real working directory (a shell's logical path), else getcwd().

    A program started with another cwd inherits a stale $PWD, so it is trusted only when it
    points at the same directory.
    """
    real = os.getcwd()
    logical = os.environ.get("PWD")
    try:
        if logical and os.path.samefile(logical, real):
            return logical
    except OSError:
        pass
    return real


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
    records = ctx.call("list", {"machine": ctx.machine, "agent": a.agent, "tag": a.tag, "archived": a.archived})
    if columns is not None:
        render.print_tsv(records, columns)
        return 0
    return show_records(ctx, records)


def cmd_find(ctx: Context) -> int:
    prefix = ids.check_prefix(ctx.args.prefix)
    return show_records(ctx, ctx.call("find", {"prefix": prefix, "machine": ctx.machine}))


def cmd_info(ctx: Context) -> int:
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
    return show_record(ctx, ctx.call("info", {"uuid": uuid}))


def cmd_state(ctx: Context) -> int:
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
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
    tags = [mutations.check_tag(t) for t in a.tag]
    name = mutations.check_name(a.name) if a.name is not None else None
    cwd = resolve_cwd(a.cwd)
    record = ctx.call(
        "register", {"agent": a.agent, "sessionId": session_id, "cwd": cwd, "name": name, "tags": tags}
    )
    return show_record(ctx, record) if ctx.json else _say(f"registered {record['uuid']} ({record['agent']})")


def _say(text: str) -> int:
    sys.stdout.write(text + "\n")
    return 0


def mutate(ctx: Context, uuid_text: str, op: str, op_args: dict[str, Any]) -> int:
    mutations.validate(op, op_args)
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
        return 0
    return _say(
        f"imported {summary['imported']} from {summary['file']} "
        f"({summary['alreadyPresent']} already present, {summary['otherMachines']} owned by other machines, "
        f"{summary['invalid']} invalid)"
    )
