"""The op table (sesh_mesh/daemon/ops.py): one declaration per op, validated, routed, refused.

Built the way the daemon builds it (`daemon.main.Daemon` over a real store in a temp dir), so
these tests see the real set of ops, not a copy.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.config import Config
from sesh_mesh.daemon import op_args, op_doc
from sesh_mesh.daemon.main import Daemon
from sesh_mesh.daemon.ops import DuplicateOp, Op, OpTable, op, ops_of
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
CALLERS = [ROOT / "sesh_mesh" / "cli", ROOT / "sesh_mesh" / "tui", ROOT / "sesh_mesh" / "client.py"]


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    store = await Store.open(tmp_path / "store.sqlite", "alpha")
    try:
        yield Daemon(store, tmp_path, "alpha", Config(path=tmp_path / "config.toml"), None)
    finally:
        await store.close()


def ops_called_by_clients() -> set[str]:
    """Every op name the CLI, the TUI and the client send (string literals in call sites)."""
    called: set[str] = set()
    files = [p for root in CALLERS for p in ([root] if root.is_file() else sorted(root.rglob("*.py")))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if name in {"call", "stream", "call_on_machine", "_simple"} and isinstance(first, ast.Constant):
                called.add(str(first.value))
            if name == "_simple" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                called.add(str(node.args[1].value))
    launcher = (ROOT / "bin" / "sesh").read_text(encoding="utf-8")
    if '"op":"pane"' in launcher:
        called.add("pane")
    return called


async def test_every_op_a_client_calls_is_in_the_table(daemon: Daemon) -> None:
    called = ops_called_by_clients()
    assert len(called) > 20, called  # the scan found the call sites
    missing = called - set(daemon.ops.names())
    assert not missing, f"clients call ops the daemon does not declare: {sorted(missing)}"


async def test_an_op_declared_twice_fails_at_start(tmp_path: Path) -> None:
    class Impostor:
        @op("ping")
        async def op_ping(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
            return "impostor"

    store = await Store.open(tmp_path / "store.sqlite", "alpha")
    try:
        daemon = Daemon(store, tmp_path, "alpha", Config(path=tmp_path / "config.toml"), None)
        with pytest.raises(DuplicateOp, match="'ping' is declared twice"):
            daemon.ops.add(ops_of(Impostor()))
        assert await daemon.ops.run("ping", {}, {}) == {"machine": "alpha", "pid": os.getpid()}
    finally:
        await store.close()


async def test_every_op_has_a_json_schema(daemon: Daemon) -> None:
    schemas = daemon.ops.schemas()
    assert set(schemas) == set(daemon.ops.names())
    for name, described in schemas.items():
        schema = described["args"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False, name
        assert isinstance(schema["properties"], dict), name
        assert described["summary"], f"op {name} has no docstring summary"
        json.dumps(described)  # serialisable as it will be served
    send = schemas["send"]["args"]
    assert send["required"] == ["uuid", "message"]
    assert send["properties"]["timeout"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert schemas["send"]["route"] == "owner"
    assert schemas["new"]["route"] == "machine"
    assert schemas["daemon-stop"]["forwardable"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"agnt": "claude"}, "list: unknown argument 'agnt'"),
        ({"archived": "yes"}, "list: argument 'archived' must be true or false, not a string"),
        ({"tag": 3}, "list: argument 'tag' must be a string, not a number"),
    ],
)
async def test_bad_arguments_are_usage_errors_naming_the_field(
    daemon: Daemon, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        await daemon.ops.run("list", args, {})
    assert raised.value.what == message


async def test_a_missing_argument_is_named_before_the_handler_runs(daemon: Daemon) -> None:
    with pytest.raises(UsageError, match="send: missing argument 'uuid'"):
        await daemon.ops.run("send", {"message": "hi"}, {})
    with pytest.raises(UsageError, match="mutate: argument 'args' must be an object"):
        await daemon.ops.run("mutate", {"uuid": "x", "op": "rename", "args": []}, {})
    assert len(daemon.sessions) == 0


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("daemon-stop", {}),
        ("forward", {"machine": "alpha", "op": "daemon-stop"}),
        ("forward-stream", {"machine": "alpha", "op": "daemon-stop"}),
        ("on-machine", {"machine": "alpha", "op": "daemon-stop"}),
        ("on-machine", {"op": "daemon-stop"}),
        ("peers-reload", {}),
        ("report", {"state": "busy"}),
    ],
)
async def test_a_peer_cannot_run_a_local_only_op(daemon: Daemon, name: str, args: dict[str, Any]) -> None:
    with pytest.raises(SeshError, match="cannot"):
        await daemon.ops.run(name, args, {"forwardedFrom": "mallory"})
    assert not daemon.stop.is_set()


async def test_a_local_only_op_is_never_sent_to_another_machine(daemon: Daemon) -> None:
    with pytest.raises(SeshError, match="'daemon-stop' cannot run on another machine"):
        await daemon.ops.run("on-machine", {"machine": "beta", "op": "daemon-stop"}, {})
    with pytest.raises(UsageError, match="cannot be wrapped"):
        await daemon.ops.run("on-machine", {"machine": "alpha", "op": "forward", "args": {}}, {})
    assert not daemon.stop.is_set()


async def test_local_daemon_stop_runs(daemon: Daemon) -> None:
    await daemon.ops.run("daemon-stop", {}, {})
    assert daemon.stop.is_set()


@dataclass(frozen=True)
class _EchoArgs:
    uuid: str
    n: int | None = None


def _insert(record: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    return record


class _Calls:
    """A stand-in mesh that records what would be forwarded (the routing is what is tested)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def call(self, machine: str, op: str, args: dict[str, Any], **kw: Any) -> Any:
        self.sent.append((machine, op, args))
        return "forwarded"

    def is_connected(self, machine: str) -> bool:
        return True


async def test_owner_route_resolves_the_prefix_and_forwards_to_the_owner(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "store.sqlite", "alpha")
    try:
        ran: list[dict[str, Any]] = []

        class Part:
            @op("echo", _EchoArgs, route="owner")
            async def op_echo(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
                """Echo."""
                ran.append(args)
                return "here"

        sessions = Sessions(store, "alpha")
        table = OpTable("alpha", sessions)
        mesh = _Calls()
        table.forwarder = mesh
        table.add(ops_of(Part()))
        mine = "aaaaaaaa-0000-4000-8000-000000000001"
        theirs = "bbbbbbbb-0000-4000-8000-000000000002"
        for uuid, machine in ((mine, "alpha"), (theirs, "beta")):
            fresh: dict[str, Any] = {"uuid": uuid, "agent": "claude", "machine": machine, "cwd": "/", "tags": [],
                                     "name": ""}
            await store.write_local(uuid, functools.partial(_insert, fresh))
        assert await table.run("echo", {"uuid": "aaaa"}, {}) == "here"
        assert ran == [{"uuid": mine}]
        assert await table.run("echo", {"uuid": "bbbb", "n": 2}, {}) == "forwarded"
        assert mesh.sent == [("beta", "echo", {"uuid": theirs, "n": 2})]
        assert len(ran) == 1  # nothing ran here for the other machine's session
    finally:
        await store.close()


def test_an_owner_route_without_a_uuid_argument_is_a_wiring_error() -> None:
    with pytest.raises(TypeError, match="route 'owner' needs a uuid"):
        op("bad", op_args.NoArgs, route="owner")


def test_ops_of_binds_each_declared_method() -> None:
    class Part:
        @op("one")
        async def first(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
            """The first."""
            return 1

        async def undeclared(self) -> None:
            return None

    found = ops_of(Part())
    assert [entry.name for entry in found] == ["one"]
    assert isinstance(found[0], Op) and found[0].spec.summary == "The first."
    assert asyncio.run(found[0].handler({}, {})) == 1


def test_only_sessions_reads_the_stores_record_dict() -> None:
    """One door to the records: `daemon.sessions.Sessions`; the store's own package may use its dict."""
    allowed = {ROOT / "sesh_mesh" / "daemon" / "sessions.py"}
    offenders = []
    for path in sorted((ROOT / "sesh_mesh").rglob("*.py")):
        if path in allowed or (ROOT / "sesh_mesh" / "store") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "records" and isinstance(node.value, ast.Attribute)
                    and node.value.attr in {"store", "_store"}):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"read records through Sessions, not store.records: {offenders}"


def test_the_architecture_doc_lists_the_op_table_as_it_is() -> None:
    text = op_doc.DOC.read_text(encoding="utf-8")
    start = text.index("<!-- BEGIN op list")
    end = text.index(op_doc.END) + len(op_doc.END)
    assert text[start:end] == op_doc.current(), "refresh docs/architecture.md: python -m sesh_mesh.daemon.op_doc"


class _Offline(_Calls):
    """A stand-in mesh whose link to every other machine is down."""

    def is_connected(self, machine: str) -> bool:
        return False


async def test_an_unreachable_owner_runs_the_declared_offline_handler_and_only_then(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "store.sqlite", "alpha")
    try:
        ran: list[str] = []

        class Part:
            @op("echo", _EchoArgs, route="owner")
            async def op_echo(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
                """Echo."""
                ran.append("handler")
                return "here"

            @op("plain", _EchoArgs)
            async def op_plain(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
                """Not owner-routed."""
                return "plain"

        async def offline(args: dict[str, Any], ctx: dict[str, Any]) -> Any:
            ran.append(f"offline {args['uuid']}")
            return "offline"

        table = OpTable("alpha", Sessions(store, "alpha"))
        table.add(ops_of(Part()))
        with pytest.raises(DuplicateOp, match="'plain' is not an owner-routed op"):
            table.when_owner_unreachable("plain", offline)
        with pytest.raises(DuplicateOp, match="'nosuch' is not an owner-routed op"):
            table.when_owner_unreachable("nosuch", offline)
        table.when_owner_unreachable("echo", offline)
        theirs = "bbbbbbbb-0000-4000-8000-000000000002"
        fresh: dict[str, Any] = {"uuid": theirs, "agent": "pi", "machine": "beta", "cwd": "/", "tags": [], "name": ""}
        await store.write_local(theirs, functools.partial(_insert, fresh))

        down = _Offline()
        table.forwarder = down
        assert await table.run("echo", {"uuid": "bbbb"}, {}) == "offline"
        assert ran == [f"offline {theirs}"] and down.sent == []

        up = _Calls()
        table.forwarder = up
        assert await table.run("echo", {"uuid": "bbbb"}, {}) == "forwarded"
        assert up.sent == [("beta", "echo", {"uuid": theirs})] and len(ran) == 1
    finally:
        await store.close()


async def test_delete_force_of_an_unreachable_owners_session_tombstones_it_here(daemon: Daemon) -> None:
    theirs = "cccccccc-0000-4000-8000-000000000003"
    fresh: dict[str, Any] = {"uuid": theirs, "agent": "codex", "machine": "beta", "cwd": "/", "tags": [], "name": ""}
    await daemon.store.write_local(theirs, functools.partial(_insert, fresh))
    down = _Offline()
    daemon.ops.forwarder = down
    # anything but delete --force still goes to the owner (and fails there while the link is down)
    await daemon.ops.run("mutate", {"uuid": "cccc", "op": "rename", "args": {"name": "x"}}, {})
    assert [(m, o) for m, o, _ in down.sent] == [("beta", "mutate")]
    assert daemon.sessions[theirs]["name"] == ""
    await daemon.ops.run("mutate", {"uuid": "cccc", "op": "delete", "args": {"force": True}}, {})
    record = daemon.sessions[theirs]
    assert record.get("deleted") and record["machine"] == "beta"
    assert len(down.sent) == 1  # the tombstone was written here, not sent
