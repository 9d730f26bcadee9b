"""The one registry of agents: each name of `sesh_mesh.agent_names` with its adapter."""

from __future__ import annotations

from sesh_mesh.agent_names import AgentKind, check_agent_name
from sesh_mesh.agents import claude, codex, pi
from sesh_mesh.agents.base import AgentAdapter

ADAPTERS: dict[AgentKind, AgentAdapter] = {
    adapter.kind: adapter for adapter in (claude.ADAPTER, codex.ADAPTER, pi.ADAPTER)
}
"""By kind, in the order of AGENT_NAMES (a unit test holds the two together)."""


def get_adapter(kind: object) -> AgentAdapter:
    """The adapter for `kind`; the unknown-agent UsageError otherwise."""
    return ADAPTERS[check_agent_name(kind)]


DEFAULT_NAMERS: tuple[AgentKind, ...] = ("pi", "claude")
"""Who names sessions when `[autoname]` names no namer: the first of these installed. pi first: its
headless turn is a node start with no tools and no saved session; codex exec is slower to start."""
