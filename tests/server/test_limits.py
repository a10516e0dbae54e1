"""Request size limits over real HTTP: a body over its route's limit gets 413 before it is
read (declared or chunked), a request head over its limit gets 431, what is under them works;
and how `crowdnb serve` takes the limits from its options and the environment."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from servers import Server

import crowdnb
from crowdnb import SqlStore
from crowdnb.cli import main
from crowdnb.server.limits import Limits, parse_size

KIB = 1024
OPTIONS = ["--max-body", "64KiB", "--max-batch-body", "256KiB", "--max-tasks-body", "1MiB", "--max-head", "4KiB"]


@dataclass
class Limited:
    """A server with OPTIONS' limits, a manager's and a worker's clients, and a project "p"."""

    server: Server
    boss: httpx.Client
    ana: httpx.Client

    def claim(self) -> int:
        return self.ana.post("/projects/p/claim", json={"n": 1}).json()[0]["task_id"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    folder = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'store.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_cluster").new_database()
    with SqlStore(url) as store:
        info = store.create_project("p", "text-class", {"classes": ["a", "b"]})
        crowdnb.Project(store, info).add_tasks(pd.DataFrame({"text": [f"t{i}" for i in range(20)]}))
        tokens = {name: store.issue_token(name, role) for name, role in (("boss", "manager"), ("ana", "worker"))}
        store.add_member(info.id, "ana")
    (folder / "media").mkdir()
    server = Server(url, folder / "media", folder / "server.log", options=OPTIONS).start()
    clients = [
        httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {tokens[name]}"}, timeout=30)
        for name in ("boss", "ana")
    ]
    try:
        yield Limited(server, *clients)
    finally:
        for client in clients:
            client.close()
        server.stop()


def padded(body: object, size: int) -> bytes:
    """`body` as JSON of exactly `size` bytes, spaces after it (still valid JSON)."""
    text = json.dumps(body).encode()
    return text + b" " * (size - len(text))


def post(client: httpx.Client, path: str, content: bytes) -> httpx.Response:
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def label(task_id: int, annotation_id: str) -> dict[str, object]:
    return {"annotation_id": annotation_id, "task_id": task_id, "label": "a"}


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(limited: Limited) -> None:
    host, port = "127.0.0.1", limited.server.port
    token = limited.ana.headers["Authorization"]
    head = (f"POST /api/v1/projects/p/submit HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {100 * 2**20}\r\n\r\n")
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(head.encode())  # and not one byte of the 100 MiB
        started = time.monotonic()
        answer = b""
        while chunk := conn.recv(65536):  # the server answers, then closes the connection
            answer += chunk
        waited = time.monotonic() - started
    status, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large" and waited < 5
    assert b"connection: close" in headers.lower()
    assert json.loads(body) == {
        "detail": f"the request body of {100 * 2**20} bytes is over the limit of 65536 bytes for this route "
                  "(crowdnb serve --max-body or $CROWDNB_MAX_BODY)",
        "problems": [],
    }


def test_a_chunked_body_is_read_up_to_the_limit_only(limited: Limited) -> None:
    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"annotation_id": "chunked-over", "task_id": 1, "label": "'
        for _ in range(n):
            yield b"a" * (16 * KIB)
        yield b'"}'

    response = limited.ana.post("/projects/p/submit", content=chunks(8), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "the request body is over the limit of 65536 bytes for this route (crowdnb serve --max-body or $CROWDNB_MAX_BODY)"
    )


def test_a_chunked_body_under_the_limit_reaches_its_route(limited: Limited) -> None:
    body = json.dumps(label(limited.claim(), "chunked-under")).encode()
    response = limited.ana.post("/projects/p/submit", content=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["annotation_id"] == "chunked-under"


def test_a_body_of_exactly_the_limit_is_taken_one_more_byte_is_not(limited: Limited) -> None:
    task = limited.claim()
    assert post(limited.ana, "/projects/p/submit", padded(label(task, "exactly-64k"), 64 * KIB + 1)).status_code == 413
    response = post(limited.ana, "/projects/p/submit", padded(label(task, "exactly-64k"), 64 * KIB))
    assert response.status_code == 200 and response.json()["duplicate"] is False


def test_deep_nesting_over_the_limit_is_refused_for_its_size_unparsed(limited: Limited) -> None:
    response = post(limited.ana, "/projects/p/submit", b"[" * (100 * KIB))
    assert response.status_code == 413 and "--max-body" in response.json()["detail"]


def test_each_route_has_its_limit(limited: Limited) -> None:
    batch = {"labels": [label(limited.claim(), "batch-200k")]}
    response = post(limited.ana, "/projects/p/submit-many", padded(batch, 200 * KIB))  # over --max-body
    assert response.status_code == 200 and response.json()[0]["stored"] is True
    assert post(limited.ana, "/projects/p/submit-many", padded(batch, 257 * KIB)).status_code == 413

    rows = {"rows": [{"text": "a task added in a large body"}]}
    response = post(limited.boss, "/projects/p/tasks", padded(rows, 900 * KIB))  # over --max-batch-body
    assert response.status_code == 200 and response.json() == {"added": 1}
    response = post(limited.boss, "/projects/p/tasks", padded(rows, 2**20 + 1))
    assert response.status_code == 413 and "--max-tasks-body" in response.json()["detail"]
    # The larger limits are for their routes only: an annotation id ending like one does not get them.
    response = post(limited.boss, "/projects/p/reviews/x/tasks", padded({"decision": "approve"}, 100 * KIB))
    assert response.status_code == 413 and "--max-body" in response.json()["detail"]


def test_a_head_over_the_limit_gets_431(limited: Limited) -> None:
    assert limited.ana.get("/me", headers={"X-Pad": "a" * 3000}).status_code == 200
    detail = "the request line and headers are over the limit of 4096 bytes (crowdnb serve --max-head or $CROWDNB_MAX_HEAD)"
    for response in (
        limited.ana.get("/me", headers={"X-Pad": "a" * 5000}),  # one header
        limited.ana.get("/me", headers={f"X-Pad-{i}": "a" * 100 for i in range(50)}),  # many
        limited.ana.get("/projects/" + "a" * 5000),  # the request line
    ):
        assert response.status_code == 431
        assert response.headers["connection"] == "close"
        assert response.json() == {"detail": detail, "problems": []}


def test_a_huge_header_is_refused_without_being_read(limited: Limited) -> None:
    """httptools alone takes a header of any size (64 MiB took 12 s of CPU): the limit stops it."""
    with socket.create_connection(("127.0.0.1", limited.server.port), timeout=10) as conn:
        conn.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (8 * KIB))
        answer = conn.recv(65536)
        with pytest.raises(OSError):  # the server closed the connection
            for _ in range(1000):
                conn.sendall(b"a" * (64 * KIB))
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


def test_keep_alive_requests_each_get_the_limit(limited: Limited) -> None:
    """The head limit counts each request of a connection afresh."""
    with httpx.Client(base_url=limited.server.url + "/api/v1", headers=limited.ana.headers) as client:
        for _ in range(20):
            assert client.get("/me", headers={"X-Pad": "a" * 3000}).status_code == 200


def test_sizes_and_the_environment() -> None:
    assert [parse_size(s) for s in ("100", "512KiB", "8 MiB", "1g", "2M")] == [100, 512 * KIB, 8 * 2**20, 2**30, 2 * 2**20]
    for bad in ("", "0", "1.5MiB", "12XB", "-1"):
        with pytest.raises(ValueError, match="is not a size"):
            parse_size(bad)
    assert Limits.from_environment({"CROWDNB_MAX_BODY": "2MiB"}) == Limits(body=2 * 2**20)
    with pytest.raises(ValueError, match="CROWDNB_MAX_HEAD: '1e4' is not a size"):
        Limits.from_environment({"CROWDNB_MAX_HEAD": "1e4"})


def test_serve_takes_limits_from_options_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from crowdnb.server.app import MEDIA_ENV
    from crowdnb.server.head import HeadLimit
    from crowdnb.store import STORE_ENV

    for env in [STORE_ENV, MEDIA_ENV, *Limits().environment()]:  # what serve sets is undone after the test
        monkeypatch.setenv(env, "")
        monkeypatch.delenv(env)
    monkeypatch.setenv("CROWDNB_MAX_BODY", "2MiB")
    monkeypatch.setenv("CROWDNB_MAX_BATCH_BODY", "3MiB")
    runs: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    store = ["--store", str(tmp_path / "s.sqlite")]
    assert main([*store, "serve", "--media", str(tmp_path), "--max-body", "512KiB", "--max-head", "8KiB"]) == 0
    assert {env: os.environ[env] for env in Limits().environment()} == {
        "CROWDNB_MAX_BODY": "524288", "CROWDNB_MAX_BATCH_BODY": "3145728", "CROWDNB_MAX_TASKS_BODY": str(32 * 2**20),
        "CROWDNB_MAX_HEAD": "8192",
    }
    (run,) = runs
    assert run["http"].func is HeadLimit and run["http"].keywords == {"head_limit": 8192}
    assert (run["timeout_worker_healthcheck"], run["timeout_graceful_shutdown"], run["timeout_keep_alive"]) == (60, 30, 75)


def test_serve_refuses_a_limit_that_is_not_a_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--store", str(tmp_path / "s.sqlite"), "serve", "--media", str(tmp_path), "--max-body", "12XB"])
    assert exit_.value.code == 2 and "argument --max-body: '12XB' is not a size" in capsys.readouterr().err
    monkeypatch.setenv("CROWDNB_MAX_TASKS_BODY", "lots")
    assert main(["--store", str(tmp_path / "s.sqlite"), "serve", "--media", str(tmp_path)]) == 1
    assert "CROWDNB_MAX_TASKS_BODY: 'lots' is not a size" in capsys.readouterr().err
