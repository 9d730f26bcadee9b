"""Transcript services across two real daemons linked over the mesh, each with its own agent data dir."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.polling import eventually
from tests.transcripts.claude_gen import transcript_path
from tests.transcripts.helpers import NO_TRANSCRIPT_SID, Machine, machines

pytestmark = pytest.mark.mesh


@pytest.fixture(scope="module")
def pair() -> Iterator[list[Machine]]:
    with machines("alpha", "beta", autoname={"command": "{namer}"}) as made:
        yield made


def test_search_merges_both_machines_and_filters_by_machine(pair: list[Machine]) -> None:
    alpha, beta = pair
    chatter = [(f"chatter {i}", f"reply {i}") for i in range(15)]
    on_alpha, _ = alpha.session([*chatter, ("durian durian durian on alpha", "ok")], name="a-durian")
    on_beta, _ = beta.session([*chatter, ("one durian " + "padding " * 40, "ok")], name="b-durian")
    eventually(lambda: on_alpha in beta.daemon.records(), timeout=10, what="alpha's session replicated to beta")
    found = beta.daemon.sesh("search", "durian", "--json")
    assert found.code == 0, found.err
    hits = found.json()
    assert [(h["uuid"], h["machine"], h["name"]) for h in hits] == [
        (on_alpha, "alpha", "a-durian"), (on_beta, "beta", "b-durian")]
    assert "«durian» «durian» «durian»" in hits[0]["snippet"]
    only_beta = beta.daemon.sesh("search", "durian", "--machine", "beta", "--json").json()
    assert [h["uuid"] for h in only_beta] == [on_beta]
    only_alpha = beta.daemon.sesh("search", "durian", "--machine", "alpha", "--json").json()
    assert [h["uuid"] for h in only_alpha] == [on_alpha]
    # deleted on its owner, gone from every machine's results
    assert beta.daemon.sesh("delete", on_alpha).code == 0
    assert [h["uuid"] for h in alpha.daemon.sesh("search", "durian", "--json").json()] == [on_beta]


def test_copy_to_another_machine_registers_it_there(pair: list[Machine]) -> None:
    alpha, beta = pair
    sid, path = alpha.session([("copy me to beta TOPIC travel", "ok")], name="traveller")
    assert alpha.daemon.sesh("tag", sid, "trip").code == 0
    same = alpha.daemon.sesh("copy", sid, "--to", "alpha")
    assert (same.code, same.err) == (1, (f"sesh: session {sid[:8]} already lives on alpha "
                                        "(copy it to another machine, or use --to-dir DIR)\n"))
    copied = alpha.daemon.sesh("copy", sid[:8], "--to", "beta", "--json")
    assert copied.code == 0, copied.err
    result = copied.json()
    dest = transcript_path(beta.claude_dir, str(alpha.root / "proj"), sid)
    assert result == {"uuid": result["uuid"], "machine": "beta", "agent": "claude", "path": str(dest),
                      "action": "written", "registered": True}
    assert result["uuid"] != sid and dest.read_bytes() == path.read_bytes()
    record = beta.daemon.call("info", {"uuid": result["uuid"]})
    assert (record["machine"], record["agent"], record["agentSessionId"]) == ("beta", "claude", sid)
    assert (record["name"], record["tags"], record["copiedFrom"]) == ("traveller", ["trip"],
                                                                      {"uuid": sid, "machine": "alpha"})
    eventually(lambda: result["uuid"] in alpha.daemon.records(), timeout=10, what="the copy replicated back")
    again = alpha.daemon.sesh("copy", sid, "beta", "--json").json()  # the destination given positionally
    assert (again["uuid"], again["action"], again["registered"]) == (result["uuid"], "unchanged", False)
    # the copy is beta's own: beta indexes it, and a different file in the way needs --force
    assert {h["uuid"] for h in beta.daemon.sesh("search", "travel", "--json").json()} == {sid, result["uuid"]}
    with dest.open("ab") as handle:
        handle.write(b'{"type":"last-prompt"}\n')
    refused = alpha.daemon.sesh("copy", sid, "--to", "beta")
    assert refused.code == 1 and refused.err.startswith(f"sesh: {dest} exists and differs")
    assert alpha.daemon.sesh("copy", sid, "--to", "beta", "--force").code == 0
    assert dest.read_bytes() == path.read_bytes()
    # to a directory, from a machine that does not own it
    out = beta.root / "export"
    to_dir = beta.daemon.sesh("copy", sid, "--to-dir", str(out), "--rewrite-cwd", f"{alpha.root / 'proj'}=/srv/p",
                              "--json")
    assert to_dir.code == 0, to_dir.err
    exported = out / "claude" / "projects" / "-srv-p" / f"{sid}.jsonl"
    assert to_dir.json()["path"] == str(exported) and to_dir.json()["registered"] is False
    assert json.loads(exported.read_text().splitlines()[0])["cwd"] == "/srv/p"
    # to this machine's own native location, from a machine that does not own it
    native = beta.daemon.sesh("copy", sid, "--to", "native", "--force", "--json")
    assert native.code == 0, native.err
    assert native.json() == {"uuid": result["uuid"], "machine": "beta", "agent": "claude", "path": str(dest),
                             "action": "unchanged", "registered": False}
    usage = alpha.daemon.sesh("copy", sid, "--to", "beta", "--to-dir", "/tmp/x")
    assert (usage.code, usage.err) == (2, ("sesh: copy takes one destination: DEST, --to MACHINE|native|DIR or "
                                          "--to-dir DIR (see `sesh copy --help`)\n"))


def test_backup_all_machines_fetches_over_the_mesh(pair: list[Machine]) -> None:
    alpha, beta = pair
    sid, path = alpha.session([("back me up from beta", "ok")])
    eventually(lambda: sid in beta.daemon.records(), timeout=10, what="replicated")
    target = beta.root / "all.sqlite"
    local_only = beta.daemon.sesh("backup", "--to", str(target), "--json").json()
    assert all(s["machine"] == "beta" for s in local_only["skipped"]) and local_only["failed"] == []
    everything = beta.daemon.sesh("backup", "--to", str(target), "--all-machines", "--json")
    assert everything.code == 0, everything.err
    summary = everything.json()
    assert summary["newVersions"] >= 1 and summary["failed"] == []
    again = beta.daemon.sesh("backup", "--to", str(target), "--all-machines", "--json").json()
    assert again["newVersions"] == 0 and again["bytesStored"] == 0, "unchanged remote transcripts are not re-sent"
    restored = beta.daemon.sesh("restore", sid[:8], "--from", str(target), "--to-dir", str(beta.root / "r"), "--json")
    assert restored.code == 0, restored.err
    assert restored.json()[0]["machine"] == "alpha"
    assert (beta.root / "r" / "claude" / path.relative_to(alpha.claude_dir)).read_bytes() == path.read_bytes()


def test_autoname_all_is_forwarded_to_each_owner(pair: list[Machine]) -> None:
    alpha, beta = pair
    on_alpha, _ = alpha.session([("TOPIC orchards", "ok")])
    on_beta, _ = beta.session([("TOPIC harbours", "ok")])
    hand, _ = alpha.session([("TOPIC manual", "ok")], name="by-hand")
    assert beta.daemon.sesh("rename", hand, "by-hand").code == 0
    alpha.register(NO_TRANSCRIPT_SID, alpha.root / "proj", name="empty")
    for uuid in (on_alpha, hand, NO_TRANSCRIPT_SID):
        eventually(lambda u=uuid: u in beta.daemon.records(), timeout=10, what="replicated")  # type: ignore[misc]
    single = beta.daemon.sesh("autoname", on_alpha, "--json")
    assert single.code == 0, single.err
    assert (single.json()["name"], single.json()["machine"]) == ("topic-orchards", "alpha")
    report = beta.daemon.sesh("autoname", "--all", "--json")
    assert report.code == 0, report.err
    by_uuid = {entry["uuid"]: entry for entry in report.json()}
    assert (by_uuid[on_beta]["status"], by_uuid[on_beta]["name"], by_uuid[on_beta]["machine"]) == (
        "named", "topic-harbours", "beta")
    assert by_uuid[on_alpha]["status"] == "skipped"  # already named at this turn
    assert (by_uuid[hand]["status"], by_uuid[hand]["reason"]) == ("skipped", "autoRename off")
    assert (by_uuid[NO_TRANSCRIPT_SID]["status"], by_uuid[NO_TRANSCRIPT_SID]["reason"]) == (
        "skipped", "no transcript yet")
    assert alpha.daemon.call("info", {"uuid": hand})["name"] == "by-hand"
    assert eventually(lambda: beta.daemon.call("info", {"uuid": on_alpha})["name"] == "topic-orchards", timeout=10,
                      what="alpha's rename replicated to beta")


def test_an_unreachable_owner_is_reported_and_the_rest_still_works() -> None:
    with machines("alpha", "beta") as (alpha, beta):
        on_alpha, _ = alpha.session([("papaya on alpha", "ok")])
        on_beta, _ = beta.session([("papaya on beta", "ok")])
        eventually(lambda: on_beta in alpha.daemon.records(), timeout=10, what="replicated")
        beta.daemon.stop()
        eventually(lambda: not any(p["connected"] for p in alpha.daemon.call("status")["peers"]), timeout=10,
                   what="alpha to see beta gone")
        backup = alpha.daemon.sesh("backup", "--to", str(alpha.root / "b.sqlite"), "--all-machines")
        assert backup.code == 1
        assert backup.err == (f"sesh: backup of {on_beta} (beta) failed: machine beta is unreachable "
                              "(bring that machine up and run the backup again)\n")
        assert "1 new version, 0 unchanged, 0 without a transcript, 1 failed" in backup.out
        found = alpha.daemon.sesh("search", "papaya", "--json")
        assert found.code == 0
        assert [h["uuid"] for h in found.json()] == [on_alpha]
        assert found.err == ("sesh: machine beta did not answer the search: machine beta is unreachable "
                             "(its sessions are missing from the results)\n")
        copy = alpha.daemon.sesh("copy", on_alpha, "--to", "beta")
        assert copy.code == 1 and copy.err.startswith("sesh: cannot reach machine 'beta'"), copy.err
        assert copy.err.endswith("nothing was changed (retry when it is back online; `sesh daemon status` shows "
                                 "the link)\n")
