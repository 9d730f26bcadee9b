"""Which agent runs in a tmux pane, and which conversation it holds.

Looks at the pane's process tree (/proc): the agent process, its argv, environment (for the
agent's data dir and sesh's own SESH_SESSION_ID), its open files (codex keeps its rollout
open), claude's registry file, and for pi the newest session file of its cwd.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sesh_mesh.agents import proctree
from sesh_mesh.agents.base import AgentAdapter, AgentKind
from sesh_mesh.agents.claude import read_registry
from sesh_mesh.agents.pi import pi_session_dir
from sesh_mesh.agents.registry import ADAPTERS
from sesh_mesh.agents.tmux import PaneInfo

_UUID_IN_NAME = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    # /proc/uptime has 10 ms resolution; /proc/stat's btime is whole seconds, too coarse to
    # tell apart two agents started a moment apart in the same cwd.
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - uptime


_BOOT_TIME = _boot_time()


@dataclass
class LiveAgent:
    """An agent process found in a pane."""

    kind: AgentKind
    pid: int
    start_ticks: int
    pane: PaneInfo
    argv: list[str]
    cwd: str | None
    data_dir: Path
    sesh_session_id: str | None
    agent_session_id: str | None = None
    transcript: Path | None = None

    @property
    def started_at(self) -> float:
        return _BOOT_TIME + self.start_ticks / _CLK_TCK

    def to_json(self) -> dict[str, object]:
        return {
            "agent": self.kind,
            "agentSessionId": self.agent_session_id,
            "pid": self.pid,
            "cwd": self.cwd,
            "filePath": str(self.transcript) if self.transcript else None,
            "tmux": self.pane.location(),
        }


def find_agent(pane: PaneInfo, tree: proctree.ProcTree) -> LiveAgent | None:
    """The outermost agent process under the pane's shell, or None for a plain shell pane."""
    if pane.dead:
        return None
    for proc in tree.descendants(pane.pid):
        argv = proctree.argv(proc.pid)
        for adapter in ADAPTERS.values():
            if adapter.match_process(proc.comm, argv):
                env = proctree.environ(proc.pid)
                return LiveAgent(
                    kind=adapter.kind,
                    pid=proc.pid,
                    start_ticks=proc.start_ticks,
                    pane=pane,
                    argv=argv,
                    cwd=proctree.cwd(proc.pid),
                    data_dir=adapter.data_dir({**os.environ, **env} if env else os.environ),
                    sesh_session_id=env.get("SESH_SESSION_ID") or None,
                )
    return None


def resolve_conversation(agent: LiveAgent, tree: proctree.ProcTree) -> None:
    """Fill `agent_session_id` and `transcript` where they can be known now (cheap; call per tick)."""
    adapter: AgentAdapter = ADAPTERS[agent.kind]
    if agent.agent_session_id is None:
        from_argv = adapter.session_id_from_argv(agent.argv)
        if from_argv and agent.kind != "pi":
            agent.agent_session_id = from_argv
    if agent.kind == "claude":
        if agent.agent_session_id is None:
            entry = read_registry(agent.data_dir).get(agent.pid)
            if entry is not None and entry.session_id:
                agent.agent_session_id = entry.session_id
    elif agent.kind == "codex":
        for proc in tree.descendants(agent.pid):
            for open_path in proctree.open_files(proc.pid):
                match = _UUID_IN_NAME.search(open_path)
                if match and "/sessions/" in open_path:
                    agent.agent_session_id = match.group(1)
                    agent.transcript = Path(open_path)
                    return
    elif agent.kind == "pi" and agent.transcript is None and agent.cwd and not agent.sesh_session_id:
        newest = _pi_session_of(pi_session_dir(agent.data_dir, agent.cwd), agent.started_at)
        if newest is not None:
            summary = adapter.read_summary(newest)
            if summary is not None:
                agent.agent_session_id = summary.agent_session_id
                agent.transcript = newest
                return
    if agent.transcript is None and agent.agent_session_id and agent.cwd:
        path = adapter.transcript_path_for(agent.data_dir, agent.cwd, agent.agent_session_id)
        if path is not None and path.exists():
            agent.transcript = path


_PI_NAME_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z_")

PI_START_SLACK_S = 0.05
"""pi names its file after its session start, a moment after the process starts; the slack
only absorbs clock rounding (a file named before the process started belongs to another)."""


def _pi_session_of(directory: Path, started_at: float) -> Path | None:
    """The session file this pi process created: the first one named at or after its start.

    Several pi processes may share a cwd (and so a directory); files of earlier processes are
    named with earlier start times, so mtimes (which every writer bumps) would be ambiguous.
    """
    from datetime import UTC, datetime

    try:
        names = [e.name for e in os.scandir(directory) if e.name.endswith(".jsonl")]
    except OSError:
        return None
    best: tuple[float, str] | None = None
    for name in names:
        match = _PI_NAME_TS.match(name)
        if not match:
            continue
        y, mo, d, h, mi, sec, ms = (int(g) for g in match.groups())
        ts = datetime(y, mo, d, h, mi, sec, ms * 1000, tzinfo=UTC).timestamp()
        if ts >= started_at - PI_START_SLACK_S and (best is None or ts < best[0]):
            best = (ts, name)
    return directory / best[1] if best else None
