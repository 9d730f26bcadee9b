"""The op table: the daemon's only dispatcher (docs/architecture.md, "The op table").

Every operation is declared once, next to its handler, with `@op(...)`: its name, its argument
model (op_args), its route, whether it streams and whether a peer may call it. The composition
root (daemon/main.py) collects the declared ops of every part into one `OpTable`; the Unix-socket
API and the mesh RPC are framing around `OpTable.run`, so validation, routing to the owner,
the forwardable rule and the error reply are the same whichever door a request came through.

Routes:
  here     runs on this daemon.
  owner    `args.uuid` names a session; the op runs on the machine that owns it (forwarded over
           the mesh when that is another machine, with the uuid resolved to the full id).
  machine  `args.machine` names where the op runs (absent or this machine: here).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from sesh_mesh import ids
from sesh_mesh.daemon import op_args
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.errors import SeshError, UsageError

log = logging.getLogger(__name__)

Route = Literal["here", "owner", "machine"]
Emit = Callable[[Any], Awaitable[None]]
Handler = Callable[..., Awaitable[Any]]
"""`handler(args, ctx)` or, for a streaming op, `handler(args, ctx, emit)`."""
RawHandler = Callable[[dict[str, Any]], bytes]

F = TypeVar("F", bound=Callable[..., Any])

WRAPPERS = frozenset({"forward", "forward-stream", "on-machine"})
"""Ops that run another op somewhere: they never wrap each other."""
# An owner-routed op whose uuid is optional (autoname --all) runs here when none is given.


@dataclass(frozen=True)
class OpSpec:
    name: str
    args: type
    route: Route = "here"
    stream: bool = False
    forwardable: bool = True
    raw: bool = False
    """Answered with raw bytes from memory, outside the JSON framing (the status-bar fast path)."""
    summary: str = ""


@dataclass(frozen=True)
class Op:
    spec: OpSpec
    handler: Callable[..., Any]

    @property
    def name(self) -> str:
        return self.spec.name


def op(
    name: str,
    args: type = op_args.NoArgs,
    *,
    route: Route = "here",
    stream: bool = False,
    forwardable: bool = True,
    raw: bool = False,
) -> Callable[[F], F]:
    """Declare the decorated method as the handler of op `name` (collected by `ops_of`)."""
    if route == "owner" and "uuid" not in op_args.field_names(args):
        raise TypeError(f"op {name}: route 'owner' needs a uuid argument")
    if route == "machine" and "machine" not in op_args.field_names(args):
        raise TypeError(f"op {name}: route 'machine' needs a machine argument")

    def mark(fn: F) -> F:
        summary = " ".join((fn.__doc__ or "").strip().split("\n\n", 1)[0].split())
        fn.__sesh_op__ = OpSpec(name, args, route, stream, forwardable, raw, summary)  # type: ignore[attr-defined]
        return fn

    return mark


def ops_of(part: object) -> list[Op]:
    """The ops a part declared with `@op`, bound to it."""
    found = []
    for attr in dir(type(part)):
        spec = getattr(getattr(type(part), attr, None), "__sesh_op__", None)
        if isinstance(spec, OpSpec):
            found.append(Op(spec, getattr(part, attr)))
    return found


class Forwarder(Protocol):
    """Runs an op on another machine's daemon (the mesh provides it)."""

    async def call(
        self,
        machine: str,
        op: str,
        args: dict[str, Any],
        *,
        key: str | None = None,
        ctx: dict[str, Any] | None = None,
        emit: Emit | None = None,
        limit_s: float | None = None,
    ) -> Any: ...

    def is_connected(self, machine: str) -> bool: ...


class DuplicateOp(Exception):
    """Two parts declared the same op name: a wiring mistake, refused at start."""


class OpTable:
    def __init__(self, machine: str, sessions: Sessions) -> None:
        self.machine = machine
        self.sessions = sessions
        self.forwarder: Forwarder | None = None
        self._ops: dict[str, Op] = {}
        self._offline: dict[str, Handler] = {}

    # ---- building ----------------------------------------------------------------------------

    def add(self, ops: Iterable[Op]) -> None:
        for entry in ops:
            if entry.name in self._ops:
                raise DuplicateOp(f"op {entry.name!r} is declared twice ({self._ops[entry.name].handler!r} and "
                                  f"{entry.handler!r})")
            self._ops[entry.name] = entry

    def when_owner_unreachable(self, name: str, handler: Handler) -> None:
        """For an owner-routed op: what runs here instead when the owner has no live link."""
        if name not in self._ops or self._ops[name].spec.route != "owner":
            raise DuplicateOp(f"op {name!r} is not an owner-routed op")
        self._offline[name] = handler

    # ---- reading -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._ops)

    def spec(self, name: str) -> OpSpec | None:
        entry = self._ops.get(name)
        return None if entry is None else entry.spec

    def raw(self, name: str) -> RawHandler | None:
        entry = self._ops.get(name)
        return entry.handler if entry is not None and entry.spec.raw else None

    def handler_modules(self) -> dict[str, str]:
        """Where each op is declared, as a path under sesh_mesh/ (for docs/architecture.md)."""
        out = {}
        for name, entry in self._ops.items():
            module = getattr(entry.handler, "__module__", "") or ""
            out[name] = module.removeprefix("sesh_mesh.").replace(".", "/") + ".py"
        return out

    def schemas(self) -> dict[str, dict[str, Any]]:
        """Every op's description and JSON Schema of its arguments."""
        return {
            name: {
                "summary": entry.spec.summary,
                "route": entry.spec.route,
                "stream": entry.spec.stream,
                "raw": entry.spec.raw,
                "forwardable": entry.spec.forwardable,
                "args": op_args.schema(entry.spec.args),
            }
            for name, entry in sorted(self._ops.items())
        }

    # ---- running -----------------------------------------------------------------------------

    async def run(self, name: str, args: dict[str, Any], ctx: dict[str, Any], emit: Emit | None = None) -> Any:
        """Validate, route and run op `name`: the one path of every door."""
        entry = self._lookup(name, ctx)
        if ctx.get("forwardedFrom") and not entry.spec.forwardable:
            raise SeshError(f"operation {name!r} cannot be run from another machine", "run it on that machine")
        if entry.spec.raw:
            raise UsageError(f"operation {name!r} is answered on the local socket only", "see sesh --help")
        op_args.check(name, entry.spec.args, args)
        spec = entry.spec
        if spec.route == "owner" and args.get("uuid") is not None:
            record = self.sessions.resolve(str(args["uuid"]))
            args = {**args, "uuid": record["uuid"]}
            owner = record["machine"]
            if owner != self.machine:
                offline = self._offline.get(name)
                if offline is not None and (self.forwarder is None or not self.forwarder.is_connected(owner)):
                    return await offline(args, ctx)
                return await self.forward(owner, name, args, ctx, emit)
        elif spec.route == "machine":
            machine = args.get("machine")
            if machine and machine != self.machine:
                return await self.forward(str(machine), name, {**args, "machine": None}, ctx, emit)
        if spec.stream:
            return await entry.handler(args, ctx, emit or _discard)
        return await entry.handler(args, ctx)

    async def run_on(
        self,
        machine: str | None,
        name: str,
        args: dict[str, Any],
        ctx: dict[str, Any],
        emit: Emit | None = None,
        key: str | None = None,
    ) -> Any:
        """Op `name` on `machine` (the `on-machine` and `forward` wrappers): here when it is us."""
        entry = self._lookup(name, ctx)
        if name in WRAPPERS:
            raise UsageError(f"{name} cannot be wrapped in another forwarding op", "name the operation itself")
        here = not machine or machine == self.machine
        if not entry.spec.forwardable and (not here or ctx.get("forwardedFrom")):
            raise SeshError(f"operation {name!r} cannot run on another machine", "run it on that machine")
        if here:
            return await self.run(name, args, ctx, emit)
        assert machine is not None
        return await self.forward(machine, name, args, ctx, emit, key)

    async def forward(
        self,
        machine: str,
        name: str,
        args: dict[str, Any],
        ctx: dict[str, Any],
        emit: Emit | None = None,
        key: str | None = None,
    ) -> Any:
        if self.forwarder is None:
            raise SeshError(
                f"session is owned by machine {machine!r}, which this daemon has no link to",
                f"add it with `sesh peer add {machine} ws://HOST:PORT --token T`, or run the command there",
            )
        key = key or (args.get("key") if isinstance(args.get("key"), str) else None) or ids.new_uuid()
        return await self.forwarder.call(machine, name, args, key=key, ctx=ctx, emit=emit)

    def _lookup(self, name: str, ctx: dict[str, Any]) -> Op:
        entry = self._ops.get(name)
        if entry is not None:
            return entry
        if ctx.get("forwardedFrom"):
            raise UsageError(
                f"machine {self.machine!r} does not know the operation {name!r}",
                "update sesh there (sesh daemon restart picks up a new install)",
            )
        raise UsageError(f"unknown operation {name!r}", "update the sesh CLI or daemon (sesh daemon restart)")


async def _discard(item: Any) -> None:
    return None


def error_reply(exc: BaseException, op: str, *, remote: bool = False) -> dict[str, Any]:
    """Any exception an op raised, as the `{what, fix, kind}` every door sends back."""
    if isinstance(exc, SeshError):
        return exc.to_wire()
    if type(exc).__module__ == "sesh_mesh.agents.tmux":  # a TmuxError: tmux refused, or the pane is gone
        log.warning("%s: %s", op, exc)
        return SeshError(str(exc), "the pane or its tmux server may be gone: see `sesh agents`, or `sesh resume` "
                         "the session").to_wire()
    if isinstance(exc, (KeyError, TypeError, ValueError)):
        log.warning("bad arguments for %s: %r", op, exc)
        return UsageError(f"bad arguments for {op}: {exc}", "see sesh --help").to_wire()
    log.error("%s failed", op, exc_info=exc)
    where = "see daemon.log on the owner" if remote else "see daemon.log"
    return SeshError(f"daemon error in {op}: {exc!r}", where).to_wire()
