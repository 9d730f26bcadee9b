"""A stand-in pi for the fleet benchmark: a small process the daemon's walker takes for pi.

Run through a symlink named `pi` (comm and argv[0] are `pi`, which is how the pi adapter knows
its process), it writes a real pi session file (format 3: header, model_change, then a user and
an assistant message per turn) and draws pi's footer and working line in its pane, so the
transcript authority and the pane probe see what they see with the real CLI. Each line read from
`fifo` is a turn of that many seconds; `log` gets `busy <t>` / `idle <t>` (wall clock, taken
just before the transcript line that means it is written).

usage: pi fleet_standin.py TRANSCRIPT CWD SESSION_ID FIFO LOG
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime

FOOTER = "fake-model  1.1%/128k"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def append(path: str, entry: dict[str, object]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, separators=(",", ":")) + "\n")


def main() -> None:
    path, cwd, session_id, fifo, log = sys.argv[1:6]
    parent = "m0"
    if not os.path.exists(path):
        append(path, {"type": "session", "version": 3, "id": session_id, "timestamp": now_iso(), "cwd": cwd})
        append(path, {"type": "model_change", "id": parent, "parentId": None, "timestamp": now_iso(),
                      "provider": "fake", "modelId": "fake-model"})
    sys.stdout.write("\x1b[2J\x1b[H" + FOOTER + "\n")
    sys.stdout.flush()
    turn = 0
    while True:
        with open(fifo, encoding="utf-8") as commands:  # blocks until the benchmark opens it
            for command in commands:
                seconds = float(command.strip() or 0)
                turn += 1
                user, reply = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
                started = time.time()
                append(path, {"type": "message", "id": user, "parentId": parent, "timestamp": now_iso(),
                              "message": {"role": "user", "content": [{"type": "text", "text": f"turn {turn}"}],
                                          "timestamp": int(started * 1000)}})
                with open(log, "a", encoding="utf-8") as out:
                    out.write(f"busy {started:.6f}\n")
                sys.stdout.write(f"\x1b[2J\x1b[H> turn {turn}\n\u280b Working...\n")
                sys.stdout.flush()
                time.sleep(seconds)
                ended = time.time()
                append(path, {"type": "message", "id": reply, "parentId": user, "timestamp": now_iso(),
                              "message": {"role": "assistant", "content": [{"type": "text", "text": f"done {turn}"}],
                                          "provider": "fake", "model": "fake-model", "stopReason": "stop",
                                          "usage": {"input": 1000 + turn, "output": 7, "cacheRead": 0,
                                                    "cacheWrite": 0, "totalTokens": 1007 + turn},
                                          "timestamp": int(ended * 1000)}})
                with open(log, "a", encoding="utf-8") as out:
                    out.write(f"idle {ended:.6f}\n")
                parent = reply
                sys.stdout.write(f"\x1b[2J\x1b[H> turn {turn}\ndone {turn}\n{FOOTER}\n")
                sys.stdout.flush()


# No `__main__` guard: this file is only ever run, and bench/run_all.py takes a file with one for
# a benchmark of its own.
main()
