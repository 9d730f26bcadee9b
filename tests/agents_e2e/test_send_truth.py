"""Agents, send cells (issue 11 items 2-5): what `send` answers is true, with the real CLIs,
local and through a second daemon.

A failed turn is exit 6 with the agent's own error, never the previous reply; any text reaches
the model as written (a half-typed draft never merges into it); a busy agent is waited for, or
interrupted on purpose. Effects are asserted at the fake model server: what it was sent, when.
"""

from __future__ import annotations

import re
import time
import uuid as uuid_mod
from typing import Any

import pytest

from tests.agents_e2e.bed import Bed, Beds, ok, sesh
from tests.agents_e2e.matrix import SEND_FEATURES, assert_covered, cells
from tests.polling import eventually

pytestmark = pytest.mark.agents

FAIL_TEXT = "fake_llm: FAIL directive (HTTP 400)"
"""The fake model's error body: each agent's error line must carry it."""


PASTED = re.compile(r'<pasted_content id="([^"]*)">\n?(.*?)\n?</pasted_content id="\1">', re.DOTALL)
"""claude hands the model a long multi-line paste inside this tag of its own; the text inside is verbatim."""


def unwrap(text: str) -> str:
    return PASTED.sub(lambda match: match.group(2), text)


def test_send_matrix_complete() -> None:
    assert_covered(globals(), SEND_FEATURES)


def user_texts(bed: Bed) -> list[str]:
    return [unwrap(t) for r in bed.llm.requests() for t in r.user_texts]


def requests_with(bed: Bed, text: str) -> list[Any]:
    return [r for r in bed.llm.requests() if r.user_text and text in r.user_text]


def busy(bed: Bed, uuid: str) -> bool:
    return bool(bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "busy")


@pytest.mark.parametrize(("where", "agent"), cells("send_failed_turn"))
def test_send_failed_turn(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    tag = uuid_mod.uuid4().hex[:6]
    before = f"before-{where}-{tag}"
    assert ok(sesh(bed, where, "send", uuid, before)).out == f"ECHO: {before}\n"
    failed = sesh(bed, where, "send", "--json", uuid, f"FAIL pane {tag}")
    assert failed.code == 6, failed
    assert failed.err.startswith(f"sesh: the {agent} turn failed: ") and FAIL_TEXT in failed.err, failed.err
    assert failed.err.count("\n") == 1, failed.err
    shaped = failed.json()
    assert (shaped["delivery"], shaped["reply"]) == ("delivered", None), shaped
    assert before not in failed.out, "the failed turn printed the previous turn's reply"
    after = f"after-{tag}"
    shaped = ok(sesh(bed, where, "send", "--json", uuid, after)).json()
    assert (shaped["reply"], shaped["delivery"]) == (f"ECHO: {after}", "delivered"), shaped
    # Headless: the same answer from a turn that runs as its own process.
    first = f"headless-{tag}"
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--headless", "--msg", first, "--json")).json()
    failed = sesh(bed, where, "send", made["uuid"], f"FAIL headless {tag}")
    assert failed.code == 6 and FAIL_TEXT in failed.err and failed.out == "", failed
    assert first not in failed.err
    again = f"headless-after-{tag}"
    assert ok(sesh(bed, where, "send", made["uuid"], again)).out == f"ECHO: {again}\n"


@pytest.mark.parametrize(("where", "agent"), cells("send_verbatim"))
def test_send_verbatim(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    pane = bed.alpha.call("info", {"uuid": uuid})["tmux"]["pane"]
    tag = uuid_mod.uuid4().hex[:6]
    # A half-typed draft (two lines, the cursor on the first) sits in the input line.
    bed.tmux.send_text(pane, f"half typed draft {tag}\nsecond draft line {tag}", submit=False)
    bed.tmux.send_keys(pane, "Up")
    clean = f"clean-{tag}"
    assert ok(sesh(bed, where, "send", uuid, clean)).out == f"ECHO: {clean}\n"
    assert not [t for t in user_texts(bed) if "draft" in t and tag in t], "the draft reached the model"
    for text in (f"-{tag} dash", f"--{tag} flag-like", f"/{tag} slash", f"!{tag} bang", f"#{tag} hash",
                 f"   spaced {tag}"):
        run = sesh(bed, where, "send", "--json", uuid, "--", text)
        if agent == "pi" and text.startswith("!"):
            assert run.code == 1 and "cannot reach the model through the pane" in run.err, run
            assert run.json()["delivery"] == "not-delivered"
            continue
        assert ok(run).json()["reply"] == f"ECHO: {text.strip()}", (text, run)
        assert text.strip() in user_texts(bed), f"the model did not get {text!r} as written"
    long = "".join(f"line {i:05d} of a long message {tag}\n" for i in range(3200))
    assert len(long.encode()) > 100_000
    shaped = ok(sesh(bed, where, "send", "--json", uuid, "-", stdin=long, timeout=240)).json()
    assert unwrap(shaped["reply"]).strip() == f"ECHO: {long.strip()}", shaped["reply"][:200]
    assert long.strip() in [t.strip() for t in user_texts(bed)], "the 100 KB message did not arrive whole"
    path = bed.root / f"message-{where}-{tag}.txt"
    path.write_text(f"from a file {tag}\n- a dash line\n/ a slash line\n")
    assert unwrap(ok(sesh(bed, where, "send", uuid, "--file", str(path))).out) == (
        f"ECHO: from a file {tag}\n- a dash line\n/ a slash line\n")
    both = sesh(bed, where, "send", uuid, "text", "--file", str(path))
    assert both.code == 2 and both.err.startswith("sesh: the message was given twice"), both
    # `new --msg -`: the first message of a headless child from stdin, a leading dash and all.
    first = f"-first {tag}\nof a child"
    machine = ["--machine", "alpha"] if where == "remote" else []
    made = ok(sesh(bed, where, "new", "--agent", agent, "--headless", "--msg", "-", "--json", *machine,
                   stdin=first)).json()
    assert made["reply"] == f"ECHO: {first}", made["reply"]
    for text in (f"/{tag} slash headless", f"!{tag} bang headless", f"--{tag} flag-like headless"):
        assert ok(sesh(bed, where, "send", made["uuid"], "--", text)).out == f"ECHO: {text}\n", text


@pytest.mark.parametrize(("where", "agent"), cells("send_busy"))
def test_send_busy(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    tag = uuid_mod.uuid4().hex[:6]
    slow = f"busy {tag} SLEEP 4"
    ok(sesh(bed, where, "send", uuid, slow, "--no-wait"))
    eventually(lambda: busy(bed, uuid), timeout=15, what="the slow turn to show busy")
    follow = f"after-busy-{tag}"
    shaped = ok(sesh(bed, where, "send", "--json", uuid, follow)).json()
    assert shaped["reply"] == f"ECHO: {follow}", f"not the reply of this message's own turn: {shaped}"
    slow_calls, follow_calls = requests_with(bed, slow), requests_with(bed, follow)
    assert slow_calls and follow_calls
    assert not any(r.aborted for r in slow_calls), "a plain send cut into the running turn"
    assert follow_calls[0].started_at >= max(r.last_byte_at or 0 for r in slow_calls) - 0.05, \
        "the message was typed before the running turn ended"
    assert all(slow not in t for r in follow_calls for t in r.user_texts[-1:]), "the two messages were merged"
    # --interrupt: stop the running turn on purpose and send at once.
    long = f"long {tag} SLEEP 30"
    ok(sesh(bed, where, "send", uuid, long, "--no-wait"))
    bed.llm.wait_for_request(lambda r: bool(r.user_text and long in r.user_text), timeout=20)
    eventually(lambda: busy(bed, uuid), timeout=15, what="the long turn to show busy")
    start = time.monotonic()
    steer = f"steer-{tag}"
    assert ok(sesh(bed, where, "send", uuid, "--interrupt", steer)).out == f"ECHO: {steer}\n"
    assert time.monotonic() - start < 25, "--interrupt waited for the running turn"
    eventually(lambda: all(r.aborted for r in requests_with(bed, long)), timeout=15,
               what="the interrupted turn's model call to be cut off")
    # The same rule for a session with no pane: the running headless turn is waited for.
    child = ok(sesh(bed, "local", "new", "--agent", agent, "--headless", "--msg", f"child-{tag}", "--json")).json()
    ok(sesh(bed, where, "send", child["uuid"], f"headless busy {tag} SLEEP 3", "--no-wait"))
    after = f"headless-after-{tag}"
    assert ok(sesh(bed, where, "send", child["uuid"], after)).out == f"ECHO: {after}\n"
    assert requests_with(bed, after)[0].started_at >= max(r.last_byte_at or 0 for r in requests_with(
        bed, f"headless busy {tag}")) - 0.05, "the second headless turn started before the first ended"
