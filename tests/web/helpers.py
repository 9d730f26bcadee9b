"""Real daemons with the HTTP door on, and a real HTTP client (httpx2, the MCP SDK's own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2

from tests.harness import Daemon, free_port

HTTP_TIMEOUT_S = 120.0


def enable_http(daemon: Daemon, token: str | None = None) -> str:
    """Write `[http] listen` (and a token) into the daemon's config.toml before it starts; the base URL."""
    address = f"127.0.0.1:{free_port()}"
    lines = ["[http]", f'listen = "{address}"']
    if token is not None:
        lines.append(f'token = "{token}"')
    (daemon.home / "config.toml").write_text("\n".join(lines) + "\n")
    return f"http://{address}"


def token_of(daemon: Daemon) -> str:
    return (daemon.home / "http.token").read_text().strip()


def client(base: str, token: str | None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx2.Client(base_url=base, headers=headers, timeout=HTTP_TIMEOUT_S)


def sse_events(http: httpx2.Client, method: str, path: str, **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each event of an SSE response, parsed by httpx2's own EventSource: (event name, JSON data)."""
    with http.sse(path, method=method, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        for event in source:
            yield event.event, json.loads(event.data) if event.data else {}
