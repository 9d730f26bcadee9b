"""Lifecycle answers that need no agent: `new` refusals and records, shown ids that resolve.

Agent-facing lifecycle cells (launch, delete, discover across the mesh) are in
`tests/agents_e2e/test_lifecycle.py`; config safety is in `tests/e2e/test_config_safety.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sesh_mesh.errors import UsageError
from tests.harness import Daemon
from tests.mesh.helpers import link, mesh_daemon, running, wait_linked

SAME_MINUTE = ("01a1fd97-2dab-7810-8000-00000000000a", "01a1fd97-2dab-7811-8000-00000000000b")
"""Two codex ids (UUIDv7) minted in the same minute: their first 8 characters are equal."""


def test_new_msg_with_no_launch_is_refused_and_a_birth_name_is_kept(daemon: Daemon, tmp_path: Path) -> None:
    fake = tmp_path / "claude"  # `new` locates the agent's binary even when it does not launch it
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    path = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    refused = daemon.sesh("new", "--agent", "claude", "--no-launch", "--msg", "hello")
    assert refused.code == 2, refused
    assert refused.err == ("sesh: --msg needs a launched agent, and --no-launch only registers (drop --no-launch, "
                           "or register now and `sesh send` the message later)\n")
    assert daemon.records() == {}, "a refused new registered something"
    with pytest.raises(UsageError, match="--msg needs a launched agent"):  # the daemon refuses it too
        daemon.call("new", {"agent": "claude", "cwd": "/tmp", "noLaunch": True, "msg": "hello"})
    raw = daemon.sesh("new", "--agent", "claude", "--no-launch", "--json", env=path)
    assert raw.code == 0 and raw.json()["autoRename"] is True, "no name: auto-rename stays on"
    named = daemon.sesh("new", "--agent", "claude", "--no-launch", "--name", "auth", "--json", env=path)
    assert named.code == 0 and named.json()["autoRename"] is False, "a name given at birth must stop auto-rename"


def test_shown_ids_are_unique_and_accepted(daemon: Daemon) -> None:
    for agent_id in SAME_MINUTE:
        assert daemon.sesh("register", agent_id, "--agent", "codex", "--cwd", "/tmp").code == 0
    listed = daemon.sesh("list")
    assert listed.code == 0, listed
    shown = [line.split()[1] for line in listed.out.splitlines()[1:]]
    assert sorted(shown) == ["01a1fd97-2dab-7810", "01a1fd97-2dab-7811"], listed.out
    for prefix in shown:
        found = daemon.sesh("info", prefix, "--json")
        assert found.code == 0, found.err
        assert found.json()["uuid"].startswith(prefix)
    as_json = {r["uuid"]: r["shortId"] for r in daemon.sesh("list", "--json").json()}
    assert as_json == {uuid: uuid[:18] for uuid in SAME_MINUTE}


def test_new_on_another_machine_uses_its_own_directories(tmp_path: Path) -> None:
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    alpha = mesh_daemon("alpha", extra_env={"PATH": f"{tmp_path}:{os.environ['PATH']}"})
    beta = mesh_daemon("beta")
    link(alpha, beta)
    with running(alpha, beta):
        wait_linked(beta, "alpha")
        alpha_home = os.path.realpath(alpha.env["HOME"])
        # The caller's $PWD is only a hint on alpha: a path alpha lacks gives alpha's home.
        made = beta.call("new", {"agent": "claude", "machine": "alpha", "noLaunch": True,
                                 "cwdHint": "/nowhere/on/alpha"})
        assert (made["machine"], made["cwd"]) == ("alpha", alpha_home)
        here = beta.sesh("new", "--agent", "claude", "--no-launch", "--machine", "alpha", "--json", cwd=tmp_path)
        assert here.code == 0 and here.json()["cwd"] == str(tmp_path), "a $PWD alpha also has is used as is"
        missing = beta.sesh("new", "--agent", "claude", "--no-launch", "--machine", "alpha", "--cwd", "/nowhere/x")
        assert missing.code == 2
        assert missing.err == ("sesh: cwd '/nowhere/x' does not exist on machine alpha (pass --cwd with a directory "
                               "that exists on alpha)\n")
