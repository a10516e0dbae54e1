"""`HttpStore`: the store interface over a crowdnb server's HTTP API (`crowdnb.connect`).

The token decides who the caller is, and the server what they may do. Labels are checked here
against the task's schema and for what JSON can carry, then go to a local outbox first (durable
on disk) and to the server from a background thread (`crowdnb.client.sender`: what it retries,
how long it waits, what it sets aside), so the widget keeps working on the tasks it already has
while the server is away. Annotation ids are made by the client, so a retry is never stored
twice. A label that can never be stored is set aside and reported by `notices` and
`outbox_state`, which also says whether the labels are sent, waiting, or why not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from crowdnb import kinds, values
from crowdnb.client.outbox import Outbox
from crowdnb.client.sender import OutboxState, Sender
from crowdnb.client.wire import RETRY_STATUSES, ServerBusy, SignedOut, encode_json, retry_after, segment, unsendable
from crowdnb.errors import Conflict, CrowdnbError, Forbidden, LabelError, NotFound, SourceUnavailable, ValidationError
from crowdnb.formats import Counts, Exported, Options
from crowdnb.formats.base import manifest_path, replaced
from crowdnb.media import BROWSER_FORMATS
from crowdnb.store.types import LABEL_COLUMNS, ProjectInfo, Receipt, Submission, Task

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.quality.rules import QualityPolicy, Status

MAX_ROWS = 100_000  # tasks per add_tasks call: one request, all or nothing
STATUS_ERRORS = {403: Forbidden, 404: NotFound, 409: Conflict, 422: LabelError}
JSON_BODY = {"content-type": "application/json"}
EXPORT_WAIT = 3600  # seconds to wait for each piece of an export (the server writes it before sending)


def connect(url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> HttpStore:
    """The store of the crowdnb server at `url`, as the worker (or inspector, or manager) whose
    token this is: ``Project.open(name, store=connect(url, token))``."""
    return HttpStore(url, token, outbox=outbox, timeout=timeout)


class HttpStore:
    """A crowdnb server as one worker's store (see the module docstring)."""

    def __init__(self, url: str, token: str, *, outbox: str | Path | None = None, timeout: float = 10) -> None:
        self.url = url.rstrip("/")
        if not token or not token.isascii() or not token.isprintable() or token != token.strip():
            raise ValueError("a token is printable ASCII without spaces around it (as `crowdnb worker add` prints it)")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        if outbox is None:
            from platformdirs import user_data_dir

            who = hashlib.sha256(f"{self.url} {token}".encode()).hexdigest()[:16]
            outbox = Path(user_data_dir("crowdnb", appauthor=False)) / f"outbox-{who}.sqlite"
        self.outbox = Outbox(outbox)
        self._told = 0
        self._me: dict[str, Any] | None = None
        self._projects: dict[int, ProjectInfo] = {}
        self._payloads: dict[int, dict[str, Any]] = {}  # of tasks claimed here, to check labels before queueing
        self._progress: dict[int, tuple[int, int]] = {}
        self._sender = Sender(self.outbox, lambda path, body: self.request("POST", path, content=body, headers=JSON_BODY))
        self._sender.start()

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call (a `json` body is sent as `encode_json` writes it: ValueError for what it
        cannot). Raises `SourceUnavailable` when the server cannot take it now (`SignedOut` for
        401, `ServerBusy` for 408, 425, 429, 5xx, a redirect) and the matching crowdnb error for
        a refusal."""
        if "json" in kwargs:
            kwargs["content"] = encode_json(kwargs.pop("json"), f"{method} {path}")
            kwargs["headers"] = {**kwargs.get("headers", {}), **JSON_BODY}
        try:
            response = self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.RequestError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None
        if response.status_code < 300:
            self._sender.reachable()
            return response.json() if _is_json(response) else response.content
        self._refused(response)

    def _lines(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The JSON-lines rows of a GET, read as they arrive; errors as `request` raises them."""
        try:
            with self.http.stream("GET", "/api/v1" + path, params={**params, "lines": True}) as response:
                if response.status_code >= 300:
                    response.read()
                    self._refused(response)
                self._sender.reachable()
                for line in response.iter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.RequestError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None

    def _refused(self, response: httpx.Response) -> NoReturn:
        """Raise what an answer of 300 or more means (see `request`)."""
        status = response.status_code
        detail, problems = _detail(response)
        message = f"{self.url} answered {status}: {detail}"
        if status == 401:
            self._sender.signed_out(message)
            raise SignedOut(message)
        if status < 400 or status >= 500 or status in RETRY_STATUSES:
            raise ServerBusy(message, status, retry_after(response.headers.get("retry-after")))
        if status == 422 and problems:
            raise ValidationError([_Problem(p) for p in problems])
        raise STATUS_ERRORS.get(status, CrowdnbError)(f"{status}: {detail}")

    def _path(self, project_id: int, tail: str = "") -> str:
        return f"/projects/{segment(self._info(project_id).name, 'the project name')}{tail}"

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
        return self._keep(self.request("GET", f"/projects/{segment(name, 'the project name')}"))

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
        try:
            rows = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        except UnicodeEncodeError:
            raise ValueError(f"the tasks cannot be sent: {_unsendable_cell(frame)}") from None
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
        return int(self.request("GET", f"/workers/{segment(name, 'the worker name')}")["id"])

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
        values.refuse(submission.label, "label", LabelError)  # as the store would
        try:
            encode_json(body, f"the label of task {submission.task_id}")
        except ValueError as exc:
            raise LabelError(str(exc)) from None
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

    @property
    def failures(self) -> list[str]:
        """Why each queued label (or skip) set aside since the store was opened could not be stored."""
        return [reason for _, reason in self._sender.failures]

    def notices(self) -> list[str]:
        """Queued labels (and skips) set aside since the last call (of any widget of this store:
        a widget's source keeps its own count over `outbox_state`)."""
        new = self.failures[self._told :]
        self._told += len(new)
        return [f"not stored: {f}" for f in new]

    def outbox_state(self, project_id: int | None = None) -> OutboxState:
        """What the outbox is doing (sent, sending, retrying, offline, signed out), with the
        operations of the project `project_id` (or of all) that wait or were set aside."""
        return self._sender.state(None if project_id is None else self._info(project_id).name)

    def labels(self, project_id: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All current labels, or their `columns` (managers)."""
        names = list(LABEL_COLUMNS if columns is None else columns)
        query = {} if columns is None else {"columns": ",".join(names)}
        return _frame(self.request("GET", self._path(project_id, "/labels"), params=query), names)

    def label_batches(
        self, project_id: int, columns: Sequence[str] | None = None, *, tasks_per_batch: int = 50_000
    ) -> Iterator[pd.DataFrame]:
        """The labels in pieces of `tasks_per_batch` tasks, built as the server streams them (managers)."""
        names = list(LABEL_COLUMNS if columns is None else columns)
        query = {"columns": ",".join(dict.fromkeys(["task", *names]))}
        rows: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for row in self._lines(self._path(project_id, "/labels"), query):
            if row["task"] not in seen and len(seen) == tasks_per_batch:
                yield _frame(rows, names)
                rows, seen = [], set()
            seen.add(row["task"])
            rows.append(row)
        if rows:
            yield _frame(rows, names)

    def worker_labels(self, project_id: int, worker_id: int) -> pd.DataFrame:
        """This worker's labels with their review status and rejection reasons."""
        self._own(worker_id)
        columns = ["task", "label", "status", "reason", "submitted_at", "annotation_id"]
        return _frame(self.request("GET", self._path(project_id, "/my-labels")), columns)

    def results(
        self, project_id: int, method: Any = None, *, include_flagged: bool = False, store: bool = False, **params: Any
    ) -> pd.DataFrame:
        """One answer per task, aggregated by the server (managers); `store` keeps them there
        as the project's last results."""
        from crowdnb.aggregation.methods import RESULT_COLUMNS

        name = getattr(method, "name", method)
        if store:
            self.request("POST", self._path(project_id, "/results"), json={"method": name, "params": params, "include_flagged": include_flagged})
            return self.stored_results(project_id)
        query = {"include_flagged": include_flagged, "params": encode_json(params, "the method's params").decode(), **({"method": name} if name else {})}
        return _frame(self.request("GET", self._path(project_id, "/results"), params=query), RESULT_COLUMNS)

    def stored_results(self, project_id: int) -> pd.DataFrame:
        """The project's last stored results, with how and when in `attrs` (managers)."""
        from crowdnb.aggregation.methods import RESULT_COLUMNS

        try:
            response = self.http.get("/api/v1" + self._path(project_id, "/results/stored"))
        except httpx.RequestError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None
        if response.status_code >= 300:
            self._refused(response)
        found = _frame(response.json(), RESULT_COLUMNS)
        run = json.loads(response.headers["x-crowdnb-results"])
        found.attrs.update({k: v for k, v in run.items() if k != "n_tasks"}, computed_at=datetime.fromisoformat(run["computed_at"]))
        return found

    # Exports

    def download_export(
        self, project_id: int, path: str | os.PathLike[str], format: str, options: Options, *, validate: bool = False,
    ) -> Exported:
        """Download the server's export of the project in `format` (managers) to `path`, as
        `crowdnb.formats.export` writes one locally: atomically, the manifest beside a file
        or inside a folder; image paths are relative to the server's media folder. With
        `validate`, the server checks the file with the format's reference reader first."""
        if options.media_root is not None:
            raise ValueError("over a server, image paths are relative to the server's media folder: leave media_root out")
        if options.workers == ():
            raise ValueError("workers=() selects no labels; name at least one worker, or pass None for all")
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as scratch:
            body = Path(scratch) / "body"
            query = {**_export_query(format, options), "validate": validate}
            headers = self._download(self._path(project_id, "/export"), query, body)
            folder = headers.get("x-crowdnb-layout") == "folder"
            if headers.get("content-type") == "application/zip":
                _unpacked(body, out, folder=folder)
            else:
                os.replace(body, out)
                manifest_path(out, folder=False).write_bytes(base64.urlsafe_b64decode(headers["x-crowdnb-manifest"]))
        manifest = manifest_path(out, folder=folder)
        return Exported(out, manifest, Counts(**json.loads(manifest.read_text(encoding="utf-8"))["counts"]))

    def _download(self, path: str, params: dict[str, Any], into: Path) -> httpx.Headers:
        """Write the body of a GET to `into` as it arrives, waiting up to `EXPORT_WAIT` seconds
        for each piece (the server writes the whole export before it sends the first byte)."""
        timeout = httpx.Timeout(self.http.timeout.connect, read=EXPORT_WAIT)
        try:
            with self.http.stream("GET", "/api/v1" + path, params=params, timeout=timeout) as response:
                if response.status_code >= 300:
                    response.read()
                    self._refused(response)
                self._sender.reachable()
                with into.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                return response.headers
        except httpx.RequestError as exc:
            raise SourceUnavailable(f"{self.url} unreachable ({exc.__class__.__name__})") from None

    # Inspection

    def escalated(self, project_id: int) -> pd.DataFrame:
        """Tasks dynamic overlap sent to an inspector (inspectors and managers)."""
        rows = self.request("GET", self._path(project_id, "/escalated"))
        return _frame(rows, ["task", "votes", "label", "confidence", "n_labels"])

    def resolve(self, project_id: int, task: str, label: Any) -> None:
        """Decide a task sent to an inspector (inspectors and managers)."""
        self.request("POST", self._path(project_id, f"/escalated/{segment(task, 'the task id')}"), json={"label": label})

    def claim_reviews(self, project_id: int, inspector_id: int, n: int) -> list[dict[str, Any]]:
        """Labels to inspect (inspectors)."""
        self._own(inspector_id)
        return self.request("POST", self._path(project_id, "/reviews/claim"), json={"n": n})

    def decide(self, project_id: int, inspector_id: int, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label (inspectors)."""
        self._own(inspector_id)
        body = {"decision": decision, "reason": reason}
        self.request("POST", self._path(project_id, f"/reviews/{segment(annotation_id, 'the annotation id')}"), json=body)

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
        self._sender.queued()

    def flush(self, timeout: float = 30) -> int:
        """Wait until the outbox is empty, `timeout` passes, or the server refused the token
        (see `outbox_state`); returns what is still waiting."""
        return self._sender.flush(timeout)

    def close(self) -> None:
        """Stop the sender (what is still waiting stays in the outbox for next time)."""
        self._sender.close()
        self.http.close()


def _unsendable_cell(frame: pd.DataFrame) -> str | None:
    """The first cell (or column name) of `frame` that UTF-8 JSON cannot hold, named by row and column."""
    for column in frame.columns:
        found = unsendable(column, "a column name")
        if found:
            return found
        if frame[column].dtype.kind not in "biufcmM":  # text or objects
            for i, value in enumerate(frame[column]):
                if isinstance(value, str | dict | list) and (found := unsendable(value, f"rows[{i}].{column}")):
                    return found
    return None


def _export_query(format: str, options: Options) -> dict[str, Any]:
    """The query of an export: the format and the options the server takes (it sets the media root)."""
    query: dict[str, Any] = {"format": format, "aggregated": options.aggregated, "approved_only": options.approved_only, "media": options.media}
    chosen = {"min_confidence": options.min_confidence, "method": options.method, "worker": options.workers}
    return {**query, **{k: list(v) if k == "worker" else v for k, v in chosen.items() if v is not None}}


def _unpacked(archive_path: Path, out: Path, *, folder: bool) -> None:
    """A downloaded ZIP in place at `out`, atomically: a folder export as the folder, a file
    export (with its manifest, named as beside it) as the file and its manifest beside it."""
    with zipfile.ZipFile(archive_path) as archive:
        if folder:
            with replaced(out, folder=True) as work:
                archive.extractall(work)  # names leaving the folder are refused by zipfile
            return
        names = archive.namelist()
        data = next(name for name in names if _beside(name) in names)
        with replaced(out, folder=False) as work, archive.open(data) as source, work.open("wb") as target:
            shutil.copyfileobj(source, target)
        manifest_path(out, folder=False).write_bytes(archive.read(_beside(data)))


def _beside(name: str) -> str:
    """The name of the manifest of a file export called `name`."""
    return manifest_path(Path(name), folder=False).name


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def _detail(response: httpx.Response) -> tuple[str, list[str]]:
    """A refusal's message and problems, from whatever the server (or a proxy) answered."""
    try:
        body = response.json() if _is_json(response) else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return response.text[:300] or response.reason_phrase, []
    problems = body.get("problems")
    return str(body.get("detail") or response.reason_phrase), [str(p) for p in problems] if isinstance(problems, list) else []


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
