"""Sans-I/O replication session with one peer: frames in, commands out. No sockets, no clock.

Protocol version 1: one JSON object per websocket text frame; key `t` names the message.

  hello      {t, proto, machine, token, epoch, vector: {origin: [epoch, max_seq]}, gaps, recovering}
             The dialer sends it first. The listener answers with its own hello only after the
             dialer's token checked out (constant-time compare); nothing else is accepted or
             sent before that. The listener's answer carries the same token, proving it to the
             dialer. A peer announcing this machine's own name is refused. `gaps` are the seqs
             the sender's counter skipped; `recovering` asks for every record of the sender's
             own origin the receiver holds (docs/mesh-protocol.md, Epochs).
  batch      {t, origin, epoch, hwm, from, to, records, loose?}
             Records whose latest write came from `origin`, ascending originSeq. The sender
             vouches that they, with everything of `origin` up to `from`, are everything up to
             `to` in lineage `epoch`; `hwm` is the sender's own mark for `origin`. A `loose`
             batch makes no such claim: it relays records of another lineage of `origin`
             (a store that was reset) so that nothing held anywhere is lost.
  caught-up  {t}: the sender has sent everything it held when the session opened.
  links      {t, machines}: the machines the sender has a live link to (staleness, routing).
  ae         {t, n}: anti-entropy probe: "send me your vector"; `n` numbers the probes of a link.
  vector     {t, n, vector}: the answer to probe `n`, the answerer's marks after applying every
             frame that came before the probe (frames are applied in order).
  rpc-*      forwarded calls; handed to the shell untouched (daemon/mesh_rpc.py).

After the hellos each side sends, for every origin it holds, what the other lacks: the delta
after the peer's mark when both know the origin in the same lineage (epoch), else the full set
(any doubt: full resend, never a wrong delta). Then it pushes live: every committed record marks
its origin dirty, and `flush()` sends the delta after what the peer is known to hold, so bursts
coalesce into one batch per origin.

Anti-entropy: a pushed batch counts as held by the peer once sent, so a push lost while the link
stays up (a bug, a meddling middlebox) would leave the peer behind until the next reconnect.
Each side therefore probes on a timer (`anti_entropy_due()`, the shell's clock) and remembers
what it believed the peer held at that moment. The answer shows what the peer really holds once
everything sent before the probe has arrived; where it is behind that belief in the same
lineage, the lost part is sent again, exactly like the catch-up after a hello. Pushes sent after
the probe are still in flight and never count as lost, so nothing is sent when nothing is
missing: an idle link costs one small probe and one vector per side per interval.
"""

from __future__ import annotations

import hmac
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Protocol

from sesh_mesh import wire
from sesh_mesh.store.merge import kept_loose
from sesh_mesh.store.record import Record
from sesh_mesh.store.validation import MAX_SEQ

PROTO_VERSION = 1
"""Mesh protocol spoken here. Newer peers must keep speaking it: fields are additive."""

BATCH_TARGET_BYTES = 256 * 1024
"""A batch frame closes at about this many UTF-8 bytes: far below the frame limit, and large
enough that a 10,000-record catch-up is a few dozen frames (one store transaction each)."""

SEND_MAX_RECORD_BYTES = 1024 * 1024
"""A record larger than this is never sent, which keeps every batch frame well under the 4 MiB
frame limit (a frame over it closes the link on every attempt). Writes are bounded far below
(`validation.RECORD_MAX_BYTES`), so only a record stored before that bound can be this large."""

BATCH_MAX_RECORDS = 1000
"""Also bound the records per batch, so one transaction on the receiver stays short."""

MACHINE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")

Vector = dict[str, tuple[str, int]]
"""origin → (epoch, max_seq): the high-water marks of a store."""


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007
    POLICY = 1008
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    AUTH_FAILED = 4001
    WRONG_PEER = 4002
    PROTO_UNSUPPORTED = 4003
    DUPLICATE_LINK = 4004
    PEER_REMOVED = 4005
    EPOCH_CHANGED = 4006
    """This side moved to a new epoch on seeing the peer's hello (its store was restored from an
    old copy); the reconnect's hellos resend what each side lacks under the new lineage."""


FATAL_CODES = frozenset({CloseCode.AUTH_FAILED, CloseCode.WRONG_PEER, CloseCode.PROTO_UNSUPPORTED})
"""Closes that retrying cannot fix; the dialer shows them and retries only slowly."""


class Role(Enum):
    DIALER = "dialer"
    LISTENER = "listener"


class Source(Protocol):
    """What the session reads from the local store (the Store satisfies it)."""

    def vector(self) -> Vector: ...

    def changes_since(self, origin: str, after_seq: int, limit: int | None = None) -> list[Record]: ...

    def own_gaps(self) -> list[tuple[int, int]]:
        """(below, above) ranges of our own counter, in our current epoch, that we never issued
        (the jumps at each start)."""
        ...

    @property
    def recovering(self) -> bool:
        """The reset-recovery window is open: we want back every record of our own origin."""
        ...


# ---- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    message: dict[str, Any]


@dataclass(frozen=True)
class Apply:
    """Apply a batch to the store (`Store.apply_batch`), with its claim as it came.

    Whether a batch of another lineage replaces the mark or is kept loose is the store's call,
    made under its lock against the mark at that moment (`merge.kept_loose`): another link may
    apply a batch of the same origin between this one being read and being applied. Records
    the store keeps loose are relayed onwards as loose ones."""

    origin: str
    epoch: str
    records: list[Record]
    from_seq: int
    to_seq: int
    loose: bool = False
    """The sender marked the batch loose: it makes no claim, and never moves a mark."""
    hwm: int | None = None
    """The sender's own mark for `origin` (None: `to_seq`)."""


@dataclass(frozen=True)
class Close:
    code: int
    reason: str
    """Sent to the peer (short: a close frame holds at most 123 bytes)."""
    detail: str = ""
    """For our own log and status only (may name what the peer got wrong)."""
    fatal: bool = False


@dataclass(frozen=True)
class Authenticated:
    peer: str


@dataclass(frozen=True)
class PeerCaughtUp:
    pass


@dataclass(frozen=True)
class PeerLinks:
    machines: frozenset[str]


@dataclass(frozen=True)
class Deliver:
    """An rpc-* frame for the forwarding layer."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Note:
    """Something worth a log line that is not an error (an unknown message type)."""

    text: str


@dataclass(frozen=True)
class Stream:
    """Commands made one at a time as they are taken (a lazy catch-up, see `PeerSession.lazy`):
    the link executes each before it takes the next, so that its writer sends the first batches
    while the later ones are still being encoded."""

    commands: Iterator[Command]


Command = Send | Apply | Close | Authenticated | PeerCaughtUp | PeerLinks | Deliver | Note | Stream


class BadMessage(ValueError):
    pass


# ---- the session --------------------------------------------------------------------------


@dataclass
class PeerSession:
    """One link's protocol state. `start()` once, then `receive()` each frame, `flush()` pushes."""

    machine: str
    source: Source
    role: Role
    expected_peer: str | None = None
    """Dialer: the machine the address belongs to."""
    token: str | None = None
    """Dialer: the shared token for `expected_peer`."""
    tokens: Callable[[str], str | None] | None = None
    """Listener: the token configured for a claimed machine name, or None when unknown."""
    lazy: bool = False
    """The hello's catch-up comes as one `Stream` whose batches are encoded as they are taken.
    Which records it sends, and what the peer is taken to hold, is settled when the hello is
    read, exactly as for the eager list (records are never changed in place, only replaced)."""

    peer: str | None = None
    state: str = "new"
    peer_known: Vector = field(default_factory=dict)
    """What the peer holds per origin, as far as we know (its hello, our sends, its batches)."""
    peer_acked: Vector = field(default_factory=dict)
    """What the peer itself reported holding (hello, anti-entropy answers, batch marks), never
    what we only sent: tombstone GC (store/gc.py) trusts this alone."""
    hello_vector: Vector = field(default_factory=dict)
    """The peer's vector as its hello announced it (`peer_known` moves on with every send)."""
    peer_caught_up: bool = False
    asked_own_back: bool = False
    """Our hello said our recovery window is open (`recovering`)."""
    peer_recovering: bool = False
    """The peer's hello said its recovery window is open: our catch-up sends it every record of
    its own origin we hold, whatever our mark for it says (docs/mesh-protocol.md, Epochs)."""
    _dirty: set[str] = field(default_factory=set)
    _loose: dict[str, dict[str, Record]] = field(default_factory=dict)
    _probe: int = 0
    """Number of the last anti-entropy probe sent on this link."""
    _probe_known: Vector | None = None
    """`peer_known` when that probe left: what the peer must hold once it has read that far."""

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> list[Command]:
        if self.role is Role.DIALER:
            if not self.expected_peer or not self.token:
                raise ValueError("a dialing session needs the expected peer and its token")
            self.state = "hello-sent"
            return [Send(self._hello(self.token))]
        self.state = "awaiting-hello"
        return []

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def receive(self, frame: str | bytes) -> list[Command]:
        if self.state == "closed":
            return []
        try:
            message = _decode(frame)
        except BadMessage as exc:
            return self._close(CloseCode.INVALID_DATA, f"garbage frame: {exc}")
        kind = message.get("t")
        if self.state != "open":
            if kind != "hello":
                return self._close(CloseCode.POLICY, f"expected hello before anything else, got {kind!r}")
            return self._on_hello(message)
        try:
            if kind == "batch":
                return self._on_batch(message)
            if kind == "caught-up":
                self.peer_caught_up = True
                return [PeerCaughtUp()]
            if kind == "links":
                return [PeerLinks(frozenset(_names(message.get("machines"))))]
            if kind == "ae":
                return [Send({"t": "vector", "n": _count(message, "n"), "vector": _wire_vector(self.source.vector())})]
            if kind == "vector":
                return self._on_vector(_count(message, "n"), _vector(message.get("vector")))
            if isinstance(kind, str) and kind.startswith("rpc-"):
                return [Deliver(message)]
            if kind == "hello":
                return self._close(CloseCode.PROTOCOL_ERROR, "second hello on an open link")
        except BadMessage as exc:
            return self._close(CloseCode.INVALID_DATA, f"bad {kind} message: {exc}")
        # Mixed-mesh safety: a newer peer may send message types we do not know yet.
        return [Note(f"ignored unknown message type {kind!r} from {self.peer}")]

    # ---- live pushes ---------------------------------------------------------------------

    def committed(self, record: Record) -> bool:
        """A record was committed to the local store; returns True when a flush has work."""
        return self.mark_moved(_origin(record))

    def mark_moved(self, origin: str) -> bool:
        """Our mark for `origin` moved (also by a batch without records, which commits none)."""
        self._dirty.add(origin)
        return self.is_open

    def relay_loose(self, records: list[Record]) -> bool:
        """Records of another lineage of their origin, to pass on without a mark claim."""
        for record in records:
            self._loose.setdefault(_origin(record), {})[record["uuid"]] = record
        return self.is_open and bool(records)

    @property
    def has_work(self) -> bool:
        return self.is_open and bool(self._dirty or self._loose)

    def flush(self) -> list[Command]:
        """Sends for everything committed since the last flush that the peer lacks."""
        if not self.is_open:
            return []
        ours = self.source.vector()
        commands: list[Command] = []
        dirty, self._dirty = self._dirty, set()
        for origin in sorted(dirty):
            if origin in ours:
                commands += self._send_origin(origin, ours[origin])
        loose, self._loose = self._loose, {}
        for origin, by_uuid in sorted(loose.items()):
            records = sorted(by_uuid.values(), key=_seq)
            epoch = ours.get(origin, ("", 0))[0]
            chunks, skipped = _chunks(records)
            commands += self._unsendable(skipped)
            for chunk in chunks:
                commands.append(Send(_batch(origin, epoch, ours.get(origin, ("", 0))[1], 0, 0, chunk, loose=True)))
        return commands

    def anti_entropy_due(self) -> list[Command]:
        """The periodic anti-entropy exchange is due: probe the peer for its vector.

        A probe still unanswered is superseded (its answer will be ignored): one lost answer
        must not stop the exchange for good.
        """
        if not self.is_open:
            return []
        self._probe += 1
        self._probe_known = dict(self.peer_known)
        return [Send({"t": "ae", "n": self._probe})]

    def links_message(self, machines: set[str]) -> list[Send]:
        return [Send({"t": "links", "machines": sorted(machines)})] if self.is_open else []

    def lag(self) -> dict[str, int]:
        """Per origin, how far the peer is behind us as far as we know (0 = caught up).

        Within one lineage it is the difference in seqs (one per write); when the peer knows
        another lineage (or none) of an origin, it is the number of records a full send holds.
        """
        return lag(self.source, self.peer_known)

    # ---- handshake -----------------------------------------------------------------------

    def _hello(self, token: str) -> dict[str, Any]:
        vector = self.source.vector()
        epoch = vector[self.machine][0] if self.machine in vector else ""
        self.asked_own_back = bool(self.source.recovering)
        return {
            "t": "hello",
            "proto": PROTO_VERSION,
            "machine": self.machine,
            "token": token,
            "epoch": epoch,
            "vector": _wire_vector(vector),
            # Seqs we never issued: a peer holding a record of ours inside one proves this store
            # was restored from an old copy (docs/mesh-protocol.md, Epochs), and sends it back.
            "gaps": [[below, above] for below, above in self.source.own_gaps()[-MAX_HELLO_GAPS:]],
            # "Send me everything of mine you hold": our marks cannot tell which records of ours
            # of an older lineage a peer holds once its mark for us is in our new lineage.
            "recovering": self.asked_own_back,
        }

    def _on_hello(self, message: dict[str, Any]) -> list[Command]:
        proto = message.get("proto")
        if not isinstance(proto, int) or isinstance(proto, bool):
            return self._close(CloseCode.PROTOCOL_ERROR, "hello without a protocol version")
        if proto < PROTO_VERSION:
            return self._close(
                CloseCode.PROTO_UNSUPPORTED,
                f"mesh protocol {proto} is too old; this daemon speaks {PROTO_VERSION} (upgrade sesh)",
                fatal=True,
            )
        claimed = message.get("machine")
        if not isinstance(claimed, str) or not MACHINE_NAME_RE.match(claimed):
            return self._close(CloseCode.PROTOCOL_ERROR, "hello without a valid machine name")
        if claimed == self.machine:
            return self._close(
                CloseCode.WRONG_PEER,
                f"peer claims to be this machine ({claimed!r})",
                detail="two daemons share one machine name; give each machine its own SESH_MACHINE",
                fatal=True,
            )
        token = message.get("token")
        if self.role is Role.LISTENER:
            expected = self.tokens(claimed) if self.tokens else None
            if not isinstance(token, str) or not token:
                return self._auth_failed(f"machine {claimed!r} sent no token")
            if expected is None:
                return self._auth_failed(f"no peer named {claimed!r} in peers.json")
            if not hmac.compare_digest(token.encode(), expected.encode()):
                return self._auth_failed(f"machine {claimed!r} sent a wrong token")
        else:
            assert self.token is not None
            if claimed != self.expected_peer:
                return self._close(
                    CloseCode.WRONG_PEER,
                    f"the daemon at this address is {claimed!r}, not {self.expected_peer!r}",
                    fatal=True,
                )
            if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
                return self._close(CloseCode.AUTH_FAILED, f"{claimed!r} answered with another token", fatal=True)
        try:
            self.peer_known = _vector(message.get("vector"))
        except BadMessage as exc:
            return self._close(CloseCode.INVALID_DATA, f"bad hello vector: {exc}")
        try:
            gaps = _gaps(message.get("gaps"))
        except BadMessage as exc:
            return self._close(CloseCode.INVALID_DATA, f"bad hello gaps: {exc}")
        self.hello_vector = dict(self.peer_known)
        self.peer_acked = dict(self.peer_known)
        self.peer = claimed
        self.peer_recovering = message.get("recovering") is True
        commands: list[Command] = [Authenticated(claimed)]
        if self.role is Role.LISTENER:
            assert isinstance(token, str)
            commands.append(Send(self._hello(token)))
        self.state = "open"
        peer_epoch = message.get("epoch")
        return commands + self._catch_up() + self._inside_gaps(claimed, peer_epoch, gaps)

    def _inside_gaps(self, peer: str, epoch: object, gaps: list[tuple[int, int]]) -> list[Command]:
        """Records of the peer's own origin we hold with seqs its counter never issued: the peer
        lost them (a restore) and cannot know it. Sent back loose; it detects the restore."""
        ours = self.source.vector().get(peer)
        if not gaps or ours is None or ours[0] != epoch:
            return []
        held = [r for r in self.source.changes_since(peer, 0) if any(b < _seq(r) < a for b, a in gaps)]
        if not held:
            return []
        chunks, skipped = _chunks(sorted(held, key=_seq))
        commands: list[Command] = self._unsendable(skipped)
        for chunk in chunks:
            commands.append(Send(_batch(peer, ours[0], ours[1], 0, 0, chunk, loose=True)))
        return commands

    def _auth_failed(self, detail: str) -> list[Command]:
        # The wire reason stays generic: an unauthenticated caller learns nothing about names.
        return self._close(
            CloseCode.AUTH_FAILED,
            "authentication failed (check the peer name and token on both machines)",
            detail=detail,
            fatal=True,
        )

    def _close(self, code: int, reason: str, *, detail: str = "", fatal: bool = False) -> list[Command]:
        self.state = "closed"
        return [Close(code, reason, detail or reason, fatal)]

    # ---- replication ---------------------------------------------------------------------

    def _catch_up(self) -> list[Command]:
        ours = self.source.vector()
        parts: list[Iterable[Command]] = []
        for origin in sorted(ours):
            known = self.peer_known.get(origin)
            full = known is None or known[0] != ours[origin][0]
            parts.append(self._origin_commands(origin, ours[origin]))
            if origin == self.peer and self.peer_recovering and not full:
                parts.append(self._own_records_back(origin, ours[origin]))
        # The snapshot above covers every commit so far.
        self._dirty.clear()
        parts.append([Send({"t": "caught-up"})])
        if self.lazy:
            return [Stream(itertools.chain.from_iterable(parts))]
        return [command for part in parts for command in part]

    def _own_records_back(self, peer: str, mark: tuple[str, int]) -> list[Command]:
        """Every record of the recovering peer's own origin we hold, loose: our mark for it is
        already in its new lineage (a third machine passed that on), so the delta after it
        would leave out the versions of its older lineages that only we may still hold."""
        chunks, skipped = _chunks(self.source.changes_since(peer, 0))
        commands: list[Command] = self._unsendable(skipped)
        for chunk in chunks:
            commands.append(Send(_batch(peer, mark[0], mark[1], 0, 0, chunk, loose=True)))
        return commands

    def _send_origin(self, origin: str, mark: tuple[str, int]) -> list[Command]:
        return list(self._origin_commands(origin, mark))

    def _origin_commands(self, origin: str, mark: tuple[str, int]) -> Iterator[Command]:
        """The batches that bring the peer up to `mark` for `origin`. What to send and what the
        peer then holds (`peer_known`) are settled now; the batches are encoded as they are taken."""
        epoch, hwm = mark
        known = self.peer_known.get(origin)
        if known is not None and known[0] == epoch:
            if known[1] >= hwm:
                return iter(())
            after = known[1]
        else:
            after = 0  # another lineage, or unknown to the peer: the full set
        records = self.source.changes_since(origin, after)
        if not records and hwm <= after:
            return iter(())
        self.peer_known[origin] = (epoch, hwm)
        return self._origin_batches(origin, epoch, hwm, after, records)

    def _origin_batches(self, origin: str, epoch: str, hwm: int, after: int,
                        records: list[Record]) -> Iterator[Command]:
        start = after
        held: list[Record] | None = None
        for chunk, skipped in _chunk_stream(records):
            # A record that cannot travel is left out, and the claim still covers it: one record
            # must never stop a link, nor hold every later write of its origin back.
            yield from self._unsendable(skipped)
            if chunk is None:
                continue
            if held is not None:
                # Records above our own mark (held, not yet contiguous) never extend the claim.
                to_seq = max(start, min(_seq(held[-1]), hwm))
                yield Send(_batch(origin, epoch, hwm, start, to_seq, held))
                start = to_seq
            held = chunk
        yield Send(_batch(origin, epoch, hwm, start, hwm, held or []))

    def _unsendable(self, skipped: list[tuple[Record, str]]) -> list[Command]:
        return [
            Note(f"not sent to {self.peer}: record {record.get('uuid')} of {_origin(record)} "
                 f"(seq {record.get('originSeq')}) {why}; shrink it at its owner (sesh untag, sesh rename)")
            for record, why in skipped
        ]

    def _on_vector(self, n: int, theirs: Vector) -> list[Command]:
        """The answer to probe `n`: send again what it shows the peer lacks of what we sent."""
        self.peer_acked.update(theirs)
        believed = self._probe_known
        if n != self._probe or believed is None:
            return []  # an answer to a superseded probe, or to none
        self._probe_known = None
        ours = self.source.vector()
        commands: list[Command] = []
        healed: list[str] = []
        for origin in sorted(ours):
            epoch, hwm = ours[origin]
            sent, have = believed.get(origin), theirs.get(origin)
            if have is not None and have[0] != epoch:
                if origin == self.peer or kept_loose(have, epoch, 0, hwm):
                    continue  # a newer lineage (or its own origin): the peer's to send, not ours
                # The peer keeps an older lineage than ours, one our full set would replace: a
                # lost full send, or a mark left behind. Any doubt: send the full set again.
                self.peer_known[origin] = have
                resend = self._send_origin(origin, (epoch, hwm))
                if resend:
                    commands += resend
                    healed.append(f"{origin} (the full set of lineage {epoch}; it held {have[0]})")
                continue
            lost = sent is not None and sent[0] == epoch and (have is None or have[1] < sent[1])
            if lost:
                # Everything sent before the probe has arrived, yet the peer is behind it.
                if have is None:
                    self.peer_known.pop(origin, None)
                else:
                    self.peer_known[origin] = have
                resend = self._send_origin(origin, (epoch, hwm))
                if resend:
                    commands += resend
                    healed.append(f"{origin} after {have[1] if have else 0}")
            elif have is not None:
                # The peer may have more than we knew (from another peer): never push it again.
                known = self.peer_known.get(origin)
                if known is None or known[0] != epoch or have[1] > known[1]:
                    self.peer_known[origin] = have
        if healed:
            commands.insert(0, Note(f"anti-entropy: {self.peer} lacked what was pushed to it; "
                                    f"sent again: {', '.join(healed)}"))
        return commands

    def _on_batch(self, message: dict[str, Any]) -> list[Command]:
        origin = _text(message, "origin")
        epoch = _text(message, "epoch", empty_ok=True)
        hwm = _count(message, "hwm")
        from_seq = _count(message, "from")
        to_seq = _count(message, "to")
        if to_seq < from_seq:
            raise BadMessage(f"to {to_seq} is below from {from_seq}")
        loose = message.get("loose") is True
        records = _records(message.get("records"), origin)
        if origin == self.machine:
            # Our own records back from a peer (a wiped store): the store adopts them and raises
            # its counter above them, whatever lineage they came from.
            apply = Apply(origin, epoch, records, from_seq, to_seq, hwm=hwm)
        else:
            # Not judged here against a snapshot of our vector: see `Apply`.
            apply = Apply(origin, epoch, records, from_seq, to_seq, loose=loose, hwm=hwm)
        if not loose:
            self.peer_acked[origin] = (epoch, hwm)
            known = self.peer_known.get(origin)
            if known is None or known[0] == epoch:
                self.peer_known[origin] = (epoch, max(hwm, known[1] if known else 0))
            elif hwm >= known[1]:
                self.peer_known[origin] = (epoch, hwm)
        return [apply]


def lag(source: Source, peer_known: Vector) -> dict[str, int]:
    """See `PeerSession.lag`; also for a peer whose link is down (its last known vector)."""
    out: dict[str, int] = {}
    for origin, (epoch, max_seq) in source.vector().items():
        known = peer_known.get(origin)
        if known is not None and known[0] == epoch:
            out[origin] = max(0, max_seq - known[1])
        else:
            out[origin] = len(source.changes_since(origin, 0))
    return out


# ---- frames -------------------------------------------------------------------------------


def _decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise BadMessage("binary frame (the mesh speaks JSON text frames)")
    try:
        message = wire.decode(frame)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not JSON ({exc.msg})") from None
    except ValueError as exc:  # e.g. invalid UTF-8 surrogates
        raise BadMessage(f"not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise BadMessage(f"a JSON {type(message).__name__}, not an object")
    return message


def _wire_vector(vector: Vector) -> dict[str, list[Any]]:
    return {origin: [epoch, seq] for origin, (epoch, seq) in sorted(vector.items())}


MAX_HELLO_GAPS = 64
"""A hello names at most this many gaps (the store keeps as many)."""


def _gaps(value: object) -> list[tuple[int, int]]:
    if value is None:
        return []  # a peer that predates gaps
    if not isinstance(value, list) or len(value) > MAX_HELLO_GAPS:
        raise BadMessage(f"gaps must be a list of at most {MAX_HELLO_GAPS} pairs")
    out = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_SEQ for n in pair)):
            raise BadMessage(f"a gap must be two seqs from 0 to {MAX_SEQ}")
        out.append((pair[0], pair[1]))
    return out


def _batch(
    origin: str, epoch: str, hwm: int, from_seq: int, to_seq: int, records: list[Record], loose: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "t": "batch",
        "origin": origin,
        "epoch": epoch,
        "hwm": hwm,
        "from": from_seq,
        "to": to_seq,
        "records": records,
    }
    if loose:
        message["loose"] = True
    return message


def _chunks(records: list[Record]) -> tuple[list[list[Record]], list[tuple[Record, str]]]:
    """Records split into batches of at most BATCH_TARGET_BYTES (a larger record travels alone),
    and the records that cannot be sent at all, each with the reason."""
    chunks: list[list[Record]] = []
    skipped: list[tuple[Record, str]] = []
    for chunk, left_out in _chunk_stream(records):
        skipped += left_out
        if chunk is not None:
            chunks.append(chunk)
    return chunks, skipped


def _chunk_stream(records: list[Record]) -> Iterator[tuple[list[Record] | None, list[tuple[Record, str]]]]:
    """`_chunks` one batch at a time: each batch (None at the end if only records left out
    remain) with the records left out before it."""
    skipped: list[tuple[Record, str]] = []
    current: list[Record] = []
    size = 0
    for record in records:
        try:
            encoded = len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        except UnicodeEncodeError:
            skipped.append((record, "holds text that cannot be encoded as UTF-8"))
            continue
        if encoded > SEND_MAX_RECORD_BYTES:
            skipped.append((record, f"takes {encoded} bytes, over the {SEND_MAX_RECORD_BYTES} a record may send"))
            continue
        if current and (size + encoded > BATCH_TARGET_BYTES or len(current) >= BATCH_MAX_RECORDS):
            yield current, skipped
            current, size, skipped = [], 0, []
        current.append(record)
        size += encoded
    if current or skipped:
        yield current or None, skipped


def _origin(record: Record) -> str:
    return str(record.get("origin") or record["machine"])


def _seq(record: Record) -> int:
    return int(record["originSeq"])


def _text(message: Mapping[str, Any], key: str, empty_ok: bool = False) -> str:
    value = message.get(key)
    if not isinstance(value, str) or (not value and not empty_ok):
        raise BadMessage(f"{key} must be a non-empty string")
    return value


def _count(message: Mapping[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadMessage(f"{key} must be a non-negative integer")
    if value > MAX_SEQ:
        raise BadMessage(f"{key} {value} is out of range (at most {MAX_SEQ})")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadMessage("machines must be a list of names")
    return list(value)


def _vector(value: Any) -> Vector:
    if not isinstance(value, dict):
        raise BadMessage("vector must be an object")
    out: Vector = {}
    for origin, mark in value.items():
        if (
            not isinstance(mark, list)
            or len(mark) != 2
            or not isinstance(mark[0], str)
            or not isinstance(mark[1], int)
            or isinstance(mark[1], bool)
            or mark[1] < 0
        ):
            raise BadMessage(f"mark of {origin!r} must be [epoch, seq]")
        if mark[1] > MAX_SEQ:
            raise BadMessage(f"mark of {origin!r} is out of range (at most {MAX_SEQ})")
        out[str(origin)] = (mark[0], mark[1])
    return out


def _records(value: Any, origin: str) -> list[Record]:
    if not isinstance(value, list):
        raise BadMessage("records must be a list")
    for record in value:
        if not isinstance(record, dict):
            raise BadMessage("each record must be an object")
        uuid, seq, machine = record.get("uuid"), record.get("originSeq"), record.get("machine")
        if not isinstance(uuid, str) or not uuid or not isinstance(machine, str) or not machine:
            raise BadMessage("each record needs uuid and machine")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= 0:
            raise BadMessage(f"record {uuid} has no positive originSeq")
        if seq > MAX_SEQ:
            raise BadMessage(f"record {uuid} has originSeq out of range (above {MAX_SEQ})")
        if (record.get("origin") or machine) != origin:
            raise BadMessage(f"record {uuid} is not from origin {origin}")
    return value
