"""`crowdnb serve --processes 2` under load: with every core busy the supervisor replaces no
process, and a SIGHUP replaces them all; every request is answered, none with a 5xx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
from servers import Server

import crowdnb
from crowdnb import SqlStore

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

SATURATION_SECONDS = 20
WORKERS = 4
# A bounded busy loop: one per core, each its own process at the default priority.
BURN = f"import time\nend = time.monotonic() + {SATURATION_SECONDS}\nwhile time.monotonic() < end: pass"


class Worker(threading.Thread):
    """Claims one task and labels it, over and over, until `stop` is set; counts the answers'
    status codes and keeps what went wrong in `errors` (a transport error means no answer).
    With `retry`, a request that got no answer is sent once more, as clients do when a server
    closes an idle connection just as they use it; `retried` keeps those. A retried label found
    stored already was handled and its answer lost: an error."""

    def __init__(self, url: str, token: str, stop: threading.Event, *, retry: bool = False) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url + "/api/v1/projects/load", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.stop = stop
        self.retry = retry
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.retried: list[str] = []

    def run(self) -> None:
        with self.client:
            while not self.stop.is_set():
                try:
                    claimed = self._post("/claim", {"n": 1})
                    for task in claimed.json() if claimed.status_code == 200 else []:
                        self._post("/submit", {"annotation_id": uuid.uuid4().hex, "task_id": task["task_id"], "label": "a"})
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))

    def _post(self, path: str, body: dict[str, object]) -> httpx.Response:
        try:
            response = self.client.post(path, json=body)
        except httpx.TransportError as exc:
            if not self.retry:
                raise
            self.retried.append(f"{path}: {exc!r}")
            response = self.client.post(path, json=body)
            if path == "/submit" and response.status_code == 200 and response.json()["duplicate"]:
                self.errors.append(f"{body['annotation_id']} was stored, but its answer was lost")
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
        return response


@pytest.fixture
def server(pg_cluster, tmp_path: Path) -> Iterator[tuple[Server, list[str]]]:
    """`crowdnb serve --processes 2` on a PostgreSQL store with a project of 2,000 tasks, and
    tokens of WORKERS workers in it."""
    url = pg_cluster.new_database()
    with SqlStore(url) as store:
        info = store.create_project("load", "text-class", {"classes": ["a", "b"]}, overlap=2)
        crowdnb.Project(store, info).add_tasks(pd.DataFrame({"text": [f"task {i}" for i in range(2000)]}))
        tokens = [store.issue_token(f"w{i}") for i in range(WORKERS)]
        for i in range(WORKERS):
            store.add_member(info.id, f"w{i}")
    (tmp_path / "media").mkdir()
    running = Server(url, tmp_path / "media", tmp_path / "server.log", processes=2).start(timeout=90)
    try:
        yield running, tokens
    finally:
        running.stop()


@contextmanager
def load(server: Server, tokens: list[str], *, retry: bool = False) -> Iterator[list[Worker]]:
    """Workers claiming and labeling while the block runs; they stop when it ends."""
    stop = threading.Event()
    workers = [Worker(server.url, token, stop, retry=retry) for token in tokens]
    for worker in workers:
        worker.start()
    try:
        yield workers
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=90)


def outcome(workers: list[Worker]) -> tuple[Counter[int], list[str]]:
    """All workers' status codes, and what went wrong."""
    return sum((w.statuses for w in workers), Counter()), [error for w in workers for error in w.errors]


def test_no_server_process_is_replaced_while_every_core_is_busy(server: tuple[Server, list[str]]) -> None:
    running, tokens = server
    processes = running.children()
    with load(running, tokens) as workers:
        burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(os.cpu_count() or 1)]
        for burner in burners:
            burner.wait()
    statuses, errors = outcome(workers)
    log = running.log.read_text()[-2000:]
    assert not errors, (errors[:5], statuses, log)
    assert statuses[200] > 100, statuses  # the load was real
    assert len(processes) >= 2 and running.children() == processes, (processes, running.children(), log)


def test_a_sighup_replaces_every_process_without_failing_a_request(server: tuple[Server, list[str]]) -> None:
    """A retiring process answers the requests it has read. It closes its idle connections,
    and a request sent on one at that moment is sent again (as with any server): once per
    worker and process at most."""
    running, tokens = server
    before = running.children()
    with load(running, tokens, retry=True) as workers:
        time.sleep(1)
        os.kill(running.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 120
        while len(before - running.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # and the new processes serve
    statuses, errors = outcome(workers)
    retried = [r for w in workers for r in w.retried]
    log = running.log.read_text()[-2000:]
    assert len(before - running.children()) == 2, (before, running.children(), log)  # its two workers, not the resource tracker
    assert not errors, (errors[:5], statuses, log)
    assert len(retried) <= 2 * WORKERS, retried
    assert statuses[200] > 20, statuses
