"""Data dirs, transcript locations, discovery, pi session paths and claude's live registry."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sesh_mesh.agents import transcript
from sesh_mesh.agents.claude import project_dir_name, read_registry
from sesh_mesh.agents.ids import is_uuid, iso_from_epoch, uuid7, uuid7_time
from sesh_mesh.agents.pi import new_pi_session_path, pi_session_dir
from sesh_mesh.agents.registry import get_adapter

from .helpers import SAMPLES

CLAUDE_ID = "ce26599a-fd11-4f4f-9217-4e4fd2de0d1c"
CODEX_ID = "01a1fd97-2dab-7810-8a6d-6b31c34d675c"
PI_ID = "01a1fd97-7652-7481-a83c-b6ef56423c55"


def test_data_dirs() -> None:
    home = {"HOME": "/home/u"}
    assert get_adapter("claude").data_dir(home) == Path("/home/u/.claude")
    assert get_adapter("codex").data_dir(home) == Path("/home/u/.codex")
    assert get_adapter("pi").data_dir(home) == Path("/home/u/.pi/agent")
    assert get_adapter("claude").data_dir({**home, "CLAUDE_CONFIG_DIR": "/c"}) == Path("/c")
    assert get_adapter("codex").data_dir({**home, "CODEX_HOME": "/x"}) == Path("/x")
    assert get_adapter("pi").data_dir({**home, "PI_CODING_AGENT_DIR": "/p"}) == Path("/p")
    assert get_adapter("codex").data_dir({**home, "CODEX_HOME": ""}) == Path("/home/u/.codex")


def test_claude_project_dir_name() -> None:
    assert project_dir_name("/home/user/proj") == "-home-user-proj"
    assert project_dir_name("/w/my_app.v2/sub dir") == "-w-my-app-v2-sub-dir"


def place(root: Path, relative: str, sample: str) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLES / sample, target)
    return target


def test_claude_paths_and_discovery(tmp_path: Path) -> None:
    adapter = get_adapter("claude")
    expected = tmp_path / "projects" / "-home-user-proj" / f"{CLAUDE_ID}.jsonl"
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", CLAUDE_ID) == expected  # not there yet
    elsewhere = place(
        tmp_path, f"projects/-home-user-very-long-abc123/{CLAUDE_ID}.jsonl", "claude-transcript-interactive.jsonl"
    )
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", CLAUDE_ID) == elsewhere
    place(tmp_path, f"projects/-home-user-proj/{CLAUDE_ID}.jsonl", "claude-transcript-interactive.jsonl")
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", CLAUDE_ID) == expected
    place(tmp_path, "projects/-home-user-proj/agent-1234abcd.jsonl", "claude-transcript-headless.jsonl")
    place(tmp_path, f"projects/-home-user-proj/{CLAUDE_ID}/subagents/agent-x.jsonl", "claude-transcript-headless.jsonl")
    assert list(adapter.iter_transcripts(tmp_path)) == [expected, elsewhere]


def test_codex_paths_and_discovery(tmp_path: Path) -> None:
    adapter = get_adapter("codex")
    assert adapter.transcript_path_for(tmp_path, "/w", CODEX_ID) is None
    day = place(
        tmp_path, f"sessions/2026/11/21/rollout-2026-11-21T10-11-45-{CODEX_ID}.jsonl", "codex-rollout-interactive.jsonl"
    )
    assert adapter.transcript_path_for(tmp_path, "/w", CODEX_ID) == day
    other_id = "0199aaaa-0000-7000-8000-000000000000"
    odd = place(
        tmp_path, f"sessions/2020/01/01/rollout-2020-01-01T00-00-00-{other_id}.jsonl", "codex-rollout-headless.jsonl"
    )
    assert adapter.transcript_path_for(tmp_path, "/w", other_id) == odd  # the full search finds misplaced files
    (tmp_path / "sessions" / "notes.txt").write_text("x")
    assert list(adapter.iter_transcripts(tmp_path)) == [odd, day]
    summary = adapter.read_summary(day)
    assert summary is not None
    assert summary.to_json() == {
        "agent": "codex",
        "agentSessionId": CODEX_ID,
        "cwd": "/home/user/proj",
        "filePath": str(day),
        "firstPrompt": "demo interactive turn WAIT 3 SLEEP 4",
        "lastActivity": "2026-11-21T10:11:59.040Z",
    }


def test_pi_paths_and_discovery(tmp_path: Path) -> None:
    adapter = get_adapter("pi")
    assert pi_session_dir(tmp_path, "/home/user/proj") == tmp_path / "sessions" / "--home-user-proj--"
    assert pi_session_dir(tmp_path, "C:\\w\\x") == tmp_path / "sessions" / "--C--w-x--"
    named = place(
        tmp_path, f"sessions/--home-user-proj--/2026-11-21T10-12-04-307Z_{PI_ID}.jsonl", "pi-session-interactive.jsonl"
    )
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", PI_ID) == named
    assert adapter.transcript_path_for(tmp_path, "/elsewhere", PI_ID) == named
    # a file sesh named for `pi --session <path>`: the header id differs from the name
    chosen = place(
        tmp_path,
        "sessions/--home-user-proj--/2026-11-21T10-12-01-000Z_01a1fd97-0000-7000-8000-0000000000aa.jsonl",
        "pi-session-headless.jsonl",
    )
    headless_id = "01a1fd97-6b3b-77cd-83f8-7238cef239e8"
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", headless_id) == chosen
    assert adapter.transcript_path_for(tmp_path, "/home/user/proj", "01a1fd97-ffff-7fff-8fff-ffffffffffff") is None
    assert list(adapter.iter_transcripts(tmp_path)) == [chosen, named]
    summary = adapter.read_summary(chosen)
    assert summary is not None and summary.agent_session_id == headless_id


def test_new_pi_session_path(tmp_path: Path) -> None:
    now = datetime(2026, 11, 21, 10, 4, 16, 609_000, tzinfo=UTC)
    path = new_pi_session_path(tmp_path, "/home/user/proj", now, "01a1fd90-5360-70d8-8a82-c430e3170a24")
    assert path == (
        tmp_path
        / "sessions"
        / "--home-user-proj--"
        / "2026-11-21T10-04-16-609Z_01a1fd90-5360-70d8-8a82-c430e3170a24.jsonl"
    )
    fresh = new_pi_session_path(tmp_path, "/home/user/proj", now)
    assert re.fullmatch(r"2026-11-21T10-04-16-609Z_[0-9a-f-]{36}\.jsonl", fresh.name)
    assert uuid7_time(fresh.stem.split("_")[1]) == now


def test_uuid7() -> None:
    now = datetime(2026, 11, 21, 10, 12, 4, 307_000, tzinfo=UTC)
    value = uuid7(now, bytes(range(10)))
    assert is_uuid(value)
    assert value[14] == "7" and value[19] in "89ab"
    assert uuid7_time(value) == now
    assert uuid7_time(CLAUDE_ID) is None  # a v4 id carries no time
    assert uuid7_time(CODEX_ID) == datetime(2026, 11, 21, 10, 11, 45, 707_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "sample", "session_id"),
    [
        ("claude", "claude-transcript-headless.jsonl", "b2ab1e82-3b18-491b-9854-8678657eb0fa"),
        ("codex", "codex-rollout-headless.jsonl", "01a1fd97-29d8-7191-bfc0-fd8100aad47f"),
        ("pi", "pi-session-headless.jsonl", "01a1fd97-6b3b-77cd-83f8-7238cef239e8"),
    ],
)
def test_read_summary_of_big_files_reads_the_head(
    kind: str, sample: str, session_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = place(tmp_path, f"x/{session_id}.jsonl", sample)
    os.utime(path, (1_800_000_000, 1_800_000_000))
    whole = get_adapter(kind).read_summary(path)
    assert whole is not None and whole.last_activity is not None and whole.last_activity.startswith("2026-11-21T")
    monkeypatch.setattr(transcript, "SUMMARY_WHOLE_FILE_BYTES", 1024)
    head = get_adapter(kind).read_summary(path)
    assert head is not None
    assert (head.agent_session_id, head.cwd, head.first_prompt) == (session_id, "/home/user/proj", whole.first_prompt)
    assert head.last_activity == iso_from_epoch(1_800_000_000) == "2027-01-15T08:00:00.000Z"


def test_read_summary_of_unusable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert get_adapter("pi").read_summary(empty) is None
    assert get_adapter("codex").read_summary(tmp_path / "missing.jsonl") is None
    named = tmp_path / f"{CLAUDE_ID}.jsonl"
    named.write_bytes(b"garbage\n")
    summary = get_adapter("claude").read_summary(named)
    assert summary is not None and (summary.agent_session_id, summary.first_prompt) == (CLAUDE_ID, None)


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_claude_registry(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    write_json(
        sessions / "10970.json",
        {
            "pid": 10970,
            "sessionId": CLAUDE_ID,
            "cwd": "/home/user/proj",
            "kind": "interactive",
            "status": "busy",
            "statusUpdatedAt": 1795255892000,
            "tmux": "claude:@0.%0",
            "name": "proj-b3",
            "procStart": "123456",
        },
    )
    write_json(sessions / "pid-222.json", {"pid": 222, "sessionId": "legacy-id", "cwd": "/old"})
    write_json(sessions / "333.json", {"pid": 333, "sessionId": "new", "status": "idle"})
    write_json(sessions / "pid-333.json", {"pid": 333, "sessionId": "old"})
    write_json(sessions / "444.json", {"pid": 555, "sessionId": "someone else's"})
    write_json(sessions / "666.json", ["not", "an", "object"])
    write_json(sessions / "777.json", {"sessionId": "pid from the name", "status": "paused"})
    (sessions / "888.json").write_text('{"pid": 888, "sessionId": "half-wri')
    (sessions / "10970.abc123.key").write_text("secret")
    write_json(sessions / "notes.json", {"pid": 1})

    entries = read_registry(tmp_path)
    assert sorted(entries) == [222, 333, 777, 10970]
    live = entries[10970]
    assert (live.session_id, live.cwd, live.status, live.status_updated_at) == (
        CLAUDE_ID,
        "/home/user/proj",
        "busy",
        1795255892000,
    )
    assert (live.proc_start, live.tmux, live.name, live.kind, live.legacy) == (
        "123456",
        "claude:@0.%0",
        "proj-b3",
        "interactive",
        False,
    )
    assert live.status_known
    assert (entries[222].legacy, entries[222].status) == (True, None)
    assert entries[333].session_id == "new"
    assert (entries[777].status, entries[777].status_known) == ("paused", False)
    assert read_registry(tmp_path / "nowhere") == {}
