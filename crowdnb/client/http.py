"""`HttpStore`: the store interface over a crowdnb server's HTTP API (`crowdnb.connect`).

The token decides who the caller is, and the server what they may do. Labels are checked here
against the task's schema, then go to a local outbox first (durable on disk) and to the server
from a background thread, which keeps trying while the server is unreachable, so the widget
keeps working on the tasks it already has. Annotation ids are made by the client, so a retry is
never stored twice. A label the server refuses for good is set aside and reported by `notices`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from crowdnb import kinds
from crowdnb.client.outbox import Outbox
from crowdnb.errors import Conflict, CrowdnbError, Forbidden, LabelError, NotFound, SourceUnavailable, ValidationError
from crowdnb.media import BROWSER_FORMATS
from crowdnb.store.types import LABEL_COLUMNS, ProjectInfo, Receipt, Submission, Task

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.quality.rules import QualityPolicy, Status

log = logging.getLogger(__name__)
RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)
LINGER_SECONDS = 0.05  # after a label is queued, wait this long for more to send together (unless flushed)
MAX_ROWS = 100_000  # tasks per add_tasks call: one request, all or nothing
STATUS_ERRORS = {403: Forbidden, 404: NotFound, 409: Conflict, 422: LabelError}


def connect(url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> HttpStore:
    """The store of the crowdnb server at `url`, as the worker (or inspector, or manager) whose
    token this is: ``Project.open(name, store=connect(url, token))``."""
    return HttpStore(url, token, outbox=outbox, timeout=timeout)


class HttpStore:
    """A crowdnb server as one worker's store (see the module docstring)."""

    def __init__(self, url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        if outbox is None:
            from platformdirs import user_data_dir

            who = hashlib.sha256(f"{self.url} {token}".encode()).hexdigest()[:16]
            outbox = Path(user_data_dir("crowdnb", appauthor=False)) / f"outbox-{who}.sqlite"
        self.outbox = Outbox(outbox)
        self.failures: list[str] = []
        self._told = 0
        self._me: dict[str, Any] | None = None
        self._projects: dict[int, ProjectInfo] = {}
        self._payloads: dict[int, dict[str, Any]] = {}  # of tasks claimed here, to check labels before queueing
        self._progress: dict[int, tuple[int, int]] = {}
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a flush is waiting: send without lingering
        self._sent = threading.Condition()  # notified after each attempt to send
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._send_forever, name="crowdnb-outbox", daemon=True)
        self._sender.start()

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; raises `SourceUnavailable` when the server cannot be reached and the
        matching crowdnb error for a refusal."""
        try:
            response = self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None
        if response.status_code >= 500:
            raise SourceUnavailable(f"{self.url} answered {response.status_code}")
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code >= 400:
            detail = response.json() if is_json else {}
            problems = detail.get("problems") or []
            message = detail.get("detail") or response.text
            if response.status_code == 422 and problems:
                raise ValidationError([_Problem(p) for p in problems])
            raise STATUS_ERRORS.get(response.status_code, CrowdnbError)(f"{response.status_code}: {message}")
        return response.json() if is_json else response.content

    def _path(self, project_id: int, tail: str = "") -> str:
        return f"/projects/{quote(self._info(project_id).name, safe='')}{tail}"

    def _info(self, project_id: int) -> ProjectInfo:
        try:
            return self._projects[project_id]
        except KeyError:
            raise NotFound(f"project {project_id} was not opened through {self!r}; open it by name first") from None

    def me(self) -> dict[str, Any]:
        """Who this token belongs to: id, name and role."""
        if self._me is None:
            self._me = self.request("GET", "/me")
        return self._me

    # Projects

    def project_names(self) -> list[str]:
        """Projects this worker may work on (all of them for a manager)."""
        return self.request("GET", "/projects")

    def project(self, name: str) -> ProjectInfo:
        """The project called `name`, if the caller may see it."""
        return self._keep(self.request("GET", f"/projects/{quote(name, safe='')}"))

    def _keep(self, body: dict[str, Any]) -> ProjectInfo:
        info = ProjectInfo(**{**body, "created_at": datetime.fromisoformat(body["created_at"])})
        self._projects[info.id] = info
        return info

    def create_project(
        self, name: str, kind: str, config: dict[str, Any], *, overlap: int = 1, price: int = 0,
        lease_seconds: int = 600, quality: QualityPolicy | None = None, review_rate: float = 0.0,
        review_window_seconds: int | None = None,
    ) -> ProjectInfo:
        """Create a project (managers)."""
        body = {
            "name": name, "kind": kind, "options": kinds.get(kind).options_of(config), "overlap": overlap, "price": price, "lease_seconds": lease_seconds,
            "quality": quality.to_dict() if quality else None,
            "review_rate": review_rate, "review_window_seconds": review_window_seconds,
        }
        return self._keep(self.request("POST", "/projects", json=body))

    def set_quality(self, project_id: int, policy: QualityPolicy | None) -> None:
        """Set the project's quality policy (managers)."""
        self.request("PUT", self._path(project_id, "/quality"), json={"policy": policy.to_dict() if policy else None})

    def set_review(self, project_id: int, rate: float, window_seconds: int | None = None) -> None:
        """Set the share of labels sent to inspectors and the review window (managers)."""
        self.request("PUT", self._path(project_id, "/review"), json={"rate": rate, "window_seconds": window_seconds})

    # Tasks

    def add_tasks(
        self, project_id: int, frame: pd.DataFrame, *, on_duplicate: str = "error",
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Add tasks (managers), all or nothing; image paths are relative to the server's media
        folder, and the server validates every row."""
        if len(frame) > MAX_ROWS:
            raise ValueError(f"{len(frame)} rows: add at most {MAX_ROWS:,} tasks per call to a server")
        rows = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        body = {"rows": rows, "on_duplicate": on_duplicate}
        added = int(self.request("POST", self._path(project_id, "/tasks"), json=body)["added"])
        if progress is not None:
            progress("storing", len(frame))
        return added

    def tasks(self, project_id: int) -> pd.DataFrame:
        """All tasks with known answers (managers)."""
        import pandas as pd

        columns = ["id", "payload", "meta", "known_answer", "priority", "n_labels", "overlap"]
        return pd.DataFrame(self.request("GET", self._path(project_id, "/tasks")), columns=columns)

    def count_tasks(self, project_id: int) -> int:
        """Number of tasks in a project."""
        return self.progress(project_id, self.me()["id"])[1]

    def media(self, project_id: int, payload: dict[str, Any]) -> tuple[bytes, str] | None:
        """A task's image and its MIME type, from the route the server named in the task's
        payload (None: the server keeps no image of it). The server sends formats browsers
        cannot show as PNG, as a local store does."""
        route = payload.get("media")
        if not route:
            return None
        return self.request("GET", route), BROWSER_FORMATS.get(payload.get("format", ""), "image/png")

    # Workers

    def current_worker(self) -> str:
        """The token's worker."""
        return str(self.me()["name"])

    def worker_id(self, name: str, role: str = "worker") -> int:
        """The id of worker `name`: this token's own, or (managers) anyone's."""
        if name == self.me()["name"]:
            return int(self.me()["id"])
        return int(self.request("GET", f"/workers/{quote(name, safe='')}")["id"])

    def add_member(self, project_id: int, worker: str) -> None:
        """Let a worker work on (or inspect) a project (managers)."""
        self.request("POST", self._path(project_id, "/members"), json={"worker": worker})

    def worker_standing(self, project_id: int) -> pd.DataFrame:
        """Each worker's standing in the project (managers)."""
        import pandas as pd

        return pd.DataFrame(self.request("GET", self._path(project_id, "/workers")))

    def set_worker_status(self, project_id: int, worker_id: int, status: Status) -> None:
        """Suspend, ban or reinstate a worker (managers)."""
        self.request("PUT", self._path(project_id, f"/workers/{worker_id}/status"), json={"status": status})

    # Hand-out

    def claim(self, project_id: int, worker_id: int, n: int, *, exclude: Iterable[int] = ()) -> list[Task]:
        """Lease up to `n` tasks to this worker (the token's; `worker_id` must be its id)."""
        self._own(worker_id)
        found = self.request("POST", self._path(project_id, "/claim"), json={"n": n, "exclude": list(exclude)})
        out = [Task(t["task_id"], t["external_id"], t["payload"], t["meta"], t.get("rework")) for t in found]
        self._payloads.update((t.id, t.payload) for t in out)
        return out

    def renew(self, project_id: int, worker_id: int, task_ids: Sequence[int]) -> int:
        """Extend this worker's leases."""
        self._own(worker_id)
        return int(self.request("POST", self._path(project_id, "/renew"), json={"task_ids": list(task_ids)})["added"])

    def skip(self, project_id: int, worker_id: int, task_id: int) -> None:
        """Give a task back (queued like a label)."""
        self._own(worker_id)
        self._queue(f"skip-{task_id}-{time.time_ns():x}", self._info(project_id).name, "skip", {"task_id": task_id})

    def progress(self, project_id: int, worker_id: int) -> tuple[int, int]:
        """(tasks labeled by this worker, all tasks); offline, the last known numbers plus what
        waits in the outbox."""
        self._own(worker_id)
        try:
            answer = self.request("GET", self._path(project_id, "/progress"))
            self._progress[project_id] = (answer["done"], answer["total"])
        except SourceUnavailable:
            pass
        done, total = self._progress.get(project_id, (0, 0))
        return min(done + len(self.outbox), total), total

    def _own(self, worker_id: int) -> None:
        if worker_id != self.me()["id"]:
            raise Forbidden(f"this connection acts as {self.me()['name']}; connect with the other worker's token")

    # Labels

    def submit(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """Check the label against the task's schema (`LabelError` at once if it does not fit),
        write it durably to the outbox, and return; it reaches the server as soon as it can
        (see `flush`). The receipt's `submitted_at` is None: the server's time is not known yet."""
        self._own(worker_id)
        info = self._info(project_id)
        kind = kinds.get(info.kind)
        payload = self._payloads.get(submission.task_id)
        if payload is not None or not kind.label_uses_payload:
            kind.validate_label(submission.label, info.config, payload or {})
        if not 8 <= len(submission.annotation_id) <= 64 or "\x00" in submission.annotation_id:  # as the server's SubmitIn
            raise LabelError(f"annotation_id {submission.annotation_id[:20]!r}: an annotation id has 8 to 64 characters, no NUL")
        body = {
            "annotation_id": submission.annotation_id, "task_id": submission.task_id, "label": submission.label,
            "duration_ms": submission.duration_ms,
        }
        try:
            json.dumps(body, allow_nan=False).encode()
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise LabelError(f"label of task {submission.task_id} cannot be sent as JSON: {exc}") from None
        self._queue(submission.annotation_id, info.name, "submit", body)
        return Receipt(submission.annotation_id, None, duplicate=False)

    def submit_many(self, project_id: int, worker_id: int, submissions: Sequence[Submission]) -> list[Receipt | CrowdnbError]:
        """Each label as `submit` would take it: its receipt, or the error that refused it."""
        outcomes: list[Receipt | CrowdnbError] = []
        for submission in submissions:
            try:
                outcomes.append(self.submit(project_id, worker_id, submission))
            except CrowdnbError as exc:
                outcomes.append(exc)
        return outcomes

    def notices(self) -> list[str]:
        """Queued labels (and skips) the server refused since the last call."""
        new, self._told = self.failures[self._told :], len(self.failures)
        return [f"not stored: {f}" for f in new]

    def labels(self, project_id: int) -> pd.DataFrame:
        """All current labels (managers)."""
        return _frame(self.request("GET", self._path(project_id, "/labels")), LABEL_COLUMNS)

    def worker_labels(self, project_id: int, worker_id: int) -> pd.DataFrame:
        """This worker's labels with their review status and rejection reasons."""
        self._own(worker_id)
        columns = ["task", "label", "status", "reason", "submitted_at", "annotation_id"]
        return _frame(self.request("GET", self._path(project_id, "/my-labels")), columns)

    def results(
        self, project_id: int, method: Any = None, *, include_flagged: bool = False, **params: Any
    ) -> pd.DataFrame:
        """One answer per task, aggregated by the server (managers)."""
        from crowdnb.aggregation.methods import RESULT_COLUMNS

        name = getattr(method, "name", method)
        query = {"include_flagged": include_flagged, "params": json.dumps(params), **({"method": name} if name else {})}
        return _frame(self.request("GET", self._path(project_id, "/results"), params=query), RESULT_COLUMNS)

    # Inspection

    def claim_reviews(self, project_id: int, inspector_id: int, n: int) -> list[dict[str, Any]]:
        """Labels to inspect (inspectors)."""
        self._own(inspector_id)
        return self.request("POST", self._path(project_id, "/reviews/claim"), json={"n": n})

    def decide(self, project_id: int, inspector_id: int, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label (inspectors)."""
        self._own(inspector_id)
        body = {"decision": decision, "reason": reason}
        self.request("POST", self._path(project_id, f"/reviews/{quote(annotation_id, safe='')}"), json=body)

    # Points

    def balance(self, worker_id: int | None = None) -> int:
        """This worker's points."""
        if worker_id is not None:
            self._own(worker_id)
        return int(self.request("GET", "/me/balance")["points"])

    def payouts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Points per worker earned in [start, end) (managers); `start` and `end` need a time zone."""
        import pandas as pd

        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("payouts need timezone-aware start and end, e.g. datetime(2026, 12, 1, tzinfo=timezone.utc)")
        rows = self.request("GET", "/payouts", params={"start": start.isoformat(), "end": end.isoformat()})
        return pd.DataFrame(rows, columns=["worker", "points", "entries"])

    # The outbox

    def _queue(self, op_id: str, project: str, op: str, body: dict[str, Any]) -> None:
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
                self.request("POST", f"/projects/{quote(project, safe='')}/{op}", json=body)
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
            outcomes = self.request(
                "POST", f"/projects/{quote(project, safe='')}/submit-many", json={"labels": [body for _, body in ops]}
            )
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


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows from the server as a DataFrame with `columns` (also when there are none), times UTC."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns:  # JSON null is None in columns of values, as from a local store
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if "submitted_at" in frame.columns:
        frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    return frame
