"""What each adapter says about launching, resuming, compacting and quitting its agent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sesh_mesh.agents.base import SandboxMode, sandbox_mode
from sesh_mesh.agents.pi import pi_reporter_path
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.errors import SeshError, UsageError

SID = "ce26599a-fd11-4f4f-9217-4e4fd2de0d1c"
PI_FILE = "/p/sessions/--w--/x.jsonl"


def test_capabilities() -> None:
    claude, codex, pi = get_adapter("claude"), get_adapter("codex"), get_adapter("pi")
    assert [a.quit_command for a in (claude, codex, pi)] == ["/exit", "/quit", "/quit"]
    assert {a.compact_command for a in (claude, codex, pi)} == {"/compact"}
    assert [a.takes_session_id for a in (claude, codex, pi)] == [True, False, False]
    assert [a.resumes_from_file for a in (claude, codex, pi)] == [False, False, True]
    assert [a.has_session_registry for a in (claude, codex, pi)] == [True, False, False]
    assert claude.headless_compact() == "turn"
    assert pi.headless_compact() == "rpc"
    with pytest.raises(SeshError) as raised:
        codex.headless_compact()
    assert raised.value.line() == ("sesh: not implemented: headless compaction for codex (codex exec has no /compact)"
                                   " (resume the session in a pane and compact there)")


def test_interactive_argv_new_and_resumed() -> None:
    claude = get_adapter("claude")
    argv = claude.interactive_argv("claude", session_id=SID, resume_id=None, model="opus", sandbox="read-only",
                                   report_bin="/b/sesh", session_file=None, passthrough=["--verbose"])
    assert argv[:8] == ["claude", "--session-id", SID, "--model", "opus", "--permission-mode", "dontAsk",
                        "--disallowedTools=Bash,Edit,Write,NotebookEdit"]
    assert argv[8] == "--settings" and set(json.loads(argv[9])["hooks"]) == {"UserPromptSubmit", "Stop", "Notification"}
    assert argv[10:] == ["--verbose"]
    assert claude.interactive_argv("claude", session_id=None, resume_id=SID, model=None, sandbox=None,
                                   report_bin=None, session_file=None) == ["claude", "--resume", SID]
    codex = get_adapter("codex")
    assert codex.interactive_argv("codex", session_id=SID, resume_id=SID, model=None, sandbox="read-only",
                                  report_bin=None, session_file=None) == [
        "codex", "resume", SID, "-c", "features.daemon_auto_start=false", "-c", 'sandbox_mode="read-only"']
    pi = get_adapter("pi")
    assert pi.interactive_argv("pi", session_id=SID, resume_id=SID, model="m", sandbox="read-only",
                               report_bin="/b/sesh", session_file=PI_FILE) == [
        "pi", "--session", PI_FILE, "--model", "m", "--tools", "read,grep,find,ls", "-e", str(pi_reporter_path())]
    with pytest.raises(SeshError, match="pi needs a session file to launch"):
        pi.interactive_argv("pi", session_id=SID, resume_id=None, model=None, sandbox=None, report_bin=None,
                            session_file=None)


def test_headless_argv() -> None:
    assert get_adapter("claude").headless_argv("claude", "hi", session_id=SID, resume_id=None, model=None,
                                               sandbox=None, session_file=None) == [
        "claude", "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
        "--session-id", SID, "--permission-mode", "acceptEdits", "--", "hi"]
    assert get_adapter("codex").headless_argv("codex", "hi", session_id=SID, resume_id=SID, model=None,
                                              sandbox=None, session_file=None) == [
        "codex", "exec", "resume", "--json", "--skip-git-repo-check", "-c", "features.daemon_auto_start=false",
        "-c", 'sandbox_mode="workspace-write"', "-c", 'approval_policy="never"', SID, "--", "hi"]
    assert get_adapter("pi").headless_argv("pi", "hi", session_id=SID, resume_id=None, model=None, sandbox=None,
                                           session_file=PI_FILE) == ["pi", "-p", "--mode", "json", "--session",
                                                                     PI_FILE]


@pytest.mark.parametrize(("agent", "mode", "flags"), [
    ("claude", None, ["--permission-mode", "acceptEdits"]),
    ("claude", "read-only", ["--permission-mode", "dontAsk", "--disallowedTools=Bash,Edit,Write,NotebookEdit"]),
    ("claude", "workspace-write", ["--permission-mode", "acceptEdits"]),
    ("claude", "danger-full-access", ["--permission-mode", "bypassPermissions"]),
    ("codex", None, ["-c", 'sandbox_mode="workspace-write"', "-c", 'approval_policy="never"']),
    ("codex", "read-only", ["-c", 'sandbox_mode="read-only"', "-c", 'approval_policy="never"']),
    ("codex", "workspace-write", ["-c", 'sandbox_mode="workspace-write"', "-c", 'approval_policy="never"']),
    ("codex", "danger-full-access", ["-c", 'sandbox_mode="danger-full-access"', "-c", 'approval_policy="never"']),
    ("pi", None, []),
    ("pi", "read-only", ["--tools", "read,grep,find,ls"]),
    ("pi", "danger-full-access", []),
])
def test_each_sandbox_mode_maps_to_the_agents_own_flags(agent: str, mode: SandboxMode | None,
                                                        flags: list[str]) -> None:
    adapter = get_adapter(agent)
    argv = adapter.headless_argv(agent, "hi", session_id=SID, resume_id=None, model=None, sandbox=mode,
                                 session_file=PI_FILE)
    # binary, headless flags, session: the same length for codex and pi; claude's stream-json
    # needs two more flags (--verbose --include-partial-messages).
    common = 8 if agent == "claude" else 6
    assert argv[common:common + len(flags)] == flags
    if agent == "pi":
        assert argv[common:] == flags, "pi's argv ends at its tools (the message goes on stdin)"
    else:
        assert argv[-2:] == ["--", "hi"]


def test_a_sandbox_mode_the_agent_cannot_honour_is_refused() -> None:
    pi = get_adapter("pi")
    refusal = ("sesh: pi cannot honour --sandbox workspace-write: its tools read and write anywhere "
               "(use --sandbox read-only, or --sandbox danger-full-access (pi's default tools))")
    with pytest.raises(UsageError) as raised:
        pi.headless_argv("pi", "hi", session_id=SID, resume_id=None, model=None, sandbox="workspace-write",
                         session_file=PI_FILE)
    assert raised.value.line() == refusal
    with pytest.raises(UsageError) as raised:
        pi.interactive_argv("pi", session_id=SID, resume_id=None, model=None, sandbox="workspace-write",
                            report_bin=None, session_file=PI_FILE)
    assert raised.value.line() == refusal


def test_sandbox_mode_reads_old_boolean_records() -> None:
    assert [sandbox_mode(v) for v in (None, False, True, "read-only")] == [None, None, "read-only", "read-only"]
    with pytest.raises(UsageError) as raised:
        sandbox_mode("yes")
    assert raised.value.line() == ("sesh: unknown sandbox mode 'yes' (use one of read-only, workspace-write, "
                                   "danger-full-access)")


def test_conversation_id_from_headless_output() -> None:
    claude, codex, pi = get_adapter("claude"), get_adapter("codex"), get_adapter("pi")
    assert claude.conversation_id_from_output({"type": "result", "session_id": SID}) == SID
    assert codex.conversation_id_from_output({"type": "thread.started", "thread_id": SID}) == SID
    assert codex.conversation_id_from_output({"type": "turn.started", "thread_id": SID}) is None
    assert pi.conversation_id_from_output({"type": "session", "id": SID}) == SID
    assert pi.conversation_id_from_output({"session_id": SID}) is None


def test_new_session_file_only_for_agents_resumed_from_their_file(tmp_path: Path) -> None:
    now = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert get_adapter("claude").new_session_file(tmp_path, "/w", now) is None
    assert get_adapter("codex").new_session_file(tmp_path, "/w", now) is None
    made = get_adapter("pi").new_session_file(tmp_path, "/w", now)
    assert made is not None and made.parent == tmp_path / "sessions" / "--w--"


def test_pane_context_window_is_pi_footer_only() -> None:
    footer = "x\n↑1k ↓2 3.5%/1M (auto)   (p) m\n"
    assert get_adapter("pi").pane_context_window(footer) == 1_000_000
    assert get_adapter("claude").pane_context_window(footer) is None
    assert get_adapter("codex").pane_context_window(footer) is None


@pytest.mark.parametrize("agent", ["claude", "codex", "pi"])
@pytest.mark.parametrize("message", ["-n oops", "--help", "@/etc/passwd", "-"])
def test_headless_message_is_never_read_as_a_flag(agent: str, message: str) -> None:
    """After `--` where the CLI takes one (claude, codex); on stdin where it does not (pi reads a
    leading `-` as an option and `@` as a file to attach)."""
    adapter = get_adapter(agent)
    for resume_id in (None, SID):
        argv = adapter.headless_argv(agent, message, session_id=SID, resume_id=resume_id, model=None, sandbox=None,
                                     session_file=PI_FILE, passthrough=["--verbose"])
        if adapter.headless_message_on_stdin:
            assert message not in argv
        else:
            assert argv[-2:] == ["--", message]
            assert argv.count(message) == 1
