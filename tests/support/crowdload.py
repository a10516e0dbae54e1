"""Many workers on one project at once, for load and fault tests: workers through the client
library (with its outbox) and raw-HTTP workers that act as a labeling page does, and the checks
that every task ends with exactly `overlap` labels and no acknowledged label is lost."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

import crowdnb
from crowdnb import SqlStore
from crowdnb.store import Submission
from crowdnb.widgets import SourceUnavailable

FULL = "already has all its labels"  # the store's refusal of a late label for a task that is full


def load_project(
    store_url: str, n_workers: int, n_tasks: int, overlap: int, lease_seconds: int, name: str = "load"
) -> tuple[SqlStore, list[str]]:
    """A text-class project of `n_tasks` tasks with `n_workers` members (w00, w01, ...); the
    store and the workers' tokens. The store allows leases shorter than the API's minimum."""
    store = SqlStore(store_url)
    info = store.create_project(name, "text-class", {"classes": ["a", "b"]}, overlap=overlap, lease_seconds=lease_seconds)
    frame = pd.DataFrame({"text": [f"task {i}" for i in range(n_tasks)], "id": [f"t{i}" for i in range(n_tasks)]})
    crowdnb.Project(store, info).add_tasks(frame)
    tokens = []
    for i in range(n_workers):
        tokens.append(store.issue_token(f"w{i:02d}"))
        store.add_member(info.id, f"w{i:02d}")
    return store, tokens


class OutboxWorker(threading.Thread):
    """Claims and labels through the client library (outbox included) until nothing is left;
    `quit_when()` returning True makes them walk away, abandoning the tasks they hold. Their
    labels count as acknowledged once a flush returned with the outbox empty (checked at the end)."""

    def __init__(self, url: str, token: str, folder: Path, quit_when: Callable[[], bool] = lambda: False, project: str = "load") -> None:
        super().__init__(daemon=True)
        self.remote = crowdnb.connect(url, token, outbox=folder / f"outbox-{token[-8:]}.sqlite")
        self.project = project
        self.quit_when = quit_when
        self.sent: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            info = self.remote.project(self.project)
            me = self.remote.worker_id(self.remote.current_worker())
            held: list[int] = []
            empty_rounds = 0
            while empty_rounds < 3 and not self.quit_when():
                try:
                    batch = self.remote.claim(info.id, me, 5, exclude=held[-1000:])
                except SourceUnavailable:
                    time.sleep(0.2)
                    continue
                empty_rounds = 0 if batch else empty_rounds + 1
                if not batch:
                    time.sleep(1.0)  # leases of others may still run out
                for task in batch:
                    if self.quit_when():
                        return
                    label = Submission(uuid.uuid4().hex, task.id, random.choice("ab"))
                    self.sent.append(self.remote.submit(info.id, me, label).annotation_id)
                    held.append(task.id)
                self.remote.flush(timeout=5)  # a person takes longer per item than the upload
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.remote.flush(timeout=60)

    def outcome(self) -> Outcome:
        """What became of this worker's labels, once its outbox is empty (asserted here)."""
        assert self.error is None, repr(self.error)
        assert self.remote.flush(timeout=60) == 0, f"{len(self.remote.outbox)} labels still waiting"
        assert all(FULL in f for f in self.remote.failures), self.remote.failures
        return Outcome(sent=list(self.sent), refused=len(self.remote.failures))


class PageWorker(threading.Thread):
    """A worker on a labeling page over raw HTTP. The page claims `batch` tasks whenever it
    holds no more than `prefetch` (passing every task it was handed as `exclude`), shows the
    oldest for `dawdle` seconds (renewing the leases of all it holds every `renew` seconds, if
    given), then labels or skips it (`skip_rate`) with one request. After `walk_after` claims
    the worker walks away holding what the page has. Labels answered more than
    `lease_seconds` after their claim was sent are listed as late. A 503 is retried after its
    Retry-After (a label with the same annotation id) for up to `patience` seconds; any other
    refusal, or a transport error (a request unanswered for 20 s), ends the worker with it.
    Runs until `stop` is set."""

    def __init__(
        self, url: str, token: str, stop: threading.Event, *, project: str = "load", batch: int = 2,
        prefetch: int = 0, skip_rate: float = 0.0, dawdle: float = 0.0, renew: float | None = None,
        walk_after: int | None = None, lease_seconds: float = float("inf"), patience: float = 60, seed: int = 0,
    ) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(
            base_url=f"{url}/api/v1/projects/{project}", headers={"Authorization": f"Bearer {token}"}, timeout=20
        )
        self.stop, self.batch, self.prefetch, self.skip_rate, self.dawdle = stop, batch, prefetch, skip_rate, dawdle
        self.renew, self.walk_after, self.lease_seconds, self.patience = renew, walk_after, lease_seconds, patience
        self.random = random.Random(seed)
        self.handed: list[int] = []  # every task handed to this worker, in order
        self.acknowledged: list[str] = []  # labels answered 200
        self.refused: list[str] = []  # labels refused because their task was full (their lease ran out)
        self.late: list[str] = []  # labels whose lease may have run out before they arrived
        self.skipped: list[int] = []
        self.renew_shortfalls = 0  # renewals that found fewer live leases than tasks held
        self.statuses: Counter[int] = Counter()
        self.unexpected: list[str] = []  # answers a page cannot handle: 5xx but 503, 503 without Retry-After, ...
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            page: deque[tuple[int, float]] = deque()  # tasks held, and when the claim for each was sent
            claims = 0
            while not self.stop.is_set():
                if len(page) <= self.prefetch:
                    asked = time.monotonic()  # the lease starts later: a label answered within its length was on time
                    tasks = self._post("/claim", {"n": self.batch, "exclude": self.handed[-1000:]}).json()
                    self.handed += [t["task_id"] for t in tasks]
                    page.extend((t["task_id"], asked) for t in tasks)
                    claims += bool(tasks)
                    if tasks and self.walk_after is not None and claims >= self.walk_after:
                        return
                if not page:
                    time.sleep(0.3)  # leases of others may still run out
                    continue
                task_id, asked = page.popleft()
                self._look([task_id, *(held for held, _ in page)])
                if self.random.random() < self.skip_rate:
                    self._post("/skip", {"task_id": task_id})
                    self.skipped.append(task_id)
                else:
                    self._label(task_id, asked)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.http.close()

    def _look(self, held: list[int]) -> None:
        """Show a task for `dawdle` seconds, renewing the leases of all `held` meanwhile if asked."""
        until = time.monotonic() + self.dawdle
        while (left := until - time.monotonic()) > 0:
            time.sleep(min(left, self.renew or left))
            renewing = self.renew and time.monotonic() < until
            if renewing and self._post("/renew", {"task_ids": held}).json()["added"] != len(held):
                self.renew_shortfalls += 1

    def _label(self, task_id: int, asked: float) -> None:
        annotation_id = uuid.uuid4().hex
        body = {"annotation_id": annotation_id, "task_id": task_id, "label": self.random.choice("ab"), "duration_ms": 900}
        response = self._post("/submit", body, refusable=True)
        if time.monotonic() - asked > self.lease_seconds:
            self.late.append(annotation_id)
        if response.status_code == 200:
            self.acknowledged.append(annotation_id)
        else:
            self.refused.append(annotation_id)

    def _post(self, path: str, body: dict[str, object], *, refusable: bool = False) -> httpx.Response:
        """POST, retrying 503s; a 409 for a full task is returned when `refusable`, any other
        answer but 200 raises."""
        deadline = time.monotonic() + self.patience
        while True:
            response = self.http.post(path, json=body)
            self.statuses[response.status_code] += 1
            if response.status_code == 200 or (refusable and response.status_code == 409 and FULL in response.text):
                return response
            if response.status_code != 503 or time.monotonic() > deadline:
                raise AssertionError(f"POST {path} {body}: {response.status_code} {response.text[:300]}")
            if not _is_unavailable(response):
                self.unexpected.append(f"{response.status_code} {dict(response.headers)} {response.text[:200]}")
            time.sleep(float(response.headers.get("Retry-After", 1)))

    def outcome(self) -> Outcome:
        """What became of this worker's labels; it met no error and no malformed 503."""
        assert self.error is None, repr(self.error)
        assert self.unexpected == [], self.unexpected[:3]
        return Outcome(sent=self.acknowledged + self.refused, refused=len(self.refused), confirmed=set(self.acknowledged))


def _is_unavailable(response: httpx.Response) -> bool:
    """A 503 in the app's error shape, with a Retry-After in seconds."""
    try:
        body = response.json()
    except ValueError:
        return False
    retry = response.headers.get("Retry-After", "")
    return set(body) == {"detail", "problems"} and body["problems"] == [] and retry.isdigit() and int(retry) > 0


@dataclass
class Outcome:
    """Labels a worker sent (each acknowledged, or refused by the store: `refused` of them),
    and those the server confirmed one by one."""

    sent: list[str]
    refused: int
    confirmed: set[str] = field(default_factory=set)


def wait_until_labeled(store: SqlStore, project: str, overlap: int, n_tasks: int, timeout: float) -> None:
    """Wait until every task has `overlap` labels (the store may be down meanwhile)."""
    info = store.project(project)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            counts = store.labels(info.id).groupby("task").size()
        except sa.exc.OperationalError:
            counts = pd.Series(dtype=int)
        if len(counts) == n_tasks and (counts == overlap).all():
            return
        time.sleep(0.3)
    raise AssertionError(f"not every task has {overlap} labels after {timeout}s")


def check_labels(store: SqlStore, project: str, n_tasks: int, overlap: int, outcomes: list[Outcome]) -> pd.DataFrame:
    """Every task has exactly `overlap` labels from distinct workers; every label sent is
    stored once unless the store refused it, confirmed ones included. Returns the labels."""
    labels = crowdnb.Project.open(project, store=store).labels()
    per_task = labels.groupby("task")["worker"].agg(["count", "nunique"])
    assert len(per_task) == n_tasks
    assert (per_task["count"] == overlap).all() and (per_task["nunique"] == overlap).all(), per_task[per_task["count"] != overlap]
    stored = set(labels["annotation_id"])
    assert len(stored) == len(labels)
    sent = [a for o in outcomes for a in o.sent]
    assert len(sent) == len(set(sent))
    assert stored <= set(sent)
    assert len(stored) == len(sent) - sum(o.refused for o in outcomes)  # stored, or its refusal reported
    assert set().union(*(o.confirmed for o in outcomes)) <= stored
    return labels
