"""Playbook tests of the pure replication session: frames in, commands out (no sockets, no store)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from sesh_mesh.store.merge import kept_loose
from sesh_mesh.store.record import Record, new_record
from sesh_mesh.store.replication import (
    BATCH_MAX_RECORDS,
    PROTO_VERSION,
    SEND_MAX_RECORD_BYTES,
    Apply,
    Authenticated,
    Close,
    CloseCode,
    Command,
    Deliver,
    Note,
    PeerCaughtUp,
    PeerLinks,
    PeerSession,
    Role,
    Send,
    Stream,
    Vector,
)
from tests.harness import uid

NOW = "2026-11-21T10:00:00Z"
TOKEN = "s3cret-token"


def rec(n: int, origin: str, seq: int, machine: str | None = None, **extra: Any) -> Record:
    record = new_record(uuid=uid(n), agent="claude", machine=machine or origin, cwd="/tmp", now=NOW)
    record.update(origin=origin, originSeq=seq, **extra)
    return record


class FakeSource:
    """A store's read side: fixed marks and records."""

    recovering = False

    def __init__(self, marks: Vector, records: list[Record] | None = None) -> None:
        self.marks = dict(marks)
        self.records = list(records or [])

    def vector(self) -> Vector:
        return dict(self.marks)

    def own_gaps(self) -> list[tuple[int, int]]:
        return []

    def changes_since(self, origin: str, after_seq: int, limit: int | None = None) -> list[Record]:
        found = sorted(
            (r for r in self.records if r["origin"] == origin and r["originSeq"] > after_seq),
            key=lambda r: int(r["originSeq"]),
        )
        return found if limit is None else found[:limit]


def listener(source: FakeSource, machine: str = "b", tokens: dict[str, str] | None = None) -> PeerSession:
    known = {"a": TOKEN} if tokens is None else tokens
    session = PeerSession(machine, source, Role.LISTENER, tokens=known.get)
    assert session.start() == []
    return session


def dialer(source: FakeSource, machine: str = "a", peer: str = "b", token: str = TOKEN) -> PeerSession:
    session = PeerSession(machine, source, Role.DIALER, expected_peer=peer, token=token)
    return session


def hello(machine: str = "a", token: str | None = TOKEN, vector: dict[str, list[Any]] | None = None,
          proto: int = PROTO_VERSION) -> str:
    message: dict[str, Any] = {"t": "hello", "proto": proto, "machine": machine, "epoch": "ea",
                               "vector": vector or {}}
    if token is not None:
        message["token"] = token
    return json.dumps(message)


def batch(origin: str, epoch: str, records: list[Record], from_seq: int, to_seq: int, hwm: int | None = None,
          **extra: Any) -> str:
    return json.dumps({"t": "batch", "origin": origin, "epoch": epoch, "hwm": to_seq if hwm is None else hwm,
                       "from": from_seq, "to": to_seq, "records": records, **extra})


def sends(commands: list[Command]) -> list[dict[str, Any]]:
    return [c.message for c in commands if isinstance(c, Send)]


def batches(commands: list[Command]) -> list[dict[str, Any]]:
    return [m for m in sends(commands) if m["t"] == "batch"]


def opened(source: FakeSource, peer_vector: dict[str, list[Any]] | None = None) -> PeerSession:
    session = listener(source)
    session.receive(hello(vector=peer_vector))
    assert session.is_open
    return session


# ---- handshake and authentication --------------------------------------------------------------


def test_dialer_opens_with_hello_carrying_token_and_vector() -> None:
    session = dialer(FakeSource({"a": ("ea", 7), "c": ("ec", 3)}))
    [message] = sends(session.start())
    assert message == {"t": "hello", "proto": PROTO_VERSION, "machine": "a", "token": TOKEN, "epoch": "ea",
                       "vector": {"a": ["ea", 7], "c": ["ec", 3]}, "gaps": [], "recovering": False}


def test_listener_answers_a_good_hello_with_its_own_then_catch_up_then_caught_up() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 1), rec(2, "b", 2)])
    commands = listener(source).receive(hello())
    assert isinstance(commands[0], Authenticated) and commands[0].peer == "a"
    kinds = [m["t"] for m in sends(commands)]
    assert kinds == ["hello", "batch", "caught-up"]
    assert sends(commands)[0]["token"] == TOKEN  # proves the listener knows the token too


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        (hello(token="wrong"), "machine 'a' sent a wrong token"),
        (hello(token=None), "machine 'a' sent no token"),
        (hello(token=""), "machine 'a' sent no token"),
        (hello(machine="mallory"), "no peer named 'mallory' in peers.json"),
    ],
)
def test_listener_refuses_bad_credentials_and_sends_nothing(frame: str, detail: str) -> None:
    session = listener(FakeSource({"b": ("eb", 5)}, [rec(1, "b", 5)]))
    commands = session.receive(frame)
    assert commands == [Close(CloseCode.AUTH_FAILED,
                              "authentication failed (check the peer name and token on both machines)",
                              detail, fatal=True)]
    assert not session.is_open
    assert session.receive(batch("a", "ea", [rec(9, "a", 1)], 0, 1)) == []  # closed: nothing accepted


def test_listener_refuses_a_peer_claiming_its_own_name() -> None:
    session = listener(FakeSource({"b": ("eb", 1)}), tokens={"b": TOKEN})
    [close] = session.receive(hello(machine="b"))
    assert isinstance(close, Close) and close.code == CloseCode.WRONG_PEER and close.fatal
    assert close.reason == "peer claims to be this machine ('b')"


def test_nothing_is_accepted_before_the_hello() -> None:
    session = listener(FakeSource({"b": ("eb", 1)}))
    [close] = session.receive(batch("a", "ea", [rec(1, "a", 1)], 0, 1))
    assert isinstance(close, Close) and close.code == CloseCode.POLICY
    assert close.reason == "expected hello before anything else, got 'batch'"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "garbage frame: not JSON (Expecting property name enclosed in double quotes)"),
        (b"\x00\x01binary", "garbage frame: binary frame (the mesh speaks JSON text frames)"),
        ("[1, 2]", "garbage frame: a JSON list, not an object"),
    ],
)
def test_garbage_frames_close_with_a_reason(frame: str | bytes, reason: str) -> None:
    for session in (listener(FakeSource({})), opened(FakeSource({}))):
        [close] = session.receive(frame)
        assert close == Close(CloseCode.INVALID_DATA, reason, reason)


def test_old_protocol_is_fatal_and_says_what_to_do() -> None:
    [close] = listener(FakeSource({})).receive(hello(proto=0))
    assert isinstance(close, Close) and close.fatal and close.code == CloseCode.PROTO_UNSUPPORTED
    assert "upgrade sesh" in close.reason


def test_dialer_checks_who_answered_and_with_which_token() -> None:
    session = dialer(FakeSource({"a": ("ea", 1)}))
    session.start()
    [close] = session.receive(hello(machine="c", vector={}))
    assert isinstance(close, Close) and close.fatal and close.reason == "the daemon at this address is 'c', not 'b'"
    session = dialer(FakeSource({"a": ("ea", 1)}))
    session.start()
    [close] = session.receive(hello(machine="b", token="other"))
    assert isinstance(close, Close) and close.fatal and close.code == CloseCode.AUTH_FAILED


def test_a_second_hello_on_an_open_link_is_a_protocol_error() -> None:
    [close] = opened(FakeSource({})).receive(hello())
    assert isinstance(close, Close) and close.code == CloseCode.PROTOCOL_ERROR


# ---- catch-up ----------------------------------------------------------------------------------


def test_catch_up_sends_only_what_the_peer_lacks_in_the_same_lineage() -> None:
    source = FakeSource({"b": ("eb", 6)}, [rec(1, "b", 2), rec(2, "b", 4), rec(3, "b", 6)])
    session = listener(source)
    [sent] = batches(session.receive(hello(vector={"b": ["eb", 3]})))
    assert (sent["from"], sent["to"], sent["hwm"]) == (3, 6, 6)
    assert [r["originSeq"] for r in sent["records"]] == [4, 6]
    assert session.peer_known["b"] == ("eb", 6)


def test_catch_up_sends_nothing_when_the_peer_is_current() -> None:
    source = FakeSource({"b": ("eb", 6)}, [rec(1, "b", 6)])
    assert batches(listener(source).receive(hello(vector={"b": ["eb", 6]}))) == []


def test_catch_up_sends_the_full_set_when_the_peer_knows_another_lineage_or_none() -> None:
    source = FakeSource({"b": ("eb2", 90), "c": ("ec", 5)}, [rec(1, "b", 10), rec(2, "b", 90), rec(3, "c", 5)])
    sent = batches(listener(source).receive(hello(vector={"b": ["eb1", 40]})))
    by_origin = {m["origin"]: m for m in sent}
    assert (by_origin["b"]["from"], by_origin["b"]["to"], len(by_origin["b"]["records"])) == (0, 90, 2)
    assert (by_origin["c"]["from"], by_origin["c"]["to"]) == (0, 5)  # relayed: c is a third machine


def test_catch_up_relays_other_origins_and_advances_marks_with_empty_batches() -> None:
    # Records of origin c were all superseded by later writes elsewhere: nothing to send, but the
    # peer's mark still moves, so it does not ask again.
    source = FakeSource({"c": ("ec", 9)}, [])
    [sent] = batches(listener(source).receive(hello(vector={"c": ["ec", 4]})))
    assert (sent["from"], sent["to"], sent["records"]) == (4, 9, [])


def test_large_catch_up_is_chunked_into_contiguous_ascending_batches() -> None:
    count = BATCH_MAX_RECORDS * 2 + 5
    source = FakeSource({"b": ("eb", count + 100)}, [rec(n, "b", n) for n in range(1, count + 1)])
    sent = batches(listener(source).receive(hello()))
    assert len(sent) >= 3  # by bytes or by count, whichever closes a batch first
    assert all(len(m["records"]) <= BATCH_MAX_RECORDS for m in sent)
    assert sent[0]["from"] == 0 and sent[-1]["to"] == count + 100
    for earlier, later in itertools.pairwise(sent):
        assert later["from"] == earlier["to"] == earlier["records"][-1]["originSeq"]
    seqs = [r["originSeq"] for m in sent for r in m["records"]]
    assert seqs == sorted(seqs) and len(seqs) == count


def test_records_held_above_our_mark_never_extend_the_claim() -> None:
    # We hold seq 50 without 11..49 (a gap): batches may carry it but claim only up to 10.
    records = [rec(n, "b", n) for n in range(1, BATCH_MAX_RECORDS + 1)]
    records.append(rec(5000, "b", 5000))
    source = FakeSource({"b": ("eb", 10)}, [r for r in records if r["originSeq"] <= 10 or r["originSeq"] == 5000])
    source.records += [rec(n, "b", n) for n in range(11, BATCH_MAX_RECORDS + 1)]  # an out-of-order arrival
    sent = batches(listener(source).receive(hello()))
    assert all(m["to"] <= 10 for m in sent)
    assert sent[-1]["to"] == 10


# ---- receiving batches -------------------------------------------------------------------------


def test_a_batch_in_our_lineage_applies_with_its_claim() -> None:
    session = opened(FakeSource({"a": ("ea", 3)}), {"a": ["ea", 3]})
    records = [rec(1, "a", 4), rec(2, "a", 5)]
    [apply] = session.receive(batch("a", "ea", records, 3, 5))
    assert apply == Apply("a", "ea", records, 3, 5, hwm=5)
    assert session.peer_known["a"] == ("ea", 5)


def test_a_batch_of_another_lineage_goes_to_the_store_with_its_claim_as_it_came() -> None:
    # Origin c was reset (new epoch, counter above the old seqs); a peer still holds the old life.
    # Whether it is kept loose is the store's call, under its lock (test_store.py): another link
    # may move our mark for c between this batch being read and being applied.
    session = opened(FakeSource({"c": ("new", 2_000_000)}))
    records = [rec(1, "c", 40)]
    [apply] = session.receive(batch("c", "old", records, 0, 40))
    assert apply == Apply("c", "old", records, 0, 40, hwm=40)
    [apply] = session.receive(batch("c", "old", records, 0, 0, hwm=40, loose=True))
    assert apply == Apply("c", "old", records, 0, 0, loose=True, hwm=40)


def test_kept_loose_ranks_lineages_by_their_marks() -> None:
    assert not kept_loose(None, "new", 0, 5)
    assert not kept_loose(("ea", 9), "ea", 3, 5)  # our own lineage: the claim's rules
    assert kept_loose(("new", 2_000_000), "old", 0, 40)  # an older life
    assert not kept_loose(("old", 40), "new", 0, 2_000_001)  # a newer one replaces the mark
    assert kept_loose(("old", 40), "new", 2_000_000, 2_000_001)  # a delta of a lineage we lack
    assert kept_loose(("b", 40), "a", 0, 40) and not kept_loose(("a", 40), "b", 0, 40)  # a tie: one order


def test_our_own_records_always_apply_so_the_store_can_raise_its_counter() -> None:
    session = opened(FakeSource({"b": ("fresh", 9_000_000)}))
    records = [rec(1, "b", 77)]
    [apply] = session.receive(batch("b", "previous-life", records, 0, 77))
    assert apply == Apply("b", "previous-life", records, 0, 77, hwm=77)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (batch("a", "ea", [rec(1, "c", 4)], 0, 4), f"bad batch message: record {uid(1)} is not from origin a"),
        (batch("a", "ea", [rec(1, "a", 0)], 0, 4), f"bad batch message: record {uid(1)} has no positive originSeq"),
        (batch("a", "ea", [], 5, 4), "bad batch message: to 4 is below from 5"),
        (batch("a", "ea", [], -1, 4), "bad batch message: from must be a non-negative integer"),
        (json.dumps({"t": "batch", "origin": "a"}), "bad batch message: epoch must be a non-empty string"),
    ],
)
def test_malformed_batches_close_the_link(frame: str, reason: str) -> None:
    [close] = opened(FakeSource({})).receive(frame)
    assert close == Close(CloseCode.INVALID_DATA, reason, reason)


def test_other_messages_map_to_commands() -> None:
    session = opened(FakeSource({}))
    assert session.receive(json.dumps({"t": "caught-up"})) == [PeerCaughtUp()]
    assert session.receive(json.dumps({"t": "links", "machines": ["c", "d"]})) == [PeerLinks(frozenset({"c", "d"}))]
    rpc = {"t": "rpc-call", "id": "1", "op": "ping"}
    assert session.receive(json.dumps(rpc)) == [Deliver(rpc)]
    assert session.receive(json.dumps({"t": "from-the-future"})) == [
        Note("ignored unknown message type 'from-the-future' from a")]


# ---- live pushes -------------------------------------------------------------------------------


def test_flush_pushes_the_delta_of_dirty_origins_once() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 2)])
    session = opened(source, {"b": ["eb", 2]})
    assert session.flush() == []
    new = [rec(2, "b", 3), rec(3, "b", 4)]
    source.records += new
    source.marks["b"] = ("eb", 4)
    assert session.committed(new[0]) and session.committed(new[1])
    [push] = batches(session.flush())
    assert (push["from"], push["to"], [r["originSeq"] for r in push["records"]]) == (2, 4, [3, 4])
    assert session.flush() == []  # coalesced: both commits left in one batch


def test_flush_does_not_echo_what_the_peer_just_sent() -> None:
    source = FakeSource({"a": ("ea", 3)})
    session = opened(source, {"a": ["ea", 3]})
    incoming = [rec(1, "a", 4)]
    session.receive(batch("a", "ea", incoming, 3, 4))
    source.records += incoming  # the shell applied it; the store notifies every link
    source.marks["a"] = ("ea", 4)
    session.committed(incoming[0])
    assert session.flush() == []


def test_loose_records_are_relayed_without_a_claim() -> None:
    source = FakeSource({"c": ("new", 2_000_000)})
    session = opened(source, {"c": ["new", 2_000_000]})
    old = [rec(1, "c", 40)]
    assert session.relay_loose(old)
    [push] = batches(session.flush())
    assert push["loose"] is True and (push["from"], push["to"]) == (0, 0) and push["records"] == old


def test_nothing_is_pushed_before_the_link_is_open() -> None:
    source = FakeSource({"a": ("ea", 1)}, [rec(1, "a", 1)])
    session = dialer(source)
    session.start()
    assert not session.committed(rec(1, "a", 1))
    assert session.flush() == []


def test_lag_counts_seqs_in_a_lineage_and_records_across_lineages() -> None:
    source = FakeSource({"b": ("eb", 10), "c": ("ec", 7)}, [rec(1, "c", 5), rec(2, "c", 7)])
    session = opened(source, {"b": ["eb", 10], "c": ["ec", 7]})
    session.peer_known["b"] = ("eb", 4)
    session.peer_known["c"] = ("older", 99)
    assert session.lag() == {"b": 6, "c": 2}


# ---- anti-entropy ------------------------------------------------------------------------------


def probe(session: PeerSession) -> int:
    [message] = sends(session.anti_entropy_due())
    assert message["t"] == "ae"
    return int(message["n"])


def answer(n: int, vector: dict[str, list[Any]]) -> str:
    return json.dumps({"t": "vector", "n": n, "vector": vector})


def pushed_but_lost(source: FakeSource, session: PeerSession, records: list[Record]) -> None:
    """Commit `records` (origin b) and flush them; the caller drops the batch on the floor."""
    source.records += records
    source.marks["b"] = ("eb", max(int(r["originSeq"]) for r in records))
    for record in records:
        session.committed(record)
    assert len(batches(session.flush())) == 1


def test_anti_entropy_is_due_only_on_an_open_link_and_numbers_its_probes() -> None:
    session = dialer(FakeSource({"a": ("ea", 1)}))
    session.start()
    assert session.anti_entropy_due() == []
    session = opened(FakeSource({"b": ("eb", 1)}))
    assert sends(session.anti_entropy_due()) == [{"t": "ae", "n": 1}]
    assert sends(session.anti_entropy_due()) == [{"t": "ae", "n": 2}]


def test_a_probe_is_answered_with_our_vector_and_nothing_else() -> None:
    source = FakeSource({"b": ("eb", 4), "c": ("ec", 9)}, [rec(1, "b", 4)])
    session = opened(source, {"b": ["eb", 2]})
    assert session.receive(json.dumps({"t": "ae", "n": 7})) == [
        Send({"t": "vector", "n": 7, "vector": {"b": ["eb", 4], "c": ["ec", 9]}})]


def test_anti_entropy_sends_nothing_when_nothing_is_missing() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 2)])
    session = opened(source, {"b": ["eb", 2]})
    n = probe(session)
    assert session.receive(answer(n, {"b": ["eb", 2], "a": ["ea", 5]})) == []
    assert session.peer_known["b"] == ("eb", 2)


def test_a_lost_push_is_sent_again_from_the_peers_real_mark() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 2)])
    session = opened(source, {"b": ["eb", 2]})
    pushed_but_lost(source, session, [rec(2, "b", 3), rec(3, "b", 4)])
    assert session.peer_known["b"] == ("eb", 4) and session.lag() == {"b": 0}  # believed delivered
    n = probe(session)
    commands = session.receive(answer(n, {"b": ["eb", 2]}))
    [resend] = batches(commands)
    assert (resend["from"], resend["to"], [r["originSeq"] for r in resend["records"]]) == (2, 4, [3, 4])
    assert isinstance(commands[0], Note) and "anti-entropy" in commands[0].text
    assert session.peer_known["b"] == ("eb", 4)
    assert session.receive(answer(probe(session), {"b": ["eb", 4]})) == []  # healed: quiet again


def test_a_lost_full_send_of_an_origin_the_peer_never_had_is_sent_whole() -> None:
    source = FakeSource({"b": ("eb", 0)})
    session = opened(source, {"b": ["eb", 0]})
    source.marks["c"] = ("ec", 5)
    source.records.append(rec(1, "c", 5))
    session.mark_moved("c")
    assert len(batches(session.flush())) == 1  # lost
    [resend] = batches(session.receive(answer(probe(session), {"b": ["eb", 0]})))
    assert (resend["origin"], resend["from"], resend["to"]) == ("c", 0, 5)


def test_pushes_after_the_probe_are_in_flight_not_lost() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 2)])
    session = opened(source, {"b": ["eb", 2]})
    n = probe(session)
    pushed_but_lost(source, session, [rec(2, "b", 3)])  # not lost: still on its way
    assert session.receive(answer(n, {"b": ["eb", 2]})) == []
    assert session.peer_known["b"] == ("eb", 3)


def test_an_answer_to_a_superseded_or_unsent_probe_is_ignored() -> None:
    source = FakeSource({"b": ("eb", 2)}, [rec(1, "b", 2)])
    session = opened(source, {"b": ["eb", 2]})
    pushed_but_lost(source, session, [rec(2, "b", 3)])
    assert session.receive(answer(1, {"b": ["eb", 2]})) == []  # no probe sent yet
    first = probe(session)
    second = probe(session)  # the first answer was lost; the next round asks again
    assert session.receive(answer(first, {"b": ["eb", 2]})) == []
    assert len(batches(session.receive(answer(second, {"b": ["eb", 2]})))) == 1
    assert session.receive(answer(second, {"b": ["eb", 2]})) == []  # answered once


def test_anti_entropy_leaves_another_lineage_to_the_hello_rules() -> None:
    # The peer keeps a newer lineage of c and took our full send as loose records: not a loss.
    source = FakeSource({"c": ("old", 5)}, [rec(1, "c", 5)])
    session = opened(source, {"c": ["new", 9_000_000]})
    assert session.peer_known["c"] == ("old", 5)  # the catch-up sent the full set
    assert session.receive(answer(probe(session), {"c": ["new", 9_000_000]})) == []
    assert session.peer_known["c"] == ("old", 5)  # later deltas stay loose, no full resends


def test_anti_entropy_sends_the_full_set_again_to_a_peer_left_on_an_older_lineage() -> None:
    # Whatever left it there (a lost full send, a mark replaced by an older lineage's full set):
    # a peer that answers with an older lineage than ours, one our full set replaces, gets it.
    source = FakeSource({"c": ("new", 9_000_001)}, [rec(1, "c", 9_000_001), rec(2, "c", 40)])
    session = opened(source, {"c": ["new", 9_000_001]})
    commands = session.receive(answer(probe(session), {"c": ["old", 40]}))
    [resend] = batches(commands)
    assert (resend["epoch"], resend["from"], resend["to"], len(resend["records"])) == ("new", 0, 9_000_001, 2)
    assert isinstance(commands[0], Note) and "lineage new" in commands[0].text
    assert session.receive(answer(probe(session), {"c": ["new", 9_000_001]})) == []  # healed: quiet again


def test_anti_entropy_learns_what_the_peer_got_elsewhere_and_skips_pushing_it() -> None:
    source = FakeSource({"b": ("eb", 2), "c": ("ec", 3)}, [rec(1, "c", 3)])
    session = opened(source, {"b": ["eb", 2], "c": ["ec", 3]})
    n = probe(session)
    source.records.append(rec(2, "c", 4))
    source.marks["c"] = ("ec", 4)
    assert session.receive(answer(n, {"b": ["eb", 2], "c": ["ec", 4]})) == []  # relayed by another peer
    assert session.committed(source.records[-1])
    assert session.flush() == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (json.dumps({"t": "ae"}), "bad ae message: n must be a non-negative integer"),
        (json.dumps({"t": "vector", "n": 1, "vector": {"b": ["eb"]}}),
         "bad vector message: mark of 'b' must be [epoch, seq]"),
        (json.dumps({"t": "vector", "n": 1}), "bad vector message: vector must be an object"),
    ],
)
def test_malformed_anti_entropy_frames_close_the_link(frame: str, reason: str) -> None:
    [close] = opened(FakeSource({})).receive(frame)
    assert close == Close(CloseCode.INVALID_DATA, reason, reason)


def test_a_peer_sends_back_records_of_ours_inside_the_gaps_we_announce() -> None:
    """A restored store cannot see its lost writes in any mark: it names the seqs it skipped at
    its starts, and a peer holding a record of its origin and epoch inside them returns it."""
    lost = {"uuid": "u-lost", "origin": "a", "machine": "a", "originSeq": 15, "deleted": False}
    kept = {"uuid": "u-kept", "origin": "a", "machine": "a", "originSeq": 5, "deleted": False}
    session = listener(FakeSource({"a": ("ea", 30), "b": ("eb", 3)}, [lost, kept]))
    message = json.loads(hello(vector={"a": ["ea", 30]}))
    message["gaps"] = [[10, 20]]
    commands = session.receive(json.dumps(message))
    loose = [m for m in sends(commands) if m.get("t") == "batch" and m.get("loose")]
    assert [[r["uuid"] for r in m["records"]] for m in loose] == [["u-lost"]]
    assert loose[0]["origin"] == "a" and loose[0]["epoch"] == "ea"
    other_epoch = listener(FakeSource({"a": ("e-old", 30)}, [lost]))
    assert not [m for m in sends(other_epoch.receive(json.dumps(message))) if m.get("loose")]


@pytest.mark.parametrize("gaps", [[[1]], [[1, "2"]], [[-1, 3]], "x", [[1, 2]] * 65])
def test_bad_hello_gaps_close_the_link(gaps: Any) -> None:
    session = listener(FakeSource({"a": ("ea", 7)}))
    message = json.loads(hello())
    message["gaps"] = gaps
    commands = session.receive(json.dumps(message))
    assert any(isinstance(c, Close) and "bad hello gaps" in c.reason for c in commands), commands


def _expanded(commands: list[Command]) -> list[Command]:
    out: list[Command] = []
    for command in commands:
        out += list(command.commands) if isinstance(command, Stream) else [command]
    return out


@pytest.mark.parametrize("shape", ["many", "a-record-too-large", "held-above-the-mark", "only-a-mark", "two-origins"])
def test_a_lazy_catch_up_sends_exactly_what_the_eager_one_does(shape: str) -> None:
    count = BATCH_MAX_RECORDS * 2 + 5
    records = [rec(n, "b", n) for n in range(1, count + 1)]
    marks: Vector = {"b": ("eb", count)}
    if shape == "a-record-too-large":
        records[BATCH_MAX_RECORDS + 3]["summary"] = "x" * (SEND_MAX_RECORD_BYTES + 1)
    elif shape == "held-above-the-mark":
        marks = {"b": ("eb", 10)}
    elif shape == "only-a-mark":
        records = []
    elif shape == "two-origins":
        records += [rec(10_000 + n, "c", n) for n in range(1, 30)]
        marks["c"] = ("ec", 29)
    eager_session, lazy_session = listener(FakeSource(marks, records)), listener(FakeSource(marks, records))
    lazy_session.lazy = True
    eager = eager_session.receive(hello())
    lazy = lazy_session.receive(hello())
    assert any(isinstance(c, Stream) for c in lazy) and not any(isinstance(c, Stream) for c in eager)
    # What the peer is taken to hold is settled when the hello is read, before a batch is encoded.
    assert lazy_session.peer_known == eager_session.peer_known
    taken = _expanded(lazy)  # the stream is taken once, as a link takes it
    assert taken == eager
    # Both come from one generator, so also hold the batches to what a catch-up must be, apart
    # from how it is built: per origin, claims chained from 0 to the mark, every sendable record
    # once and in order, none above the mark's claim, no batch over the record limit.
    for origin, (epoch, hwm) in marks.items():
        batches = [c.message for c in taken if isinstance(c, Send)
                   and c.message["t"] == "batch" and c.message["origin"] == origin]
        assert batches and batches[0]["from"] == 0 and batches[-1]["to"] == hwm
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(batches))
        assert all(m["epoch"] == epoch and m["hwm"] == hwm for m in batches)
        assert all(len(m["records"]) <= BATCH_MAX_RECORDS for m in batches)
        sendable = [r["uuid"] for r in records if _origin_of(r) == origin
                    and len(r.get("summary", "")) <= SEND_MAX_RECORD_BYTES]
        assert [r["uuid"] for m in batches for r in m["records"]] == sendable
        for m in batches:
            assert all(m["from"] < r["originSeq"] for r in m["records"])
            assert all(r["originSeq"] <= m["to"] for r in m["records"] if r["originSeq"] <= hwm)
    notes = [c for c in taken if isinstance(c, Note)]
    assert len(notes) == (1 if shape == "a-record-too-large" else 0), notes


def _origin_of(record: dict[str, Any]) -> str:
    return str(record.get("origin") or record["machine"])


def test_a_lazy_catch_up_sends_the_records_as_they_were_when_the_hello_was_read() -> None:
    records = [rec(n, "b", n) for n in range(1, 4)]
    source = FakeSource({"b": ("eb", 3)}, records)
    session = listener(source)
    session.lazy = True
    [stream] = [c for c in session.receive(hello()) if isinstance(c, Stream)]
    source.records.append(rec(4, "b", 4))  # committed after the hello: the next push carries it
    source.marks["b"] = ("eb", 4)
    sent = [c.message for c in stream.commands if isinstance(c, Send) and c.message["t"] == "batch"]
    assert [r["originSeq"] for m in sent for r in m["records"]] == [1, 2, 3] and sent[-1]["to"] == 3
