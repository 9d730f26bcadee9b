"""`sesh peer add|remove|list|token`: edit `$SESH_HOME/peers.json` and have the daemon reread it.

Arguments are checked before anything is written (exit 2). A running daemon picks the change up
at once (op `peers-reload`); a stopped one reads the file when it starts. The token is never
printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from sesh_mesh.cli import render
from sesh_mesh.cli.context import Context
from sesh_mesh.client import Client, ping
from sesh_mesh.errors import SeshError, UsageError

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands

ADD_USAGE = "sesh peer add NAME ws://HOST:PORT --token T"


def register(commands: Commands) -> None:
    p = commands.add(
        "peer", "manage peer links in $SESH_HOME/peers.json: add NAME ADDRESS --token T [--ssh TARGET], "
        "set NAME --ssh TARGET, remove NAME, list; token prints a new strong token", [
            "T=$(sesh peer token)",
            'sesh peer add server ws://100.64.0.2:7433 --token "$T"',
            'sesh peer add server ws://100.64.0.2:7433 --token "$T" --ssh me@server:2222',
            "sesh peer set server --ssh me@server.tailnet",
            'printf %s "$T" | sesh peer add server wss://srv:7433 --token -',
            "sesh peer remove server", "sesh peer list --json"], cmd_peer)
    p.add_argument("action", choices=["add", "set", "remove", "list", "token"],
                   help="add NAME ADDRESS | set NAME --ssh TARGET | remove NAME | list | token (print a new random "
                        "token)")
    p.add_argument("rest", nargs="*", metavar="ARG", help="add: the peer's machine name and ws://HOST:PORT (or wss://)")
    p.add_argument("--token", metavar="T", help="shared secret, the same on both machines, at least 128 bits "
                   "(make one with `sesh peer token`); '-' reads it from stdin")
    p.add_argument("--fingerprint", metavar="SHA256:…",
                   help="wss:// only: pin the peer's TLS certificate (`sesh daemon tls-fingerprint` prints it there); "
                        "without it the system CAs must vouch for the certificate")
    p.add_argument("--ssh", metavar="[USER@]HOST[:PORT]",
                   help="how to reach the peer's terminal to enter its sessions (default: the host of ADDRESS); "
                        "[ssh] command and options in config.toml apply")


def cmd_peer(ctx: Context) -> int:
    action = ctx.args.action
    rest: list[str] = list(ctx.args.rest)
    if action == "add":
        return peer_add(ctx, rest)
    if action == "remove":
        return peer_remove(ctx, rest)
    if action == "set":
        return peer_set(ctx, rest)
    if action == "token":
        return peer_token(ctx, rest)
    if rest:
        raise UsageError(f"peer list takes no arguments, got {' '.join(rest)!r}", "sesh peer list [--json]")
    return peer_list(ctx)


def _own_machine(ctx: Context) -> str | None:
    from sesh_mesh.config import load_config, resolve_machine

    try:
        return resolve_machine(load_config(ctx.home))
    except SeshError:
        return None  # not named yet: nothing to compare with (the daemon refuses to start anyway)


def peer_add(ctx: Context, rest: list[str]) -> int:
    from sesh_mesh.daemon.peers import Peer, check_address, check_name, check_pin, check_token, load_peers, save_peers

    if len(rest) != 2:
        raise UsageError("peer add needs a NAME and an ADDRESS", ADD_USAGE)
    name, address = check_name(rest[0]), check_address(rest[1])
    fingerprint = check_pin(address, ctx.args.fingerprint)
    token = ctx.args.token
    if token is None:
        raise UsageError("peer add needs --token T, the same secret on both machines",
                         "make one with T=$(sesh peer token); use that value on both sides")
    if token == "-":
        token = sys.stdin.readline().strip()
    check_token(token)
    if name == _own_machine(ctx):
        raise UsageError(f"{name!r} is this machine's own name", "add the other machine's name")
    ssh = _ssh_flag(ctx)
    peers = load_peers(ctx.home)
    verb = "updated" if name in peers else "added"
    peers[name] = Peer(name, address, token, fingerprint, ssh)
    save_peers(ctx.home, peers)
    return _done(ctx, f"{verb} peer {name} ({address})", {**peers[name].public(), "result": verb})


def _ssh_flag(ctx: Context) -> str | None:
    from sesh_mesh.ssh_target import parse_target

    given = ctx.args.ssh
    return None if given is None else str(parse_target(given))


def peer_set(ctx: Context, rest: list[str]) -> int:
    """Change a configured peer's ssh target, keeping its address and token."""
    import dataclasses

    from sesh_mesh.daemon.peers import check_name, load_peers, peers_path, save_peers

    if len(rest) != 1 or ctx.args.ssh is None:
        raise UsageError("peer set needs a NAME and --ssh [user@]host[:port]", "sesh peer set NAME --ssh me@host")
    name = check_name(rest[0])
    ssh = _ssh_flag(ctx)
    peers = load_peers(ctx.home)
    if name not in peers:
        raise SeshError(f"no peer named {name!r} in {peers_path(ctx.home)}",
                        f"add it first: {ADD_USAGE.replace('NAME', name)}")
    peers[name] = dataclasses.replace(peers[name], ssh=ssh)
    save_peers(ctx.home, peers)
    return _done(ctx, f"peer {name}: ssh {ssh}", {**peers[name].public(), "result": "updated"})


def peer_token(ctx: Context, rest: list[str]) -> int:
    """Print a new token with 256 bits of randomness (nothing is stored)."""
    import secrets

    if rest:
        raise UsageError(f"peer token takes no arguments, got {' '.join(rest)!r}", "sesh peer token [--json]")
    token = secrets.token_urlsafe(32)
    if token.startswith("-"):
        # `--token -abc` reads as another option (1 token in 64 did): the same alphabet, and
        # under one bit of the 256 lost.
        token = "_" + token[1:]
    if ctx.json:
        render.print_json({"token": token})
    else:
        sys.stdout.write(token + "\n")
    return 0


def peer_remove(ctx: Context, rest: list[str]) -> int:
    from sesh_mesh.daemon.peers import check_name, load_peers, peers_path, save_peers

    if len(rest) != 1:
        raise UsageError("peer remove needs exactly one NAME", "sesh peer remove NAME")
    name = check_name(rest[0])
    peers = load_peers(ctx.home)
    if name not in peers:
        raise SeshError(f"no peer named {name!r} in {peers_path(ctx.home)}", "see `sesh peer list`")
    removed = peers.pop(name)
    save_peers(ctx.home, peers)
    return _done(ctx, f"removed peer {name} ({removed.address})", {**removed.public(), "result": "removed"})


def _done(ctx: Context, summary: str, document: dict[str, Any]) -> int:
    if ping(ctx.socket) is not None:
        Client(ctx.socket, ctx.home, auto_start=False).call("peers-reload")
    else:
        sys.stderr.write("sesh: note: the daemon is not running; it applies peers.json when it starts\n")
    if ctx.json:
        render.print_json(document)
    else:
        sys.stdout.write(summary + "\n")
    return 0


def peer_list(ctx: Context) -> int:
    from sesh_mesh.daemon.peers import load_peers

    configured = load_peers(ctx.home)
    entries: list[dict[str, Any]]
    if ping(ctx.socket) is not None:
        entries = Client(ctx.socket, ctx.home, auto_start=False).call("peers")
    else:
        sys.stderr.write("sesh: note: the daemon is not running, so no peer is linked (sesh daemon start)\n")
        entries = [
            {**peer.public(), "connected": False, "since": None, "lastContact": None, "lastError": None}
            for _, peer in sorted(configured.items())
        ]
    if ctx.json:
        render.print_json(entries)
        return 0
    if not entries:
        sys.stderr.write(f"no peers (add one with `{ADD_USAGE}`)\n")
        return 0
    rows = [
        [
            entry["name"],
            entry["address"],
            "connected" if entry["connected"] else "down",
            entry.get("since") or "-",
            entry.get("lastContact") or "-",
            entry.get("lastError") or "",
        ]
        for entry in entries
    ]
    render.print_table(rows, ["NAME", "ADDRESS", "STATE", "SINCE", "LAST CONTACT", "LAST ERROR"])
    return 0

