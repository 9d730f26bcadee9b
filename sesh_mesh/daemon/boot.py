"""Entry from the CLI into the daemon process: imports the daemon's parts and runs it."""

from __future__ import annotations

from pathlib import Path

from sesh_mesh.config import Config
from sesh_mesh.daemon import agent_ops, main, mesh, transcript_ops

main.EXTENSIONS.append(agent_ops.install)
main.EXTENSIONS.append(mesh.start_mesh)
main.EXTENSIONS.append(transcript_ops.install)


def run_daemon(home: Path, machine: str, config: Config, listen: str | None) -> int:
    return main.run(home, machine, config, listen)
