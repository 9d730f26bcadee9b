"""Daemon memory under clients that never authenticate: each opens a websocket to the mesh
listener and sends all but the last byte of one large frame, then holds the socket.

Before the hello, a frame larger than the pre-authentication limit is refused on its header and
connections beyond the cap are closed at once, so the daemon's RSS stays flat however many such
clients connect. Prints the RSS before, while the clients hold their half-sent frames, and the
peak (VmHWM). Traffic only to loopback.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Daemon, free_port


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def half_send(port: int, frame_bytes: int, sent: list[int], hold: threading.Event) -> None:
    """One client: the websocket handshake, then a text frame of `frame_bytes` minus its last byte."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                         .encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                answer += chunk
            if not answer.startswith(b"HTTP/1.1 101"):
                return
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, frame_bytes) + os.urandom(4)
            payload = b"x" * (frame_bytes - 1)
            sock.sendall(header)
            step = 256 * 1024
            for start in range(0, len(payload), step):
                sock.sendall(payload[start:start + step])
                sent[0] += len(payload[start:start + step])
            hold.wait()
    except OSError:
        return  # the daemon closed it: what the limit is for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--frame-mib", type=float, default=3.9, help="size of each half-sent frame (MiB)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds to hold after the last byte is sent")
    opts = parser.parse_args()
    daemon = Daemon("bench", listen=f"127.0.0.1:{free_port()}").start()
    try:
        assert daemon.process is not None and daemon.port is not None
        pid = daemon.process.pid
        time.sleep(1.0)
        before = rss_kib(pid)
        hold = threading.Event()
        sent = [0]
        frame_bytes = int(opts.frame_mib * 1024 * 1024)
        threads = [threading.Thread(target=half_send, args=(daemon.port, frame_bytes, sent, hold), daemon=True)
                   for _ in range(opts.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=0.05)
        deadline = started + 8.0  # inside the 10 s hello timeout
        while time.monotonic() < deadline and any(t.is_alive() for t in threads) and sent[0] < \
                opts.clients * (frame_bytes - 1):
            time.sleep(0.2)
        time.sleep(opts.hold)
        holding = rss_kib(pid)
        peak = rss_kib(pid, "VmHWM")
        hold.set()
        alive = daemon.call("ping")["machine"] == "bench"
        print(f"clients={opts.clients} frame={opts.frame_mib} MiB client_sent={sent[0] / 2**20:.0f} MiB")
        print(f"rss_before={before / 1024:.1f} MiB rss_holding={holding / 1024:.1f} MiB "
              f"growth={(holding - before) / 1024:.1f} MiB peak={peak / 1024:.1f} MiB daemon_serving={alive}")
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)


if __name__ == "__main__":
    main()
