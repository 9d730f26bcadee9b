"""The MCP server with the SDK's own client: `sesh mcp` over stdio against a real daemon, and
/mcp over streamable HTTP on a daemon with [http] on. Tools are listed with their schemas and
called; a failing call is a tool error carrying the `sesh:` line."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.harness import Daemon, uid
from tests.mesh.helpers import link, mesh_daemon, register, running, wait_converged, wait_linked
from tests.web.helpers import enable_http, token_of

TOOLS = {"sesh_list", "sesh_info", "sesh_state", "sesh_search", "sesh_tail", "sesh_transcript", "sesh_send",
         "sesh_new", "sesh_delegate", "sesh_await", "sesh_tag", "sesh_rename"}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Daemon, Daemon, str]]:
    alpha, beta = mesh_daemon("alpha"), mesh_daemon("beta")
    url = enable_http(alpha)
    link(alpha, beta)
    with running(alpha, beta):
        wait_linked(alpha, "beta")
        register(alpha, uid(1), name="mcp-alpha", tags=["x"])
        register(beta, uid(2), name="mcp-beta")
        wait_converged(alpha, beta)
        yield alpha, beta, url


@asynccontextmanager
async def stdio(daemon: Daemon, session_id: str | None = None) -> AsyncIterator[Client]:
    env = {**daemon.env, **({"SESH_SESSION_ID": session_id} if session_id else {})}
    params = StdioServerParameters(command=sys.executable, args=["-m", "sesh_mesh", "mcp"], env=env)
    async with Client(params, mode="legacy") as client:
        yield client


def text_of(result: Any) -> str:
    return "".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def check_tools(client: Client, beta: Daemon, door: str) -> None:
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    send_schema = tools["sesh_send"].input_schema
    assert send_schema["required"] == ["message", "uuid"] and send_schema["additionalProperties"] is False
    assert set(tools["sesh_new"].input_schema["required"]) == {"agent", "cwd", "msg"}
    assert "headless" not in tools["sesh_new"].input_schema["properties"]  # always headless

    sessions = json.loads(text_of(await client.call_tool("sesh_list", {})))
    names = {s["uuid"]: s["name"] for s in sessions}
    assert names[uid(1)] == "mcp-alpha" and uid(2) in names
    info = json.loads(text_of(await client.call_tool("sesh_info", {"uuid": uid(2)})))
    assert info["machine"] == "beta"
    # beta owns uid(2): the rename and the tag are forwarded there and written by beta
    renamed = await client.call_tool("sesh_rename", {"uuid": uid(2), "name": f"renamed-by-{door}"})
    assert not renamed.is_error, text_of(renamed)
    tagged = await client.call_tool("sesh_tag", {"uuid": uid(2), "tags": [f"from-{door}"]})
    assert not tagged.is_error, text_of(tagged)
    record = beta.records()[uid(2)]
    assert record["name"] == f"renamed-by-{door}" and f"from-{door}" in record["tags"]

    missing = await client.call_tool("sesh_info", {"uuid": "ffffffff"})
    assert missing.is_error and text_of(missing).startswith("sesh: no session matches 'ffffffff'")
    bad = await client.call_tool("sesh_send", {"uuid": uid(1), "message": "x", "colour": "red"})
    assert bad.is_error and "unknown argument 'colour'" in text_of(bad)
    no_msg = await client.call_tool("sesh_new", {"agent": "claude", "cwd": "/tmp"})
    assert no_msg.is_error and "sesh_new needs msg" in text_of(no_msg)


async def test_stdio_server_lists_and_calls_tools(pair: tuple[Daemon, Daemon, str]) -> None:
    alpha, beta, _ = pair
    async with stdio(alpha) as client:
        await check_tools(client, beta, "stdio")


async def test_mcp_over_http_needs_the_token_and_serves_the_same_tools(pair: tuple[Daemon, Daemon, str]) -> None:
    alpha, beta, url = pair
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer nope"}) as http:
        refused = await http.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
    headers = {"Authorization": f"Bearer {token_of(alpha)}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client:
        await check_tools(client, beta, "http")
