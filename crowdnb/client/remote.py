"""`crowdnb.connect(url, token)`: the same project API as a local store, over HTTP.

Labels go to a local outbox first (durable on disk), then to the server; a background thread
sends what is waiting and keeps trying while the server is unreachable, so the widget keeps
working on the tasks it already has. Annotation ids are made here, so a retry is never stored
twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from platformdirs import user_data_dir

from crowdnb import kinds
from crowdnb.client.outbox import Outbox
from crowdnb.errors import Conflict, CrowdnbError, Forbidden, LabelError, NotFound, ValidationError
from crowdnb.widgets import Inspector, Item, Labeler, SourceUnavailable

log = logging.getLogger(__name__)
RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)
LINGER_SECONDS = 0.05  # after a label is queued, wait this long for more to send together (unless flushed)
STATUS_ERRORS = {403: Forbidden, 404: NotFound, 409: Conflict, 422: LabelError}


def connect(url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> Remote:
    """Connect to a crowdnb server with a worker's token."""
    return Remote(url, token, outbox=outbox, timeout=timeout)


class Remote:
    """A crowdnb server as seen by one worker (or inspector, or manager)."""

    def __init__(self, url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        who = hashlib.sha256(f"{self.url} {token}".encode()).hexdigest()[:16]
        self.outbox = Outbox(outbox or Path(user_data_dir("crowdnb", appauthor=False)) / f"outbox-{who}.sqlite")
        self.failures: list[str] = []
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a flush is waiting: send without lingering
        self._sent = threading.Condition()  # notified after each attempt to send
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._send_forever, name="crowdnb-outbox", daemon=True)
        self._sender.start()

    def __repr__(self) -> str:
        return f"Remote({self.url!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; raises `SourceUnavailable` when the server cannot be reached and the
        matching crowdnb error for a refusal."""
        try:
            response = self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None
        if response.status_code >= 500:
            raise SourceUnavailable(f"{self.url} answered {response.status_code}")
        if response.status_code >= 400:
            detail = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            problems = detail.get("problems") or []
            message = detail.get("detail") or response.text
            if response.status_code == 422 and problems:
                raise ValidationError([_Problem(p) for p in problems])
            raise STATUS_ERRORS.get(response.status_code, CrowdnbError)(f"{response.status_code}: {message}")
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.content

    def me(self) -> dict[str, str]:
        """Who this token belongs to: name and role."""
        return self.request("GET", "/me")

    def balance(self) -> int:
        """This worker's points."""
        return int(self.request("GET", "/me/balance")["points"])

    def projects(self) -> list[str]:
        """Projects this worker may work on (all of them for a manager)."""
        return self.request("GET", "/projects")

    def project(self, name: str) -> RemoteProject:
        """A project on the server."""
        return RemoteProject(self, self.request("GET", f"/projects/{name}"))

    def create_project(
        self, name: str, kind: str, *, overlap: int = 1, price: int = 0, review_rate: float = 0.0,
        review_window_seconds: int | None = None, **options: Any,
    ) -> RemoteProject:
        """Create a project (managers)."""
        body = {
            "name": name, "kind": kind, "options": options, "overlap": overlap, "price": price,
            "review_rate": review_rate, "review_window_seconds": review_window_seconds,
        }
        return RemoteProject(self, self.request("POST", "/projects", json=body))

    def payouts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Points per worker earned in [start, end) (managers)."""
        rows = self.request("GET", "/payouts", params={"start": start.isoformat(), "end": end.isoformat()})
        return pd.DataFrame(rows, columns=["worker", "points", "entries"])

    # -- the outbox ---------------------------------------------------------------------------

    def queue(self, op_id: str, project: str, op: str, body: dict[str, Any]) -> None:
        """Put an operation in the outbox (durably) and wake the sender."""
        self.outbox.put(op_id, project, op, body)
        self._wake.set()

    def flush(self, timeout: float = 30) -> int:
        """Wait until the outbox is empty or `timeout` passes; returns what is still waiting."""
        deadline = time.monotonic() + timeout
        with self._sent:
            self._urgent.set()
            self._wake.set()
            while len(self.outbox) and (left := deadline - time.monotonic()) > 0:
                self._sent.wait(left)
        return len(self.outbox)

    def close(self) -> None:
        """Stop the sender (what is still waiting stays in the outbox for next time)."""
        self._stop.set()
        self._urgent.set()
        self._wake.set()
        self._sender.join(timeout=5)
        self.http.close()

    def _send_forever(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._send_waiting()
                attempt = 0
                wait = 5.0
            except Exception as exc:  # noqa: BLE001 - the labels stay in the outbox; try again later
                if not isinstance(exc, SourceUnavailable):
                    log.warning("sending the outbox failed, will retry: %s: %s", type(exc).__name__, exc)
                wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                attempt += 1
            with self._sent:
                self._sent.notify_all()
            if self._wake.wait(timeout=wait) and attempt == 0:
                self._urgent.wait(timeout=LINGER_SECONDS)
            self._wake.clear()
            self._urgent.clear()

    def _send_waiting(self) -> None:
        while batch := self.outbox.oldest():
            for project, op, ops in _runs(batch):
                if op != "submit" or not self._send_labels(project, ops):
                    self._send_each(project, op, ops)

    def _send_each(self, project: str, op: str, ops: list[tuple[str, dict[str, Any]]]) -> None:
        """Send queued operations one request each; one the server refuses is kept aside."""
        for op_id, body in ops:
            try:
                self.request("POST", f"/projects/{project}/{op}", json=body)
            except SourceUnavailable:
                raise
            except CrowdnbError as exc:  # refused for good: keep it aside, say so
                self._refused(op_id, f"{op} {body.get('task_id')}: {exc}")
                continue
            self.outbox.done([op_id])

    def _send_labels(self, project: str, ops: list[tuple[str, dict[str, Any]]]) -> bool:
        """Send queued labels of one project in one request; each is stored or refused alone.
        False when the request was refused as a whole (e.g. one label outside the request's
        limits, or a server without `submit-many`): then they go one by one."""
        try:
            outcomes = self.request("POST", f"/projects/{project}/submit-many", json={"labels": [body for _, body in ops]})
        except SourceUnavailable:
            raise
        except CrowdnbError:
            return False
        task_of = {op_id: body.get("task_id") for op_id, body in ops}
        self.outbox.done([outcome["annotation_id"] for outcome in outcomes if outcome["stored"]])
        for outcome in outcomes:
            if not outcome["stored"]:
                self._refused(outcome["annotation_id"], f"submit {task_of[outcome['annotation_id']]}: {outcome['detail']}")
        return True

    def _refused(self, op_id: str, message: str) -> None:
        self.outbox.fail(op_id, message)
        self.failures.append(message)


def _runs(batch: list[tuple[str, str, str, dict[str, Any]]]) -> list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]:
    """Consecutive operations grouped by (project, op), order kept."""
    runs: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = []
    for op_id, project, op, body in batch:
        if runs and runs[-1][:2] == (project, op):
            runs[-1][2].append((op_id, body))
        else:
            runs.append((project, op, [(op_id, body)]))
    return runs


class _Problem:
    """A problem line as the server wrote it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class RemoteProject:
    """A project on a server, with the local `Project`'s API."""

    def __init__(self, remote: Remote, info: dict[str, Any]) -> None:
        self.remote = remote
        self.name: str = info["name"]
        self.kind = kinds.get(info["kind"])
        self.config: dict[str, Any] = info["config"]
        self.info = info
        self.payloads: dict[int, dict[str, Any]] = {}  # of tasks claimed here, to check labels locally

    def __repr__(self) -> str:
        return f"RemoteProject({self.name!r}, kind={self.kind.name!r}, server={self.remote.url!r})"

    def add_tasks(self, frame: pd.DataFrame, *, on_duplicate: str = "error") -> int:
        """Add tasks (managers); image paths are relative to the server's media folder."""
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return int(self.remote.request("POST", f"/projects/{self.name}/tasks", json={"rows": rows, "on_duplicate": on_duplicate})["added"])

    def add_member(self, worker: str) -> None:
        """Let a worker work on (or inspect) this project (managers)."""
        self.remote.request("POST", f"/projects/{self.name}/members", json={"worker": worker})

    def annotate(self, *, prefetch: int = 5) -> Labeler:
        """The labeling widget, fed by the server; works on through short outages."""
        me = self.remote.me()["name"]
        source = HttpSource(self)
        return Labeler(source, view=self.kind.view, config=self.config, prefetch=prefetch, title=f"{self.name} · {me}")

    def labels(self) -> pd.DataFrame:
        """All current labels (managers)."""
        return _frame(self.remote.request("GET", f"/projects/{self.name}/labels"))

    def tasks(self) -> pd.DataFrame:
        """All tasks with known answers (managers)."""
        return pd.DataFrame(self.remote.request("GET", f"/projects/{self.name}/tasks"))

    def my_labels(self) -> pd.DataFrame:
        """This worker's labels with their review status and rejection reasons."""
        return _frame(self.remote.request("GET", f"/projects/{self.name}/my-labels"))

    def progress(self) -> tuple[int, int]:
        """(tasks labeled by this worker, all tasks)."""
        answer = self.remote.request("GET", f"/projects/{self.name}/progress")
        return answer["done"], answer["total"]

    def claim(self, n: int, exclude: Sequence[int] = ()) -> list[dict[str, Any]]:
        """Lease up to `n` tasks (what the widget does; useful for scripts and load tests)."""
        return self.remote.request("POST", f"/projects/{self.name}/claim", json={"n": n, "exclude": list(exclude)})

    def submit(self, task_id: int, label: Any, *, duration_ms: int | None = None, annotation_id: str | None = None) -> str:
        """Validate a label here, queue it durably, and return its annotation id; it reaches the
        server as soon as it can (see `Remote.flush`)."""
        if task_id in self.payloads:
            self.kind.validate_label(label, self.config, self.payloads[task_id])
        annotation_id = annotation_id or uuid.uuid4().hex
        body = {"annotation_id": annotation_id, "task_id": task_id, "label": label, "duration_ms": duration_ms}
        self.remote.queue(annotation_id, self.name, "submit", body)
        return annotation_id

    def skip(self, task_id: int) -> None:
        """Give a task back (queued like a label)."""
        self.remote.queue(f"skip-{task_id}-{uuid.uuid4().hex[:8]}", self.name, "skip", {"task_id": task_id})

    def inspect(self) -> Inspector:
        """The inspector's widget over this project's labels awaiting inspection."""
        def image(payload: dict[str, Any]) -> bytes | None:
            path = payload.get("image_path")
            return self.remote.request("GET", f"/media/{path}") if path else None

        return Inspector(self, image_bytes=image)

    def claim_reviews(self, n: int = 10) -> list[dict[str, Any]]:
        """Labels to inspect (inspectors)."""
        return self.remote.request("POST", f"/projects/{self.name}/reviews/claim", json={"n": n})

    def decide(self, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label (inspectors)."""
        self.remote.request("POST", f"/projects/{self.name}/reviews/{annotation_id}", json={"decision": decision, "reason": reason})


class HttpSource:
    """A `TaskSource` over HTTP: images fetched from the server's media, labels via the outbox."""

    def __init__(self, project: RemoteProject) -> None:
        self.project = project
        self._progress = (0, 0)
        self._told = 0

    def fetch(self, n: int, exclude: Sequence[int]) -> list[Item]:
        tasks = self.project.claim(n, list(exclude)[-1000:])  # also renews the leases of `exclude`
        return [self._item(task) for task in tasks]

    def _item(self, task: dict[str, Any]) -> Item:
        payload = task["payload"]
        self.project.payloads[task["task_id"]] = {k: v for k, v in payload.items() if k != "image_path"}
        common = {
            "text": payload.get("text"), "prediction": payload.get("prediction"), "notice": task.get("rework"),
            "meta": task["meta"], "width": payload.get("width"), "height": payload.get("height"),
        }
        if payload.get("image_path"):
            data = self.project.remote.request("GET", f"/media/{payload['image_path']}")
            mime = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}.get(payload.get("format"), "image/png")
            return Item(task["task_id"], task["external_id"], image=data, image_mime=mime, **common)
        return Item(task["task_id"], task["external_id"], image_url=payload.get("image_url"), **common)

    def submit(self, task_id: int, label: Any, annotation_id: str, duration_ms: int | None) -> None:
        self.project.submit(task_id, label, duration_ms=duration_ms, annotation_id=annotation_id)

    def skip(self, task_id: int) -> None:
        self.project.skip(task_id)

    def progress(self) -> tuple[int, int]:
        try:
            self._progress = self.project.progress()
        except SourceUnavailable:
            pass  # offline: the last known numbers, plus what waits in the outbox
        done, total = self._progress
        return min(done + len(self.project.remote.outbox), total), total

    def notices(self) -> list[str]:
        failures = self.project.remote.failures
        new, self._told = failures[self._told :], len(failures)
        return [f"not stored: {f}" for f in new]


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if "submitted_at" in frame.columns:
        frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    return frame
