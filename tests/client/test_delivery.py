"""What the outbox's sender does with each kind of answer, against a real server on 127.0.0.1
(and a small real proxy in front of it that answers 503, 429 or nothing for a while)."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
import pytest
from crowd import Crowd, make_project

import crowdnb
from crowdnb.client import HttpStore
from crowdnb.client.sender import BACKOFF_SECONDS
from crowdnb.store import Submission


class Flaky(ThreadingHTTPServer):
    """A proxy to `upstream` that, while `until` (monotonic) has not passed, answers every request
    with `status` (0: closes the connection without an answer) and records when."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.until = 0.0
        self.status = 503
        self.retry_after: str | None = None
        self.refused: list[float] = []  # monotonic times of the answers it made up
        self.forwarded: list[tuple[float, str]] = []  # monotonic times and paths of what it passed on

    def fail_for(self, seconds: float, status: int, retry_after: str | None = None) -> None:
        self.status, self.retry_after, self.until = status, retry_after, time.monotonic() + seconds


class _Handler(BaseHTTPRequestHandler):
    server: Flaky

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        proxy = self.server
        if time.monotonic() < proxy.until:
            proxy.refused.append(time.monotonic())
            if proxy.status == 0:
                self.close_connection = True
                return
            self.send_response(proxy.status)
            if proxy.retry_after:
                self.send_header("Retry-After", proxy.retry_after)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "27")
            self.end_headers()
            self.wfile.write(b'{"detail": "come back later"}'[:27])
            return
        proxy.forwarded.append((time.monotonic(), self.path))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        answer = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
        self.send_response(answer.status_code)
        self.send_header("content-type", answer.headers.get("content-type", "application/octet-stream"))
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def flaky(shared_crowd: Crowd) -> Iterator[Flaky]:
    proxy = Flaky(shared_crowd.server.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    proxy.upstream.close()


def _worker(crowd: Crowd, tmp_path: Path, url: str | None = None, token: str | None = None) -> HttpStore:
    return crowdnb.connect(url or crowd.server.url, token or crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")


def _stored(crowd: Crowd, name: str) -> list[str]:
    project = crowdnb.Project.open(name, store=crowd.store)
    return sorted(project.labels()["annotation_id"])


def _wait_for(ana: HttpStore, project_id: int, state: str, timeout: float = 10) -> crowdnb.client.OutboxState:
    deadline = time.monotonic() + timeout
    while (seen := ana.outbox_state(project_id)).state != state and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen.state == state, seen
    return seen


def test_an_operation_that_can_never_be_sent_is_set_aside_and_the_labels_behind_it_are_stored(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    make_project(crowd, "old-rows")
    ana = _worker(crowd, tmp_path)
    try:
        project = crowdnb.Project.open("old-rows", store=ana)
        me = ana.worker_id("ana")
        tasks = ana.claim(project.info.id, me, 4)
        with sqlite3.connect(tmp_path / "ana.sqlite") as older:  # what older versions (or other programs) left in the file
            rows = [
                ("old-surrogate-1", "old-rows", "submit", json.dumps({"annotation_id": "old-surrogate-1", "task_id": tasks[0].id, "label": "car\ud800"})),
                ("old-nan-label-1", "old-rows", "submit", json.dumps({"annotation_id": "old-nan-label-1", "task_id": tasks[0].id, "label": float("nan")})),
                ("old-garbage-01", "old-rows", "submit", "{not json"),
                ("old-verb-00001", "old-rows", "annotate", json.dumps({"task_id": tasks[0].id})),
            ]
            older.executemany("INSERT INTO pending VALUES (?, ?, ?, ?, 0)", rows)
            older.execute("INSERT INTO pending VALUES ('old-bytes-0001', CAST(x'6f6c642d726f7773eda080' AS TEXT), 'skip', '{}', 0)")
        assert len(ana.outbox) == 5
        with pytest.raises(crowdnb.LabelError, match="annotation_id: .* lone surrogate"):
            ana.submit(project.info.id, me, Submission("new-surrogate-\udfff", tasks[0].id, "car"))
        for task in tasks:
            ana.submit(project.info.id, me, Submission(f"fine-{task.external_id}-label", task.id, "car", 900))
        started = time.monotonic()
        assert ana.flush(timeout=20) == 0 and time.monotonic() - started < 10
        assert _stored(crowd, "old-rows") == sorted(f"fine-{t.external_id}-label" for t in tasks)
        state = ana.outbox_state(project.info.id)
        assert state.state == "sent" and state.waiting == 0 and state.failed == 4  # the fifth names a project that is not UTF-8
        reasons = dict(ana.outbox.failures())
        assert "lone surrogate" in reasons["old-surrogate-1"] and "label" in reasons["old-surrogate-1"]
        assert "is nan, which JSON cannot hold" in reasons["old-nan-label-1"]
        assert "not JSON" in reasons["old-garbage-01"]
        assert "does not know the operation 'annotate'" in reasons["old-verb-00001"]
        assert "not UTF-8" in reasons["old-bytes-0001"]
        assert len(ana.failures) == 5 and ana.outbox_state().failed == 5
        with pytest.raises(ValueError, match="surrogate"):
            ana.project("old-rows\ud800")
    finally:
        ana.close()


def test_a_label_the_server_refuses_goes_to_failures_at_once(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    make_project(crowd, "refused")
    notes = crowdnb.Project.create("notes-ft", "free-text", store=crowd.store)
    notes.add_tasks(pd.DataFrame({"id": ["n1"], "text": ["say something"]}))
    notes.add_member("ana")
    ana = _worker(crowd, tmp_path)
    try:
        mine = crowdnb.Project.open("notes-ft", store=ana)
        (note,) = ana.claim(mine.info.id, ana.worker_id("ana"), 1)
        with pytest.raises(crowdnb.LabelError, match=r"^label: contains a lone surrogate U\+D800 at position 3, which is not UTF-8 text and cannot be stored$"):
            ana.submit(mine.info.id, ana.worker_id("ana"), Submission("free-text-ok-1", note.id, "ok \ud800"))
        assert len(ana.outbox) == 0
        project = crowdnb.Project.open("refused", store=ana)
        me = ana.worker_id("ana")
        (task,) = ana.claim(project.info.id, me, 1)
        ana.submit(project.info.id, me, Submission("not-her-task-01", 999_999, "car"))  # 4xx: not a task of hers
        ana.submit(project.info.id, me, Submission("her-own-label-1", task.id, "bus"))
        started = time.monotonic()
        assert ana.flush(timeout=20) == 0 and time.monotonic() - started < 5
        assert _stored(crowd, "refused") == ["her-own-label-1"]
        state = ana.outbox_state(project.info.id)
        assert (state.state, state.failed, state.last_error) == ("sent", 1, None)
        assert state.failures[0].startswith("submit 999999: ") and ana.outbox.failures()[0][0] == "not-her-task-01"
        assert ana.notices() == [f"not stored: {state.failures[0]}"] and ana.notices() == []
    finally:
        ana.close()


def test_a_server_that_answers_503_then_429_then_nothing_is_retried_with_backoff_and_each_label_lands_once(
    shared_crowd: Crowd, flaky: Flaky, tmp_path: Path
) -> None:
    crowd = shared_crowd
    make_project(crowd, "flaky")
    ana = _worker(crowd, tmp_path, url=flaky.url)
    try:
        project = crowdnb.Project.open("flaky", store=ana)
        me = ana.worker_id("ana")
        tasks = ana.claim(project.info.id, me, 6)
        flaky.fail_for(2.5, 503)
        for task in tasks[:3]:
            ana.submit(project.info.id, me, Submission(f"through-503-{task.external_id}", task.id, "car", 900))
        state = _wait_for(ana, project.info.id, "retrying")
        assert state.waiting == 3 and "503" in (state.last_error or "") and "come back later" in (state.last_error or "")
        assert state.retrying_since is not None and state.next_attempt_at is not None and state.next_attempt_at > state.retrying_since
        assert ana.flush(timeout=30) == 0
        gaps = [b - a for a, b in itertools.pairwise(flaky.refused)]
        assert 2 <= len(flaky.refused) <= 6, gaps  # backing off, not hammering
        assert all(gap >= 0.9 * BACKOFF_SECONDS * 2**n * 0.5 for n, gap in enumerate(gaps)), gaps  # at least the n-th backoff

        flaky.refused.clear()
        flaky.fail_for(0.2, 429, retry_after="1")
        ana.submit(project.info.id, me, Submission(f"through-429-{tasks[3].external_id}", tasks[3].id, "bus", 900))
        assert _wait_for(ana, project.info.id, "retrying").last_error.startswith(f"{flaky.url} answered 429")
        assert ana.flush(timeout=30) == 0
        (refused,), (resent, path) = flaky.refused, flaky.forwarded[-1]
        assert path.endswith("/submit-many") and resent - refused >= 0.95  # the second it asked for, not 0.25-0.5 s

        flaky.fail_for(1.0, 0)
        for task in tasks[4:]:
            ana.submit(project.info.id, me, Submission(f"through-drop-{task.external_id}", task.id, "car", 900))
        assert "unreachable" in (_wait_for(ana, project.info.id, "offline").last_error or "")
        assert ana.flush(timeout=30) == 0 and ana.outbox_state(project.info.id).state == "sent"
        assert _stored(crowd, "flaky") == sorted(
            [f"through-503-{t.external_id}" for t in tasks[:3]] + [f"through-429-{tasks[3].external_id}"]
            + [f"through-drop-{t.external_id}" for t in tasks[4:]]
        )
        assert ana.failures == []
    finally:
        ana.close()


def test_a_revoked_token_keeps_the_labels_and_says_signed_out(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    token = crowd.store.issue_token("dan")
    make_project(crowd, "revoked", members=("dan",))
    dan = _worker(crowd, tmp_path, token=token)
    try:
        project = crowdnb.Project.open("revoked", store=dan)
        me = dan.worker_id("dan")
        tasks = dan.claim(project.info.id, me, 2)
        new_token = crowd.store.issue_token("dan")  # the manager gives him a new token: the old one stops working
        for task in tasks:
            dan.submit(project.info.id, me, Submission(f"kept-{task.external_id}-label", task.id, "car", 900))
        started = time.monotonic()
        assert dan.flush(timeout=20) == 2 and time.monotonic() - started < 5  # nothing to wait for
        state = dan.outbox_state(project.info.id)
        assert (state.state, state.waiting, state.failed) == ("signed out", 2, 0) and "401" in (state.last_error or "")
        with pytest.raises(crowdnb.client.SignedOut):
            dan.claim(project.info.id, me, 1)
        assert _stored(crowd, "revoked") == []
    finally:
        dan.close()
    again = _worker(crowd, tmp_path, token=new_token)  # the same outbox file, with the new token
    try:
        assert again.flush(timeout=20) == 0
        assert _stored(crowd, "revoked") == sorted(f"kept-{t.external_id}-label" for t in tasks)
        assert again.outbox_state().state == "sent"
    finally:
        again.close()


def test_a_token_that_no_header_can_carry_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        crowdnb.connect("http://127.0.0.1:9", "cnb_ünïcode", outbox=tmp_path / "x.sqlite")
    with pytest.raises(ValueError, match="printable ASCII"):
        crowdnb.connect("http://127.0.0.1:9", "cnb_abc\n", outbox=tmp_path / "x.sqlite")


def test_a_table_of_tasks_that_json_cannot_carry_is_refused_naming_the_row(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    boss = crowdnb.connect(crowd.server.url, crowd.tokens["boss"], outbox=tmp_path / "boss.sqlite")
    try:
        project = crowdnb.Project.create("texts-sur", "text-class", store=boss, classes=["a"])
        with pytest.raises(ValueError, match=r"rows\[1\]\.text: .* lone surrogate"):
            # dtype=object: pandas would store the strings in Arrow, which cannot hold them.
            project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["fine", "bad \ud800"]}, dtype=object))
        assert crowdnb.Project.open("texts-sur", store=crowd.store).tasks().empty
    finally:
        boss.close()
