"""The CLI's hot paths stay light: no textual for any inventory verb, and the `sesh pane`
launcher path imports nothing beyond _socket, os and sys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[2] / "bin" / "sesh"


def test_cli_import_does_not_load_textual_or_libtmux() -> None:
    code = (
        "import sys\nimport sesh_mesh.cli.main\n"
        "heavy = [m for m in ('textual', 'libtmux', 'aiosqlite', 'websockets', 'pydantic',\n"
        "                     'mcp', 'starlette', 'uvicorn', 'sse_starlette', 'sesh_mesh.web',\n"
        "                     'sesh_mesh.daemon', 'sesh_mesh.daemon.op_args') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_launcher_pane_path_imports_only_the_socket_module(tmp_path: Path) -> None:
    # Run the launcher's Python part the way the launcher does (-I -S) and list new modules.
    probe = (
        "import sys\nbefore = set(sys.modules)\n"
        "sys.argv = ['sesh', 'pane', '--pane', '%1', '--socket-path', '/nonexistent']\n"
        f"src = open({str(LAUNCHER)!r}).read()\n"
        "try:\n    exec(compile(src, 'sesh', 'exec'), {'__name__': '__main__'})\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(code, new)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=False,
                          env={"SESH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    code, _, modules = done.stdout.strip().partition(" ")
    assert code == "4", done.stdout + done.stderr  # no daemon in tmp_path: exit 4, nothing printed
    # With -S even os is not preloaded: os and what it pulls in are allowed, nothing else.
    allowed = {"_socket", "os", "os.path", "posixpath", "genericpath", "stat", "_stat", "_collections_abc"}
    assert set(eval(modules)) <= allowed, modules


def test_fast_info_and_list_import_no_json_argparse_or_cli(tmp_path: Path) -> None:
    code = (
        "import sys\nbefore = set(sys.modules)\nfrom sesh_mesh.cli import fast\n"
        "assert fast.request(['list', '--json']) and fast.request(['info', 'ab12', '--json'])\n"
        "assert fast.request(['list']) is None and fast.request(['info', 'x;y', '--json']) is None\n"
        "new = set(sys.modules) - before\n"
        "heavy = [m for m in new if m in ('json', 'argparse', 'sesh_mesh.cli.main', 'sesh_mesh.client', 'pathlib')]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
