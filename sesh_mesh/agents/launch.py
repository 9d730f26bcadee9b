"""What every agent launch shares: the model choice and the slash command that compacts.

Each adapter builds its own argv (`interactive_argv`, `headless_argv`, `namer_argv`). Everything
is a per-launch flag; sesh never edits the user's agent config files.
"""

from __future__ import annotations

COMPACT_COMMAND = "/compact"
"""The same slash command in claude, codex and pi."""


def choose_model(agent: str, flag: str | None, models: dict[str, str]) -> str | None:
    """--model > [models].<agent> > [models].default."""
    return flag or models.get(agent) or models.get("default") or None
