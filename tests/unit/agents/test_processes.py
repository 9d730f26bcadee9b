"""Process recognition and the conversation ids on agent command lines."""

from __future__ import annotations

import pytest

from sesh_mesh.agent_names import AGENT_NAMES, check_agent_name
from sesh_mesh.agents.registry import ADAPTERS, get_adapter
from sesh_mesh.errors import UsageError

CLAUDE_ID = "ce26599a-fd11-4f4f-9217-4e4fd2de0d1c"
CODEX_ID = "01a1fd97-2dab-7810-8a6d-6b31c34d675c"
CODEX_NATIVE = "/npm/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
CODEX_DAEMON = "/home/u/.codex/packages/app-server-daemon/releases/0.169.0-x/bin/codex"

MATCHES = [
    ("claude", "claude", ["claude", "--session-id", CLAUDE_ID], True),
    ("claude", "claude", ["/root/.local/bin/claude"], True),
    ("claude", "node", ["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"], True),
    ("claude", "node", ["node", "/srv/app.js"], False),
    ("claude", "bash", ["bash"], False),
    ("codex", "node", ["node", "/npm/node_modules/.bin/codex"], True),
    ("codex", "node", ["node", "/npm/node_modules/.bin/codex", "resume", CODEX_ID], True),
    ("codex", "codex", [CODEX_NATIVE], True),
    ("codex", "codex", [CODEX_NATIVE, "-m", "gpt", "exec", "hi"], True),
    ("codex", "codex", [CODEX_DAEMON, "app-server", "--listen", "unix://", "--managed-daemon"], False),
    ("codex", "codex", [CODEX_DAEMON, "app-server", "daemon", "pid-update-loop"], False),
    ("codex", "codex", ["codex", "-c", "x=1", "app-server"], False),
    ("codex", "node", ["node", "/srv/server.js"], False),
    ("codex", "claude", ["claude"], False),
    ("pi", "pi", ["pi"], True),
    ("pi", "node", ["pi"], True),
    ("pi", "pip", ["pip", "install"], False),
]


@pytest.mark.parametrize(("kind", "comm", "argv", "expected"), MATCHES)
def test_match_process(kind: str, comm: str, argv: list[str], expected: bool) -> None:
    assert get_adapter(kind).match_process(comm, argv) is expected


def test_each_process_matches_one_agent_only() -> None:
    samples = [("claude", ["claude"]), ("codex", [CODEX_NATIVE]), ("pi", ["pi"])]
    for comm, argv in samples:
        assert [kind for kind, adapter in ADAPTERS.items() if adapter.match_process(comm, argv)] == [comm]


IDS = [
    ("claude", ["claude", "--session-id", CLAUDE_ID], CLAUDE_ID),
    ("claude", ["claude", f"--session-id={CLAUDE_ID}", "-p", "hi"], CLAUDE_ID),
    ("claude", ["claude", "--resume", CLAUDE_ID], CLAUDE_ID),
    ("claude", ["claude", "-p", "-r", CLAUDE_ID, "next"], CLAUDE_ID),
    ("claude", ["claude", "--resume", CLAUDE_ID, "--fork-session"], None),
    ("claude", ["claude", "--resume", "auth work"], None),
    ("claude", ["claude", "--resume"], None),
    ("claude", ["claude", "--session-id", "not-a-uuid"], None),
    ("claude", ["claude"], None),
    ("codex", ["node", "/npm/.bin/codex", "resume", CODEX_ID], CODEX_ID),
    ("codex", [CODEX_NATIVE, "resume", CODEX_ID], CODEX_ID),
    ("codex", ["codex", "exec", "--skip-git-repo-check", "resume", CODEX_ID, "prompt"], CODEX_ID),
    ("codex", ["codex", "-m", "resume", "exec", "hi"], None),
    ("codex", ["codex", "resume", "--last"], None),
    ("codex", ["codex", "fork", CODEX_ID], None),
    ("codex", ["codex", "please resume"], None),
    ("codex", ["codex"], None),
    ("pi", ["pi", "--session", "/h/.pi/agent/sessions/--w--/x.jsonl"], "/h/.pi/agent/sessions/--w--/x.jsonl"),
    ("pi", ["pi", "-p", "--session", "01a1fd97", "hi"], "01a1fd97"),
    ("pi", ["pi", "--session=abc"], "abc"),
    ("pi", ["pi", "-c"], None),
    ("pi", ["pi"], None),
]


@pytest.mark.parametrize(("kind", "argv", "expected"), IDS)
def test_session_id_from_argv(kind: str, argv: list[str], expected: str | None) -> None:
    assert get_adapter(kind).session_id_from_argv(argv) == expected


def test_registry_names_and_errors() -> None:
    assert tuple(ADAPTERS) == AGENT_NAMES == ("claude", "codex", "pi")
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind
        assert adapter.binary_name == kind
    for lookup in (get_adapter, check_agent_name):
        with pytest.raises(UsageError) as raised:
            lookup("gemini")
        assert raised.value.line() == "sesh: unknown agent 'gemini' (use claude, codex or pi)"
    with pytest.raises(UsageError) as raised:
        check_agent_name("gemini", fix="update sesh on both machines")
    assert raised.value.line() == "sesh: unknown agent 'gemini' (update sesh on both machines)"
    assert check_agent_name("pi") == "pi"
