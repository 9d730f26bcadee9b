"""`sesh peer token` prints a token that `sesh peer add … --token T` accepts as it is."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

import pytest

from sesh_mesh.cli.context import Context
from sesh_mesh.cli.peer_cmds import peer_token
from sesh_mesh.daemon.peers import token_bits


def test_a_token_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # One urlsafe token in 64 starts with "-", and `--token -abc` then reads as another option.
    drawn = "-" + secrets.token_urlsafe(32)[1:]
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: drawn)
    assert peer_token(Context(argparse.Namespace(json=False), tmp_path, tmp_path / "sock"), []) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "_" + drawn[1:] and token_bits(printed) >= 128
