"""A fleet: one daemon, N sessions of which L are live in tmux panes, a storm of turns.

Sizes (sessions / live panes): 10/10, 100/50, 500/100 (`--quick`: 10/10 only, shorter windows).
The live panes run stand-ins (bench/fleet_standin.py): a small process the daemon's walker takes
for pi (its comm is `pi`) that writes real pi session files (format 3) and draws pi's footer and
working line, so the transcript and pane authorities work as with the real CLI. `--real N` makes
N of them real pi CLIs instead (launched with `sesh new`, talking to tests/fake_llm.py; their
turn start and end times are the entry timestamps pi writes in its own session file). The
output says how many of each. The other sessions are imported records.

Figures per size:
- daemon CPU (% of one core, from /proc) idle, and during a storm in which every live pane runs
  a turn at once, several rounds;
- state change -> store: from the stand-in writing the transcript line that opens (busy) or
  closes (idle) a turn to the record's change arriving on a `subscribe` stream, p50/p99;
- status option update delay: the daemon's own commit -> `set-option` delay (tmux-status op),
  p50/p99, and a check that every pane shows the idle glyph at the end;
- `sesh list --json` (median) and a TUI filter keystroke to re-render (median, in a real
  terminal, as bench/tui_bench.py measures it);
- daemon RSS, and tmux commands per second the daemon issued, idle and in the storm.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, median, ms, pct, seed_legacy_file, time_command
from sesh_mesh.agents.pi import pi_session_dir
from sesh_mesh.glyphs import GLYPH_IDLE
from tests.agent_env import agents_installed, make_agent_env
from tests.agents_e2e.bed import AGENT_ENV_KEYS, READY
from tests.fake_llm import FakeLLM
from tests.harness import Daemon
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux

STANDIN = Path(__file__).resolve().parent / "fleet_standin.py"
SIZES = ((10, 10), (100, 50), (500, 100))


IDLE_WINDOW_S = 30.0
"""Idle CPU is read over this long: /proc counts in 10 ms ticks, so a 10 s window moved by 0.1 %
a tick, and read 0.9-1.2 % at 500/100 where 60 s windows read 0.73-0.77 %."""




def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tmux_commands(daemon: Daemon) -> tuple[int, int]:
    """(tmux commands, tmux client processes) the daemon has issued so far."""
    issued = daemon.call("tmux-status")["daemonTmux"]
    return sum(n for name, n in issued.items() if name != "processes"), issued.get("processes", 0)


class Recorder:
    """Every record change from a `subscribe` stream, with its arrival time: (uuid, status, t)."""

    def __init__(self, daemon: Daemon) -> None:
        self.seen: list[tuple[str, str, float]] = []
        self._last: dict[str, str] = {}
        self._daemon = daemon
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            for kind, item in self._daemon.client().stream("subscribe", {}):
                if kind != "item" or not isinstance(item, dict):
                    continue
                arrived = time.time()
                for record in item.get("changes") or []:
                    status = record.get("turnStatus")
                    uuid_ = record.get("uuid")
                    if uuid_ and status and self._last.get(uuid_) != status:
                        self._last[uuid_] = status
                        self.seen.append((uuid_, status, arrived))


class Fleet:
    def __init__(self, total: int, live: int, real: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fl", dir="/tmp"))
        self.total, self.live, self.real = total, live, min(real, live)
        self.real_cwd = self.root / "proj" / "real"
        self.real_cwd.mkdir(parents=True)
        self.llm = FakeLLM(log_path=self.root / "llm.ndjson").__enter__() if self.real else None
        agent_env = make_agent_env(self.root / "agent", self.llm.url, [self.real_cwd]) if self.llm else {}
        self.tmux = PrivateTmux(conf=Path(agent_env["SESH_TEST_TMUX_CONF"]) if agent_env else None)
        self.pi_dir = Path(agent_env.get("PI_CODING_AGENT_DIR") or self.root / "pi")
        bin_dir = self.root / "bin"
        bin_dir.mkdir()
        (bin_dir / "pi").symlink_to(os.path.realpath(sys.executable))
        self.pi = str(bin_dir / "pi")
        self.env = {"HOME": str(self.root), "TERM": "xterm-256color", "LANG": "C.UTF-8", **agent_env,
                    "PI_CODING_AGENT_DIR": str(self.pi_dir)}
        self.env["PATH"] = f"{bin_dir}:/usr/bin:/bin" if not agent_env else agent_env["PATH"]
        self.tmux.new_session(["sleep", "86400"], self.env, self.root, name="keeper")
        assert self.tmux.socket_path is not None
        daemon_env = {k: self.env[k] for k in AGENT_ENV_KEYS if k in self.env}
        self.daemon = Daemon("fleet", extra_env={**daemon_env, "SESH_TMUX_SOCKETS": str(self.tmux.socket_path),
                                                 "PI_CODING_AGENT_DIR": str(self.pi_dir)}).start()
        self.sessions: list[tuple[str, str, Path]] = []  # stand-ins: (uuid, pane, log)
        self.fifos: list[int] = []
        self.reals: list[tuple[str, str]] = []  # real pi: (uuid, pane)

    def populate(self) -> None:
        if self.total > self.live:
            legacy = self.daemon.home / "seed.json"
            seed_legacy_file(legacy, self.total - self.live, "fleet")
            self.daemon.call("import", {"path": str(legacy)})
        for i in range(self.real):
            env = {**self.env, "SESH_HOME": str(self.daemon.home), "SESH_MACHINE": self.daemon.machine}
            run = self.daemon.sesh("new", "--agent", "pi", "--target", f"{self.tmux.socket_path}:keeper", "--name",
                                   f"session-real-{i}", "--msg", "warm up", "--json", cwd=self.real_cwd, env=env,
                                   timeout=180)  # fmt: skip
            if run.code != 0:
                raise AssertionError(f"sesh new: {run.err}")
            record = self.daemon.call("info", {"uuid": run.json()["uuid"]})
            self.reals.append((record["uuid"], record["tmux"]["pane"]))
            self.tmux.wait_for_text(record["tmux"]["pane"], READY["pi"], timeout=60)
        for i in range(self.live - self.real):
            cwd = self.root / "proj" / f"p{i % 10}"
            cwd.mkdir(parents=True, exist_ok=True)
            sid = str(uuid.uuid4())
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S-%f")[:-3] + "Z"
            transcript = pi_session_dir(self.pi_dir, str(cwd)) / f"{stamp}_{sid}.jsonl"
            transcript.parent.mkdir(parents=True, exist_ok=True)
            fifo, log = self.root / f"turns-{i}", self.root / f"log-{i}"
            os.mkfifo(fifo)
            record = self.daemon.call("register", {"agent": "pi", "sessionId": sid, "cwd": str(cwd),
                                                   "name": f"session-live-{i}"})
            pane = self.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "=keeper:", "-c", str(cwd),
                                 "-e", f"SESH_SESSION_ID={record['uuid']}", "-e", f"PI_CODING_AGENT_DIR={self.pi_dir}",
                                 "--", self.pi, str(STANDIN), str(transcript), str(cwd), sid, str(fifo),
                                 str(log)).strip()  # fmt: skip
            self.sessions.append((record["uuid"], pane, log))
        for _uuid, _pane, _log in self.sessions:
            fifo = self.root / f"turns-{len(self.fifos)}"
            self.fifos.append(eventually(lambda f=fifo: _open_writer(f), 60, 0.05, what=f"{fifo} reader"))
        live_ids = {u for u, _p, _l in self.sessions} | {u for u, _p in self.reals}

        def all_live_idle() -> bool:
            records = {r["uuid"]: r for r in self.daemon.call("list", {}) if r["uuid"] in live_ids}
            return len(records) == len(live_ids) and all(
                r.get("live") and r.get("turnStatus") == "idle" for r in records.values())

        try:
            eventually(all_live_idle, 180, 0.5, what="every stand-in live and idle")
        except AssertionError:
            states = [(r.get("name"), r.get("live"), r.get("turnStatus")) for r in self.daemon.call("list", {})
                      if r["uuid"] in live_ids]
            raise AssertionError(f"not all live and idle: {states[:10]}\n{self.daemon.log_tail()}") from None
        eventually(lambda: self.daemon.call("tmux-status")["panes"] == self.live, 60, 0.2,
                   what="every live pane stamped")

    def cpu_window(self, seconds: float) -> tuple[float, float, float]:
        """(% of a core, tmux commands/s, tmux processes/s) of the daemon over the next `seconds`."""
        pid = self.daemon.process.pid  # type: ignore[union-attr]
        cpu0, cmd0, t0 = cpu_seconds(pid), tmux_commands(self.daemon), time.monotonic()
        time.sleep(seconds)
        cpu1, cmd1, t1 = cpu_seconds(pid), tmux_commands(self.daemon), time.monotonic()
        span = t1 - t0
        return 100 * (cpu1 - cpu0) / span, (cmd1[0] - cmd0[0]) / span, (cmd1[1] - cmd0[1]) / span

    def storm(self, rounds: int, turn_s: float, gap_s: float) -> dict[str, Any]:
        recorder = Recorder(self.daemon)
        time.sleep(0.5)
        started_wall = time.time()
        pid = self.daemon.process.pid  # type: ignore[union-attr]
        cpu0, cmd0, t0 = cpu_seconds(pid), tmux_commands(self.daemon), time.monotonic()
        for _ in range(rounds):
            for fd in self.fifos:
                os.write(fd, f"{turn_s}\n".encode())
            for _uuid, pane in self.reals:
                self.tmux.run("send-keys", "-t", pane, "-l", f"fleet turn SLEEP {turn_s}")
            time.sleep(0.3 if self.reals else 0)  # pi takes an Enter right after text as a newline
            for _uuid, pane in self.reals:
                self.tmux.run("send-keys", "-t", pane, "Enter")
            time.sleep(turn_s + gap_s + (2.0 if self.reals else 0))
        cpu1, cmd1, t1 = cpu_seconds(pid), tmux_commands(self.daemon), time.monotonic()
        time.sleep(1.0)
        latencies: dict[str, list[float]] = {"busy": [], "idle": []}
        missed = 0
        for uuid_, _pane, log in self.sessions:
            seen = [(status, t) for u, status, t in recorder.seen if u == uuid_]
            for line in log.read_text().split("\n"):
                if not line:
                    continue
                status, at = line.split()
                wrote = float(at)
                if wrote < started_wall:
                    continue
                after = [t for s, t in seen if s == status and t >= wrote]
                if after:
                    latencies[status].append(after[0] - wrote)
                else:
                    missed += 1
        for uuid_, _pane in self.reals:
            seen = [(status, t) for u, status, t in recorder.seen if u == uuid_]
            for status, wrote in pi_turn_times(self.daemon.call("info", {"uuid": uuid_}), started_wall):
                after = [t for s, t in seen if s == status and t >= wrote]
                if after:
                    latencies[status].append(after[0] - wrote)
                else:
                    missed += 1
        status = self.daemon.call("tmux-status", {"since": started_wall})
        shown = self.tmux.run("list-panes", "-a", "-F", "#{@sesh_state}").split()
        return {
            "cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
            "tmux_per_s": (cmd1[0] - cmd0[0]) / (t1 - t0),
            "tmux_procs_per_s": (cmd1[1] - cmd0[1]) / (t1 - t0),
            "latencies": latencies,
            "missed": missed,
            "option_delay": status["delayMs"],
            "idle_glyphs": sum(1 for g in shown if g == GLYPH_IDLE),
        }

    def close(self) -> None:
        for fd in self.fifos:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            self.daemon.stop()
        self.tmux.kill_server()
        if self.llm is not None:
            self.llm.__exit__(None, None, None)
        shutil.rmtree(self.daemon.home, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


def pi_turn_times(record: dict[str, Any], since: float) -> list[tuple[str, float]]:
    """(busy|idle, wall time) of each turn start and end in a real pi's session file after `since`:
    the entry timestamps pi writes as it appends the user message and the final assistant one."""
    import json

    out = []
    for line in Path(record["filePath"]).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        message = entry.get("message") or {}
        if entry.get("type") != "message":
            continue
        at = datetime.fromisoformat(entry["timestamp"]).timestamp()
        if at < since:
            continue
        if message.get("role") == "user":
            out.append(("busy", at))
        elif message.get("role") == "assistant" and message.get("stopReason") == "stop":
            out.append(("idle", at))
    return out


def _open_writer(fifo: Path) -> int | None:
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None  # no reader yet: the stand-in has not started


def tui_keystroke(daemon: Daemon) -> float | None:
    from bench.tui_bench import terminal_run

    try:
        _frame, keys, _rss = terminal_run(daemon)
    except (AssertionError, subprocess.SubprocessError, OSError) as exc:
        print(f"  (TUI run failed: {exc})")
        return None
    return median(keys)


def run_size(total: int, live: int, quick: bool, real: int) -> None:
    fleet = Fleet(total, live, real)
    try:
        began = time.monotonic()
        fleet.populate()
        print(f"\n{total} sessions, {live} live panes ({fleet.real} real pi, {live - fleet.real} stand-ins), "
              f"ready in {time.monotonic() - began:.1f} s")
        time.sleep(2.0)
        idle_cpu, idle_tmux, idle_procs = fleet.cpu_window(5.0 if quick else IDLE_WINDOW_S)
        storm = fleet.storm(rounds=2 if quick else 3, turn_s=1.0, gap_s=1.5)
        pid = fleet.daemon.process.pid  # type: ignore[union-attr]
        rss = rss_mib(pid)
        list_s = median(time_command([sys.executable, "-m", "sesh_mesh", "list", "--json"], fleet.daemon.env, 5))
        key_s = tui_keystroke(fleet.daemon)
        lat = storm["latencies"]
        delay = storm["option_delay"]
        print(f"  daemon CPU idle:             {idle_cpu:6.2f} % of a core   tmux commands/s {idle_tmux:6.2f} "
              f"in {idle_procs:5.2f} processes/s")
        print(f"  daemon CPU in the storm:     {storm['cpu']:6.2f} % of a core   tmux commands/s "
              f"{storm['tmux_per_s']:6.2f} in {storm['tmux_procs_per_s']:5.2f} processes/s")
        for status in ("busy", "idle"):
            values = lat[status]
            if values:
                what = "start" if status == "busy" else "end  "
                print(f"  turn {what} -> store:         p50 {ms(pct(values, 0.5)):>9}"
                      f"   p99 {ms(pct(values, 0.99)):>9}   ({len(values)} turns)")
        print(f"  turns not seen:              {storm['missed']}")
        print(f"  commit -> option set:        p50 {delay['p50']} ms   p99 {delay['p99']} ms   max {delay['max']} ms"
              f"   ({delay['n']} updates); idle glyph on {storm['idle_glyphs']}/{live} panes after")
        print(f"  sesh list --json:            {ms(list_s):>9}")
        print(f"  TUI keystroke -> render:     {ms(key_s) if key_s is not None else 'n/a':>9}")
        print(f"  daemon RSS:                  {rss:6.1f} MiB")
    finally:
        fleet.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 sessions / 10 live panes only, short windows")
    parser.add_argument("--size", action="append", metavar="SESSIONS/LIVE",
                        help="run this size (repeatable), e.g. 100/50")
    parser.add_argument("--real", type=int, default=0, metavar="N",
                        help="N of the live panes run the real pi CLI (about 30 fit in memory); default 0")
    opts = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("fleet_bench: needs tmux")
    sizes = [tuple(int(n) for n in s.split("/")) for s in opts.size] if opts.size else (
        [SIZES[0]] if opts.quick else list(SIZES))
    if opts.real and not agents_installed():
        sys.exit("fleet_bench: --real needs the agent CLIs (tests/agents/install.sh)")
    print(f"agents: {opts.real} real pi per size (at most the live panes), the rest stand-ins "
          "(bench/fleet_standin.py, recognised as pi, writing pi session format 3)")
    for total, live in sizes:
        run_size(total, live, opts.quick, opts.real)


if __name__ == "__main__":
    main()
