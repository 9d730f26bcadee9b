"""The agents sesh knows, by name: the one list of them and the one check of a name against it.

A leaf module (it imports only `sesh_mesh.errors`), so the store, the config and the CLI's fast
path can name agents without importing the adapters; `sesh_mesh.agents.registry` pairs each
name with its adapter.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

from sesh_mesh import errors

AgentKind = Literal["claude", "codex", "pi"]

AGENT_NAMES: tuple[AgentKind, ...] = get_args(AgentKind)
"""In the order sesh lists them (doctor, help texts, the "use …" of the unknown-agent error)."""


def is_agent_name(name: object) -> TypeGuard[AgentKind]:
    return name in AGENT_NAMES


def check_agent_name(name: object, *, fix: str | None = None) -> AgentKind:
    """`name` as an agent kind; else the unknown-agent UsageError (its fix: the known names,
    or `fix` where the name came from elsewhere than the user, e.g. a newer peer)."""
    if is_agent_name(name):
        return name
    error = errors.unknown_agent(name, AGENT_NAMES)
    if fix is not None:
        error.fix = fix
    raise error
