"""The TUI cockpit at scale: first frame and keystroke -> render with the preview open over
10,000 sessions, and the preview's delay after a transcript line is written.

In-process (Textual's headless driver, the real daemon over its socket): the first frame is
app start to the first snapshot drawn with the preview shown; a keystroke is `j` pressed to the
table and the preview both showing the next session; the preview delay is one claude transcript
line appended on disk to that line in the preview (the daemon's `tail --follow` poll plus the
socket and the redraw).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid as uuid_mod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, ms, pct, seed_legacy_file
from sesh_mesh.agents.claude import project_dir_name
from tests.harness import Daemon
from tests.tui.helpers import make_app, quiet, until

SIZE = (200, 50)


def claude_line(session_id: str, cwd: str, role: str, text: str) -> str:
    entry = {"type": role, "message": {"role": role, "content": text if role == "user" else
                                       [{"type": "text", "text": text}]},
             "uuid": str(uuid_mod.uuid4()), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
             "sessionId": session_id, "cwd": cwd, "parentUuid": None, "isSidechain": False}
    return json.dumps(entry) + "\n"


async def measure(daemon: Daemon, uuid: str, transcript: Path, session_id: str, cwd: str, appends: int
                  ) -> tuple[float, list[float], list[float], list[float]]:
    app = make_app(daemon, preview=True)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded and app.preview.record is not None, within=60)
        first_frame = time.perf_counter() - started
        keys = []
        for _ in range(10):
            before = app.preview.record
            began = time.perf_counter()
            await pilot.press("j")
            def moved(before: object = before) -> bool:
                return app.preview.record is not before and bool(app.preview_text())

            await until(pilot, moved, within=10)
            keys.append(time.perf_counter() - began)
        direct = []
        for _ in range(20):
            began = time.perf_counter()
            app.action_move(1)  # the key's own work: cursor, preview switch, status line
            for y in range(app.table.size.height):
                app.table.render_line(y)
            for y in range(app.preview.size.height):
                app.preview.render_line(y)
            direct.append(time.perf_counter() - began)
            await pilot.pause()
        app.table.place_cursor(uuid)
        app._preview_current()
        await until(pilot, lambda: "ECHO: warm" in app.preview_text(), within=30, what="the seeded transcript")
        delays = []
        for n in range(appends):
            marker = f"line-{n}-{uuid_mod.uuid4().hex[:6]}"
            began = time.perf_counter()
            with transcript.open("a") as handle:
                handle.write(claude_line(session_id, cwd, "assistant", marker))
            def shown(marker: str = marker) -> bool:
                return marker in app.preview_text()

            await until(pilot, shown, within=10, what=marker)
            delays.append(time.perf_counter() - began)
        return first_frame, keys, direct, delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=20)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tcb"))
    claude_dir, cwd = root / "claude", root / "proj"
    cwd.mkdir()
    daemon = Daemon("bench", extra_env={"CLAUDE_CONFIG_DIR": str(claude_dir)}).start()
    try:
        legacy = daemon.home / "seed.json"
        seed_legacy_file(legacy, opts.records, "bench")
        daemon.call("import", {"path": str(legacy)})
        session_id = str(uuid_mod.uuid4())
        transcript = claude_dir / "projects" / project_dir_name(str(cwd)) / f"{session_id}.jsonl"
        transcript.parent.mkdir(parents=True)
        transcript.write_text(claude_line(session_id, str(cwd), "user", "warm")
                              + claude_line(session_id, str(cwd), "assistant", "ECHO: warm"))
        made = daemon.call("register", {"agent": "claude", "sessionId": session_id, "cwd": str(cwd),
                                        "name": "previewed"})
        quiet(daemon, settle=1.0, timeout=300)
        first, keys, direct, delays = asyncio.run(measure(daemon, made["uuid"], transcript, session_id, str(cwd),
                                                          opts.appends))
        print(f"records: {opts.records}; preview open; headless driver at {SIZE[0]}x{SIZE[1]}")
        print(f"first frame with the preview:     {ms(first):>9}")
        print(f"j -> row and preview both moved:   {ms(median(keys)):>9}   (p99 {ms(pct(keys, 0.99))}, "
              f"{len(keys)} keys)")
        print(f"  of which the app's own work:    {ms(median(direct)):>9}   (p99 {ms(pct(direct, 0.99))}: move, "
              "preview switch, render of every visible table and preview line; the rest is the test driver)")
        print(f"transcript line -> in the preview: {ms(median(delays)):>9}   (p99 {ms(pct(delays, 0.99))}, "
              f"{len(delays)} lines; the daemon's tail polls every FOLLOW_POLL_S)")
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
