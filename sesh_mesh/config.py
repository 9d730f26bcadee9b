"""Where sesh keeps its files, which machine this is, and what config.toml says.

Pure of daemon policy: reads the environment and files it is told about and raises `UsageError`
with the file and line named when something is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sesh_mesh import errors
from sesh_mesh.agent_names import AGENT_NAMES, is_agent_name
from sesh_mesh.errors import UsageError
from sesh_mesh.event_config import EventSettings
from sesh_mesh.event_config import parse as parse_event_settings
from sesh_mesh.paths import config_path, sesh_home, socket_path

__all__ = ["config_path", "sesh_home", "socket_path"]

MACHINE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")


class ConfigError(UsageError):
    pass


def check_machine_name(name: str, source: str) -> str:
    if not MACHINE_NAME_RE.match(name):
        raise UsageError(
            f"bad machine name {name!r} in {source}",
            "use letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


@dataclass(frozen=True)
class Config:
    path: Path
    machine: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    listen: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    """`[mesh] tls_cert`/`tls_key`: the listener speaks wss:// with this PEM certificate and key."""
    discover_auto: bool = False
    http_listen: str | None = None
    """`[http] listen`: serve the HTTP API (and MCP at /mcp) on this address; off when None."""
    http_token: str | None = None
    """`[http] token`: the bearer token; None means the one generated in $SESH_HOME/http.token."""
    cwd_rules: tuple[tuple[str, str], ...] = ()
    autoname: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    events: EventSettings = field(default_factory=EventSettings)
    """`[events]`, `[[hooks]]` and `[notify]` (docs/events.md)."""


def _table(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{key}] must be a table", f"fix or remove '{key}' in {path}")
    return value


def _str_map(raw: dict[str, Any], key: str, path: Path) -> dict[str, str]:
    table = _table(raw, key, path)
    for name, value in table.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: [{key}].{name} must be a string", f"quote the value in {path}")
    return dict(table)


def _file(table: dict[str, Any], key: str, path: Path) -> Path | None:
    """A file named in config.toml; a relative name is relative to the config file's folder."""
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: [mesh].{key} must be a file name", f'write {key} = "/path/to/file.pem"')
    return path.parent / Path(value).expanduser()


def load_config(home: Path) -> Config:
    """The parsed config.toml, or an empty Config when the file does not exist."""
    path = config_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", f"fix the syntax at that line of {path}") from exc
    machine = raw.get("machine")
    if machine is not None:
        if not isinstance(machine, str):
            raise ConfigError(f"{path}: machine must be a string", f'write machine = "laptop" in {path}')
        check_machine_name(machine, str(path))
    models = _str_map(raw, "models", path)
    agents = _str_map(raw, "agents", path)
    for name in agents:
        if not is_agent_name(name):
            choices = errors.unknown_agent(name, AGENT_NAMES).fix
            raise ConfigError(f"{path}: unknown agent {name!r} in [agents]", choices)
    mesh = _table(raw, "mesh", path)
    listen = mesh.get("listen")
    if listen is not None and not isinstance(listen, str):
        raise ConfigError(f"{path}: [mesh].listen must be a string", 'write listen = "127.0.0.1:7433"')
    tls = {key: _file(mesh, key, path) for key in ("tls_cert", "tls_key")}
    if (tls["tls_cert"] is None) != (tls["tls_key"] is None):
        raise ConfigError(f"{path}: [mesh] needs both tls_cert and tls_key, or neither",
                          "set both to PEM files (the certificate and its private key)")
    http = _table(raw, "http", path)
    for key in ("listen", "token"):
        if http.get(key) is not None and not (isinstance(http[key], str) and http[key]):
            raise ConfigError(f"{path}: [http].{key} must be a non-empty string",
                              'write listen = "127.0.0.1:7434"' if key == "listen" else 'write token = "…"')
    discover = _table(raw, "discover", path)
    auto = discover.get("auto", False)
    if not isinstance(auto, bool):
        raise ConfigError(f"{path}: [discover].auto must be true or false", f"fix it in {path}")
    tui = _table(raw, "tui", path)
    rules: list[tuple[str, str]] = []
    for index, rule in enumerate(tui.get("cwd_rules", [])):
        if not isinstance(rule, dict) or not isinstance(rule.get("match"), str):
            raise ConfigError(
                f"{path}: [[tui.cwd_rules]] entry {index + 1} needs match = \"regex\" and label = \"…\"",
                f"fix it in {path}",
            )
        try:
            re.compile(rule["match"])
        except re.error as exc:
            raise ConfigError(f"{path}: bad regex in [[tui.cwd_rules]] {index + 1}: {exc}", "fix the regex") from exc
        rules.append((rule["match"], str(rule.get("label", ""))))
    return Config(
        path=path,
        machine=machine,
        models=models,
        agents=agents,
        listen=listen,
        tls_cert=tls["tls_cert"],
        tls_key=tls["tls_key"],
        discover_auto=auto,
        http_listen=http.get("listen"),
        http_token=http.get("token"),
        cwd_rules=tuple(rules),
        autoname=_table(raw, "autoname", path),
        raw=raw,
        events=parse_event_settings(raw, path),
    )


def path_rules(config: Config) -> tuple[tuple[str, str], ...]:
    """`[paths]`: "OTHER MACHINE'S PREFIX" = "THIS MACHINE'S PREFIX", longest prefix first."""
    table = _str_map(config.raw, "paths", config.path)
    rules: list[tuple[str, str]] = []
    for there, here in table.items():
        if not there.startswith("/") or not here.startswith("/"):
            raise ConfigError(f"{config.path}: [paths] \"{there}\" = \"{here}\" needs two absolute paths",
                              '"/home/me/src" = "/Users/me/src"')
        rules.append((there.rstrip("/") or "/", here.rstrip("/") or "/"))
    return tuple(sorted(rules, key=lambda rule: -len(rule[0])))


def rewrite_for_here(rules: tuple[tuple[str, str], ...], cwd: str) -> tuple[str, str] | None:
    """The [paths] rule that applies to `cwd`, as (old prefix, new prefix); None: keep it."""
    for there, here in rules:
        if cwd == there or cwd.startswith(there.rstrip("/") + "/"):
            return there, here
    return None


class ConfigFile:
    """config.toml as a running daemon reads it: a stat per read, and a new parse only when the
    file's mtime, size or inode moved, so `[autoname]`, `[agents]` and `[models]` edits apply at
    once. A broken edit is raised (naming file and line) until the file is fixed."""

    def __init__(self, home: Path, loaded: Config) -> None:
        self.home = home
        self._config = loaded
        self._started = loaded
        self._error: ConfigError | None = None
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = config_path(self.home).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> Config:
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._config, self._error = load_config(self.home), None
            except ConfigError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._config

    def notice(self) -> str | None:
        """What every command should hear about config.toml now: broken (the daemon keeps what it
        started with), or changed where only a restart applies it. None when all is applied."""
        try:
            now = self.current()
        except ConfigError as exc:
            return (f"{exc.what}; the running daemon keeps the config it started with ({exc.fix}; "
                    "`sesh daemon restart` checks the file before it stops the daemon)")
        changed = needs_restart(self._started, now)
        if not changed:
            return None
        return (f"{now.path} changed {', '.join(changed)} since the daemon started, which applies only at start "
                "(run `sesh daemon restart`)")


RESTART_KEYS = (("machine", None), ("mesh", "[mesh]"), ("http", "[http]"))
"""config.toml entries the daemon reads once, at start: (key, how the notice names it). The
rest ([models], [agents], [autoname], [discover], [tui], [ssh], [paths]) is read at each use."""


def needs_restart(started: Config, now: Config) -> list[str]:
    """The start-only entries of config.toml that differ between `started` and `now`."""
    return [shown or key for key, shown in RESTART_KEYS if started.raw.get(key) != now.raw.get(key)]


def machine_in_table(config: Config) -> str | None:
    """The table a `machine = …` line fell into (written below a `[table]` header), if any."""
    for table, value in config.raw.items():
        if isinstance(value, dict) and "machine" in value:
            return table
    return None


def resolve_machine(config: Config, env: os._Environ[str] | dict[str, str] | None = None) -> str:
    """This machine's name: SESH_MACHINE or config.toml. There is no hostname fallback."""
    source = os.environ if env is None else env
    from_env = source.get("SESH_MACHINE") or None
    if from_env is not None:
        check_machine_name(from_env, "SESH_MACHINE")
    if from_env and config.machine and from_env != config.machine:
        raise ConfigError(
            f"SESH_MACHINE={from_env!r} disagrees with machine = {config.machine!r} in {config.path}",
            "make them equal or unset one",
        )
    machine = from_env or config.machine
    table = machine_in_table(config) if not machine else None
    if table is not None:
        value = config.raw[table]["machine"]
        raise ConfigError(
            f"{config.path}: machine = {value!r} is inside the [{table}] table, so this machine has no name",
            f"move the machine line above the first [table] line of {config.path}",
        )
    if not machine:
        raise ConfigError(
            "this machine has no name: SESH_MACHINE is unset and config.toml has no machine",
            "run `sesh init --machine NAME` or export SESH_MACHINE=NAME",
        )
    return machine


CONFIG_TEMPLATE_HEAD = """\
# sesh configuration. Every key is optional except `machine` (or the SESH_MACHINE env var).
# `machine` names this machine across the mesh; it must be unique and never change.
#
# [models]            # --model > [models].<agent> > [models].default
# default = "opus"
# claude = "opus"
# codex = "gpt-5.5"
# pi = "anthropic/claude-opus-4-7"
#
# [agents]            # explicit binary paths when the daemon's PATH lacks them
# claude = "/opt/tools/claude"
#
# [autoname]                  # how `sesh autoname` names sessions from their transcripts
# agent = "claude"            # a headless turn of this agent; or command = "my-namer" (excerpt on stdin)
# every_turns = 0             # rename auto-named sessions every N turns (0: only when asked)
# timeout = 60
#
# [mesh]
# listen = "127.0.0.1:7433"   # TCP address for peers; none by default
# tls_cert = "mesh-cert.pem"  # with tls_key: peers dial wss:// (pin: sesh daemon tls-fingerprint)
# tls_key = "mesh-key.pem"
#
# [http]                      # the HTTP API, SSE and MCP at /mcp (docs/http.md); off by default
# listen = "127.0.0.1:7434"
# token = "…"                 # default: generated into $SESH_HOME/http.token (0600)
#
# [discover]
# auto = false                # adopt new agent conversations found on disk
#
# [ssh]                       # entering sessions of other machines (sesh peer add … --ssh)
# command = "ssh"             # or "tailscale ssh"
# options = ["-i", "~/.ssh/id_sesh"]   # before the destination: -i, -o ProxyJump=…, -F …
# remote_sesh = "sesh"        # how the other machine's shell finds sesh
# multiplex = false           # true: one ssh login per Enter (ControlMaster, $SESH_HOME/ssh)
#
# [paths]                     # `sesh resume --here`: a project's path there = its path here
# "/home/me/src" = "/Users/me/src"
#
# [[tui.cwd_rules]]           # relabel cwds in the TUI
# match = "^/home/me/src/"
# label = "~src/"
#
# [events]                    # docs/events.md
# log = "events.jsonl"        # append every event as a JSON line (or SESH_EVENT_LOG=<path>)
#
# [[hooks]]                   # run a program on an event: the event as JSON on stdin, SESH_EVENT_* vars
# on = "needs-input"          # a kind, a list of kinds, or "*"
# command = ["notify-me", "--urgent"]   # argv, never a shell; killed after timeout = 10 (seconds)
#
# [[hooks]]
# on = ["turn-ended", "needs-input"]
# url = "https://example.invalid/sesh"  # POST the event JSON; retries = 2, timeout = 10
# secret = "…"                # signs the body: X-Sesh-Signature-256: sha256=<hmac>
#
# [notify]                    # desktop / tmux / bell for sessions you are not looking at
# on = ["needs-input", "turn-ended"]
# desktop = true
# tmux = true
# bell = false

"""
