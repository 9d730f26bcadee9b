"""backup, restore, search and autoname on one real daemon, with synthetic claude transcripts."""

from __future__ import annotations

import io
import json
import random
import shutil
import time

from sesh_mesh.agents.claude import project_dir_name
from sesh_mesh.cli.transcript_cmds import Progress
from sesh_mesh.services.backup_file import CHUNK_BYTES, BackupFile
from tests.polling import eventually
from tests.transcripts.claude_gen import random_text, transcript_path, turn_lines
from tests.transcripts.helpers import NO_TRANSCRIPT_SID, machines


def test_backup_is_idempotent_and_stores_only_what_grew() -> None:
    with machines("alpha") as (alpha,):
        rng = random.Random(7)
        sid, path = alpha.session([("hello backup " + random_text(rng, 500), "hi") for _ in range(200)])
        assert path.stat().st_size > 3 * CHUNK_BYTES
        other, _ = alpha.session([("second session", "ok")])
        alpha.register(NO_TRANSCRIPT_SID, alpha.root / "proj")
        target = alpha.root / "out" / "b.sqlite"
        first = alpha.daemon.sesh("backup", "--to", str(target), "--json")
        assert first.code == 0, first.err
        summary = first.json()
        assert (summary["sessions"], summary["newVersions"], summary["unchanged"]) == (3, 2, 0)
        assert summary["skipped"] == [{"uuid": NO_TRANSCRIPT_SID, "machine": "alpha", "reason": "no transcript yet"}]
        assert summary["failed"] == [] and 0 < summary["bytesStored"] < summary["bytesRead"]
        again = alpha.daemon.sesh("backup", "--to", str(target), "--json").json()
        assert (again["newVersions"], again["unchanged"], again["bytesStored"]) == (0, 2, 0)
        assert again["totals"] == summary["totals"], "a second run adds nothing"
        with path.open("ab") as handle:
            handle.write(turn_lines(sid, str(alpha.root / "proj"), "grown", "yes", "2026-11-22T00:00:00Z"))
        grown = alpha.daemon.sesh("backup", "--to", str(target), "--json").json()
        assert (grown["newVersions"], grown["unchanged"]) == (1, 1)
        assert 0 < grown["bytesStored"] < summary["bytesStored"] / 4, "only the new tail chunk is stored"
        assert grown["totals"]["snapshots"] == 3 and grown["totals"]["versions"] == 3
        backup = BackupFile.open(target, create=False)
        try:
            latest = {s.session.uuid: s for s in backup.latest()}
            assert set(latest) == {sid, other}
            assert backup.content(latest[sid].version) == path.read_bytes()
            assert latest[sid].session.record["agentSessionId"] == sid
        finally:
            backup.close()
        human = alpha.daemon.sesh("backup")
        assert human.code == 0, human.err
        assert human.out.startswith(f"backup: 3 sessions into {alpha.daemon.home / 'backup.sqlite'}: "
                                    "2 new versions, 0 unchanged, 1 without a transcript, 0 failed; read ")
        assert (alpha.daemon.home / "backup.sqlite").is_file()


def test_progress_goes_to_stderr_only_for_long_runs() -> None:
    quick = io.StringIO()
    Progress(quick, time.monotonic()).update({"done": 1, "total": 9, "bytes": 5})
    assert quick.getvalue() == ""
    slow = io.StringIO()
    progress = Progress(slow, time.monotonic() - 5)
    progress.update({"done": 3, "total": 9, "bytes": 2_500_000})
    progress.update({"done": 4, "total": 9, "bytes": 2_600_000})  # throttled
    progress.finish()
    assert slow.getvalue() == "backup: 3/9 sessions, 2.5 MB read\n"


def test_restore_refusals_force_and_reregistration() -> None:
    with machines("alpha") as (alpha,):
        sid, path = alpha.session([("restore me", "ok"), ("second turn", "ok")], name="keeper")
        backup = alpha.root / "b.sqlite"
        assert alpha.daemon.sesh("backup", "--to", str(backup)).code == 0
        original = path.read_bytes()
        run = alpha.daemon.sesh
        missing = run("restore", "--from", str(alpha.root / "nope.sqlite"), "--to", "native")
        assert (missing.code, missing.err) == (1, (f"sesh: no such backup file {alpha.root / 'nope.sqlite'} "
                                                  "(pass the file `sesh backup --to FILE` wrote)\n"))
        both = run("restore", "--from", str(backup), "--to", "native", "--to-dir", str(alpha.root / "x"))
        assert (both.code, both.err) == (2, ("sesh: restore takes one destination: --to native or --to-dir DIR "
                                            "(see `sesh restore --help`)\n"))
        wrong = run("restore", "--from", str(backup), "--to", "beta")
        assert (wrong.code, wrong.err) == (2, ("sesh: restore --to takes native or a directory, not 'beta' (for a "
                                              "directory write it as a path, e.g. --to ./beta)\n"))
        bad_rewrite = run("restore", "--from", str(backup), "--to", "native", "--rewrite-cwd", "x")
        assert bad_rewrite.code == 2 and bad_rewrite.err.startswith("sesh: bad --rewrite-cwd 'x'")
        (alpha.root / "notes.txt").write_text("hello\n" * 200)
        foreign = run("restore", "--from", str(alpha.root / "notes.txt"), "--to", "native")
        assert foreign.code == 1 and "is not a sesh backup file" in foreign.err
        unknown = run("restore", "ffff", "--from", str(backup), "--to", "native")
        assert unknown.code == 1 and unknown.err.startswith(f"sesh: no session matching 'ffff' in backup {backup}")
        # a different transcript in the way is refused, and nothing changes
        with path.open("ab") as handle:
            handle.write(turn_lines(sid, str(alpha.root / "proj"), "newer turn", "ok", "2026-11-22T00:00:00Z"))
        newer = path.read_bytes()
        refused = run("restore", sid[:8], "--from", str(backup), "--to", "native")
        assert refused.code == 1, refused.out
        assert refused.err == (f"sesh: {path} exists and differs from the backup ({len(newer)} vs {len(original)} "
                               "bytes) (pass --force to overwrite it)\n")
        assert path.read_bytes() == newer
        forced = run("restore", sid[:8], "--from", str(backup), "--to", "native", "--force", "--json")
        assert forced.code == 0, forced.err
        assert forced.json() == [{"uuid": sid, "agent": "claude", "agentSessionId": sid, "machine": "alpha",
                                  "cwd": str(alpha.root / "proj"), "path": str(path), "action": "overwritten",
                                  "registered": sid}]
        assert path.read_bytes() == original
        same = run("restore", "--from", str(backup), "--to", "native")
        assert (same.code, same.out) == (0, f"unchanged {path} (claude {sid[:8]}; session {sid})\n")
        # wiped and deleted: the restore brings the file back and registers it anew (the old uuid is a tombstone)
        assert run("delete", sid).code == 0
        shutil.rmtree(alpha.claude_dir / "projects")
        again = run("restore", "--from", str(backup), "--to", "native", "--json")
        assert again.code == 0, again.err
        [restored] = again.json()
        assert restored["action"] == "written" and restored["registered"] not in (None, sid)
        assert path.read_bytes() == original
        record = alpha.daemon.call("info", {"uuid": restored["registered"]})
        assert (record["agentSessionId"], record["name"], record["machine"]) == (sid, "keeper", "alpha")
        assert record["restoredFrom"] == {"uuid": sid, "machine": "alpha"}
        eventually(lambda: alpha.daemon.call("info", {"uuid": restored["registered"]}).get("filePath") == str(path),
                   timeout=10, what="the restored session to be located")


def test_restore_defaults_to_native_and_to_takes_a_directory_path() -> None:
    with machines("alpha") as (alpha,):
        sid, path = alpha.session([("restore me by default", "ok")])
        backup = alpha.root / "b.sqlite"
        assert alpha.daemon.sesh("backup", "--to", str(backup)).code == 0
        original = path.read_bytes()
        path.unlink()
        plain = alpha.daemon.sesh("restore", "--from", str(backup), "--json")
        assert plain.code == 0, plain.err
        [result] = plain.json()
        assert (result["path"], result["action"], result["registered"]) == (str(path), "written", sid)
        assert path.read_bytes() == original
        out_dir = alpha.root / "export"
        to_path = alpha.daemon.sesh("restore", sid[:8], "--from", str(backup), "--to", str(out_dir), "--json")
        assert to_path.code == 0, to_path.err
        [exported] = to_path.json()
        dest = out_dir / "claude" / "projects" / project_dir_name(str(alpha.root / "proj")) / f"{sid}.jsonl"
        assert (exported["path"], exported["registered"]) == (str(dest), None)
        assert dest.read_bytes() == original
        relative = alpha.daemon.sesh("restore", "--from", str(backup), "--to", "./rel", "--json", cwd=alpha.root)
        assert relative.code == 0, relative.err
        assert relative.json()[0]["path"].startswith(str(alpha.root / "rel" / "claude") + "/")


def test_copy_takes_its_destination_positionally() -> None:
    with machines("alpha") as (alpha,):
        sid, path = alpha.session([("copy me somewhere", "ok")])
        out_dir = alpha.root / "export"
        to_dir = alpha.daemon.sesh("copy", sid[:8], str(out_dir), "--json")
        assert to_dir.code == 0, to_dir.err
        dest = out_dir / "claude" / "projects" / project_dir_name(str(alpha.root / "proj")) / f"{sid}.jsonl"
        assert (to_dir.json()["path"], to_dir.json()["registered"]) == (str(dest), False)
        assert dest.read_bytes() == path.read_bytes()
        native = alpha.daemon.sesh("copy", sid, "native", "--json")
        assert native.code == 0, native.err
        assert (native.json()["path"], native.json()["action"]) == (str(path), "unchanged")
        same = alpha.daemon.sesh("copy", sid, "--to", str(out_dir), "--json")
        assert (same.code, same.json()["action"]) == (0, "unchanged"), same.err
        twice = alpha.daemon.sesh("copy", sid, "native", "--to-dir", str(out_dir))
        assert (twice.code, twice.err) == (2, ("sesh: copy takes one destination: DEST, --to MACHINE|native|DIR or "
                                              "--to-dir DIR (see `sesh copy --help`)\n"))
        none = alpha.daemon.sesh("copy", sid)
        assert (none.code, none.err) == (2, ("sesh: copy needs a destination: a machine, native or a directory (e.g. "
                                            "`sesh copy a808 server`, `sesh copy a808 native` or `sesh copy a808 "
                                            "./out`)\n"))


def test_restore_rewrites_cwd_in_the_transcript_and_its_place() -> None:
    with machines("alpha") as (alpha,):
        old = str(alpha.root / "proj")
        sid, path = alpha.session([("edit " + old + "/src/main.py please", "done")])
        backup = alpha.root / "b.sqlite"
        assert alpha.daemon.sesh("backup", "--to", str(backup)).code == 0
        out_dir = alpha.root / "export"
        moved = alpha.daemon.sesh("restore", "--from", str(backup), "--to-dir", str(out_dir),
                                  "--rewrite-cwd", f"{old}=/srv/moved", "--json")
        assert moved.code == 0, moved.err
        dest = out_dir / "claude" / "projects" / "-srv-moved" / f"{sid}.jsonl"
        assert moved.json()[0]["path"] == str(dest) and moved.json()[0]["registered"] is None
        records = [json.loads(line) for line in dest.read_text().splitlines()]
        assert {r.get("cwd") for r in records if "cwd" in r} == {"/srv/moved"}
        assert records[0]["message"]["content"] == "edit /srv/moved/src/main.py please"
        assert old not in dest.read_text()
        # to native, for a project now living elsewhere on this machine
        new_cwd = alpha.root / "moved"
        new_cwd.mkdir()
        assert alpha.daemon.sesh("delete", sid).code == 0
        native = alpha.daemon.sesh("restore", "--from", str(backup), "--to", "native",
                                   "--rewrite-cwd", f"{old}={new_cwd}", "--json")
        assert native.code == 0, native.err
        [result] = native.json()
        assert result["path"] == str(transcript_path(alpha.claude_dir, str(new_cwd), sid))
        assert alpha.daemon.call("info", {"uuid": result["registered"]})["cwd"] == str(new_cwd)
        assert path.exists(), "the original transcript is left alone"


def test_search_ranks_highlights_filters_follows_growth_and_forgets_deleted() -> None:
    with machines("alpha") as (alpha,):
        chatter = [(f"unrelated chatter {i}", f"a reply about gardening {i}") for i in range(20)]
        strong, _ = alpha.session([*chatter, ("the kumquat kumquat kumquat pipeline", "kumquat fixed")], name="strong")
        weak, weak_path = alpha.session([*chatter, ("long " + "filler " * 60 + "kumquat", "ok")], name="weak")
        alpha.session(chatter, name="none")
        run = alpha.daemon.sesh
        found = run("search", "kumquat", "--json")
        assert found.code == 0, found.err
        hits = found.json()
        assert [h["uuid"] for h in hits] == [strong, weak]
        assert set(hits[0]) == {"uuid", "machine", "agent", "name", "timestamp", "snippet", "score"}
        assert (hits[0]["machine"], hits[0]["agent"], hits[0]["name"]) == ("alpha", "claude", "strong")
        assert "«kumquat» «kumquat» «kumquat»" in hits[0]["snippet"]
        assert hits[0]["score"] > hits[1]["score"] > 0 and hits[0]["timestamp"].startswith("2026-11-21T")
        human = run("search", "kumquat", "--limit", "1")
        assert human.code == 0 and human.out.startswith(f"{strong[:8]}  alpha  claude  strong  2026-11-21 ")
        assert len(human.out.splitlines()) == 2 and "«kumquat»" in human.out
        assert run("search", "kumquat", "--agent", "codex", "--json").json() == []
        phrase = run("search", '"gardening 3"', "--json").json()
        assert len(phrase) == 3 and all(h["snippet"] == "a reply about «gardening 3»" for h in phrase)
        none = run("search", "zzzunknownword")
        assert (none.code, none.out, none.err) == (0, "", "no matches for 'zzzunknownword'\n")
        for args, error in (
            (("search", "  "), ("sesh: search query '  ' has no words (search for words, e.g. sesh search \"flaky "
                               "test\")\n")),
            (("search", "x", "--agent", "gpt"), "sesh: unknown agent 'gpt' (use claude, codex or pi)\n"),
            (("search", "x", "--limit", "0"), "sesh: bad --limit 0 (use a number from 1 to 1000)\n"),
        ):
            refused = run(*args)
            assert (refused.code, refused.err) == (2, error)
        # the index follows a growing transcript
        with weak_path.open("ab") as handle:
            handle.write(turn_lines(weak, str(alpha.root / "proj"), "now about rambutan", "ok", "2026-11-22T09:00:00Z"))
        grown = run("search", "rambutan", "--json").json()
        assert [(h["uuid"], h["timestamp"]) for h in grown] == [(weak, "2026-11-22T09:00:00Z")]
        # a deleted session drops out of the results
        assert run("delete", strong).code == 0
        assert [h["uuid"] for h in run("search", "kumquat", "--json").json()] == [weak]


def test_autoname_with_a_command_namer() -> None:
    with machines("alpha", autoname={"command": "{namer}"}) as (alpha,):
        sid, _ = alpha.session([("TOPIC parsers are slow", "let us profile"), ("go on", "done")])
        run = alpha.daemon.sesh
        named = run("autoname", sid[:8], "--json")
        assert named.code == 0, named.err
        record = named.json()
        assert (record["name"], record["summary"]) == ("topic-parsers", f"about parsers for {sid[:8]}")
        assert record["lastAutoNameTurnCount"] == 2 and record["autoRename"] is True
        # a session renamed by hand stays as it is
        hand, _ = alpha.session([("TOPIC handmade", "ok")])
        assert run("rename", hand, "my-own-name").code == 0
        refused = run("autoname", hand)
        assert refused.code == 1
        assert refused.err == (f"sesh: session {hand[:8]} has autoRename off (it was named by hand) "
                               f"(turn it back on with `sesh autoname-toggle {hand[:8]} --on`)\n")
        assert alpha.daemon.call("info", {"uuid": hand})["name"] == "my-own-name"
        # --all: names the rest, skips the hand-named and the one without a transcript
        fresh, _ = alpha.session([("TOPIC fresh", "ok")])
        alpha.register(NO_TRANSCRIPT_SID, alpha.root / "proj", name="empty")
        report = run("autoname", "--all", "--json")
        assert report.code == 0, report.err
        by_uuid = {entry["uuid"]: entry for entry in report.json()}
        assert (by_uuid[fresh]["status"], by_uuid[fresh]["name"]) == ("named", "topic-fresh")
        assert by_uuid[hand]["status"] == "skipped" and by_uuid[hand]["reason"] == "autoRename off"
        assert by_uuid[NO_TRANSCRIPT_SID] | {"summary": None} == {
            "uuid": NO_TRANSCRIPT_SID, "machine": "alpha", "agent": "claude", "name": "empty", "summary": None,
            "status": "skipped", "reason": "no transcript yet"}
        assert by_uuid[sid]["status"] == "skipped" and by_uuid[sid]["reason"] == "already named at turn 2"
        assert alpha.daemon.call("info", {"uuid": hand})["name"] == "my-own-name"
        assert alpha.daemon.call("info", {"uuid": NO_TRANSCRIPT_SID})["name"] == "empty"
        # turned back on, it is named; a failing namer says why
        assert run("autoname-toggle", hand, "--on").code == 0
        assert run("autoname", hand, "--json").json()["name"] == "topic-handmade"
        boom, _ = alpha.session([("TOPIC explode", "ok")], name="boom")
        failed = run("autoname", boom)
        assert failed.code == 1
        assert failed.err.startswith("sesh: the namer command ") and failed.err.endswith(
            "failed (exit 3): namer exploded on purpose (run it by hand to see why)\n")
        assert alpha.daemon.call("info", {"uuid": boom})["name"] == "boom"


def test_autoname_every_n_turns_and_without_a_namer() -> None:
    with machines("alpha", autoname={"command": "{namer}", "every_turns": 2}) as (alpha,):
        sid, path = alpha.session([("TOPIC automatic naming", "ok")])
        time.sleep(2.5)  # one automatic pass at turn 1: below every_turns, nothing happens
        assert alpha.daemon.call("info", {"uuid": sid})["name"] == ""
        with path.open("ab") as handle:
            handle.write(turn_lines(sid, str(alpha.root / "proj"), "second", "ok", "2026-11-22T00:00:00Z"))
        record = eventually(lambda: (r := alpha.daemon.call("info", {"uuid": sid}))["name"] and r, timeout=15,
                            what="the automatic rename at turn 2")
        assert (record["name"], record["lastAutoNameTurnCount"]) == ("topic-automatic", 2)
    # No [autoname], and no pi or claude on PATH, in HOME's shim directories or npm's global bin.
    with machines("alpha", extra_env={"PATH": "/usr/bin:/bin"}) as (bare,):
        sid, _ = bare.session([("TOPIC x", "ok")])
        refused = bare.daemon.sesh("autoname", sid)
        config = bare.daemon.home / "config.toml"
        assert (refused.code, refused.err) == (1, (
            "sesh: no namer on machine alpha: [autoname] names none and neither pi nor claude is installed (looked "
            "in PATH, ~/.local/bin, ~/.cargo/bin, ~/.local/share/mise/shims, ~/.asdf/shims and the npm global bin) "
            f"(add [autoname] agent = \"…\" or command = \"…\" to {config})\n"))


def test_an_autoname_config_edit_applies_without_a_restart() -> None:
    with machines("alpha", autoname={"command": "{namer}"}) as (alpha,):
        sid, _ = alpha.session([("TOPIC parsers are slow", "let us profile")])
        run = alpha.daemon.sesh
        assert run("autoname", sid, "--json").json()["name"] == "topic-parsers"
        pid = alpha.daemon.call("ping")["pid"]
        config = alpha.daemon.home / "config.toml"
        config.write_text('[autoname]\ncommand = "echo edited-namer; echo from the edited config"\n')
        renamed = run("autoname", sid, "--json")
        assert renamed.code == 0, renamed.err
        assert (renamed.json()["name"], renamed.json()["summary"]) == ("edited-namer", "from the edited config")
        config.write_text('[autoname]\ncommand = 3\n')
        broken = run("autoname", sid)
        refusal = f"sesh: {config}: [autoname].command must be a non-empty string (quote the command)\n"
        assert (broken.code, broken.err) == (2, refusal)
        assert alpha.daemon.call("ping")["pid"] == pid, "the daemon restarted"
