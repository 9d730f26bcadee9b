"""send's message input (argument, `-` for stdin, --file) and how a failed send names its delivery."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from sesh_mesh.cli.main import build_parser
from sesh_mesh.cli.message_input import delivery_of, read_message
from sesh_mesh.client import InDoubt
from sesh_mesh.errors import ExitCode, SeshError, TimedOut, TurnFailed, Unconfirmed, UsageError, from_wire


def test_the_message_comes_verbatim_from_the_argument_stdin_or_a_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_message("  -v --help\n", None) == "  -v --help\n"
    text = "".join(f"line {i} / ! # -\n" for i in range(4000))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert read_message("-", None) == text
    path = tmp_path / "m.txt"
    path.write_text("/from a file\n")
    assert read_message(None, str(path)) == "/from a file\n"
    for args, words in (((None, None), "is missing"), (("x", str(path)), "was given twice"),
                        ((None, str(tmp_path / "absent")), "cannot read --file"), (("   ", None), "message is empty")):
        with pytest.raises(UsageError, match=words):
            read_message(*args)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_message(None, str(path))


def test_options_and_the_message_mix_and_a_dash_text_goes_after_double_dash() -> None:
    parser = build_parser()
    for argv, message in ((["send", "a808", "--interrupt", "steer"], "steer"), (["send", "a808", "--", "-v"], "-v"),
                          (["send", "a808", "--timeout", "5", "--", "--help"], "--help"), (["send", "a808", "-"], "-")):
        assert parser.parse_args(argv).message == message, argv


def test_delivery_of_a_failed_send() -> None:
    assert delivery_of(TurnFailed("the pi turn failed: 400")) == "delivered"
    assert delivery_of(Unconfirmed("typed")) == "delivered-unconfirmed"
    assert delivery_of(SeshError("refused")) == "not-delivered"
    assert delivery_of(InDoubt("send", "the connection broke")) == "unknown"
    late = TimedOut("no reply within 5s")
    late.delivery = "delivered"
    back = from_wire(late.to_wire())
    assert isinstance(back, TimedOut) and delivery_of(back) == "delivered"
    failed = from_wire(TurnFailed("x").to_wire())
    assert isinstance(failed, TurnFailed) and int(failed.exit_code) == int(ExitCode.TURN_FAILED) == 6
    assert int(from_wire(Unconfirmed("y").to_wire()).exit_code) == int(ExitCode.UNCONFIRMED) == 5
