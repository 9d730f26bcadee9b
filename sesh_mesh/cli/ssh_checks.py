"""`sesh doctor`'s ssh rows: can this machine log in to each peer without a prompt, as entering
its sessions needs (`ssh -o BatchMode=yes … true`, every peer at once)?"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sesh_mesh.errors import SeshError

PROBE_TIMEOUT_S = 20.0


def ssh_checks(home: Path) -> list[dict[str, str]]:
    from sesh_mesh.config import load_config
    from sesh_mesh.daemon.peers import load_peers
    from sesh_mesh.ssh_target import ssh_settings

    try:
        config = load_config(home)
        settings = ssh_settings(config.raw, config.path)
        peers = load_peers(home)
    except SeshError as exc:
        return [{"check": "ssh", "status": "fail", "detail": exc.what, "fix": exc.fix}]
    if not peers:
        return []

    def probe(name: str) -> dict[str, str]:
        from sesh_mesh.ssh_target import classify_failure, probe_argv

        target = peers[name].ssh_target()
        row = {"check": f"ssh-{name}", "status": "ok", "detail": "", "fix": ""}
        if target is None:
            return {**row, "status": "warn", "detail": f"no ssh target for {name}",
                    "fix": f"sesh peer set {name} --ssh [user@]host[:port]"}
        try:
            done = subprocess.run(probe_argv(settings, target), capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
        except FileNotFoundError:
            return {**row, "status": "fail", "detail": f"{settings.command[0]} not found",
                    "fix": 'install an ssh client, or set [ssh] command = "…" in config.toml'}
        except subprocess.TimeoutExpired:
            return {**row, "status": "fail", "detail": f"ssh {target} did not answer in {PROBE_TIMEOUT_S:.0f}s",
                    "fix": f"check the host and port: sesh peer set {name} --ssh [user@]host[:port]"}
        if done.returncode == 0:
            return {**row, "detail": f"ssh {target} logs in without a prompt"}
        failure = classify_failure(name, target, done.returncode, done.stderr)
        return {**row, "status": "warn", "detail": failure.what, "fix": failure.fix}

    with ThreadPoolExecutor(max_workers=min(8, len(peers))) as pool:
        return list(pool.map(probe, sorted(peers)))
