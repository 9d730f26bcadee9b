"""Real daemons with their own claude data dir, fed synthetic transcripts (no agent CLI needed)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness import Daemon, free_port
from tests.mesh.helpers import MESH_ENV, link, wait_linked
from tests.polling import eventually
from tests.transcripts.claude_gen import write_session

NO_TRANSCRIPT_SID = "7d5c7d7e-1111-4a2b-9c3d-000000000001"
"""A claude session id with no transcript on disk (registered, never talked to)."""

NAMER_SCRIPT = """\
import json, os, re, sys
text = sys.stdin.read()
topic = re.search(r"TOPIC (\\w+)", text)
word = topic.group(1) if topic else "none"
if word == "explode":
    sys.stderr.write("namer exploded on purpose\\n")
    sys.exit(3)
print(json.dumps({"name": "topic-" + word, "summary": "about " + word + " for " + os.environ["SESH_NAMING_UUID"][:8]}))
"""
"""A command namer: reads the excerpt on stdin and names the session after its `TOPIC <word>`."""


@dataclass
class Machine:
    daemon: Daemon
    root: Path

    @property
    def claude_dir(self) -> Path:
        return self.root / "claude"

    def session(self, turns: list[tuple[str, str]], *, name: str | None = None, project: str = "proj",
                register: bool = True) -> tuple[str, Path]:
        """A claude conversation on disk in cwd root/<project>; registered (and located) unless told not."""
        cwd = self.root / project
        cwd.mkdir(exist_ok=True)
        sid, path = write_session(self.claude_dir, str(cwd), turns)
        if register:
            self.register(sid, cwd, name)
            eventually(lambda: self.daemon.call("info", {"uuid": sid}).get("filePath"), timeout=10,
                       what="the daemon to locate the transcript")
        return sid, path

    def register(self, sid: str, cwd: Path, name: str | None = None) -> dict[str, Any]:
        run = self.daemon.sesh("register", sid, "--agent", "claude", "--cwd", str(cwd),
                               *(["--name", name] if name else []), "--json")
        assert run.code == 0, run.err
        return run.json()  # type: ignore[no-any-return]


def config_text(autoname: dict[str, Any] | None, root: Path) -> str:
    """`[autoname]` for config.toml; "{namer}" in a value stands for the NAMER_SCRIPT command."""
    if not autoname:
        return ""
    lines = ["[autoname]"]
    for key, value in autoname.items():
        if isinstance(value, str):
            value = json.dumps(value.replace("{namer}", f"{sys.executable} {root / 'namer.py'}"))
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def make_machine(name: str, *, listen: bool = False, autoname: dict[str, Any] | None = None,
                 extra_env: dict[str, str] | None = None) -> Machine:
    root = Path(tempfile.mkdtemp(prefix=f"tr{name[:2]}", dir="/tmp"))
    env = {"CLAUDE_CONFIG_DIR": str(root / "claude"), "CODEX_HOME": str(root / "codex"),
           "PI_CODING_AGENT_DIR": str(root / "pi"), **MESH_ENV, **(extra_env or {})}
    daemon = Daemon(name, listen=f"127.0.0.1:{free_port()}" if listen else None, extra_env=env)
    (daemon.home / "config.toml").write_text(config_text(autoname, root))
    (root / "namer.py").write_text(NAMER_SCRIPT)
    return Machine(daemon, root)


@contextlib.contextmanager
def machines(*names: str, autoname: dict[str, Any] | None = None,
             extra_env: dict[str, str] | None = None) -> Iterator[list[Machine]]:
    """Started daemons (linked both ways when more than one), torn down however the test ends."""
    made = [make_machine(n, listen=len(names) > 1, autoname=autoname, extra_env=extra_env) for n in names]
    try:
        for index, machine in enumerate(made):
            for other in made[index + 1:]:
                link(machine.daemon, other.daemon)
        for machine in made:
            machine.daemon.start()
        for machine in made:
            wait_linked(machine.daemon, *(other.daemon.machine for other in made if other is not machine))
        yield made
    finally:
        for machine in made:
            with contextlib.suppress(Exception):
                machine.daemon.stop()
            shutil.rmtree(machine.root, ignore_errors=True)
            shutil.rmtree(machine.daemon.home, ignore_errors=True)
