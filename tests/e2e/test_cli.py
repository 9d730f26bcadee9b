"""The inventory CLI end to end against a real daemon subprocess in a temp SESH_HOME."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.store.record import WIRE_FIELDS
from tests.harness import Daemon, Run, base_env, run_sesh, short_home
from tests.polling import eventually

A = "aaaa1111-0000-4000-8000-000000000001"
B = "aaaa2222-0000-4000-8000-000000000002"
C = "cccc3333-0000-4000-8000-000000000003"


def ok(run: Run) -> Run:
    assert run.code == 0, f"exit {run.code}: {run.err}"
    return run


@pytest.fixture
def seeded(daemon: Daemon, tmp_path: Path) -> Daemon:
    ok(daemon.sesh("register", A, "--agent", "claude", "--name", "alpha-one", "--tag", "work", "--cwd", str(tmp_path)))
    ok(daemon.sesh("register", B, "--agent", "codex", "--name", "alpha-two", "--cwd", str(tmp_path)))
    ok(daemon.sesh("register", C, "--agent", "pi", "--cwd", str(tmp_path)))
    return daemon


def test_list_json_has_every_spec_field(seeded: Daemon) -> None:
    records = ok(seeded.sesh("list", "--json")).json()
    assert {r["uuid"] for r in records} == {A, B, C}
    for record in records:
        assert list(record)[: len(WIRE_FIELDS)] == list(WIRE_FIELDS)
        assert record["machine"] == "alpha" and record["deleted"] is False


def test_global_flags_before_or_after_the_command(seeded: Daemon) -> None:
    before = ok(seeded.sesh("--json", "info", "aaaa1")).json()
    after = ok(seeded.sesh("info", "aaaa1", "--json")).json()
    assert before == after and before["uuid"] == A


def test_list_filters_combine(seeded: Daemon) -> None:
    assert [r["uuid"] for r in ok(seeded.sesh("list", "--agent", "codex", "--json")).json()] == [B]
    assert [r["uuid"] for r in ok(seeded.sesh("list", "--tag", "work", "--json")).json()] == [A]
    assert ok(seeded.sesh("list", "--tag", "work", "--agent", "pi", "--json")).json() == []
    assert len(ok(seeded.sesh("list", "--machine", "alpha", "--json")).json()) == 3
    assert ok(seeded.sesh("list", "--machine", "elsewhere", "--json")).json() == []


def test_list_columns_prints_stable_tsv(seeded: Daemon) -> None:
    out = ok(seeded.sesh("list", "--agent", "claude", "--columns", "uuid,name,agent,machine,status,tags,archived,live"))
    assert out.out == f"{A}\talpha-one\tclaude\talpha\tidle\twork\tfalse\tfalse\n"


def test_archive_hides_from_list_and_archived_flag_includes(seeded: Daemon) -> None:
    ok(seeded.sesh("archive", "aaaa2"))
    assert {r["uuid"] for r in ok(seeded.sesh("list", "--json")).json()} == {A, C}
    for flag in ("--archived", "--include-archived"):
        assert {r["uuid"] for r in ok(seeded.sesh("list", flag, "--json")).json()} == {A, B, C}
    assert ok(seeded.sesh("unarchive", B, "--json")).json()["archived"] is False


def test_only_archived_lists_the_archived_alone(seeded: Daemon) -> None:
    """`--archived` keeps the original's meaning (archived included); `--only-archived` is new."""
    ok(seeded.sesh("archive", "aaaa2"))
    assert [r["uuid"] for r in ok(seeded.sesh("list", "--only-archived", "--json")).json()] == [B]
    assert ok(seeded.sesh("list", "--only-archived", "--agent", "claude", "--json")).json() == []
    assert ok(seeded.sesh("list", "--only-archived", "--columns", "uuid,archived")).out == f"{B}\ttrue\n"


def test_find_includes_archived_and_matches_prefix(seeded: Daemon) -> None:
    ok(seeded.sesh("archive", A))
    found = ok(seeded.sesh("find", "aaaa", "--json")).json()
    assert {r["uuid"] for r in found} == {A, B}


def test_prefix_resolution_unique_ambiguous_unknown(seeded: Daemon) -> None:
    assert ok(seeded.sesh("info", "cccc", "--json")).json()["uuid"] == C
    amb = seeded.sesh("info", "aaaa")
    assert amb.code == 1
    assert amb.err.startswith("sesh: ambiguous prefix 'aaaa' matches ")
    assert A in amb.err and B in amb.err and amb.err.endswith("(type more characters of the uuid)\n")
    unknown = seeded.sesh("info", "bbbb")
    assert (unknown.code, unknown.err) == (
        1, "sesh: no session matches 'bbbb' (see `sesh list` or `sesh find <prefix>`)\n")


def test_a_prefix_picks_the_one_unarchived_match(seeded: Daemon) -> None:
    ok(seeded.sesh("archive", B))
    assert ok(seeded.sesh("info", "aaaa", "--json")).json()["uuid"] == A
    ok(seeded.sesh("archive", A))
    amb = seeded.sesh("info", "aaaa")
    assert (amb.code, amb.err) == (1, (f"sesh: ambiguous prefix 'aaaa' matches {A} (alpha-one@alpha, archived), "
                                       f"{B} (alpha-two@alpha, archived) (type more characters of the uuid)\n"))


def test_rename_turns_auto_rename_off_unless_keep_auto(seeded: Daemon) -> None:
    renamed = ok(seeded.sesh("rename", "aaaa1", "auth-refactor", "--json")).json()
    assert (renamed["name"], renamed["autoRename"]) == ("auth-refactor", False)
    kept = ok(seeded.sesh("rename", "cccc", "pi-work", "--keep-auto", "--json")).json()
    assert (kept["name"], kept["autoRename"]) == ("pi-work", True)
    assert ok(seeded.sesh("autoname-toggle", "cccc", "--off", "--json")).json()["autoRename"] is False
    assert ok(seeded.sesh("autoname-toggle", "cccc", "--json")).json()["autoRename"] is True


def test_tag_untag_retag_and_tags(seeded: Daemon) -> None:
    ok(seeded.sesh("tag", B, "work", "urgent"))
    assert ok(seeded.sesh("info", B, "--json")).json()["tags"] == ["urgent", "work"]
    ok(seeded.sesh("retag", B, "urgent=later"))
    ok(seeded.sesh("untag", A, "work"))
    assert ok(seeded.sesh("tags", "--json")).json() == [{"tag": "later", "count": 1}, {"tag": "work", "count": 1}]


def test_state_shape(seeded: Daemon) -> None:
    state = ok(seeded.sesh("state", A, "--json")).json()
    assert set(state) >= {"uuid", "turnStatus", "stateSource", "needsInput", "contextPct", "model", "lastActivity"}
    assert state["turnStatus"] == "idle" and state["stateSource"] == "pane"  # not live: nothing runs


def test_current_session_inferred_from_env_but_never_for_delete(seeded: Daemon) -> None:
    env = {"SESH_SESSION_ID": C}
    assert ok(seeded.sesh("info", "--json", env=env)).json()["uuid"] == C
    refused = seeded.sesh("delete", env=env)
    assert refused.code == 2 and "the following arguments are required: uuid" in refused.err
    assert not ok(seeded.sesh("info", C, "--json")).json()["deleted"]


def test_delete_is_a_tombstone_visible_to_info(seeded: Daemon) -> None:
    ok(seeded.sesh("delete", B))
    assert B not in {r["uuid"] for r in ok(seeded.sesh("list", "--archived", "--json")).json()}
    assert ok(seeded.sesh("info", B, "--json")).json()["deleted"] is True
    again = seeded.sesh("rename", B, "zombie")
    assert again.code == 1 and "is deleted" in again.err


def test_register_dedupes_on_agent_session_id(seeded: Daemon, tmp_path: Path) -> None:
    again = ok(seeded.sesh("register", A, "--agent", "claude", "--cwd", str(tmp_path), "--json")).json()
    assert again["uuid"] == A
    assert len(ok(seeded.sesh("list", "--json")).json()) == 3


def test_import_is_idempotent(daemon: Daemon, tmp_path: Path) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps({
        A: {"uuid": A, "agent": "claude", "name": "old", "cwd": "/tmp", "tags": ["x"]},
        B: {"uuid": B, "agent": "codex", "machine": "elsewhere", "cwd": "/tmp"},
        "junk": {"uuid": "nope"},
    }))
    first = ok(daemon.sesh("import", str(legacy), "--json")).json()
    assert (first["imported"], first["otherMachines"], first["invalid"]) == (1, 1, 1)
    second = ok(daemon.sesh("import", str(legacy), "--json")).json()
    assert (second["imported"], second["alreadyPresent"]) == (0, 1)
    assert ok(daemon.sesh("info", A, "--json")).json()["tags"] == ["x"]


def test_import_of_a_v1_file_keyed_by_uuid_names_each_invalid_entry(daemon: Daemon, tmp_path: Path) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps({
        A: {"agent": "claude", "name": "keyed", "cwd": "/tmp"},
        B: {"uuid": C, "agent": "codex", "cwd": "/tmp"},
        "junk": {"agent": "pi"},
        C: {"agent": "emacs"},
    }))
    run = daemon.sesh("import", str(legacy))
    assert run.code == 0, run.err
    assert run.out == f"imported 1 from {legacy} (0 already present, 0 owned by other machines, 3 invalid)\n"
    assert run.err == (f"sesh: import skipped entry '{B}': its uuid '{C}' is not its key\n"
                       "sesh: import skipped entry 'junk': malformed uuid 'junk'\n"
                       f"sesh: import skipped entry '{C}': unknown agent 'emacs'\n")
    assert ok(daemon.sesh("info", A, "--json")).json()["name"] == "keyed"


def test_import_that_imports_nothing_fails_and_says_why(daemon: Daemon, tmp_path: Path) -> None:
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps([{"uuid": "nope", "agent": "claude"}, {"uuid": A, "agent": "claude", "tags": [""]}]))
    bad = daemon.sesh("import", str(legacy), "--json")
    assert bad.code == 1
    assert bad.json()["invalidEntries"] == ["entry 1: malformed uuid 'nope'", "entry 2: empty tag name"]
    assert bad.err.endswith(f"sesh: nothing imported from {legacy}: 2 invalid, 0 owned by other machines "
                            "(fix the entries named above)\n")
    legacy.write_text(json.dumps({A: {"agent": "claude", "machine": "elsewhere"}}))
    foreign = daemon.sesh("import", str(legacy))
    assert (foreign.code, foreign.err) == (1, (f"sesh: nothing imported from {legacy}: all 1 owned by other machines "
                                               "(import them on their own machine)\n"))
    legacy.write_text("{}")
    empty = daemon.sesh("import", str(legacy))
    assert (empty.code, empty.err) == (1, (f"sesh: nothing imported from {legacy}: the file holds no sessions "
                                           "(pass a legacy sessions.json)\n"))
    assert ok(daemon.sesh("list", "--json")).json() == []


# ---- daemon lifecycle ------------------------------------------------------------------------


@pytest.fixture
def cold_home() -> Iterator[Path]:
    home = short_home()
    yield home
    run_sesh(["daemon", "stop", "--force"], base_env(home, "cold"))
    shutil.rmtree(home, ignore_errors=True)


def test_auto_start_then_status_stop_restart(cold_home: Path) -> None:
    env = base_env(cold_home, "cold")
    down = run_sesh(["daemon", "status"], env)
    assert down.code == 4 and down.out == ""
    assert down.err.startswith("sesh: the sesh daemon is not running")
    ok(run_sesh(["list"], env))  # auto-starts
    status = ok(run_sesh(["daemon", "status", "--json"], env)).json()
    assert status["machine"] == "cold" and status["schemaVersion"] >= 1 and len(status["epoch"]) == 16
    assert {"pid", "uptimeS", "sessions", "listen", "peers"} <= set(status)
    again = run_sesh(["daemon", "start"], env)
    assert again.code == 1 and "the daemon already runs" in again.err
    ensured = ok(run_sesh(["daemon", "ensure", "--json"], env)).json()
    assert ensured["started"] is False and ensured["pid"] == status["pid"]
    restarted = ok(run_sesh(["daemon", "restart", "--json"], env)).json()
    assert restarted["pid"] != status["pid"]
    ok(run_sesh(["daemon", "stop"], env))
    assert run_sesh(["daemon", "status"], env).code == 4
    assert not (cold_home / "daemon.sock").exists()


def test_second_daemon_is_refused_naming_the_holder(daemon: Daemon) -> None:
    second = run_sesh(["daemon", "run"], daemon.env, timeout=20)
    assert second.code == 1
    pid = daemon.call("ping")["pid"]
    assert second.err == (
        f"sesh: another sesh daemon (pid {pid}) already serves {daemon.home} "
        "(use it, or stop it with `sesh daemon stop`)\n"
    )


def test_stop_force_kills_a_wedged_daemon(cold_home: Path) -> None:
    env = base_env(cold_home, "cold")
    pid = ok(run_sesh(["daemon", "start", "--json"], env)).json()["pid"]
    os.kill(pid, 19)  # SIGSTOP: the daemon no longer answers
    try:
        ok(run_sesh(["daemon", "stop", "--force"], env))
    finally:
        try:
            os.kill(pid, 18)
        except ProcessLookupError:
            pass
    def gone() -> bool:
        stat = Path(f"/proc/{pid}/stat")
        return not stat.exists() or stat.read_text().split()[2] == "Z"

    eventually(gone, what="the killed daemon to be gone")


def test_init_writes_a_config_and_refuses_to_overwrite(cold_home: Path) -> None:
    env = base_env(cold_home, None)
    ok(run_sesh(["init", "--machine", "laptop"], env))
    text = (cold_home / "config.toml").read_text()
    assert 'machine = "laptop"' in text and text.startswith("# sesh configuration")
    again = run_sesh(["init", "--machine", "other"], env)
    line = f"sesh: {cold_home}/config.toml already exists (pass --force to overwrite it)\n"
    assert (again.code, again.err) == (1, line)
    ok(run_sesh(["init", "--machine", "other", "--force"], env))
    assert ok(run_sesh(["daemon", "start", "--json"], env)).json()["machine"] == "other"


def test_doctor_reports_each_check(cold_home: Path) -> None:
    env = base_env(cold_home, "cold")
    down = run_sesh(["doctor", "--json"], env)
    assert down.code == 1
    checks = {c["check"]: c["status"] for c in json.loads(down.out)}
    assert checks["machine"] == "ok" and checks["daemon"] == "fail" and checks["config"] == "ok"
    assert "tmux" in checks and "sesh-home" in checks
    assert not (cold_home / "daemon.sock").exists(), "doctor must not auto-start the daemon"
    ok(run_sesh(["daemon", "start"], env))
    up = {c["check"]: c["status"] for c in ok(run_sesh(["doctor", "--json"], env)).json()}
    assert up["daemon"] == "ok" and up["store-schema"] == "ok" and up["mesh-listen"] == "warn"


# ---- bad input: exact line, non-zero exit, nothing changed -----------------------------------


BAD_INPUT = [
    (["info", "xyz!"], 2, "sesh: malformed uuid 'xyz!' (pass a full uuid or a unique prefix of hex digits, e.g. a808)"),
    (["register", "not-a-uuid", "--agent", "claude"], 2,
     "sesh: malformed session id 'not-a-uuid' (pass a uuid like 123e4567-e89b-12d3-a456-426614174000)"),
    (["register", A, "--agent", "gemini"], 2, "sesh: unknown agent 'gemini' (use claude, codex or pi)"),
    (["register", C.replace("cccc", "dddd"), "--agent", "pi", "--cwd", "/nonexistent/dir"], 2,
     "sesh: cwd '/nonexistent/dir' does not exist or is not a directory (pass --cwd with an existing directory)"),
    (["tag", A, " "], 2, "sesh: empty tag name (give a tag with at least one non-space character)"),
    (["tag", A, ""], 2, "sesh: empty tag name (give a tag with at least one non-space character)"),
    (["retag", A, "work="], 2, "sesh: bad retag 'work=' (write old=new with both tags non-empty)"),
    (["list", "--columns", "uuid,colour"], 2,
     ("sesh: unknown column 'colour' (choose from uuid,name,agent,machine,status,cwd,tags,archived,"
      "tmux-socket,tmux-session,tmux-window,tmux-pane,live)")),
    (["list", "--agent", "gemini"], 2, "sesh: unknown agent 'gemini' (use claude, codex or pi)"),
]


@pytest.mark.parametrize(("argv", "code", "line"), BAD_INPUT, ids=[" ".join(b[0])[:40] for b in BAD_INPUT])
def test_bad_input_exact_line_and_nothing_changed(seeded: Daemon, argv: list[str], code: int, line: str) -> None:
    before = seeded.records()
    run = seeded.sesh(*argv)
    assert (run.code, run.err, run.out) == (code, line + "\n", "")
    assert seeded.records() == before


def test_usage_errors_come_before_any_daemon_lookup(cold_home: Path) -> None:
    env = base_env(cold_home, "cold")
    run = run_sesh(["info", "zz!"], env)
    assert run.code == 2
    assert not (cold_home / "daemon.sock").exists(), "a usage error must not start the daemon"


def test_missing_machine_name_is_refused(cold_home: Path) -> None:
    run = run_sesh(["list"], base_env(cold_home, None))
    assert run.code == 2
    assert run.err == (
        "sesh: this machine has no name: SESH_MACHINE is unset and config.toml has no machine "
        "(run `sesh init --machine NAME` or export SESH_MACHINE=NAME)\n"
    )
    assert not (cold_home / "daemon.sock").exists()


def test_broken_config_names_file_and_line(cold_home: Path) -> None:
    (cold_home / "config.toml").write_text('machine = "x"\n[models\ndefault = 1\n')
    run = run_sesh(["list"], base_env(cold_home, None))
    assert run.code == 2
    assert run.err.startswith(f"sesh: {cold_home}/config.toml: ") and "line 2" in run.err


def test_machine_env_and_config_must_agree(cold_home: Path) -> None:
    (cold_home / "config.toml").write_text('machine = "one"\n')
    run = run_sesh(["daemon", "start"], base_env(cold_home, "two"))
    assert run.code == 2 and "disagrees with machine = 'one'" in run.err


def test_garbage_on_the_socket_gets_an_error_and_the_daemon_survives(daemon: Daemon) -> None:
    for garbage in (b"not json\n", b"[1,2]\n", b'{"op": 5}\n', b'{"op": "nope"}\n', b"\xff\xfe\n"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(daemon.socket))
            sock.sendall(garbage)
            reply = json.loads(sock.makefile("rb").readline())
        assert reply["ok"] is False and reply["error"]["what"]
    assert daemon.call("ping")["machine"] == "alpha"
    assert ok(daemon.sesh("list", "--json")).json() == []


def test_delete_purge_removes_the_transcript(daemon: Daemon, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text('{"type": "user"}\n')
    legacy = tmp_path / "sessions.json"
    legacy.write_text(json.dumps([{"uuid": A, "agent": "claude", "cwd": str(tmp_path), "filePath": str(transcript)}]))
    ok(daemon.sesh("import", str(legacy)))
    kept = tmp_path / "kept.jsonl"
    kept.write_text("{}\n")
    legacy.write_text(json.dumps([{"uuid": B, "agent": "codex", "cwd": str(tmp_path), "filePath": str(kept)}]))
    ok(daemon.sesh("import", str(legacy)))
    gone = ok(daemon.sesh("delete", A, "--purge", "--json")).json()
    assert gone["deleted"] is True and gone["purged"] == str(transcript)
    assert not transcript.exists()
    ok(daemon.sesh("delete", B))
    assert kept.exists(), "delete without --purge must keep the transcript"
