"""Full-text search over 1,000 claude transcripts (~200 MB of JSONL): index build time and query
latency p50/p99, for the FTS5 index alone and through a real daemon (`search` over its socket,
which also catches the index up with every transcript before answering).

    .venv/bin/python bench/search_bench.py [--sessions 1000] [--session-kb 200] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ms, pct
from bench.transcript_corpus import corpus, total_bytes
from sesh_mesh.services.search_index import IndexTarget, SearchIndex
from tests.harness import Daemon

QUERIES = {
    "common word": "flaky",
    "two words": "database migration",
    "phrase": '"flaky test"',
    "prefix": "migr*",
    "rare term": "term4242",
    "rare + common": "term777 socket",
    "no match": "zzzznothing",
}


def timed_queries(run: object, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in QUERIES}
    for _ in range(rounds):
        for name, query in QUERIES.items():
            started = time.perf_counter()
            run(query)  # type: ignore[operator]
            times[name].append(time.perf_counter() - started)
    return times


def report(label: str, times: dict[str, list[float]]) -> None:
    every = [t for values in times.values() for t in values]
    print(f"{label}: {len(every)} queries, p50 {ms(pct(every, 0.5))}, p99 {ms(pct(every, 0.99))}")
    for name, values in times.items():
        print(f"  {name:<14} {QUERIES[name]!r:<22} p50 {ms(pct(values, 0.5)):>9}  p99 {ms(pct(values, 0.99)):>9}")


def bench_index(entries: list[dict[str, str]], rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="sesh-search-bench-"))
    try:
        index = SearchIndex(work / "search.sqlite")
        targets = [IndexTarget(e["sessionId"], "claude", Path(e["path"])) for e in entries]
        started = time.perf_counter()
        stats = index.sync(targets)
        build = time.perf_counter() - started
        size = sum(p.stat().st_size for p in work.iterdir())
        print(f"index build: {build:.1f}s for {total_bytes(entries) / 1e6:.0f} MB "
              f"({total_bytes(entries) / 1e6 / build:.0f} MB/s), {stats.entries_added} entries, "
              f"index {size / 1e6:.0f} MB")
        started = time.perf_counter()
        index.sync(targets)
        print(f"catch-up with nothing new (1 stat per transcript): {ms(time.perf_counter() - started)}")
        report("index queries (limit 20)", timed_queries(lambda q: index.search(q, limit=20), rounds))
        index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_daemon(root: Path, entries: list[dict[str, str]], rounds: int) -> None:
    daemon = Daemon("bench", extra_env={"CLAUDE_CONFIG_DIR": str(root / "claude")}).start()
    try:
        legacy = daemon.home / "seed.json"
        legacy.write_text(json.dumps([
            {"uuid": e["sessionId"], "agentSessionId": e["sessionId"], "agent": "claude", "cwd": e["cwd"],
             "filePath": e["path"], "name": f"bench-{n}"} for n, e in enumerate(entries)]))
        started = time.perf_counter()
        daemon.call("import", {"path": str(legacy)})
        first = daemon.client().call("search", {"query": "flaky", "limit": 20})
        print(f"daemon: import + first search (indexes everything): {time.perf_counter() - started:.1f}s, "
              f"{len(first['results'])} results")
        client = daemon.client()
        report("daemon `search` op (limit 20)",
               timed_queries(lambda q: client.call("search", {"query": q, "limit": 20}), max(1, rounds // 3)))
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--session-kb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=60, help="each query kind runs this many times")
    opts = parser.parse_args()
    root, entries = corpus(opts.sessions, opts.session_kb * 1024)
    print(f"corpus: {len(entries)} transcripts, {total_bytes(entries) / 1e6:.0f} MB of claude JSONL at {root}")
    bench_index(entries, opts.rounds)
    bench_daemon(root, entries, opts.rounds)


if __name__ == "__main__":
    main()
