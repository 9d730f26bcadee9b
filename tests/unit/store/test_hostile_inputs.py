"""Hostile inputs at every entry: bounded sizes, refused control characters and lone surrogates,
records that cannot travel, and peers claiming our own origin or out-of-range seqs.

The rules are recorded in docs/mesh-protocol.md ("Hostile input").
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesh_mesh.daemon.mesh_link import encode_frame
from sesh_mesh.errors import UsageError
from sesh_mesh.store import mutations, validation
from sesh_mesh.store.record import Record, new_record
from sesh_mesh.store.replication import (
    BATCH_TARGET_BYTES,
    Apply,
    Close,
    CloseCode,
    Note,
    PeerSession,
    Role,
    Send,
    Vector,
)
from sesh_mesh.store.store import Store
from tests.harness import uid

NOW = "2026-11-21T10:00:00Z"
TOKEN = "tok"
HUGE = 2**63 - 1
"""SQLite's largest integer: as a seq it would leave no room for one more local write."""


def fresh(n: int, machine: str = "a", **extra: Any) -> Record:
    return new_record(uuid=uid(n), agent="claude", machine=machine, cwd="/tmp", now=NOW, extra=extra or None)


async def insert(store: Store, n: int, **extra: Any) -> Record:
    record = fresh(n, store.machine, **extra)
    written = await store.write_local(uid(n), lambda current: record if current is None else None)
    assert written is not None
    return written


def refusal(exc: pytest.ExceptionInfo[UsageError]) -> str:
    return exc.value.line()


def name_refused(code: str) -> str:
    return f"sesh: names cannot contain control characters ({code}) (use a single line of printable text)"


def tag_refused(shown: str, code: str) -> str:
    return (f"sesh: bad tag {shown}: tags cannot contain control characters ({code}) "
            "(use letters, digits and punctuation)")


# ---- bounded names, tags, summaries and records; records that cannot travel ---------


async def test_forty_long_tag_calls_cannot_grow_a_record_past_the_frame_limit(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as long_tag:
        mutations.validate("tag", {"tags": ["t" * 100_000]})
    assert refusal(long_tag) == (
        f"sesh: tag {'t' * 40!r}… is 100000 characters long; at most 64 (use a shorter tag)")

    store = await Store.open(tmp_path / "s.sqlite", "a")
    await insert(store, 1)
    refused = None
    for n in range(40):
        try:
            await store.write_local(uid(1), mutations.build("tag", {"tags": [f"{n:02d}" + "x" * 62]}, NOW))
        except UsageError as exc:
            refused = (n, exc.line())
            break
    assert refused == (32, ("sesh: a session can have at most 32 tags; this would give it 33 "
                            "(remove some first: sesh untag <uuid> <tag>…)"))
    record = store.get(uid(1))
    assert record is not None and len(record["tags"]) == 32
    assert validation.record_bytes(record) < validation.RECORD_MAX_BYTES
    await store.close()


async def test_names_summaries_and_whole_records_are_bounded_at_write_time(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as long_name:
        mutations.validate("rename", {"name": "n" * 201})
    assert refusal(long_name) == "sesh: name is 201 characters long; at most 200 (give a shorter name)"
    store = await Store.open(tmp_path / "s.sqlite", "a")
    await insert(store, 1)
    before = store.own_seq
    with pytest.raises(UsageError) as long_summary:
        await store.write_local(uid(1), lambda cur: None if cur is None else {**cur, "summary": "s" * 2001})
    assert refusal(long_summary) == "sesh: summary is 2001 characters long; at most 2000 (give a shorter summary)"
    with pytest.raises(UsageError) as big:
        await store.write_local(uid(1), lambda cur: None if cur is None else {**cur, "cwd": "/" + "d" * 70_000})
    assert refusal(big).startswith(f"sesh: session {uid(1)} would take ")
    assert refusal(big).endswith(" bytes; a record may take at most 65536 (shorten its name, tags or summary)")
    assert store.own_seq == before
    await store.close()


async def test_a_record_stored_before_the_bounds_can_still_shrink(tmp_path: Path) -> None:
    # 40 tags and a long name, as an older sesh could write them; applied as a peer's record.
    store = await Store.open(tmp_path / "s.sqlite", "a")
    legacy = {**fresh(1, "b"), "origin": "b", "originSeq": 5, "name": "n" * 500,
              "tags": [f"t{n}" for n in range(40)]}
    await store.apply_remote("b", "eb", [legacy], 0, 5)
    untag = mutations.build("untag", {"tags": ["t0"]}, NOW)
    assert untag(store.get(uid(1))) is not None
    # At its owner the same record takes an untag (fewer tags), and a state write that leaves
    # the name alone, even though both stay over today's bounds.
    owner = await Store.open(tmp_path / "b.sqlite", "b")
    await owner.apply_remote("c", "ec", [{**legacy, "origin": "c", "originSeq": 1}], 0, 1)
    written = await owner.write_local(uid(1), untag)
    assert written is not None and len(written["tags"]) == 39
    busy = await owner.write_local(uid(1), lambda cur: None if cur is None else {**cur, "turnStatus": "busy"})
    assert busy is not None and busy["name"] == "n" * 500
    await store.close()
    await owner.close()


class Held:
    """A store's read side holding records an older sesh could have written (no bounds)."""

    recovering = False

    def __init__(self, marks: Vector, records: list[Record]) -> None:
        self.marks, self.records = marks, records

    def vector(self) -> Vector:
        return dict(self.marks)

    def own_gaps(self) -> list[tuple[int, int]]:
        return []

    def changes_since(self, origin: str, after_seq: int, limit: int | None = None) -> list[Record]:
        found = [r for r in self.records if r["origin"] == origin and r["originSeq"] > after_seq]
        return sorted(found, key=lambda r: int(r["originSeq"]))


def held(n: int, seq: int, **extra: Any) -> Record:
    return {**fresh(n, "a", **extra), "origin": "a", "originSeq": seq}


def opened(source: Held) -> tuple[PeerSession, list[Any]]:
    session = PeerSession("a", source, Role.LISTENER, tokens=lambda name: TOKEN)
    session.start()
    hello = {"t": "hello", "proto": 1, "machine": "b", "token": TOKEN, "epoch": "eb", "vector": {}}
    return session, session.receive(json.dumps(hello))


def batch_frames(commands: list[Any]) -> list[dict[str, Any]]:
    return [c.message for c in commands if isinstance(c, Send) and c.message["t"] == "batch"]


def test_a_record_too_large_to_send_is_left_out_and_the_stream_goes_on() -> None:
    too_big = held(2, 2, summary="x" * (5 * 1024 * 1024))
    source = Held({"a": ("ea", 3)}, [held(1, 1), too_big, held(3, 3, name="after")])
    _, commands = opened(source)
    [frame] = batch_frames(commands)
    assert [r["uuid"] for r in frame["records"]] == [uid(1), uid(3)]
    assert (frame["from"], frame["to"]) == (0, 3)  # the claim covers it: later writes still move
    notes = [c.text for c in commands if isinstance(c, Note)]
    size = validation.record_bytes(too_big)
    assert notes == [(f"not sent to b: record {uid(2)} of a (seq 2) takes {size} bytes, over the 1048576 a "
                      "record may send; shrink it at its owner (sesh untag, sesh rename)")]


def test_batches_are_split_by_encoded_bytes_not_characters() -> None:
    # Three-byte characters: 80 Ki characters are 240 KiB on the wire.
    records = [held(n, n, summary="\u4e2d" * 80_000) for n in range(1, 5)]
    _, commands = opened(Held({"a": ("ea", 4)}, records))
    frames = batch_frames(commands)
    assert [len(f["records"]) for f in frames] == [1, 1, 1, 1]
    for frame in frames:
        assert len(encode_frame(frame).encode("utf-8")) < BATCH_TARGET_BYTES + 1024
    assert [(f["from"], f["to"]) for f in frames] == [(0, 1), (1, 2), (2, 3), (3, 4)]


# ---- lone surrogates: refused at every local entry, sanitised from peers ---------


async def test_a_lone_surrogate_is_refused_before_anything_is_committed(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as name:
        mutations.validate("rename", {"name": "bad\ud800"})
    assert refusal(name) == name_refused("U+D800")
    with pytest.raises(UsageError) as tag:
        mutations.validate("tag", {"tags": ["x\udfff"]})
    assert refusal(tag) == ("sesh: bad tag 'x\\udfff': tags cannot contain control characters (U+DFFF) "
                            "(use letters, digits and punctuation)")
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    before = store.own_seq
    with pytest.raises(UsageError) as cwd:
        await insert(store, 1, cwd="/tmp/\ud800")
    assert refusal(cwd) == (f"sesh: cwd of session {uid(1)} is not valid Unicode text (a lone surrogate) "
                            "(give it as UTF-8 text)")
    with pytest.raises(UsageError):  # a hand-built mutation, bypassing mutations.validate
        await insert(store, 2, name="\ud800")
    assert store.own_seq == before and store.records == {}
    await store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    db.close()


async def test_a_peer_record_with_surrogates_and_escapes_is_stored_sanitised(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    frame = ('{"t":"batch","origin":"b","epoch":"eb","hwm":1,"from":0,"to":1,"records":[{"uuid":"' + uid(1) +
             '","machine":"b","origin":"b","originSeq":1,"agent":"claude","name":"\\ud800\\u001b]52;c;aGk=\\u0007",'
             '"tags":["ok","\\u001b[2J"],"cwd":"/tmp/\\udfff","tmux":{"\\ud801":1}}]}')
    session = PeerSession("a", store, Role.LISTENER, tokens=lambda name: TOKEN)
    session.start()
    session.receive(json.dumps({"t": "hello", "proto": 1, "machine": "b", "token": TOKEN, "epoch": "eb",
                                "vector": {}}))
    [apply] = [c for c in session.receive(frame) if isinstance(c, Apply)]
    await store.apply_remote(apply.origin, apply.epoch, apply.records, apply.from_seq, apply.to_seq)
    stored = store.get(uid(1))
    assert stored is not None
    assert stored["name"] == "\ufffd\ufffd]52;c;aGk=\ufffd"
    assert stored["tags"] == ["ok", "\ufffd[2J"]
    assert stored["cwd"] == "/tmp/\ufffd" and stored["tmux"] == {"\ufffd": 1}
    json.dumps(stored, ensure_ascii=False).encode("utf-8")  # every reply that holds it can be sent
    assert store.vector()["b"] == ("eb", 1)
    await store.close()


async def test_a_peer_uuid_with_a_lone_surrogate_is_held_under_its_sanitised_uuid(tmp_path: Path) -> None:
    """The uuid keys the record in memory and on disk: both must be the sanitised one, before and
    after a restart, and a second version from the peer replaces the first instead of joining it."""
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    raw = {"uuid": "u\ud800x", "origin": "b", "machine": "b", "originSeq": 1, "deleted": False, "name": "one"}
    await store.apply_remote("b", "eb", [raw], 0, 1)
    assert {key: record["uuid"] for key, record in store.records.items()} == {"u\ufffdx": "u\ufffdx"}
    await store.apply_remote("b", "eb", [{**raw, "originSeq": 2, "name": "two"}], 1, 2)
    assert [r["name"] for r in store.records.values()] == ["two"]
    await store.close()
    store = await Store.open(path, "a")
    assert {key: record["name"] for key, record in store.records.items()} == {"u\ufffdx": "two"}
    await store.close()


async def test_a_record_stored_with_a_surrogate_before_the_checks_is_served_sanitised(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    await insert(store, 1, name="fine")
    await store.close()
    db = sqlite3.connect(path)  # what an older sesh committed for `rename <uuid> $'\ud800'`
    body = json.dumps({**fresh(1), "originSeq": 1, "name": "\ud800", "tags": ["\x1b[5m"]})
    db.execute("UPDATE records SET body = ?", (body,))
    db.commit()
    db.close()
    store = await Store.open(path, "a")
    record = store.get(uid(1))
    assert record is not None and record["name"] == "\ufffd" and record["tags"] == ["\ufffd[5m"]
    json.dumps(record, ensure_ascii=False).encode("utf-8")
    renamed = await store.write_local(uid(1), mutations.build("rename", {"name": "repaired"}, NOW))
    assert renamed is not None and renamed["tags"] == ["\ufffd[5m"]
    await store.close()


def test_the_link_writer_never_dies_on_text_utf8_cannot_carry() -> None:
    text = encode_frame({"t": "rpc-reply", "id": "1", "data": "x\ud800"})
    text.encode("utf-8")
    assert json.loads(text)["data"] == "x\ud800"


# ---- terminal escapes in names and tags; import uses the API's checks ------------


@pytest.mark.parametrize(
    ("op", "args", "line"),
    [
        ("rename", {"name": "evil\x1b[31m"}, name_refused("U+001B")),
        ("rename", {"name": "one\rtwo"}, name_refused("U+000D")),
        ("rename", {"name": "x\u202egnp.exe"}, name_refused("U+202E")),
        ("tag", {"tags": ["\x1b]52;c;aGk=\x07"]}, tag_refused("'\\x1b]52;c;aGk=\\x07'", "U+001B")),
        ("tag", {"tags": ["csi\x9b2J"]}, tag_refused("'csi\\x9b2J'", "U+009B")),
        ("retag", {"pairs": ["a=b\x07"]}, tag_refused("'b\\x07'", "U+0007")),
    ],
)
def test_control_characters_in_names_and_tags_are_refused(op: str, args: dict[str, Any], line: str) -> None:
    with pytest.raises(UsageError) as exc:
        mutations.validate(op, args)
    assert exc.value.line() == line


def test_import_uses_the_api_checks_and_a_string_tags_value_is_one_tag() -> None:
    entry: dict[str, Any] = {"uuid": uid(1), "agent": "claude", "cwd": "/tmp", "tags": "wip"}
    assert validation.from_legacy(entry, "a", NOW)["tags"] == ["wip"]
    cases = [
        ({**entry, "name": "evil\x1b[2J"}, "names cannot contain control characters (U+001B)"),
        ({**entry, "tags": ["ok", "\x1b]52;c;aGk=\x07"]},
         "bad tag '\\x1b]52;c;aGk=\\x07': tags cannot contain control characters (U+001B)"),
        ({**entry, "tags": "two words"}, "bad tag 'two words': tags cannot contain whitespace"),
        ({**entry, "tags": [f"t{n}" for n in range(33)]}, "a session can have at most 32 tags; this would give it 33"),
        ({**entry, "summary": "s\ud800"}, "summary is not valid Unicode text (a lone surrogate)"),
        ({**entry, "cwd": "/tmp/\ud800"}, f"cwd of session {uid(1)} is not valid Unicode text (a lone surrogate)"),
        ({**entry, "archived": "yes"}, "archived must be bool, not str"),
        ("not a record", "a JSON str, not an object"),
    ]
    for bad, what in cases:
        with pytest.raises(UsageError) as exc:
            validation.from_legacy(bad, "a", NOW)
        assert exc.value.what == what


# ---- a peer claiming our own origin, or seqs out of range ------------------------


async def test_our_own_origin_from_a_peer_is_ignored_outside_the_recovery_window(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    assert store.recovering
    mine = await insert(store, 1, name="mine")
    await store.end_recovery()
    await store.close()
    store = await Store.open(path, "a")
    assert not store.recovering  # closed for good, across restarts
    top = store.own_seq
    forged = {**mine, "name": "pwned", "originSeq": top + 5}
    planted = {**fresh(2), "originSeq": top + 6}
    assert await store.apply_remote("a", "other", [forged, planted], 0, validation.MAX_SEQ) == []
    assert (store.get(uid(1)) or {})["name"] == "mine" and store.get(uid(2)) is None
    assert store.own_seq == top
    await store.close()


async def test_in_the_recovery_window_a_peer_never_replaces_a_write_made_here(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    mine = await insert(store, 1, name="mine")
    old_life = {**fresh(2, name="old"), "originSeq": 7}  # below the counter this store began at
    forged = {**mine, "name": "pwned", "originSeq": mine["originSeq"] + 1}
    changed = await store.apply_remote("a", "previous-life", [old_life, forged], 0, 7)
    assert [r["uuid"] for r in changed] == [uid(2)]
    assert (store.get(uid(1)) or {})["name"] == "mine"
    await store.close()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("to", HUGE, f"bad batch message: to {HUGE} is out of range (at most {validation.MAX_SEQ})"),
        ("to", 2**64, f"bad batch message: to {2**64} is out of range (at most {validation.MAX_SEQ})"),
        ("hwm", HUGE, f"bad batch message: hwm {HUGE} is out of range (at most {validation.MAX_SEQ})"),
        ("originSeq", HUGE,
         f"bad batch message: record {uid(1)} has originSeq out of range (above {validation.MAX_SEQ})"),
    ],
)
def test_out_of_range_seqs_and_marks_refuse_the_batch_and_close_the_link(field: str, value: int, reason: str) -> None:
    session, _ = opened(Held({"a": ("ea", 1)}, []))
    record = {**fresh(1, "a"), "originSeq": value if field == "originSeq" else 1}
    message = {"t": "batch", "origin": "a", "epoch": "x", "hwm": 1, "from": 0, "to": 1, "records": [record]}
    if field != "originSeq":
        message[field] = value
    assert session.receive(json.dumps(message)) == [Close(CloseCode.INVALID_DATA, reason, reason)]


def test_an_out_of_range_mark_in_a_hello_or_probe_answer_closes_the_link() -> None:
    session = PeerSession("a", Held({}, []), Role.LISTENER, tokens=lambda name: TOKEN)
    session.start()
    hello = {"t": "hello", "proto": 1, "machine": "b", "token": TOKEN, "epoch": "eb", "vector": {"a": ["e", HUGE]}}
    reason = f"bad hello vector: mark of 'a' is out of range (at most {validation.MAX_SEQ})"
    assert session.receive(json.dumps(hello)) == [Close(CloseCode.INVALID_DATA, reason, reason)]
    session, _ = opened(Held({}, []))
    [close] = session.receive(json.dumps({"t": "ae", "n": HUGE}))
    assert isinstance(close, Close) and close.code == CloseCode.INVALID_DATA


async def test_a_huge_seq_in_the_recovery_window_cannot_brick_the_counter(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    with pytest.raises(ValueError, match="out of range"):
        await store.apply_remote("a", "previous-life", [{**fresh(1), "originSeq": HUGE}], 0, HUGE)
    with pytest.raises(ValueError, match="out of range"):
        await store.apply_remote("b", "eb", [], 0, HUGE)
    # The largest seq the wire allows still leaves room for every write there will ever be.
    top = {**fresh(2), "originSeq": validation.MAX_SEQ}
    await store.apply_remote("a", "previous-life", [top], 0, validation.MAX_SEQ)
    await store.close()
    store = await Store.open(path, "a")
    written = await insert(store, 3)
    assert written["originSeq"] == validation.MAX_SEQ + 1
    await store.close()


_TEXT = st.text(alphabet=st.sampled_from(["a", "\\", '"', "\u00e9", "\ud800", "\udfff", "\x1b", "\x7f", "\u202e",
                                           "\u2028", "\U0001f680"]) | st.characters(blacklist_categories=()),
                max_size=8)
"""Text drawn often from the characters that matter (lone surrogate halves, controls, a bidi
override, a line separator, an emoji that JSON escapes as a valid pair, a backslash and a quote
that JSON escapes although nothing is wrong with them) and sometimes from all."""
_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                      max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(name=_TEXT | st.integers(), tags=st.none() | _TEXT | st.lists(_TEXT | st.integers(), max_size=3),
       extra=st.dictionaries(_TEXT, _VALUE, max_size=3))
def test_the_fast_sanitising_check_agrees_with_the_sanitiser(name: Any, tags: Any, extra: dict[str, Any]) -> None:
    """The store keeps a peer's record as decoded when `needs_sanitizing` says so: it must never
    miss a record the full sanitiser would change (a lone surrogate anywhere, a control
    character in a name or tag, tags that are not a list of strings)."""
    record: dict[str, Any] = {**extra, "uuid": uid(1), "machine": "b", "name": name}
    if tags is not None:
        record["tags"] = tags
    as_json = json.dumps(record, separators=(",", ":"))
    assert validation.needs_sanitizing(record, as_json) == (validation.sanitize_remote(record) != record)


def test_a_valid_emoji_pair_needs_nothing_and_a_lone_half_in_a_nested_key_is_found() -> None:
    emoji = {"uuid": uid(1), "name": "ship \U0001f680", "tags": ["ok"]}
    assert not validation.needs_sanitizing(emoji, json.dumps(emoji))
    nested = {"uuid": uid(1), "tmux": {"deep": {"\ud801": 1}}}
    assert validation.needs_sanitizing(nested, json.dumps(nested))
