"""The adapters by agent kind."""

from __future__ import annotations

from sesh_mesh.agents import claude, codex, pi
from sesh_mesh.agents.base import AgentAdapter

ADAPTERS: dict[str, AgentAdapter] = {
    "claude": claude.ADAPTER,
    "codex": codex.ADAPTER,
    "pi": pi.ADAPTER,
}


def get_adapter(kind: str) -> AgentAdapter:
    """The adapter for `kind`; a ValueError naming the known kinds otherwise."""
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown agent kind {kind!r} (expected one of: {known})")
    return adapter
