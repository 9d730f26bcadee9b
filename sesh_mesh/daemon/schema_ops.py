"""`schemas`: the op table describing itself, for doors built outside the daemon (`sesh mcp`
generates its tools from it over the Unix socket; the HTTP API reads the table directly)."""

from __future__ import annotations

from typing import Any

from sesh_mesh.daemon.ops import OpTable, op


class SchemaOps:
    def __init__(self, ops: OpTable) -> None:
        self.ops = ops

    @op("schemas")
    async def op_schemas(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Every op's summary, route and JSON Schema of its arguments."""
        return self.ops.schemas()
