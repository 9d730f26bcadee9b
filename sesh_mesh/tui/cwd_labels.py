"""How the cwd column is relabelled: `$SESH_CWD_FORMATTER`, else `[[tui.cwd_rules]]`, else `~`.

The formatter is an external command (run through `sh -c`) that reads cwds on stdin, one per
line, and prints one label per line in the same order. It runs once per batch of cwds not seen
before and its answers are cached, so 10,000 rows sharing 40 directories cost one run. A
formatter that fails is reported (loudly, once) and the rules apply instead.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable
from pathlib import Path

FORMATTER_TIMEOUT_S = 3.0
"""A formatter slower than this is treated as broken; the table must not wait on it."""


class FormatterFailed(Exception):
    pass


class CwdLabels:
    def __init__(
        self, rules: Iterable[tuple[str, str]] = (), formatter: str | None = None, home: str | None = None
    ) -> None:
        self.rules = [(re.compile(pattern), label) for pattern, label in rules]
        self.formatter = formatter or None
        self.home = home if home is not None else str(Path.home())
        self._cache: dict[str, str] = {}

    @classmethod
    def from_env(cls, rules: Iterable[tuple[str, str]]) -> CwdLabels:
        return cls(rules, os.environ.get("SESH_CWD_FORMATTER"))

    def label(self, cwd: str) -> str:
        cached = self._cache.get(cwd)
        if cached is not None:
            return cached
        label = self.by_rules(cwd)
        if not self.formatter:
            self._cache[cwd] = label
        return label

    def by_rules(self, cwd: str) -> str:
        for pattern, replacement in self.rules:
            if pattern.search(cwd):
                return pattern.sub(replacement, cwd, count=1)
        if self.home and self.home != "/" and (cwd == self.home or cwd.startswith(self.home + "/")):
            return "~" + cwd[len(self.home):]
        return cwd

    def unknown(self, cwds: Iterable[str]) -> list[str]:
        """The distinct cwds the formatter has not labelled yet (none without a formatter)."""
        if not self.formatter:
            return []
        return sorted({cwd for cwd in cwds if cwd not in self._cache})

    async def run_formatter(self, cwds: list[str]) -> None:
        """Label `cwds` with the external formatter and cache the answers.

        Raises FormatterFailed with a sentence naming the problem; the cwds then fall back to
        the rules for this session (they are cached so the broken command is not re-run)."""
        if not self.formatter or not cwds:
            return
        try:
            labels = await self._ask(cwds)
        except FormatterFailed:
            for cwd in cwds:
                self._cache[cwd] = self.by_rules(cwd)
            raise
        for cwd, label in zip(cwds, labels, strict=True):
            self._cache[cwd] = label or self.by_rules(cwd)

    async def _ask(self, cwds: list[str]) -> list[str]:
        assert self.formatter is not None
        payload = "".join(cwd.replace("\n", " ") + "\n" for cwd in cwds).encode()
        try:
            process = await asyncio.create_subprocess_shell(
                self.formatter,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise FormatterFailed(f"SESH_CWD_FORMATTER could not start: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(process.communicate(payload), FORMATTER_TIMEOUT_S)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise FormatterFailed(f"SESH_CWD_FORMATTER took over {FORMATTER_TIMEOUT_S:.0f}s") from exc
        if process.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines()
            raise FormatterFailed(
                f"SESH_CWD_FORMATTER exited {process.returncode}" + (f": {detail[-1]}" if detail else "")
            )
        labels = out.decode(errors="replace").splitlines()
        if len(labels) != len(cwds):
            raise FormatterFailed(
                f"SESH_CWD_FORMATTER printed {len(labels)} lines for {len(cwds)} cwds (one label per line expected)"
            )
        return labels
