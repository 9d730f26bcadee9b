"""The table's columns: names, titles, widths, and the `--columns` / `[tui] columns` check.

Pure and textual-free, so the CLI can check a `--columns` value before it takes the screen.
"""

from __future__ import annotations

CAPS = {
    "glyph": 2, "id": 8, "name": 32, "agent": 6, "machine": 22, "tags": 24, "age": 4, "ctx": 4, "model": 20,
    "activity": 8, "turns": 5,
}  # fmt: skip
"""Widest a column grows (cwd takes the rest); long values end in '…' (the cwd starts with it)."""
MIN_CWD = 10
TITLES = {
    "glyph": "", "id": "ID", "name": "NAME", "agent": "AGENT", "machine": "MACHINE", "cwd": "CWD", "tags": "TAGS",
    "age": "AGE", "ctx": "CTX", "model": "MODEL", "activity": "ACTIVITY", "turns": "TURNS",
}  # fmt: skip
FLAG_MARK = "*"
"""Beside the glyph of a session that needs you (a turn ended or it asks something)."""
DEFAULT_COLUMNS = ("glyph", "name", "agent", "machine", "cwd", "tags", "age")
"""What the table shows unless `[tui] columns` or `--columns` says otherwise (`i` adds the id)."""
COLUMNS = tuple(TITLES)
"""Every column a user may ask for."""
FIXED = ("glyph", "id", "age", "ctx", "activity", "turns")
"""Columns whose width does not follow their content."""
RIGHT = ("age", "ctx", "activity", "turns")
"""Right-aligned (numbers and ages)."""


def parse_columns(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`name,agent,ctx` (or a list) checked against COLUMNS; the glyph column always leads."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or not names:
        raise ValueError(f"unknown column {unknown[0]!r}" if unknown else "no columns named")
    if len(set(names)) != len(names):
        raise ValueError("a column is named twice")
    return tuple(names) if names[0] == "glyph" else ("glyph", *[n for n in names if n != "glyph"])
