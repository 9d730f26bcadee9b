"""The MCP tools: each one an op of the op table (or two, for delegate), its input schema cut
from that op's argument schema. Pure of the MCP SDK, so the table is tested without it.

A tool call runs through a `Dispatch`: over the Unix socket for `sesh mcp` (client.py), or
straight into `OpTable.run` for /mcp inside the daemon. Either way the op is routed to the
machine that owns the session, so `sesh_send` to a child and `sesh_await` work across machines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sesh_mesh import ids
from sesh_mesh.errors import UsageError


class Dispatch(Protocol):
    async def call(self, op: str, args: dict[str, Any]) -> Any: ...

    async def collect(self, op: str, args: dict[str, Any]) -> list[Any]:
        """A streaming op's items (it must end by itself: no follow)."""
        ...


@dataclass(frozen=True)
class Tool:
    name: str
    op: str
    description: str
    fields: tuple[str, ...]
    """The op's arguments the tool takes (a subset: no CLI-only or dangerous switches)."""
    required: tuple[str, ...] = ()
    """Required here though optional for the op (sesh_new needs its first message)."""
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Tool arguments that are not op arguments (mutate's inner args)."""
    build: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The op's arguments from the tool's, when they are not the same."""


Builder = Callable[[dict[str, Any]], dict[str, Any]]


def _mutation(name: str, inner: Builder) -> Builder:
    def build(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"uuid": arguments["uuid"], "op": name, "args": inner(arguments), "key": ids.new_uuid()}

    return build


def _headless(arguments: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in arguments.items() if k != "keep"}, "headless": True}


TOOLS: tuple[Tool, ...] = (
    Tool("sesh_list", "list", "List the sessions of every machine (newest first), filtered by machine, agent, tag.",
         ("machine", "agent", "tag", "archived")),
    Tool("sesh_info", "info", "One session's record: machine, agent, cwd, name, tags, live state.", ("uuid",)),
    Tool("sesh_state", "state", "A session's live state: busy or idle, needs-input, context, model.", ("uuid",)),
    Tool("sesh_search", "search", "Full-text search over the transcripts of every machine.",
         ("query", "agent", "machine", "limit")),
    Tool("sesh_tail", "tail", "The last n transcript entries of a session (default 20).", ("uuid", "n")),
    Tool("sesh_transcript", "transcript", "A session's transcript entries, parsed and rendered.", ("uuid", "n")),
    Tool("sesh_send", "send", "Send a message to a session and return the reply of that turn.",
         ("uuid", "message", "timeout")),
    Tool("sesh_new", "new", "Start a headless child session with a first message; returns it and the reply.",
         ("agent", "cwd", "name", "tags", "model", "msg", "machine", "timeout"), required=("agent", "cwd", "msg"),
         build=_headless),
    Tool("sesh_delegate", "new", "One-shot worker: a headless session runs the task, returns the reply and is "
         "deleted (unless keep).", ("agent", "cwd", "model", "msg", "machine", "timeout"),
         required=("agent", "cwd", "msg"), extra={"keep": {"type": "boolean", "description": "Keep the session."}},
         build=_headless),
    Tool("sesh_await", "await", "Wait until a session is idle (its delivered turn ended).", ("uuid", "timeout")),
    Tool("sesh_tag", "mutate", "Add tags to a session.", ("uuid",),
         extra={"tags": {"type": "array", "items": {"type": "string"}}}, required=("tags",),
         build=_mutation("tag", lambda a: {"tags": a["tags"]})),
    Tool("sesh_rename", "mutate", "Rename a session.", ("uuid",), extra={"name": {"type": "string"}},
         required=("name",), build=_mutation("rename", lambda a: {"name": a["name"]})),
)

BY_NAME = {tool.name: tool for tool in TOOLS}


def input_schema(tool: Tool, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tool's JSON Schema: the chosen properties of its op's argument schema, plus its own."""
    op_schema = schemas.get(tool.op, {}).get("args", {})
    props = op_schema.get("properties", {})
    missing = [name for name in tool.fields if name not in props]
    if missing:
        raise UsageError(f"tool {tool.name}: op {tool.op!r} has no argument {missing[0]!r}",
                         "the daemon is older than this sesh: sesh daemon restart")
    properties = {name: props[name] for name in tool.fields} | tool.extra
    required = sorted({*(n for n in op_schema.get("required", []) if n in tool.fields), *tool.required})
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


async def call_tool(dispatch: Dispatch, name: str, arguments: dict[str, Any]) -> tuple[str, Any]:
    """Run tool `name`; (text for the model, the structured result)."""
    tool = BY_NAME.get(name)
    if tool is None:
        raise UsageError(f"unknown tool {name!r}", "list the tools (tools/list)")
    unknown = sorted(set(arguments) - set(tool.fields) - set(tool.extra))
    if unknown:
        raise UsageError(f"unknown argument {unknown[0]!r} for {name}", "use " + ", ".join([*tool.fields, *tool.extra]))
    for needed in tool.required:
        if arguments.get(needed) in (None, "", []):
            raise UsageError(f"{name} needs {needed}", f"give {needed}")
    args = tool.build(arguments) if tool.build else dict(arguments)
    if tool.op == "tail":
        result: Any = await dispatch.collect("tail", {**args, "follow": False})
    else:
        result = await dispatch.call(tool.op, args)
    if name == "sesh_delegate" and not arguments.get("keep"):
        await dispatch.call("mutate", {"uuid": result["uuid"], "op": "delete", "args": {}, "key": ids.new_uuid()})
    if isinstance(result, dict) and "reply" in result and name in ("sesh_send", "sesh_new", "sesh_delegate"):
        return str(result.get("reply") or ""), result
    return json.dumps(result, indent=1, default=str), result
