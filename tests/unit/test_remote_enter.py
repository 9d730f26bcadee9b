"""The pure parts of entering remote sessions: ssh targets, `[ssh]` and `[paths]` in config.toml,
ssh failures as one line, the TUI's enter marks, and `sesh peer add|set --ssh` on peers.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesh_mesh.cli.remote_enter import ATTACH_MARK, NO_SSH_MARK, RELAUNCH_MARK, marker
from sesh_mesh.config import load_config, path_rules, rewrite_for_here
from sesh_mesh.daemon.peers import Peer, load_peers, save_peers
from sesh_mesh.errors import UsageError
from sesh_mesh.ssh_target import SshSettings, SshTarget, classify_failure, parse_target, ssh_argv, ssh_settings
from sesh_mesh.tui.rows import make_row
from tests.harness import base_env, run_sesh

TOKEN = "Qm3vX9pL2rT8kW4nZ7cB1dF6hJ0sY5uA"


@pytest.mark.parametrize(("text", "target"), [
    ("server", SshTarget("server")),
    ("me@server", SshTarget("server", "me")),
    ("me@10.0.0.2:2222", SshTarget("10.0.0.2", "me", 2222)),
    ("[::1]:22", SshTarget("::1", None, 22)),
])
def test_targets_parse(text: str, target: SshTarget) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["", " me@x", "me@", "a b", "me@host:99999", "me@host:", "-oProxyCommand=x"])
def test_bad_targets_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    assert caught.value.fix.startswith("write [user@]host[:port]") or "port" in caught.value.what


def test_ssh_argv_quotes_the_remote_words_once() -> None:
    settings = SshSettings(("tailscale", "ssh"), ("-i", "/k"), "~/.local/bin/sesh", 5)
    argv = ssh_argv(settings, SshTarget("h", "me", 2), ["resume", "a b", "--attach"], batch=True, tty=False)
    assert argv == ["tailscale", "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-T", "-i", "/k", "-p", "2",
                    "me@h", "--", "~/.local/bin/sesh resume 'a b' --attach"]


def test_ssh_settings_and_path_rules_from_config(home: Path) -> None:
    (home / "config.toml").write_text('[ssh]\ncommand = "ssh -4"\noptions = ["-i", "/k"]\n\n'
                                      '[paths]\n"/home/me" = "/Users/me"\n"/home/me/src/" = "/src"\n')
    config = load_config(home)
    assert ssh_settings(config.raw, config.path) == SshSettings(("ssh", "-4"), ("-i", "/k"), "sesh", 10)
    rules = path_rules(config)
    assert rewrite_for_here(rules, "/home/me/src/app") == ("/home/me/src", "/src")
    assert rewrite_for_here(rules, "/home/me/notes") == ("/home/me", "/Users/me")
    assert rewrite_for_here(rules, "/home/meow") is None
    (home / "config.toml").write_text('[ssh]\noptions = "-i /k"\n')
    with pytest.raises(UsageError, match=r"\[ssh\]\.options must be a list of strings"):
        config = load_config(home)
        ssh_settings(config.raw, config.path)


def test_failures_are_classified() -> None:
    target = SshTarget("h", "me")
    refused = classify_failure("box", target, 255, "me@h: Permission denied (publickey).\n")
    assert refused.line() == ("sesh: ssh to box (me@h) was refused: me@h: Permission denied (publickey). (make key "
                              "login work without a prompt (ssh-copy-id me@h, or an agent); check with "
                              "`ssh -o BatchMode=yes me@h true`)")
    missing = classify_failure("box", target, 127, "sh: 1: sesh: not found\n")
    assert missing.what.startswith("sesh is not on box's PATH over ssh")
    relayed = classify_failure("box", target, 1, "sesh: tmux is not installed on box (install tmux on box)\n")
    assert relayed.line() == "sesh: on box: tmux is not installed on box (install tmux on box)"


def test_enter_marks() -> None:
    mark = marker("beta", {"alpha"})
    assert mark({"machine": "beta", "live": True}) == ""
    assert mark({"machine": "alpha", "live": True}) == ATTACH_MARK
    assert mark({"machine": "alpha", "live": False}) == RELAUNCH_MARK
    assert mark({"machine": "gamma", "live": True}) == NO_SSH_MARK
    row = make_row({"uuid": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "machine": "alpha", "enterMark": ATTACH_MARK},
                   lambda cwd: cwd)
    assert row.cells["machine"] == f"alpha {ATTACH_MARK}"


def test_peer_add_and_set_ssh(home: Path) -> None:
    env = base_env(home, "beta")
    added = run_sesh(["peer", "add", "alpha", "ws://10.0.0.2:7433", "--token", TOKEN, "--ssh", "me@alpha:2222",
                      "--json"], env)
    assert added.code == 0, added.err
    assert added.json()["ssh"] == "me@alpha:2222"
    assert load_peers(home)["alpha"].ssh == "me@alpha:2222"
    changed = run_sesh(["peer", "set", "alpha", "--ssh", "alpha.tailnet"], env)
    assert (changed.code, changed.out) == (0, "peer alpha: ssh alpha.tailnet\n"), changed.err
    assert load_peers(home)["alpha"] == Peer("alpha", "ws://10.0.0.2:7433", TOKEN, None, "alpha.tailnet")
    bad = run_sesh(["peer", "set", "alpha", "--ssh", "me@"], env)
    assert (bad.code, bad.err) == (2, ("sesh: bad ssh target 'me@' (write [user@]host[:port], e.g. me@server or "
                                      "me@10.0.0.2:2222)\n"))
    unknown = run_sesh(["peer", "set", "gamma", "--ssh", "g"], env)
    assert unknown.code == 1 and unknown.err.startswith("sesh: no peer named 'gamma' in ")
    assert json.loads((home / "peers.json").read_text())["peers"][0]["ssh"] == "alpha.tailnet"
    save_peers(home, {"alpha": Peer("alpha", "ws://10.0.0.2:7433", TOKEN)})
    assert load_peers(home)["alpha"].ssh_target() == SshTarget("10.0.0.2"), "no --ssh: the URL's host"


def test_resume_flag_misuse_is_usage(home: Path) -> None:
    env = base_env(home, "beta")
    run = run_sesh(["resume", "--attach"], env)
    assert (run.code, run.err) == (2, "sesh: --attach needs a uuid and no --here (sesh resume UUID --attach)\n")
    run = run_sesh(["resume", "a808", "--check"], env)
    assert (run.code, run.err) == (2, "sesh: --check goes with --attach (sesh resume UUID --attach --check)\n")
