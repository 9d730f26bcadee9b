"""`info <uuid> --json` and `list --json` into a pipe take `cli.fast`: the same bytes, errors and
exit codes as the full CLI, which the other forms (and a daemon that is not running) still get."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness import Daemon, run_sesh

A = "fa571111-0000-4000-8000-000000000001"
B = "fa572222-0000-4000-8000-000000000002"

FULL = "import sys\nfrom sesh_mesh.cli.main import main\nraise SystemExit(main(sys.argv[1:]))"


def full_cli(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-c", FULL, *args], env=daemon.env, capture_output=True, text=True,
                          check=False, timeout=60)
    return done.returncode, done.stdout, done.stderr


def fast_cli(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    done = run_sesh(args, daemon.env)
    return done.code, done.out, done.err


def test_fast_verbs_print_what_the_full_cli_prints(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.sesh("register", A, "--agent", "claude", "--name", "naïve \"quoted\" ✓", "--tag", "t",
                       "--cwd", str(tmp_path)).code == 0
    assert daemon.sesh("register", B, "--agent", "pi", "--cwd", str(tmp_path)).code == 0
    for args in (["list", "--json"], ["info", A, "--json"], ["--json", "info", "FA572"], ["info", "fa57", "--json"],
                 ["info", "ffff", "--json"], ["info", "not-hex!", "--json"], ["list", "--json", "--agent", "pi"]):
        fast = fast_cli(daemon, *args)
        assert fast == full_cli(daemon, *args), args
    code, out, _err = fast_cli(daemon, "list", "--json")
    assert code == 0 and out.startswith("[{") and out.endswith("}]\n") and "naïve" in out


def test_no_daemon_falls_back_to_the_full_cli(tmp_path: Path) -> None:
    # Not started: the full CLI's answer (here: no machine name, so it cannot start one).
    env = {"SESH_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = run_sesh(["list", "--json"], env)
    assert done.code != 0 and done.err.startswith("sesh: ") and done.out == ""
