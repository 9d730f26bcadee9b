"""The `[events]`, `[[hooks]]` and `[notify]` tables of config.toml, checked. Pure.

`parse(raw, path)` turns the parsed TOML into `EventSettings`, or raises `UsageError` naming the
file, the table and what to write instead. The daemon re-reads config.toml when it changes, so
an edit applies to the next event. What each setting does: docs/events.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from sesh_mesh.errors import UsageError

EventKind = Literal[
    "session-created",
    "session-deleted",
    "session-archived",
    "session-unarchived",
    "turn-started",
    "turn-ended",
    "needs-input",
    "agent-exited",
    "peer-up",
    "peer-down",
]
KINDS: tuple[str, ...] = get_args(EventKind)
"""Every event kind, declared once here (a leaf module) for the CLI, the config check and the daemon."""

HOOK_TIMEOUT_S = 10.0
"""A hook command or POST that takes longer is killed (or abandoned) and logged as failed."""

HOOK_TIMEOUT_MAX_S = 600.0
URL_RETRIES = 2
"""A POST that fails with a network error, a timeout or a 5xx is tried this many more times."""

NOTIFY_KINDS = ("needs-input", "turn-ended")


@dataclass(frozen=True)
class Hook:
    index: int
    """1 for the first [[hooks]] entry: names it in the log."""
    on: frozenset[str]
    """The kinds it runs for; empty: every kind (`on = "*"`)."""
    command: tuple[str, ...] = ()
    url: str | None = None
    timeout_s: float = HOOK_TIMEOUT_S
    retries: int = URL_RETRIES
    secret: str | None = field(default=None, repr=False)
    """Signs a POST's body: `X-Sesh-Signature-256: sha256=<HMAC-SHA256 hex>`."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    machine: str | None = None
    """Only events of sessions on this machine."""

    def wants(self, kind: str, machine: str) -> bool:
        return (not self.on or kind in self.on) and (self.machine is None or machine == self.machine)

    def describe(self) -> str:
        what = self.url or (self.command[0] if self.command else "?")
        return f"hook {self.index} ({what})"


@dataclass(frozen=True)
class Notify:
    on: frozenset[str] = frozenset(NOTIFY_KINDS)
    desktop: bool = True
    tmux: bool = True
    bell: bool = False
    headless: bool = False
    """Also for headless sessions (children and delegates), which nobody looks at."""


@dataclass(frozen=True)
class EventSettings:
    log: Path | None = None
    hooks: tuple[Hook, ...] = ()
    notify: Notify | None = None
    """None: no [notify] table, or `enabled = false`."""


class EventConfigError(UsageError):
    pass


def _fail(path: Path, what: str, fix: str) -> EventConfigError:
    return EventConfigError(f"{path}: {what}", fix)


def _kinds(value: Any, where: str, path: Path, allow_all: bool = True) -> frozenset[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _fail(path, f"{where} must be an event kind or a list of them", f'write {where} = "needs-input"')
    if allow_all and names == ["*"]:
        return frozenset()
    unknown = [n for n in names if n not in KINDS]
    if unknown:
        raise _fail(path, f"{where} names an unknown event kind {unknown[0]!r}", f"use one of: {', '.join(KINDS)}")
    return frozenset(names)


def _bool(table: dict[str, Any], key: str, default: bool, where: str, path: Path) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _fail(path, f"{where}.{key} must be true or false", f"write {key} = true")
    return value


def _hook(index: int, entry: Any, path: Path) -> Hook:
    where = f"[[hooks]] entry {index}"
    if not isinstance(entry, dict):
        raise _fail(path, f"{where} must be a table", 'write [[hooks]] then on = "…" and command = [...] or url = "…"')
    known = {"on", "command", "url", "timeout", "retries", "secret", "headers", "machine"}
    extra = sorted(set(entry) - known)
    if extra:
        raise _fail(path, f"{where} has an unknown key {extra[0]!r}", f"use only: {', '.join(sorted(known))}")
    if "on" not in entry:
        raise _fail(path, f"{where} has no `on`", 'write on = "needs-input" (or a list of kinds, or "*")')
    on = _kinds(entry["on"], f"{where}.on", path)
    command, url = entry.get("command"), entry.get("url")
    if (command is None) == (url is None):
        raise _fail(path, f"{where} needs exactly one of command and url",
                    'write command = ["notify-me", "--flag"] or url = "https://…"')
    argv: tuple[str, ...] = ()
    if command is not None:
        if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
            raise _fail(path, f"{where}.command must be a non-empty list of strings (argv; no shell runs it)",
                        'write command = ["/path/to/program", "arg"]')
        argv = tuple(command)
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise _fail(path, f"{where}.url must be an http:// or https:// address", 'write url = "https://host/path"')
    timeout = entry.get("timeout", HOOK_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= HOOK_TIMEOUT_MAX_S:
        raise _fail(path, f"{where}.timeout must be seconds above 0 and at most {HOOK_TIMEOUT_MAX_S:g}",
                    "write timeout = 10")
    retries = entry.get("retries", URL_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise _fail(path, f"{where}.retries must be a whole number from 0 to 10", "write retries = 2")
    secret = entry.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise _fail(path, f"{where}.secret must be a non-empty string", 'write secret = "…"')
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise _fail(path, f"{where}.headers must be a table of strings",
                    'write headers = { Authorization = "Bearer …" }')
    if (secret is not None or headers or "retries" in entry) and url is None:
        raise _fail(path, f"{where}: secret, headers and retries apply to url hooks only", "remove them or use url")
    machine = entry.get("machine")
    if machine is not None and not isinstance(machine, str):
        raise _fail(path, f"{where}.machine must be a machine name", 'write machine = "laptop"')
    return Hook(index, on, argv, url, float(timeout), retries, secret, tuple(sorted(headers.items())), machine)


def _notify(raw: Any, path: Path) -> Notify | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(path, "[notify] must be a table", "write [notify] on a line of its own")
    known = {"enabled", "on", "desktop", "tmux", "bell", "headless"}
    extra = sorted(set(raw) - known)
    if extra:
        raise _fail(path, f"[notify] has an unknown key {extra[0]!r}", f"use only: {', '.join(sorted(known))}")
    if not _bool(raw, "enabled", True, "[notify]", path):
        return None
    on = _kinds(raw["on"], "[notify].on", path, allow_all=False) if "on" in raw else frozenset(NOTIFY_KINDS)
    return Notify(
        on=on,
        desktop=_bool(raw, "desktop", True, "[notify]", path),
        tmux=_bool(raw, "tmux", True, "[notify]", path),
        bell=_bool(raw, "bell", False, "[notify]", path),
        headless=_bool(raw, "headless", False, "[notify]", path),
    )


def parse(raw: dict[str, Any], path: Path) -> EventSettings:
    events = raw.get("events", {})
    if not isinstance(events, dict):
        raise _fail(path, "[events] must be a table", "write [events] on a line of its own")
    extra = sorted(set(events) - {"log"})
    if extra:
        raise _fail(path, f"[events] has an unknown key {extra[0]!r}", 'only log = "/path/to/events.jsonl" is known')
    log = events.get("log")
    if log is not None and (not isinstance(log, str) or not log):
        raise _fail(path, "[events].log must be a file name", 'write log = "/path/to/events.jsonl"')
    hooks = raw.get("hooks", [])
    if not isinstance(hooks, list):
        raise _fail(path, "hooks must be an array of tables", "write each hook as a [[hooks]] table")
    return EventSettings(
        log=None if log is None else path.parent / Path(log).expanduser(),
        hooks=tuple(_hook(index, entry, path) for index, entry in enumerate(hooks, 1)),
        notify=_notify(raw.get("notify"), path),
    )
