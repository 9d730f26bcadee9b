"""A real OpenSSH server on loopback for the remote-enter tests: its own port, a generated host
key and user key, run as root (`sshd` needs it to change user); skipped, with the reason, when
not root or when openssh-server is not installed (scripts/test installs it).

The authorized key forces a wrapper command that exports the owner daemon's SESH_HOME and PATH
(read from `remote.env` on every login, so a test can change them) and then runs the command
the client asked for, as a login shell would.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import free_port
from tests.polling import eventually

SSHD = Path("/usr/sbin/sshd")


def skip_unless_sshd() -> None:
    if os.geteuid() != 0:
        pytest.skip("remote enter over ssh needs a real sshd, which must run as root: run the tests as root")
    if not SSHD.exists() or shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        pytest.skip("openssh-server is not installed (scripts/test installs it: apt-get install openssh-server)")


class Sshd:
    def __init__(self, root: Path) -> None:
        self.dir = root / "sshd"
        self.dir.mkdir(mode=0o700, parents=True)
        self.port = free_port()
        self.host_key = self.dir / "host_key"
        self.user_key = self.dir / "user_key"
        for key in (self.host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        self.env_file = self.dir / "remote.env"
        wrapper = self.dir / "remote.sh"
        script = f"#!/bin/sh\n. {shlex.quote(str(self.env_file))}\n" + 'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        wrapper.write_text(script)
        wrapper.chmod(0o755)
        public = (self.dir / "user_key.pub").read_text().strip()
        (self.dir / "authorized_keys").write_text(f'command="{wrapper}",no-port-forwarding,no-agent-forwarding '
                                                  f"{public}\n")
        host_public = (self.dir / "host_key.pub").read_text().split()
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_public[0]} {host_public[1]}\n")
        self.config = self.dir / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}", f"PidFile {self.dir / 'sshd.pid'}",
            "PermitRootLogin prohibit-password", "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PrintMotd no", "PrintLastLog no",
            "AcceptEnv LANG LC_*", "LogLevel VERBOSE", "",
        ]))
        self.process: subprocess.Popen[bytes] | None = None

    def set_remote_env(self, env: dict[str, str]) -> None:
        self.env_file.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items()))

    @property
    def target(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    def client_options(self) -> list[str]:
        """`[ssh] options` for a client that trusts this server's key and logs in with the test key."""
        return ["-F", "/dev/null", "-i", str(self.user_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "LogLevel=ERROR"]

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        log = (self.dir / "sshd.log").open("ab")
        self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL)
        log.close()

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited {self.process.returncode}: {self.log()}")
            with contextlib.closing(socket.socket()) as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        eventually(listening, 10, what=f"sshd on 127.0.0.1:{self.port}")

    def log(self) -> str:
        path = self.dir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def running_sshd(root: Path) -> Iterator[Sshd]:
    skip_unless_sshd()
    server = Sshd(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
