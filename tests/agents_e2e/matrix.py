"""The conformance matrix: every agent-facing feature x (local, remote) x (claude, codex, pi).

A cell is either tested or an explicit skip with a reason; a missing cell fails
`test_matrix_complete`. Remote cells drive the feature through a second real daemon.
"""

from __future__ import annotations

from typing import Any

import pytest

AGENTS = ("claude", "codex", "pi")
WHERE = ("local", "remote")

FEATURES: dict[str, str] = {
    "observe_turn": "idle → busy on a SLEEP prompt typed in tmux → idle after the reply; contextPct moves",
    "agent_killed": "kill the agent process → live false",
    "agents_list": "agents --json and pane-resolve find the agent (registered or not)",
    "tail_transcript": "tail / transcript show the exchanged text",
    "discover": "discover lists conversations made headless and in panes; --register adopts once",
}

CONTROL_FEATURES: dict[str, str] = {
    "new_pane": "new in a pane (--msg, --session-id, --dry-run, --no-launch; remote: --machine) → live, reply",
    "send_pane": "send to a live pane session returns the reply; multi-line intact; typed in the pane",
    "send_headless": "send to a stopped session runs headless with the history; never forks a live one",
    "await_abort": "await returns on busy → idle; abort ends a SLEEP 20 turn early",
    "compact": "compact reaches the fake server as a compaction request",
    "delegate": "delegate prints the reply and deletes the session (--keep keeps it); failure exits non-zero",
    "headless_child": "new --headless --msg then two sends keep one conversation",
    "sandbox": "delegate cannot write by default, can with --write / workspace-write; a later send keeps the mode",
    "stop_resume": "stop → not live, record kept; resume relaunches it in tmux with its history",
}

LIFECYCLE_FEATURES: dict[str, str] = {
    "new_lifecycle": "new --msg prints the reply and the uuid (stderr), keeps a birth --name, runs in the caller's "
                     "cwd on the owner; delete --force of the live session is refused; send to a removed cwd says so",
    "deleted_owns_no_pane": "an agent in a pane launched for a since-deleted session: pane exits 3, agents and "
                            "pane-resolve call it unregistered",
    "discover_mesh": "a conversation registered on one machine is not offered by discover on another",
    "fresh_tmux": "new outside tmux on a machine where tmux never ran (no socket dir) opens the agent",
}

COCKPIT_FEATURES: dict[str, str] = {
    "cockpit_preview_send": "TUI preview shows the exchange, follows a turn typed in the pane; m sends, reply shown; "
                            "v shows the live pane",
    "cockpit_attention": "a turn ending out of sight flags the row (first, counted); preview and Enter lower it",
}

TURN_CONTROL_FEATURES: dict[str, str] = {
    "abort_headless": "abort and send --timeout of a headless turn kill its whole process tree, record it aborted, "
                      "free the session for the next message; resume is refused while it runs",
    "delegate_cleanup": "delegate deletes its worker when the turn failed or timed out too; no agent process left",
    "every_turn_seen": "turns typed in the pane, however short: each is written busy then idle with its own turn.n, "
                       "and a peer's change feed sees both",
}

SKIPS: dict[tuple[str, str, str], str] = {
    # (feature, where, agent) -> reason. Every entry here is a cell NOT counted as done.
    **{("deleted_owns_no_pane", "remote", agent): "pane, agents and pane-resolve answer about this machine's panes "
       "only; a remote daemon has none of alpha's" for agent in ("claude", "codex", "pi")},
    **{("fresh_tmux", "remote", agent): "the socket directory is the owner's: the local cell covers it; a remote "
       "new is new_lifecycle's remote cell" for agent in ("claude", "codex", "pi")},
}


def cells(feature: str) -> list[Any]:
    """pytest params for one feature, grouped per agent so one worker reuses one bed per agent."""
    params = []
    for agent in AGENTS:
        for where in WHERE:
            marks = [pytest.mark.xdist_group(f"agent-{agent}")]
            reason = SKIPS.get((feature, where, agent))
            if reason:
                marks.append(pytest.mark.skip(reason=f"NOT IMPLEMENTED: {reason}"))
            params.append(pytest.param(where, agent, marks=marks, id=f"{where}-{agent}"))
    return params


def assert_covered(module: dict[str, Any], features: dict[str, str]) -> None:
    """Every feature has a `test_<feature>` in `module` parametrized over exactly every cell."""
    wanted = {f"{where}-{agent}" for where in WHERE for agent in AGENTS}
    for feature in features:
        test = module.get(f"test_{feature}")
        assert test is not None, f"feature {feature} has no test_{feature}"
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        covered = {param.id for mark in marks for param in mark.args[1]}
        assert covered == wanted, f"test_{feature} misses cells {wanted - covered}"


SEND_FEATURES: dict[str, str] = {
    "send_failed_turn": "a turn ending in a model error exits 6 with the agent's own error text, pane and headless; "
                        "never the previous reply; --json says delivered; the next send gets its own reply",
    "send_verbatim": "a half-typed draft is cleared first; text starting with -, /, !, #, spaces, multi-line, "
                     "100 KB, from stdin and --file reaches the model as written",
    "send_busy": "a send to a busy agent waits until idle, then types; --interrupt stops the running turn and sends; "
                 "a headless turn running is waited for the same way",
}


def all_features() -> dict[str, str]:
    """Every feature of every matrix (each test module checks its own dict with assert_covered)."""
    return {**FEATURES, **CONTROL_FEATURES, **LIFECYCLE_FEATURES, **COCKPIT_FEATURES, **TURN_CONTROL_FEATURES,
            **SEND_FEATURES}
