"""Doors onto the op table for other programs: the HTTP API with SSE and OpenAPI, and the MCP
server (stdio, and /mcp over HTTP). Every route and tool runs through `OpTable.run`.

The web stack (starlette, uvicorn, sse-starlette) and the MCP SDK are imported only here, and only
when `[http]` is on or `sesh mcp` runs: the CLI fast paths never reach this package.
"""
