"""A throwaway PostgreSQL server for tests and benchmarks, started from Debian's binaries.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user on a
directory that user owns. Nothing is shared with a system cluster; `stop()` removes everything.
For fault tests, `kill9()` crashes the server (kill -9 of the postmaster) and `restart()` brings
it back on the same data and port, recovering from the write-ahead log. Given a `root` (and a
`port`), the cluster lives there instead and is kept: started again on the same data, stopped
without removing it (the scale benchmark's database, `benchmarks/scale_load.py`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql; "
            "install Debian's `postgresql` package (the README's test command does)"
        )
    return Path(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL server on 127.0.0.1 at a free port (or `port`); `durable=False` turns fsync
    off. Its files are in a new temporary directory removed by `stop()`, or in `root`, kept."""

    def __init__(self, *, durable: bool = False, root: Path | None = None, port: int | None = None) -> None:
        self.bin = _bin_dir()
        self.kept = root is not None
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="crowdnb-pg-", dir="/tmp"))
        self.port = port if port is not None else _free_port()
        self.durable = durable
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [*(["runuser", "-u", "postgres", "--"] if self._as_postgres else []), *args]
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        if done.returncode:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} exited with {done.returncode}: {done.stderr}\n{tail}")

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> Cluster:
        """Create the cluster (the first time) and start its server; returns once it accepts
        connections (after crash recovery, when there was a crash)."""
        if not self.data.exists():
            if self._as_postgres:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--no-locale", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o", options, "start")
        return self

    def kill9(self, timeout: float = 10) -> None:
        """Crash the server: kill -9 its postmaster, then wait until the backends have noticed
        and exited (until then the data directory cannot be started again)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [p for p in _processes() if _parent(p) == pid]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while (left := [p for p in [pid, *children] if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in left:  # a backend stuck past the timeout goes the same way
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        # The lock files name a dead postmaster; if nobody reaps it, its pid still answers
        # kill(pid, 0) and the new postmaster would take it for a running one.
        for lock in (self.data / "postmaster.pid", self.root / f".s.PGSQL.{self.port}.lock"):
            lock.unlink(missing_ok=True)

    def restart(self, pause: float = 0) -> None:
        """Start the server again on the same data and port, `pause` seconds after a running
        one was stopped cleanly (its sessions are ended with an error, as in an administrator's
        restart) or after a crash."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(pause)
        self.start()

    def accepts_connections(self) -> bool:
        """Whether the server answers a connection now."""
        import psycopg

        try:
            psycopg.connect(self._conninfo(), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def _conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def stop(self) -> None:
        """Stop the server; a temporary cluster's files go too (a kept one stops cleanly)."""
        try:
            if (self.data / "postmaster.pid").exists():
                mode = "fast" if self.kept else "immediate"
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        finally:
            if not self.kept:
                shutil.rmtree(self.root, ignore_errors=True)

    def stop_command(self) -> str:
        """The shell command that stops the server cleanly (for a kept cluster left running)."""
        runner = "runuser -u postgres -- " if self._as_postgres else ""
        return f"{runner}{self.bin / 'pg_ctl'} -D {self.data} -m fast -w stop"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self._conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _processes() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat(pid: int) -> list[str] | None:
    """A process's /proc stat fields after its name (state first), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _parent(pid: int) -> int | None:
    stat = _stat(pid)
    return int(stat[1]) if stat else None


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie waiting to be reaped (which holds no resources)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")
