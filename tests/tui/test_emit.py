"""The emit contract of `sesh pick` / `sesh tui` without a UI (`--select`): formats (JSON by
default, as in the original), key order, `--action`, `--cursor`, exit codes and the exact error
lines. Runs the real CLI against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.harness import Daemon
from tests.tui.helpers import AUTH, DOCS, until

KV_AUTH = (
    f"uuid={AUTH}\nmachine=alpha\nagent=claude\ncwd=/srv/app\nname=auth-refactor\n"
    "tmux_socket=\ntmux_session=\ntmux_window=\ntmux_pane=\naction=resume\n"
)


JSON_AUTH = {
    "uuid": AUTH, "machine": "alpha", "agent": "claude", "cwd": "/srv/app", "name": "auth-refactor",
    "tmux": {"socket": None, "session": None, "window": None, "pane": None}, "action": "resume",
}  # fmt: skip


@pytest.mark.parametrize("command", ["pick", "tui"])
def test_json_is_the_default(seeded: Daemon, command: str) -> None:
    run = seeded.sesh(command, "--select", AUTH)
    assert (run.code, run.err) == (0, "")
    assert run.out.count("\n") == 1 and json.loads(run.out) == JSON_AUTH


@pytest.mark.parametrize("command", ["pick", "tui"])
def test_kv_on_request(seeded: Daemon, command: str) -> None:
    run = seeded.sesh(command, "--select", AUTH, "--format", "kv")
    assert (run.code, run.out, run.err) == (0, KV_AUTH, "")


def test_json_nests_tmux(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", DOCS, "--format", "json")
    assert run.code == 0, run.err
    assert run.out.count("\n") == 1
    assert json.loads(run.out) == {
        "uuid": DOCS, "machine": "alpha", "agent": "codex", "cwd": "/srv/docs", "name": "docs-site",
        "tmux": {"socket": None, "session": None, "window": None, "pane": None}, "action": "resume",
    }  # fmt: skip
    assert list(json.loads(run.out)) == ["uuid", "machine", "agent", "cwd", "name", "tmux", "action"]


def test_nul_terminates_each_value_in_kv_order(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", AUTH, "--format", "nul")
    assert run.code == 0, run.err
    assert run.out == "\0".join([AUTH, "alpha", "claude", "/srv/app", "auth-refactor", "", "", "", "", "resume"]) + "\0"


def test_action_override_and_prefix_select(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", AUTH[:6], "--action", "inspect", "--format", "kv")
    assert run.code == 0, run.err
    assert run.out == KV_AUTH.replace("action=resume", "action=inspect")


def test_unknown_select_exits_3(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", "ffff")
    assert (run.code, run.out) == (3, "")
    assert run.err == "sesh: no session matches 'ffff' (see `sesh list` or `sesh find <prefix>`)\n"


def test_deleted_select_exits_3(seeded: Daemon) -> None:
    assert seeded.sesh("delete", DOCS).code == 0
    run = seeded.sesh("pick", "--select", DOCS)
    assert (run.code, run.out) == (3, "")
    assert run.err == f"sesh: session {DOCS} is deleted (pick another one; see `sesh list`)\n"


def test_ambiguous_select_is_a_failure_not_no_match(seeded: Daemon) -> None:
    twin = "0b6c9999-0000-4000-8000-000000000000"
    assert seeded.sesh("register", twin, "--agent", "pi", "--cwd", "/tmp").code == 0
    run = seeded.sesh("pick", "--select", "0b6c")
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("sesh: ambiguous prefix '0b6c' matches ")


@pytest.mark.parametrize("argv", [["tui", "--cursor", "ffff"], ["pick", "--cursor", "ffff"], ["tui", "ffff"]])
def test_cursor_naming_no_session_is_a_loud_usage_error(seeded: Daemon, argv: list[str]) -> None:
    """Checked before any UI: these runs have no terminal, so reaching the UI would be another error."""
    run = seeded.sesh(*argv)
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "sesh: --cursor: no session matches 'ffff' (give a session of `sesh list`, or drop --cursor)\n"
    )


def test_tui_positional_is_the_cursor(seeded: Daemon) -> None:
    from sesh_mesh.cli.main import build_parser

    assert build_parser().parse_args(["tui", AUTH[:8]]).uuid == AUTH[:8]
    both = seeded.sesh("tui", AUTH[:8], "--cursor", DOCS[:8])
    assert (both.code, both.out) == (2, "")
    assert both.err == f"sesh: two cursors: '{AUTH[:8]}' and --cursor '{DOCS[:8]}' (give the session once)\n"


def test_malformed_select_is_a_usage_error(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", "not-a-uuid!")
    assert run.code == 2
    assert run.err == (
        "sesh: malformed uuid 'not-a-uuid!' (pass a full uuid or a unique prefix of hex digits, e.g. a808)\n"
    )


def test_bad_action_with_enter_is_a_usage_error(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", AUTH, "--enter", "--action", "inspect")
    assert run.code == 2
    assert run.err == "sesh: --enter cannot perform --action 'inspect' (use goto or resume, or drop --enter)\n"


def test_empty_store_exits_3_before_any_ui(daemon: Daemon) -> None:
    run = daemon.sesh("pick")
    assert (run.code, run.out) == (3, "")
    assert run.err == (
        "sesh: no sessions to pick (start one with `sesh new --agent claude`, "
        "or adopt existing ones with `sesh discover --register`)\n"
    )


def test_enter_on_a_detached_session_goes_to_the_resume_path(seeded: Daemon) -> None:
    """`--enter` on a detached session runs `sesh resume` on it. These sessions have no agent
    transcript, so the resume path refuses loudly, naming the session (whether relaunching is
    built yet or not), and nothing reaches stdout."""
    for args in (("pick", "--select", AUTH, "--enter"), ("resume", AUTH)):
        run = seeded.sesh(*args)
        assert (run.code, run.out) == (1, ""), run
        assert run.err.startswith("sesh: ") and AUTH[:8] in run.err and "resume" in run.err, run.err


def test_goto_refuses_a_session_that_is_not_live(seeded: Daemon) -> None:
    run = seeded.sesh("pick", "--select", AUTH, "--enter", "--action", "goto")
    assert run.code == 1
    assert run.err == "sesh: session 0b6c1d2e is not live in a tmux pane (resume it instead: sesh resume 0b6c1d2e)\n"


def test_select_never_imports_textual(seeded: Daemon) -> None:
    code = (
        "import sys\nfrom sesh_mesh.cli.main import main\n"
        f"rc = main(['pick', '--select', '{AUTH}', '--format', 'kv'])\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\nsys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=seeded.env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == KV_AUTH


def test_no_terminal_at_all_is_a_usage_error(seeded: Daemon) -> None:
    """Without a controlling terminal (setsid, pipes everywhere) the picker cannot draw."""
    done = subprocess.run(
        [sys.executable, "-m", "sesh_mesh", "pick"], env=seeded.env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr == (
        "sesh: no terminal to draw the picker on (run it in a terminal, or pick without a UI: --select <uuid>)\n"
    )
    assert done.stdout == ""
    assert "TMUX" not in os.environ  # conftest strips it: nothing here can reach a real tmux


def test_machine_flag_limits_the_pick(seeded: Daemon) -> None:
    here = seeded.sesh("pick", "--select", AUTH, "--machine", "alpha", "--format", "json")
    assert here.code == 0 and json.loads(here.out)["uuid"] == AUTH
    elsewhere = seeded.sesh("pick", "--select", AUTH, "--machine", "beta")
    assert (elsewhere.code, elsewhere.out) == (3, "")
    assert "is on machine 'alpha', not 'beta'" in elsewhere.err
    nothing = seeded.sesh("pick", "--machine", "beta")
    assert (nothing.code, nothing.out) == (3, "") and "no sessions to pick" in nothing.err


async def test_machine_option_hides_other_machines_rows(seeded: Daemon) -> None:
    from sesh_mesh.tui.app import Options, SeshApp

    app = SeshApp(Options(socket=seeded.socket, machine="beta"))
    async with app.run_test(size=(120, 20)) as pilot:
        await until(pilot, lambda: app.loaded, within=5, what="the first snapshot from the daemon")
        assert app.loaded and app.rowset.visible == []
