"""crowdnb HTTP servers as real processes on 127.0.0.1, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`crowdnb serve` in its own process group; `kill()` is a kill -9, `start()` again restarts.
    `processes` and further `serve` options (e.g. ``["--max-body", "1KiB"]``) are passed on."""

    def __init__(
        self, store_url: str, media: Path, log: Path, *, port: int | None = None, processes: int = 1,
        options: Sequence[str] = (),
    ) -> None:
        self.store_url = store_url
        self.media = media
        self.log = log
        self.processes = processes
        self.options = list(options)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> Server:
        command = [sys.executable, "-m", "crowdnb.cli", "--store", self.store_url, "serve",
                   "--media", str(self.media), "--host", "127.0.0.1", "--port", str(self.port),
                   "--processes", str(self.processes), *self.options]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/api/v1/me", timeout=1).status_code == 401:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def children(self) -> set[int]:
        """Pids of the server's child processes (its workers, when it has several), from /proc."""
        assert self.process is not None
        tasks = Path(f"/proc/{self.process.pid}/task")
        return {int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()}

    def kill(self) -> None:
        """kill -9 the server (no clean shutdown)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
