"""A corpus of synthetic claude transcripts for the search and backup benchmarks, cached in /tmp."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.transcripts.claude_gen import write_bulk_session  # noqa: E402


def corpus(sessions: int, session_bytes: int, seed: int = 1) -> tuple[Path, list[dict[str, str]]]:
    """`sessions` transcripts of about `session_bytes` each under <dir>/claude; (dir, their index).

    Built once per shape and reused: writing 200 MB of JSON takes longer than what is measured.
    """
    root = Path(f"/tmp/sesh-bench-corpus-{sessions}x{session_bytes}-{seed}")
    index_file = root / "index.json"
    if index_file.exists():
        return root, list(json.loads(index_file.read_text()))
    started = time.perf_counter()
    rng = random.Random(seed)
    entries = []
    for number in range(sessions):
        cwd = f"/bench/project-{number % 50}"
        session_id, path, size = write_bulk_session(root / "claude", cwd, rng, session_bytes)
        entries.append({"sessionId": session_id, "cwd": cwd, "path": str(path), "size": str(size)})
    index_file.write_text(json.dumps(entries))
    total = sum(int(e["size"]) for e in entries)
    print(f"corpus: wrote {sessions} transcripts, {total / 1e6:.0f} MB, in {time.perf_counter() - started:.1f}s")
    return root, entries


def total_bytes(entries: list[dict[str, str]]) -> int:
    return sum(int(entry["size"]) for entry in entries)
