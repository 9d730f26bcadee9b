"""The MCP server on the official SDK: `sesh mcp` over stdio (a client of the local daemon's Unix
socket) and /mcp over streamable HTTP inside the daemon. Tools come from `mcp_tools`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext

from sesh_mesh import __version__
from sesh_mesh.client import Client, caller_context
from sesh_mesh.daemon.ops import OpTable
from sesh_mesh.errors import SeshError
from sesh_mesh.web import mcp_tools
from sesh_mesh.web.mcp_tools import Dispatch

INSTRUCTIONS = ("sesh manages coding-agent sessions (claude, codex, pi) across machines. A session is named by its "
                "uuid or a unique prefix. sesh_send returns the reply of the turn; sesh_new starts a headless child; "
                "sesh_await waits for a session to go idle.")


class ClientDispatch:
    """Ops over the local daemon's Unix socket, from a worker thread (the client blocks). The
    caller context carries SESH_SESSION_ID, so a child started here knows its parent."""

    def __init__(self, socket: Path, home: Path) -> None:
        self.socket = socket
        self.home = home
        self.ctx = caller_context()

    def _stream(self, op: str, args: dict[str, Any]) -> tuple[list[Any], Any]:
        items, result = [], None
        for kind, value in Client(self.socket, self.home).stream(op, args, self.ctx):
            if kind == "item":
                items.append(value)
            else:
                result = value
        return items, result

    async def call(self, op: str, args: dict[str, Any]) -> Any:
        _, result = await anyio.to_thread.run_sync(self._stream, op, args, abandon_on_cancel=True)
        return result

    async def collect(self, op: str, args: dict[str, Any]) -> list[Any]:
        items, _ = await anyio.to_thread.run_sync(self._stream, op, args, abandon_on_cancel=True)
        return items


class OpsDispatch:
    """Ops straight into the daemon's op table (/mcp)."""

    def __init__(self, ops: OpTable) -> None:
        self.ops = ops
        self.ctx: dict[str, Any] = {"door": "mcp"}

    async def call(self, op: str, args: dict[str, Any]) -> Any:
        return await self.ops.run(op, args, self.ctx)

    async def collect(self, op: str, args: dict[str, Any]) -> list[Any]:
        items: list[Any] = []

        async def emit(item: Any) -> None:
            items.append(item)

        await self.ops.run(op, args, self.ctx, emit)
        return items


def build_server(dispatch: Dispatch) -> Server[Any]:
    schemas: dict[str, dict[str, Any]] = {}

    async def op_schemas() -> dict[str, dict[str, Any]]:
        if not schemas:
            schemas.update(await dispatch.call("schemas", {}))
        return schemas

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        known = await op_schemas()
        return types.ListToolsResult(tools=[
            types.Tool(name=tool.name, description=tool.description, input_schema=mcp_tools.input_schema(tool, known))
            for tool in mcp_tools.TOOLS
        ])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            text, _ = await mcp_tools.call_tool(dispatch, params.name, dict(params.arguments or {}))
        except SeshError as exc:
            return types.CallToolResult(content=[types.TextContent(type="text", text=exc.line())], is_error=True)
        # Text only: clients such as claude show structured content to the model in its place, and
        # the reply of sesh_send should reach the model as the reply, not as a JSON document.
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server("sesh", version=__version__, instructions=INSTRUCTIONS, on_list_tools=list_tools,
                  on_call_tool=call_tool)


def run_stdio(socket: Path, home: Path) -> int:
    from mcp.server.stdio import stdio_server

    server = build_server(ClientDispatch(socket, home))

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    asyncio.run(main())
    return 0
