"""[[hooks]] and [notify] settings, and hook commands run for real: stdin, variables, a failing
exit, a timeout that kills the whole process group; the desktop notifier's argv (docs/events.md)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.daemon.events import Event
from sesh_mesh.daemon.hooks import event_env, run_command
from sesh_mesh.daemon.notify import Notifier, message_of
from sesh_mesh.errors import UsageError
from sesh_mesh.event_config import EventSettings, Hook, Notify, parse

CONFIG = Path("/home/me/.sesh/config.toml")
EVENT = Event("turn-ended", "laptop", "u-1", "auth", "claude", "2027-01-15T08:00:00Z",
              {"reply": "ECHO: done", "outcome": "completed", "turns": 3}, id=9, seen_on="laptop")


def test_settings_parse() -> None:
    settings = parse({
        "events": {"log": "events.jsonl"},
        "hooks": [{"on": "needs-input", "command": ["notify-me", "-u"]},
                  {"on": ["turn-ended", "peer-down"], "url": "https://h/x", "secret": "s", "timeout": 3,
                   "retries": 0, "headers": {"Authorization": "Bearer t"}, "machine": "laptop"},
                  {"on": "*", "command": ["x"]}],
        "notify": {"bell": True},
    }, CONFIG)
    assert settings.log == Path("/home/me/.sesh/events.jsonl")
    first, second, third = settings.hooks
    assert first == Hook(1, frozenset({"needs-input"}), ("notify-me", "-u"))
    assert second.url == "https://h/x" and second.timeout_s == 3.0 and second.retries == 0
    assert second.wants("turn-ended", "laptop") and not second.wants("turn-ended", "server")
    assert third.on == frozenset() and third.wants("peer-up", "any")
    assert settings.notify == Notify(bell=True)
    assert parse({"notify": {"enabled": False}}, CONFIG).notify is None
    assert parse({}, CONFIG) == EventSettings()


BAD = [
    ({"hooks": [{"command": ["x"]}]}, "[[hooks]] entry 1 has no `on`"),
    ({"hooks": [{"on": "turn-done", "command": ["x"]}]},
     "[[hooks]] entry 1.on names an unknown event kind 'turn-done'"),
    ({"hooks": [{"on": "*"}]}, "[[hooks]] entry 1 needs exactly one of command and url"),
    ({"hooks": [{"on": "*", "command": "notify-me --urgent"}]},
     "[[hooks]] entry 1.command must be a non-empty list of strings (argv; no shell runs it)"),
    ({"hooks": [{"on": "*", "url": "ftp://x"}]}, "[[hooks]] entry 1.url must be an http:// or https:// address"),
    ({"hooks": [{"on": "*", "url": "http://x", "timeout": 0}]},
     "[[hooks]] entry 1.timeout must be seconds above 0 and at most 600"),
    ({"hooks": [{"on": "*", "command": ["x"], "secret": "s"}]},
     "[[hooks]] entry 1: secret, headers and retries apply to url hooks only"),
    ({"hooks": [{"on": "*", "command": ["x"], "shell": True}]}, "[[hooks]] entry 1 has an unknown key 'shell'"),
    ({"events": {"logfile": "x"}}, "[events] has an unknown key 'logfile'"),
    ({"notify": {"desktop": "yes"}}, "[notify].desktop must be true or false"),
]


@pytest.mark.parametrize(("raw", "what"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_settings_name_the_file_and_the_fix(raw: dict[str, Any], what: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(raw, CONFIG)
    assert caught.value.what == f"{CONFIG}: {what}" and caught.value.fix


def test_a_command_gets_the_event_on_stdin_and_in_its_variables(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    script = ("import json, os, sys; json.dump({'stdin': json.load(sys.stdin), 'env': {k: v for k, v in "
              "os.environ.items() if k.startswith('SESH_EVENT_')}}, open(sys.argv[1], 'w'))")
    hook = Hook(1, frozenset(), (sys.executable, "-c", script, str(out)))
    assert asyncio.run(run_command(hook, EVENT, tmp_path)) is None
    got = json.loads(out.read_text())
    assert got["stdin"] == EVENT.to_wire()
    assert got["env"] == event_env(EVENT) == {
        "SESH_EVENT_KIND": "turn-ended", "SESH_EVENT_MACHINE": "laptop", "SESH_EVENT_UUID": "u-1",
        "SESH_EVENT_NAME": "auth", "SESH_EVENT_AGENT": "claude", "SESH_EVENT_TIME": "2027-01-15T08:00:00Z",
        "SESH_EVENT_ID": "9", "SESH_EVENT_SEEN_ON": "laptop", "SESH_EVENT_TEXT": "ECHO: done"}


def test_a_failing_command_says_how(tmp_path: Path) -> None:
    hook = Hook(1, frozenset(), (sys.executable, "-c", "import sys; sys.stderr.write('no route'); sys.exit(3)"))
    assert asyncio.run(run_command(hook, EVENT, tmp_path)) == "exited with 3: no route"
    missing = Hook(2, frozenset(), (str(tmp_path / "nope"),))
    assert str(asyncio.run(run_command(missing, EVENT, tmp_path))).startswith(f"cannot run {tmp_path / 'nope'}: ")


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The hook starts a grandchild that would outlive it; the kill reaches the whole group.
    script = (f"import subprocess, time; p = subprocess.Popen(['sleep', '60']); open({str(pid_file)!r}, 'w')"
              ".write(str(p.pid)); time.sleep(60)")
    hook = Hook(1, frozenset(), (sys.executable, "-c", script), timeout_s=1.0)
    started = time.monotonic()
    assert asyncio.run(run_command(hook, EVENT, tmp_path)) == "timed out after 1s (killed)"
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        state = Path(f"/proc/{child}/stat").read_text().split()[2] if Path(f"/proc/{child}/stat").exists() else "X"
        if state == "Z":
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{child}/stat").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    assert not alive, "the hook's child survived the timeout"


def test_the_desktop_notification_runs_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """notify-send is the desktop's door; a stand-in on PATH records the argv sesh gives it."""
    record = tmp_path / "argv.json"
    fake = tmp_path / "notify-send"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    title, body = message_of(EVENT)
    assert (title, body) == ("sesh: auth (claude@laptop) finished", "ECHO: done")
    asked = Event("needs-input", "laptop", "u-1", "auth", "claude", "t", {"question": "Trust this folder?"})
    assert message_of(asked) == ("sesh: auth (claude@laptop) needs input", "Trust this folder?")
    notifier = Notifier.__new__(Notifier)
    asyncio.run(notifier.desktop(title, body))
    assert json.loads(record.read_text()) == ["--app-name=sesh", title, body]
