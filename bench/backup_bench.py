"""Backup throughput over 1,000 claude transcripts (~200 MB of JSONL): the first backup (hash,
chunk, compress, write), the idempotent second one (hash only), a backup after 10% of the
transcripts grew, and restore; for the backup file alone and through `sesh backup`/`sesh restore`.

    .venv/bin/python bench/backup_bench.py [--sessions 1000] [--session-kb 200]
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

from bench.transcript_corpus import corpus, total_bytes
from sesh_mesh.services.backup_file import BackupFile, SessionInfo
from tests.harness import Daemon
from tests.transcripts.claude_gen import turn_lines


def rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / 1e6 / seconds:.0f} MB/s ({nbytes / 1e6:.0f} MB in {seconds:.2f}s)"


def info(entry: dict[str, str]) -> SessionInfo:
    path = Path(entry["path"])
    return SessionInfo(uuid=entry["sessionId"], machine="bench", agent="claude", agent_session_id=entry["sessionId"],
                       cwd=entry["cwd"], file_name=path.name, source_path=str(path), record={})


def bench_file(entries: list[dict[str, str]]) -> None:
    work = Path(tempfile.mkdtemp(prefix="sesh-backup-bench-"))
    try:
        target = work / "b.sqlite"
        backup = BackupFile.open(target, create=True)
        for label in ("first backup", "second backup (nothing new)"):
            started = time.perf_counter()
            read = 0
            for entry in entries:
                content = Path(entry["path"]).read_bytes()
                read += len(content)
                backup.add(info(entry), content, "now")
            print(f"file, {label}: {rate(read, time.perf_counter() - started)}")
        stats = backup.stats()
        print(f"  backup file {target.stat().st_size / 1e6:.0f} MB for {stats['versionBytes'] / 1e6:.0f} MB of "
              f"transcripts ({stats['chunks']} chunks)")
        grown = entries[:: 10]
        started = time.perf_counter()
        read, stored = 0, 0
        for entry in entries:
            content = Path(entry["path"]).read_bytes()
            if entry in grown:
                content += turn_lines(entry["sessionId"], entry["cwd"], "one more turn", "ok", "2026-12-01T00:00:00Z")
            read += len(content)
            stored += backup.add(info(entry), content, "later").stored_bytes
        print(f"file, after {len(grown)} transcripts grew by one turn: {rate(read, time.perf_counter() - started)}, "
              f"stored {stored / 1e6:.2f} MB")
        started = time.perf_counter()
        restored = sum(len(backup.content(s.version)) for s in backup.latest())
        print(f"file, read back every latest version: {rate(restored, time.perf_counter() - started)}")
        backup.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_daemon(root: Path, entries: list[dict[str, str]]) -> None:
    daemon = Daemon("bench", extra_env={"CLAUDE_CONFIG_DIR": str(root / "claude")}).start()
    try:
        legacy = daemon.home / "seed.json"
        legacy.write_text(json.dumps([
            {"uuid": e["sessionId"], "agentSessionId": e["sessionId"], "agent": "claude", "cwd": e["cwd"],
             "filePath": e["path"]} for e in entries]))
        daemon.call("import", {"path": str(legacy)})
        # A fresh import makes the daemon parse every transcript (live state) and index it for
        # search; the timed runs start after that, since it shares the daemon's CPU and GIL.
        started = time.perf_counter()
        daemon.client().call("search", {"query": "flaky", "limit": 1})
        print(f"(daemon: first transcript parse and search index took {time.perf_counter() - started:.1f}s)")
        target = daemon.home / "cli.sqlite"
        for label in ("first", "second"):
            started = time.perf_counter()
            run = daemon.sesh("backup", "--to", str(target), "--json", timeout=3600)
            assert run.code == 0, run.err
            summary = run.json()
            print(f"`sesh backup`, {label} run: {rate(summary['bytesRead'], time.perf_counter() - started)}, "
                  f"{summary['newVersions']} new versions")
        out = daemon.home / "restored"
        started = time.perf_counter()
        run = daemon.sesh("restore", "--from", str(target), "--to-dir", str(out), "--json", timeout=3600)
        assert run.code == 0, run.err
        print(f"`sesh restore --to-dir`: {rate(total_bytes(entries), time.perf_counter() - started)}")
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--session-kb", type=int, default=200)
    opts = parser.parse_args()
    root, entries = corpus(opts.sessions, opts.session_kb * 1024)
    print(f"corpus: {len(entries)} transcripts, {total_bytes(entries) / 1e6:.0f} MB of claude JSONL at {root}")
    bench_file(entries)
    bench_daemon(root, entries)


if __name__ == "__main__":
    main()
