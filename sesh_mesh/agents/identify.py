"""Which agent runs in a tmux pane, and which conversation it holds.

Looks at the pane's process tree (/proc): the agent process, its argv, environment (for the
agent's data dir and sesh's own SESH_SESSION_ID), its open files (codex keeps its rollout
open), claude's registry file, and for pi the newest session file of its cwd.
"""

from __future__ import annotations

import os
import re
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
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


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
    elif agent.kind == "pi" and agent.transcript is None and agent.cwd:
        newest = _newest_since(pi_session_dir(agent.data_dir, agent.cwd), agent.started_at - 1)
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


def _newest_since(directory: Path, since: float) -> Path | None:
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".jsonl")]
    except OSError:
        return None
    best: tuple[float, Path] | None = None
    for entry in entries:
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue
        if mtime >= since and (best is None or mtime > best[0]):
            best = (mtime, Path(entry.path))
    return best[1] if best else None
