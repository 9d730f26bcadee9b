"""Human and machine output for records: tables, TSV columns, JSON. Stdout is data."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sesh_mesh.errors import UsageError
from sesh_mesh.glyphs import glyph
from sesh_mesh.store.record import Record


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _tmux(key: str) -> Callable[[Record], str]:
    return lambda r: str((r.get("tmux") or {}).get(key) or "")


COLUMNS: dict[str, Callable[[Record], str]] = {
    "uuid": lambda r: r["uuid"],
    "name": lambda r: str(r.get("name") or ""),
    "agent": lambda r: str(r.get("agent") or ""),
    "machine": lambda r: str(r.get("machine") or ""),
    "status": lambda r: str(r.get("turnStatus") or "unknown"),
    "cwd": lambda r: str(r.get("cwd") or ""),
    "tags": lambda r: ",".join(r.get("tags") or []),
    "archived": lambda r: _bool(r.get("archived")),
    "tmux-socket": _tmux("socket"),
    "tmux-session": _tmux("session"),
    "tmux-window": _tmux("window"),
    "tmux-pane": _tmux("pane"),
    "live": lambda r: _bool(r.get("live")),
}


def parse_columns(spec: str) -> list[str]:
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown or not names:
        raise UsageError(
            f"unknown column {unknown[0]!r}" if unknown else "no columns given",
            "choose from " + ",".join(COLUMNS),
        )
    return names


def _clean(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")


def print_tsv(records: Sequence[Record], columns: Sequence[str]) -> None:
    out = sys.stdout
    for record in records:
        out.write("\t".join(_clean(COLUMNS[c](record)) for c in columns) + "\n")


def print_json(value: Any) -> None:
    # Indented for people at a terminal; compact for pipes, where 10,000 records must stay fast.
    # Into a pipe it is byte for byte the daemon's own framing (cli.fast passes that through).
    if sys.stdout.isatty():
        sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = min(max(widths[index], len(cell)), 48)

    def fit(cell: str, width: int) -> str:
        return cell if len(cell) <= width else cell[: width - 1] + "…"

    lines = ["  ".join(fit(h, w).ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(fit(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def print_records(records: Sequence[Record]) -> None:
    if not records:
        sys.stderr.write("no sessions (start one with `sesh new --agent claude`, or `sesh discover --register`)\n")
        return
    rows = []
    for record in records:
        machine = str(record.get("machine") or "")
        if record.get("stale"):
            machine += " (stale)"
        rows.append(
            [
                glyph(record),
                str(record.get("shortId") or record["uuid"][:8]),
                str(record.get("name") or "-"),
                str(record.get("agent") or ""),
                machine,
                str(record.get("turnStatus") or "unknown"),
                str(record.get("cwd") or ""),
                ",".join(record.get("tags") or []) + (" [archived]" if record.get("archived") else ""),
            ]
        )
    print_table(rows, ["", "ID", "NAME", "AGENT", "MACHINE", "STATUS", "CWD", "TAGS"])


def print_record(record: Record) -> None:
    lines = []
    for key, value in record.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        if value is None:
            shown = "-"
        elif isinstance(value, bool):
            shown = _bool(value)
        lines.append(f"{key + ':':<24}{shown}")
    sys.stdout.write("\n".join(lines) + "\n")
