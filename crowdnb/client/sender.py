"""The outbox's sender: a background thread sends what waits in the outbox, oldest first, and
says what it is doing (`OutboxState`, which the labeling widget shows).

What becomes of a queued operation:

- the server stores it (2xx): it is forgotten.
- it can never be sent: it is set aside at once as a failure with its reason, and the operations
  behind it go on. That is a body UTF-8 JSON cannot hold (a lone surrogate, NaN: `HttpStore.submit`
  refuses those, older versions queued them), a row of the outbox file that cannot be read back,
  a project name no URL can hold, an operation this version does not know.
- the server refuses it for good (a 4xx not named below: 400, 403, 404, 409, 410, 413, 422, ...):
  set aside with the server's reason. A batch refused as a whole is sent again one label per
  request, so a label only ever takes itself down.
- 401, the token is unknown or revoked: "signed out". Nothing is set aside and nothing is retried
  on a timer; the sender tries again when an operation is queued, `flush` is called or another
  request of the store gets through. A new token is a new outbox file: pass this one as
  ``connect(url, new_token, outbox=...)`` to send what waits in it.
- 408, 425, 429, 5xx or a redirect: "retrying"; no connection or a timeout: "offline". Both wait
  min(30 s, 0.5 s x 2^n) after the n-th failure in a row, times a random factor in [0.5, 1]
  (jitter: a crowd whose server went away does not come back in step), or the server's
  Retry-After if that is longer (at most 5 minutes). New labels do not cut the wait short; a
  request of the same store that gets through does (the server is back).
- anything else (a fault here, e.g. the outbox file locked by another program): logged and
  retried like a 5xx.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from crowdnb.client.outbox import Outbox, Queued
from crowdnb.client.wire import ServerBusy, SignedOut, encode_json, segment
from crowdnb.errors import CrowdnbError, SourceUnavailable

log = logging.getLogger(__name__)
OPS = ("submit", "skip")
IDLE_SECONDS = 5.0  # with nothing to do, look at the outbox this often (another kernel may share it)
LINGER_SECONDS = 0.05  # after a label is queued, wait this long for more to send together (unless flushed)
BACKOFF_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
RETRY_AFTER_CAP_SECONDS = 300.0

State = Literal["sent", "sending", "retrying", "offline", "signed out"]
Trouble = Literal["retrying", "offline", "signed out"]
Post = Callable[[str, bytes], Any]  # (path, JSON body) -> the server's answer; raises as `HttpStore.request`
Ready = tuple[Queued, str, bytes]  # an operation with its project's path and its encoded body


@dataclass(frozen=True)
class OutboxState:
    """What the outbox is doing: `state` ("sent": nothing waits; "sending"; "retrying": the server
    answered "not now"; "offline": it cannot be reached; "signed out": it refused the token),
    operations `waiting`, the reasons of those set aside since the store was opened
    (`failures`), and, while in trouble, its `last_error`, since when and the next attempt (UTC)."""

    state: State
    waiting: int
    failures: tuple[str, ...] = ()
    last_error: str | None = None
    retrying_since: datetime | None = None
    next_attempt_at: datetime | None = None

    @property
    def failed(self) -> int:
        """How many operations were set aside."""
        return len(self.failures)


class Sender:
    """Sends the operations of `outbox` through `post` from a daemon thread (see the module docstring)."""

    def __init__(self, outbox: Outbox, post: Post) -> None:
        self.outbox = outbox
        self._post = post
        self.failures: list[tuple[str, str]] = []  # (project, reason) of operations set aside
        self._cond = threading.Condition()  # guards the fields below; notified after each attempt
        self._attempts = 0
        self._trouble: Trouble | None = None
        self._last_error: str | None = None
        self._since: float | None = None  # time.time() of the first failure in a row
        self._in_row = 0
        self._next_at: tuple[float, float] | None = None  # (monotonic, wall) time of the next attempt
        self._wake = threading.Event()  # an operation was queued, or a flush waits
        self._urgent = threading.Event()  # send without lingering
        self._go = threading.Event()  # stop backing off (closing, or the server is back)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crowdnb-outbox", daemon=True)

    # What the store calls

    def start(self) -> None:
        """Start sending (what waits from an earlier session first)."""
        self._thread.start()

    def queued(self) -> None:
        """An operation was queued: send it soon (unless backing off)."""
        self._wake.set()

    def state(self, project: str | None = None) -> OutboxState:
        """What the outbox is doing, counting the operations of `project` (or of all projects)."""
        waiting = self.outbox.count(project)
        with self._cond:
            failures = tuple(reason for name, reason in self.failures if project is None or name == project)
            word: State = self._trouble or ("sending" if waiting else "sent")
            return OutboxState(
                word, waiting, failures, self._last_error, _utc(self._since), _utc(self._next_at and self._next_at[1]),
            )

    def signed_out(self, reason: str) -> None:
        """A request was answered 401: the token no longer works."""
        self._troubled("signed out", reason, None)

    def reachable(self) -> None:
        """A request of the store got through: a signed-out state ends, a backoff is cut short."""
        if self._trouble is None or threading.current_thread() is self._thread:
            return
        with self._cond:
            if self._trouble == "signed out":
                self._clear()
                self._wake.set()
            self._go.set()

    def flush(self, timeout: float) -> int:
        """Wait until nothing waits, `timeout` passes, or the server refused the token; returns
        what still waits."""
        deadline = time.monotonic() + timeout
        with self._cond:
            start = self._attempts
            self._urgent.set()
            self._wake.set()
            while len(self.outbox) and (left := deadline - time.monotonic()) > 0:
                if self._trouble == "signed out" and self._attempts > start:
                    break
                self._cond.wait(left)
        return len(self.outbox)

    def close(self) -> None:
        """Stop the thread; what waits stays in the outbox."""
        self._stop.set()
        for event in (self._go, self._urgent, self._wake):
            event.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    # The thread

    def _run(self) -> None:
        while not self._stop.is_set():
            self._attempt()
            self._wait()

    def _attempt(self) -> None:
        try:
            handled = self._send_waiting()
        except SignedOut as exc:
            self._troubled("signed out", str(exc), None)
        except ServerBusy as exc:
            self._troubled("retrying", str(exc), exc.retry_after)
        except SourceUnavailable as exc:
            self._troubled("offline", str(exc), None)
        except Exception as exc:  # noqa: BLE001 - a fault of this client: the operations stay queued
            log.warning("sending the outbox failed, will retry: %s: %s", type(exc).__name__, exc)
            self._troubled("retrying", f"{type(exc).__name__}: {exc}", None)
        else:
            if handled:
                with self._cond:
                    self._clear()
        with self._cond:
            self._attempts += 1
            self._cond.notify_all()

    def _wait(self) -> None:
        """Until the backoff ends; or, signed out, until something is queued; or, else, until
        something is queued (then linger a moment for more) or IDLE_SECONDS pass."""
        with self._cond:
            next_at, trouble = self._next_at, self._trouble
        if next_at is not None:
            self._go.wait(max(0.0, next_at[0] - time.monotonic()))
            self._go.clear()
            return
        if trouble == "signed out":
            self._wake.wait()
        elif self._wake.wait(IDLE_SECONDS) and not self._urgent.is_set():
            self._urgent.wait(LINGER_SECONDS)
        self._wake.clear()
        self._urgent.clear()

    def _troubled(self, trouble: Trouble, error: str, retry_after: float | None) -> None:
        with self._cond:
            now = time.time()
            self._trouble, self._last_error = trouble, error
            self._since = self._since or now
            if trouble == "signed out":
                self._next_at = None
                return
            delay = min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2 ** min(self._in_row, 16)) * random.uniform(0.5, 1)
            if retry_after is not None:
                delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
            self._next_at = (time.monotonic() + delay, now + delay)
            self._in_row += 1

    def _clear(self) -> None:
        """Sent: no trouble (call with `_cond` held)."""
        self._trouble = self._last_error = self._since = self._next_at = None
        self._in_row = 0

    # Sending

    def _send_waiting(self) -> int:
        """Send what waits until nothing does; returns how many operations were sent or set
        aside. Raises `SourceUnavailable` (the rest stays queued) when the server cannot take them now."""
        handled = 0
        while batch := self.outbox.oldest():
            ready: list[Ready] = []
            for queued in batch:
                prepared = _prepare(queued)
                if isinstance(prepared, str):
                    self._set_aside(queued, prepared)
                else:
                    ready.append(prepared)
            for path, op, ops in _runs(ready):
                if op != "submit" or not self._send_labels(path, ops):
                    self._send_each(path, op, ops)
            handled += len(batch)
        return handled

    def _send_each(self, path: str, op: str, ops: list[Ready]) -> None:
        """One request per operation; one the server refuses is set aside."""
        for queued, _, body in ops:
            try:
                answer = self._post(f"{path}/{op}", body)
            except SourceUnavailable:
                raise
            except CrowdnbError as exc:
                self._set_aside(queued, str(exc))
                continue
            if not isinstance(answer, dict):  # e.g. a proxy's page: retried, not taken as stored
                raise RuntimeError(  # noqa: TRY004 - a fault of the server, not a type
                    f"{path}/{op} answered {str(answer)[:80]!r}, not JSON: is this a crowdnb server?"
                )
            self.outbox.done([queued.key])

    def _send_labels(self, path: str, ops: list[Ready]) -> bool:
        """The labels of one project in one request, each stored or refused alone. False when the
        request was refused as a whole (e.g. one label outside the request's limits, or a server
        without `submit-many`) or the answer does not name each label once: then they go one by one."""
        body = b'{"labels":[' + b",".join(encoded for _, _, encoded in ops) + b"]}"
        try:
            outcomes = self._post(f"{path}/submit-many", body)
        except SourceUnavailable:
            raise
        except CrowdnbError:
            return False
        if not isinstance(outcomes, list):
            raise RuntimeError(  # noqa: TRY004 - a fault of the server, not a type
                f"{path}/submit-many answered {str(outcomes)[:80]!r}, not a list: is this a crowdnb server?"
            )
        by_id = {queued.body.get("annotation_id"): queued for queued, _, _ in ops}
        if [o.get("annotation_id") if isinstance(o, dict) else None for o in outcomes] != list(by_id) or len(by_id) != len(ops):
            return False  # the server answers in the order it was asked
        self.outbox.done([by_id[o["annotation_id"]].key for o in outcomes if o.get("stored")])
        for outcome in outcomes:
            if not outcome.get("stored"):
                self._set_aside(by_id[outcome["annotation_id"]], str(outcome.get("detail")))
        return True

    def _set_aside(self, queued: Queued, reason: str) -> None:
        task = queued.body.get("task_id") if isinstance(queued.body, dict) else None
        message = f"{queued.op} {queued.id if task is None else task}: {reason}"
        self.outbox.fail(queued.key, message)
        with self._cond:
            self.failures.append((queued.project, message))


def _prepare(queued: Queued) -> Ready | str:
    """An operation ready to send, or why it can never be sent."""
    if queued.problem:
        return queued.problem
    if queued.op not in OPS:
        return f"this version of crowdnb does not know the operation {queued.op!r}"
    try:
        return queued, f"/projects/{segment(queued.project, 'the project name')}", encode_json(queued.body, "its body")
    except ValueError as exc:
        return str(exc)


def _runs(ready: list[Ready]) -> list[tuple[str, str, list[Ready]]]:
    """Consecutive operations grouped by (project path, op), order kept."""
    runs: list[tuple[str, str, list[Ready]]] = []
    for item in ready:
        queued, path, _ = item
        if runs and runs[-1][:2] == (path, queued.op):
            runs[-1][2].append(item)
        else:
            runs.append((path, queued.op, [item]))
    return runs


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
