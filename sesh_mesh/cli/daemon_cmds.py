"""`sesh daemon run|start|stop|restart|ensure|status`, `sesh init` and `sesh doctor`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sesh_mesh.agent_names import AGENT_NAMES
from sesh_mesh.cli import render
from sesh_mesh.cli.context import Context
from sesh_mesh.client import Client, ping, start_daemon
from sesh_mesh.errors import DaemonUnreachable, SeshError, UsageError
from sesh_mesh.paths import loose_modes

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands
    from sesh_mesh.config import Config

STOP_TIMEOUT_S = 10.0


def _listen_args(ctx: Context) -> list[str]:
    listen = getattr(ctx.args, "listen", None)
    args = ["--listen", listen] if listen else []
    if getattr(ctx.args, "http", None):
        args += ["--http", ctx.args.http]
    for flag in ("tls_cert", "tls_key"):
        value = getattr(ctx.args, flag, None)
        if value:
            args += [f"--{flag.replace('_', '-')}", str(Path(value).resolve())]
    return args


def register(commands: Commands) -> None:
    p = commands.add("init", "write a commented config.toml naming this machine", [
        "sesh init --machine laptop", "sesh init --machine laptop --force"], cmd_init)
    p.add_argument("--force", action="store_true", help="overwrite an existing config.toml")

    commands.add("doctor", "check machine name, SESH_HOME, daemon, store, config, tmux, agents, peers",
                 ["sesh doctor", "sesh doctor --json"], cmd_doctor)

    daemon = commands.add("daemon", "run and manage the per-machine daemon", [
        "sesh daemon start", "sesh daemon status --json", "sesh daemon stop --force"], None)
    actions = commands.actions(daemon, "daemon_command")
    for name, text, func in (
        ("run", "run the daemon in the foreground (for supervisors and tests)", daemon_run),
        ("start", "start the daemon in the background; returns when its socket answers", daemon_start),
        ("stop", "stop the daemon gracefully", daemon_stop),
        ("restart", "stop, then start (a new install); a broken config keeps the running daemon", daemon_restart),
        ("ensure", "start the daemon unless it already runs (idempotent)", daemon_ensure),
        ("status", "machine, pid, uptime, sessions, schema, epoch, peers", daemon_status),
        ("gc", "purge tombstones older than the horizon that every peer has acknowledged", daemon_gc),
        ("tls-fingerprint", "print the SHA-256 fingerprint of the mesh TLS certificate, for peers to pin",
         daemon_tls_fingerprint),
    ):
        action = actions.add(name, text, func)
        if name == "stop":
            action.add_argument("--force", action="store_true", help="kill a wedged daemon (SIGKILL)")
        if name in ("run", "start", "restart", "ensure"):
            action.add_argument("--listen", metavar="HOST:PORT", help="accept peer links on this address")
        if name in ("run", "start", "restart", "ensure", "tls-fingerprint"):
            action.add_argument("--tls-cert", metavar="PEM", help="listen with TLS (wss://) using this certificate")
        if name in ("run", "start", "restart", "ensure"):
            action.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
            action.add_argument("--http", metavar="HOST:PORT",
                                help="serve the HTTP API and MCP (/mcp) on this address, over [http] listen")
    commands.add("mcp", "serve sesh's tools to an agent over MCP (stdio), a client of the local daemon", [
        "claude mcp add sesh -- sesh mcp",
        'sesh mcp   # codex: [mcp_servers.sesh] command = "sesh", args = ["mcp"]'], cmd_mcp)


def cmd_mcp(ctx: Context) -> int:
    # The MCP SDK costs most of a second to import: only this command loads it (docs/http.md).
    from sesh_mesh.web.mcp_server import run_stdio

    return run_stdio(ctx.socket, ctx.home)


def daemon_run(ctx: Context) -> int:
    from sesh_mesh.config import load_config, resolve_machine
    from sesh_mesh.daemon.main import run as run_daemon

    config = _with_tls_flags(ctx, load_config(ctx.home))
    if getattr(ctx.args, "http", None):
        import dataclasses

        config = dataclasses.replace(config, http_listen=ctx.args.http)
    machine = resolve_machine(config)
    return run_daemon(ctx.home, machine, config, getattr(ctx.args, "listen", None) or config.listen)


def _with_tls_flags(ctx: Context, config: Config) -> Config:
    """--tls-cert/--tls-key override `[mesh] tls_cert`/`tls_key`; both or neither."""
    import dataclasses

    cert, key = getattr(ctx.args, "tls_cert", None), getattr(ctx.args, "tls_key", None)
    if cert is None and key is None:
        return config
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together", "pass the certificate and its private key")
    return dataclasses.replace(config, tls_cert=Path(cert), tls_key=Path(key))


def daemon_tls_fingerprint(ctx: Context) -> int:
    from sesh_mesh.config import load_config
    from sesh_mesh.daemon.mesh_tls import cert_fingerprint

    given = getattr(ctx.args, "tls_cert", None)
    cert = Path(given) if given else load_config(ctx.home).tls_cert
    if cert is None:
        raise UsageError("no TLS certificate configured", "set [mesh] tls_cert in config.toml, or pass --tls-cert PEM")
    fingerprint = cert_fingerprint(cert)
    if ctx.json:
        render.print_json({"certificate": str(cert), "fingerprint": fingerprint})
    else:
        sys.stdout.write(fingerprint + "\n")
    return 0


def daemon_start(ctx: Context) -> int:
    answer = ping(ctx.socket)
    if answer is not None:
        raise SeshError(
            f"the daemon already runs (pid {answer['pid']}, machine {answer['machine']})",
            "use `sesh daemon restart`, or `sesh daemon ensure` in scripts",
        )
    answer = start_daemon(ctx.home, ctx.socket, _listen_args(ctx))
    return _report(ctx, {"started": True, **answer})


def daemon_ensure(ctx: Context) -> int:
    answer = ping(ctx.socket)
    started = answer is None
    if answer is None:
        answer = start_daemon(ctx.home, ctx.socket, _listen_args(ctx))
    return _report(ctx, {"started": started, **answer})


def _report(ctx: Context, answer: dict[str, Any]) -> int:
    if ctx.json:
        render.print_json(answer)
    else:
        verb = "started" if answer.get("started") else "already running"
        sys.stdout.write(f"daemon {verb}: machine {answer['machine']}, pid {answer['pid']}\n")
    return 0


def _read_pid(home: Path) -> int | None:
    try:
        return int((home / "daemon.lock").read_text().strip())
    except (OSError, ValueError):
        return None


def _lock_holder(home: Path) -> int | None:
    """The pid in `daemon.lock` when a process really holds the lock (a daemon serves `home`),
    else None: a pid left by a daemon that died may since name an unrelated process."""
    import fcntl

    try:
        handle = (home / "daemon.lock").open("r")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(handle.read().strip())
            except ValueError:
                return None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return None


def daemon_stop(ctx: Context) -> int:
    return stop(ctx, force=ctx.args.force, quiet=False)


def stop(ctx: Context, *, force: bool, quiet: bool) -> int:
    from sesh_mesh.agents.proctree import alive

    answer = ping(ctx.socket)
    pid = answer["pid"] if answer else _read_pid(ctx.home)
    if force:
        import signal

        holder = _lock_holder(ctx.home)
        if holder is None or not alive(holder):
            stale = _read_pid(ctx.home)
            what = f"; the pid {stale} in daemon.lock is stale and was left alone" if stale is not None else ""
            raise SeshError(f"no daemon holds {ctx.home / 'daemon.lock'}{what}", "nothing to kill")
        pid = holder
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        ctx.socket.unlink(missing_ok=True)
        sys.stdout.write(f"daemon killed (pid {pid})\n")
        return 0
    if answer is None:
        raise DaemonUnreachable("the daemon is not running", "nothing to stop")
    Client(ctx.socket, ctx.home, auto_start=False).call("daemon-stop")
    if not _wait_gone(pid):
        raise SeshError(
            f"the daemon (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f}s", "use `sesh daemon stop --force`"
        )
    if not quiet:
        _say_stop(ctx, {"stopped": True, "pid": pid})
    return 0


def _say_stop(ctx: Context, result: dict[str, Any]) -> None:
    if ctx.json:
        render.print_json(result)
    else:
        sys.stdout.write(f"daemon stopped (pid {result['pid']})\n")


def _wait_gone(pid: int | None) -> bool:
    from sesh_mesh.agents.proctree import alive

    if pid is None:
        return True
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        try:
            # Reap it when it is our child (tests start daemons as children).
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return not alive(pid)


def daemon_restart(ctx: Context) -> int:
    running = ping(ctx.socket)
    if running is not None:
        try:
            _check_startable(ctx)
        except SeshError as exc:
            raise type(exc)(f"{exc.what}; nothing was restarted: the running daemon (pid {running['pid']}) keeps "
                            "its config", exc.fix) from exc
        stop(ctx, force=False, quiet=True)
    answer = start_daemon(ctx.home, ctx.socket, _listen_args(ctx))
    return _report(ctx, {"started": True, **answer})


def _check_startable(ctx: Context) -> None:
    """What `daemon run` would refuse at start, checked before a restart stops the old daemon:
    config.toml, the machine name, the listen address, the TLS files and peers.json."""
    from sesh_mesh.config import load_config, resolve_machine
    from sesh_mesh.daemon.mesh import parse_listen
    from sesh_mesh.daemon.peers import load_peers

    config = _with_tls_flags(ctx, load_config(ctx.home))
    resolve_machine(config)
    listen = getattr(ctx.args, "listen", None) or config.listen
    if listen:
        parse_listen(listen)
    for pem in (config.tls_cert, config.tls_key):
        if pem is not None and not pem.is_file():
            raise UsageError(f"{config.path}: TLS file {pem} does not exist", "fix [mesh] tls_cert / tls_key")
    load_peers(ctx.home)


def daemon_gc(ctx: Context) -> int:
    client = Client(ctx.socket, ctx.home, auto_start=False)
    result = client.call("forward", {"machine": ctx.machine, "op": "gc"}) if ctx.machine else client.call("gc")
    if ctx.json:
        render.print_json(result)
        return 0
    held = ", ".join(f"{peer} {count}" for peer, count in sorted(result["heldBack"].items()))
    sys.stdout.write(f"purged {len(result['purged'])} tombstones\n")
    if held:
        sys.stderr.write(f"sesh: note: kept until these peers confirm they hold them: {held} "
                         "(a peer that is away holds them back; remove it with `sesh peer remove` if it is gone)\n")
    return 0


RECOVERING_LINE = ("recovering:     yes: this store was reset; its own records come back from the peers, and the "
                   "window closes once every peer has caught it up")


def daemon_status(ctx: Context) -> int:
    client = Client(ctx.socket, ctx.home, auto_start=False)
    # --machine M: M's own status, fetched through the mesh.
    status = client.call("forward", {"machine": ctx.machine, "op": "status"}) if ctx.machine else client.call("status")
    if ctx.json:
        render.print_json(status)
        return 0
    lines = [
        f"machine:        {status['machine']}",
        f"pid:            {status['pid']}",
        f"uptime:         {status['uptimeS']}s",
        f"sessions:       {status['sessions']}",
        f"schema version: {status['schemaVersion']}",
        f"store epoch:    {status['epoch']}",
        *([RECOVERING_LINE] if status.get("recovering") else []),
        f"listen:         {status['listen'] or 'none: peers cannot reach this machine (set [mesh] listen)'}",
    ]
    peers = status.get("peers") or []
    if not peers:
        lines.append("peers:          none")
    for peer in peers:
        state = "connected" if peer.get("connected") else "down"
        lag = ", ".join(f"{origin}:{n}" for origin, n in (peer.get("lag") or {}).items()) or "0"
        error = f", last error: {peer['lastError']}" if peer.get("lastError") else ""
        held = f", {peer.get('recordsHeld', 0)} records held"
        lines.append(f"peer {peer['name']}: {state} since {peer.get('since') or '-'}, lag {lag}{held}{error}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_init(ctx: Context) -> int:
    import tomli_w

    from sesh_mesh.config import CONFIG_TEMPLATE_HEAD, check_machine_name, config_path, load_config

    machine = ctx.machine
    if not machine:
        raise UsageError("init needs --machine NAME", "e.g. sesh init --machine laptop")
    check_machine_name(machine, "--machine")
    path = config_path(ctx.home)
    if path.exists() and not ctx.args.force:
        raise SeshError(f"{path} already exists", "pass --force to overwrite it")
    ctx.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    # `machine` goes above every commented [table]: a key written below a table header belongs to
    # that table, so uncommenting an example block must never capture it.
    tables_at = CONFIG_TEMPLATE_HEAD.index("\n# [") + 1
    body = (CONFIG_TEMPLATE_HEAD[:tables_at] + tomli_w.dumps({"machine": machine}) + "\n"
            + CONFIG_TEMPLATE_HEAD[tables_at:])
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    load_config(ctx.home)  # what we wrote must read back
    sys.stdout.write(f"wrote {path} (machine = {machine!r})\n")
    return 0


def _agent_version(path: str) -> str:
    import subprocess

    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"version unknown: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0] if lines else f"version unknown (exit {proc.returncode})"


def cmd_doctor(ctx: Context) -> int:
    import shutil

    from sesh_mesh.agents import binaries
    from sesh_mesh.config import config_path, load_config, resolve_machine

    if ctx.machine:
        return doctor_remote(ctx)
    checks: list[dict[str, str]] = []

    def check(name: str, status: str, detail: str, fix: str = "") -> None:
        checks.append({"check": name, "status": status, "detail": detail, "fix": fix})

    config = None
    try:
        config = load_config(ctx.home)
        check("config", "ok", str(config.path) if config.path.exists() else f"{config.path} (absent: defaults)")
    except SeshError as exc:
        check("config", "fail", exc.what, exc.fix)
    if config is not None:
        try:
            check("machine", "ok", resolve_machine(config))
        except SeshError as exc:
            check("machine", "fail", exc.what, exc.fix)
    home_ok = ctx.home.is_dir() and os.access(ctx.home, os.W_OK)
    if home_ok:
        check("sesh-home", "ok", f"{ctx.home} is writable")
    elif not ctx.home.exists():
        check("sesh-home", "warn", f"{ctx.home} does not exist yet", "`sesh init --machine NAME` creates it")
    else:
        check("sesh-home", "fail", f"{ctx.home} is not writable", "fix its permissions")
    if ctx.home.is_dir():
        loose = loose_modes(ctx.home)
        if loose:
            shown = ", ".join(f"{path.name if path != ctx.home else path} ({mode:o})" for path, mode in loose)
            check("file-modes", "warn", f"other users may read: {shown}",
                  f"chmod 700 {ctx.home}; chmod 600 the files (the daemon does both when it starts)")
        else:
            check("file-modes", "ok", f"{ctx.home} and its files are private (0700, 0600)")
    for agent in AGENT_NAMES:
        configured = config.agents.get(agent) if config is not None else None
        try:
            found = binaries.locate(agent, configured, os.environ, config_path(ctx.home))
        except SeshError as exc:
            check(f"agent-{agent}", "warn", exc.what, exc.fix)
            continue
        models = config.models if config is not None else {}
        model = models.get(agent) or models.get("default")
        shown_model = f"; default model {model!r}" if model else "; the agent's own default model"
        check(f"agent-{agent}", "ok", f"{found.path} (from {found.source}; {_agent_version(found.path)}){shown_model}")
    tmux = shutil.which("tmux")
    check("tmux", "ok" if tmux else "fail", tmux or "tmux not on PATH", "" if tmux else "install tmux")
    status: dict[str, Any] | None = None
    try:
        status = Client(ctx.socket, ctx.home, auto_start=False).call("status")
    except SeshError as exc:
        check("daemon", "fail", exc.what, "start it with `sesh daemon start`")
    if status is not None:
        check("daemon", "ok", f"pid {status['pid']} on {ctx.socket}")
        from sesh_mesh.store.schema import SCHEMA_VERSION

        if status["schemaVersion"] == SCHEMA_VERSION:
            check("store-schema", "ok", f"version {status['schemaVersion']}")
        else:
            check("store-schema", "fail", f"daemon runs schema {status['schemaVersion']}, this CLI {SCHEMA_VERSION}",
                  "run `sesh daemon restart`")
        if status.get("listen"):
            check("mesh-listen", "ok", status["listen"])
        else:
            check("mesh-listen", "warn", "no listen address: peers cannot reach this machine",
                  "set [mesh] listen = \"HOST:PORT\" in config.toml")
        checks.extend(status.get("doctor") or [])
    from sesh_mesh.cli.ssh_checks import ssh_checks

    checks.extend(ssh_checks(ctx.home))
    return _show_checks(ctx, checks)


def _show_checks(ctx: Context, checks: list[dict[str, str]]) -> int:
    if ctx.json:
        render.print_json(checks)
    else:
        for item in checks:
            fix = f"  → {item['fix']}" if item["fix"] else ""
            sys.stdout.write(f"{item['status']:<5} {item['check']:<14} {item['detail']}{fix}\n")
    return 1 if any(item["status"] == "fail" for item in checks) else 0


def doctor_remote(ctx: Context) -> int:
    """`sesh doctor --machine M`: M's daemon-side checks, run on M through the mesh."""
    from sesh_mesh.store.schema import SCHEMA_VERSION

    machine = str(ctx.machine)
    status = Client(ctx.socket, ctx.home, auto_start=False).call("forward", {"machine": machine, "op": "status"})
    checks: list[dict[str, str]] = [
        {"check": "daemon", "status": "ok", "detail": f"{machine}: pid {status['pid']}, up {status['uptimeS']}s",
         "fix": ""},
    ]
    if status["schemaVersion"] == SCHEMA_VERSION:
        checks.append({"check": "store-schema", "status": "ok", "detail": f"version {status['schemaVersion']}",
                       "fix": ""})
    else:
        checks.append({"check": "store-schema", "status": "fail", "fix": f"upgrade sesh on {machine}",
                       "detail": f"{machine} runs schema {status['schemaVersion']}, this CLI {SCHEMA_VERSION}"})
    if status.get("listen"):
        checks.append({"check": "mesh-listen", "status": "ok", "detail": status["listen"], "fix": ""})
    else:
        checks.append({"check": "mesh-listen", "status": "warn", "detail": "no listen address: peers cannot reach "
                       f"{machine}", "fix": "set [mesh] listen = \"HOST:PORT\" in its config.toml"})
    checks.extend(status.get("doctor") or [])
    return _show_checks(ctx, checks)
