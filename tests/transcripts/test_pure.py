"""The pure transcript services: backup file, placement and cwd rewriting, search index, namer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sesh_mesh.agents.base import TranscriptEntry
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.services import namer, placement
from sesh_mesh.services.backup_file import CHUNK_BYTES, BackupFile, NoSuchBackup, SessionInfo, sha256_hex
from sesh_mesh.services.search_index import HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, IndexTarget, SearchIndex, fts_query
from tests.transcripts.claude_gen import turn_lines, write_session

SID = "0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d6e"


def info(uuid: str = SID, cwd: str = "/w/proj") -> SessionInfo:
    return SessionInfo(uuid=uuid, machine="alpha", agent="claude", agent_session_id=uuid, cwd=cwd,
                       file_name=f"{uuid}.jsonl", source_path=f"/x/{uuid}.jsonl", record={"name": "n"})


# ---- backup file ------------------------------------------------------------------------------------


def test_backup_is_idempotent_and_a_grown_transcript_stores_only_new_chunks(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    first = b"".join(turn_lines(SID, "/w/proj", f"message {i} " + "x" * 2000, "reply", "t") for i in range(300))
    assert len(first) > 2 * CHUNK_BYTES
    backup = BackupFile.open(path, create=True)
    added = backup.add(info(), first, "now")
    assert added.new_snapshot and added.new_version and added.stored_bytes > 0
    again = backup.add(info(), first, "later")
    assert (again.new_snapshot, again.new_version, again.stored_bytes) == (False, False, 0)
    grown = first + turn_lines(SID, "/w/proj", "one more", "reply", "t")
    third = backup.add(info(), grown, "later")
    assert third.new_snapshot and third.new_version
    assert third.stored_bytes < added.stored_bytes / 2, "the full chunks of the first version are reused"
    stats = backup.stats()
    assert (stats["sessions"], stats["snapshots"], stats["versions"]) == (1, 2, 2)
    assert stats["chunks"] == len(first) // CHUNK_BYTES + 2
    latest = backup.latest()
    assert [s.version for s in latest] == [sha256_hex(grown)]
    assert backup.content(latest[0].version) == grown
    assert backup.versions_of(SID) == [sha256_hex(first), sha256_hex(grown)]
    backup.close()
    reopened = BackupFile.open(path, create=False)
    assert reopened.content(sha256_hex(first)) == first
    reopened.close()


def test_backup_file_refusals(tmp_path: Path) -> None:
    with pytest.raises(NoSuchBackup) as missing:
        BackupFile.open(tmp_path / "none.sqlite", create=False)
    assert missing.value.line() == (f"sesh: no such backup file {tmp_path / 'none.sqlite'} "
                                    "(pass the file `sesh backup --to FILE` wrote)")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SeshError, match="is not a sesh backup file"):
        BackupFile.open(garbage, create=False)
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(SeshError, match="is not a sesh backup file"):
        BackupFile.open(foreign, create=True)


def test_damaged_chunk_fails_its_checksum(tmp_path: Path) -> None:
    backup = BackupFile.open(tmp_path / "b.sqlite", create=True)
    content = turn_lines(SID, "/w/proj", "hello", "hi", "t")
    backup.add(info(), content, "now")
    import zlib

    backup.conn.execute("UPDATE chunks SET data = ?", (zlib.compress(b"tampered"),))
    with pytest.raises(SeshError, match="fails its checksum"):
        backup.content(sha256_hex(content))


# ---- placement ------------------------------------------------------------------------------------


def test_native_relpaths_follow_each_agent() -> None:
    assert placement.native_relpath("claude", "/home/me/my.app", f"{SID}.jsonl") == Path(
        f"projects/-home-me-my-app/{SID}.jsonl")
    rollout = "rollout-2026-11-21T10-11-32-01a1fd97-2dab-7810-9c55-8fde7a66b6f7.jsonl"
    assert placement.native_relpath("codex", "/x", rollout) == Path("sessions/2026/11/21") / rollout
    pi_file = "2026-11-21T10-04-16-609Z_01a1fd90-5360-70d8-8a82-c430e3170a24.jsonl"
    assert placement.native_relpath("pi", "/home/me/proj", pi_file) == Path("sessions/--home-me-proj--") / pi_file
    assert placement.dir_path(Path("/d"), "pi", "/p", pi_file) == Path("/d/pi/sessions/--p--") / pi_file


def test_rewrite_cwd_changes_paths_not_lookalikes() -> None:
    lines = [
        json.dumps({"type": "user", "cwd": "/old/app",
                    "message": {"content": "look at /old/app/src/a.py and /old/app2"}}),
        "not json but mentions /old/app",
        json.dumps({"type": "x", "cwd": "/other", "note": "/x/old/app stays"}),
        json.dumps({"payload": {"cwd": "/old/app/sub", "list": ["/old/app", 3, None]}}),
    ]
    out = placement.rewrite_cwd("\n".join(lines).encode() + b"\n", "/old/app", "/new/place").decode().split("\n")
    first = json.loads(out[0])
    assert first["cwd"] == "/new/place"
    assert first["message"]["content"] == "look at /new/place/src/a.py and /old/app2"
    assert out[1] == lines[1], "a line that is not JSON is kept byte for byte"
    assert out[2] == lines[2], "a line whose only mention is a lookalike is kept byte for byte"
    assert json.loads(out[3])["payload"] == {"cwd": "/new/place/sub", "list": ["/new/place", 3, None]}
    assert out[4] == ""
    assert placement.rewrite_path("/old/app/x", "/old/app", "/n") == "/n/x"
    assert placement.rewrite_path("/old/apple", "/old/app", "/n") == "/old/apple"


@pytest.mark.parametrize(("text", "error"), [
    ("/a", "sesh: bad --rewrite-cwd '/a' (write OLD=NEW with two absolute paths, e.g. /old/app=/new/app)"),
    ("rel=/b", "sesh: bad --rewrite-cwd 'rel=/b' (write OLD=NEW with two absolute paths, e.g. /old/app=/new/app)"),
    ("/=/b", "sesh: --rewrite-cwd cannot rewrite / (name the project directory that moved)"),
])
def test_parse_rewrite_refusals(text: str, error: str) -> None:
    with pytest.raises(UsageError) as refused:
        placement.parse_rewrite(text)
    assert refused.value.line() == error
    assert placement.parse_rewrite("/a/=/b/c/") == ("/a", "/b/c")


def test_write_transcript_refuses_a_different_file_unless_forced(tmp_path: Path) -> None:
    dest = tmp_path / "d" / "t.jsonl"
    assert placement.write_transcript(dest, b"one\n", force=False) == "written"
    assert placement.write_transcript(dest, b"one\n", force=False) == "unchanged"
    with pytest.raises(SeshError) as refused:
        placement.write_transcript(dest, b"two\n", force=False)
    assert refused.value.line() == (f"sesh: {dest} exists and differs from the transcript being written "
                                    "(4 vs 4 bytes) (pass --force to overwrite it)")
    assert dest.read_bytes() == b"one\n"
    assert placement.write_transcript(dest, b"two\n", force=True) == "overwritten"
    assert dest.read_bytes() == b"two\n"
    assert [p.name for p in dest.parent.iterdir()] == ["t.jsonl"], "no temp file left behind"


def test_complete_lines_drops_a_line_being_written() -> None:
    assert placement.complete_lines(b'{"a":1}\n{"b":') == b'{"a":1}\n'
    assert placement.complete_lines(b'{"b":') == b""
    assert placement.complete_lines(b"") == b""


# ---- search index -----------------------------------------------------------------------------------


def test_fts_query_quotes_words_keeps_phrases_and_prefixes() -> None:
    assert fts_query('flaky test') == '"flaky" "test"'
    assert fts_query('"exact phrase" migr*') == '"exact phrase" "migr"*'
    assert fts_query("AND OR NOT ( ) : -x") == '"AND" "OR" "NOT" "x"'
    with pytest.raises(UsageError) as empty:
        fts_query("  ** ")
    assert empty.value.line() == ("sesh: search query '  ** ' has no words "
                                  '(search for words, e.g. sesh search "flaky test")')


def _session(data: Path, name: str, turns: list[tuple[str, str]]) -> IndexTarget:
    sid, path = write_session(data, f"/w/{name}", turns)
    return IndexTarget(sid, "claude", path)


def test_index_ranks_snippets_filters_grows_and_drops(tmp_path: Path) -> None:
    data = tmp_path / "claude"
    filler = [(f"unrelated chatter number {i}", f"reply about cooking {i}") for i in range(30)]
    strong = _session(data, "strong", [*filler, ("the flaky flaky flaky test again", "yes flaky")])
    weak = _session(data, "weak", [*filler, ("a long note " + "word " * 80 + "flaky at the end", "ok")])
    other = _session(data, "other", filler)
    index = SearchIndex(tmp_path / "search.sqlite")
    stats = index.sync([strong, weak, other])
    assert stats.sessions == 3 and stats.entries_added > 180
    hits = index.search("flaky")
    assert [h.uuid for h in hits] == [strong.uuid, weak.uuid]
    assert hits[0].score > hits[1].score > 0
    assert f"the {HIGHLIGHT_OPEN}flaky{HIGHLIGHT_CLOSE} {HIGHLIGHT_OPEN}flaky{HIGHLIGHT_CLOSE}" in hits[0].snippet
    assert hits[0].ts and hits[0].ts.startswith("2026-11-21T10:")
    assert index.search("flaky", agent="codex") == []
    assert len(index.search("flaky", limit=1)) == 1
    assert index.search("cooking")[0].uuid in {strong.uuid, weak.uuid, other.uuid}
    # growth: only the appended bytes are read
    with other.path.open("ab") as handle:
        handle.write(turn_lines(other.uuid, "/w/other", "zanzibar appears late", "noted", "2026-11-22T00:00:00Z"))
    grown = index.sync([strong, weak, other])
    assert 0 < grown.bytes_read < 2000 and grown.entries_added == 2
    assert [h.uuid for h in index.search("zanzibar")] == [other.uuid]
    # a dropped session (deleted, or no longer owned here) leaves no rows
    index.sync([weak, other])
    assert [h.uuid for h in index.search("flaky")] == [weak.uuid]
    assert index.stats()["sessions"] == 2
    index.close()
    # a new process resumes at the stored offsets and indexes only what came since
    again = SearchIndex(tmp_path / "search.sqlite")
    assert again.sync([weak, other]).bytes_read == 0
    with weak.path.open("ab") as handle:
        handle.write(turn_lines(weak.uuid, "/w/weak", "quokka", "ok", "2026-11-22T00:00:00Z"))
    assert again.sync([weak, other]).entries_added == 2
    assert [h.uuid for h in again.search("quokka")] == [weak.uuid]


def test_index_restarts_a_replaced_transcript(tmp_path: Path) -> None:
    data = tmp_path / "claude"
    target = _session(data, "p", [("alpha bravo", "charlie")])
    index = SearchIndex(tmp_path / "s.sqlite")
    index.sync([target])
    target.path.unlink()
    target.path.write_bytes(turn_lines(target.uuid, "/w/p", "delta", "echo", "t"))
    index.sync([target])
    assert index.search("alpha") == []
    assert [h.uuid for h in index.search("delta")] == [target.uuid]


def test_index_survives_garbage_lines(tmp_path: Path) -> None:
    data = tmp_path / "claude"
    target = _session(data, "g", [("before garbage", "ok")])
    with target.path.open("ab") as handle:
        handle.write(b'{"type": "user", \x00\xff garbage\n{not json}\n' + b"\xfe" * 50 + b"\n")
        handle.write(turn_lines(target.uuid, "/w/g", "after garbage", "ok", "t"))
    index = SearchIndex(tmp_path / "s.sqlite")
    index.sync([target])
    assert {h.uuid for h in index.search("garbage")} == {target.uuid}
    assert index.stats()["entries"] == 4


# ---- namer -----------------------------------------------------------------------------------------


def test_parse_reply_takes_the_last_json_answer_or_plain_lines() -> None:
    fenced = 'Sure!\n```json\n{"name": "fix-login", "summary": "Fixing the  login\\nbug"}\n```'
    assert namer.parse_reply(fenced, plain_ok=False) == ("fix-login", "Fixing the login bug")
    echoed = 'ECHO: user said {"name": "first"} then {"note": 1} and {"name": "second", "summary": "s"}'
    assert namer.parse_reply(echoed, plain_ok=False) == ("second", "s")
    assert namer.parse_reply("db-migration\nMoves the schema to v2\n", plain_ok=True) == (
        "db-migration", "Moves the schema to v2")
    with pytest.raises(SeshError) as refused:
        namer.parse_reply("ECHO: You name coding-agent conversations", plain_ok=False)
    assert refused.value.line() == ('sesh: the namer\'s reply has no name: ECHO: You name coding-agent conversations '
                                    '(it must print a JSON object {"name": …, "summary": …})')
    assert namer.parse_reply('{"name": "' + "x" * 100 + '"}', plain_ok=False)[0] == "x" * namer.NAME_CHARS


def test_the_prompt_never_parses_as_an_answer() -> None:
    with pytest.raises(SeshError):
        namer.parse_reply(namer.prompt("user: hello"), plain_ok=False)


def test_excerpt_keeps_the_first_prompt_and_the_latest_texts() -> None:
    entries = [TranscriptEntry(None, "user", "text", "first question")]
    entries += [TranscriptEntry(None, "assistant" if i % 2 else "user", "text", f"message {i}") for i in range(40)]
    entries.append(TranscriptEntry(None, "tool", "tool_result", "tool output is not in the excerpt"))
    text = namer.excerpt(entries, "first question")
    assert text.startswith("user (first message): first question\n\nuser: message 28")
    assert text.endswith("assistant: message 39") and "tool output" not in text
    assert namer.excerpt([], None) == ""
    long_text = namer.excerpt([TranscriptEntry(None, "user", "text", "y" * 50_000)] * 20, None)
    assert len(long_text) <= namer.EXCERPT_CHARS


def test_namer_argv_runs_unsaved_headless_turns() -> None:
    assert namer.agent_argv("claude", "/b/claude", "haiku", "P") == [
        "/b/claude", "-p", "--no-session-persistence", "--output-format", "text", "--model", "haiku", "P"]
    assert namer.agent_argv("codex", "codex", None, "P") == [
        "codex", "exec", "--skip-git-repo-check", "--ephemeral", "-s", "read-only", "P"]
    assert namer.agent_argv("pi", "pi", None, "P") == ["pi", "-p", "--no-session", "--no-tools", "P"]


@pytest.mark.parametrize(("table", "error"), [
    ({"agent": "gpt"}, "sesh: /c.toml: [autoname].agent = 'gpt' is not an agent (use claude, codex or pi)"),
    ({"agent": "pi", "command": "x"}, "sesh: /c.toml: [autoname] sets both agent and command (keep one of them)"),
    ({"command": " "}, "sesh: /c.toml: [autoname].command must be a non-empty string (quote the command)"),
    ({"command": "x", "every_turns": -1},
     "sesh: /c.toml: [autoname].every_turns must be a whole number ≥ 0 (0 turns it off)"),
    ({"command": "x", "timeout": 0},
     "sesh: /c.toml: [autoname].timeout must be a positive number of seconds (e.g. timeout = 60)"),
])
def test_namer_config_refusals(table: dict[str, object], error: str) -> None:
    with pytest.raises(UsageError) as refused:
        namer.load_namer_config(table, "/c.toml")
    assert refused.value.line() == error
    assert not namer.load_namer_config({}, "/c.toml").configured
    assert namer.load_namer_config({"agent": "claude", "every_turns": 3}, "/c.toml").every_turns == 3
