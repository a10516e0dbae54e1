"""A real crowdnb server over 127.0.0.1 for each test, with a manager, an inspector, workers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from samples import write_images
from servers import Server

from crowdnb import SqlStore


@dataclass
class Crowd:
    """A running server and tokens for its people."""

    server: Server
    store: SqlStore
    media: Path
    tokens: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.server.url + "/api/v1", headers=headers, timeout=30)


PEOPLE = {"boss": "manager", "ines": "inspector", "ana": "worker", "ben": "worker", "eve": "worker"}


@contextmanager
def running_crowd(store_url: str, folder: Path) -> Iterator[Crowd]:
    """A server on a fresh store with PEOPLE and their tokens."""
    media = folder / "media"
    write_images(media / "street", 6)
    store = SqlStore(store_url)
    tokens = {name: store.issue_token(name, role) for name, role in PEOPLE.items()}
    server = Server(store_url, media, folder / "server.log").start()
    try:
        yield Crowd(server, store, media, tokens)
    finally:
        server.stop()
        store.close()


@pytest.fixture
def crowd(store_url: str, tmp_path: Path) -> Iterator[Crowd]:
    """A crowd of one's own for a test that changes shared state."""
    with running_crowd(store_url, tmp_path) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_crowd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    """One crowd for a module's tests; each test uses projects of its own."""
    folder = tmp_path_factory.mktemp("crowd")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    with running_crowd(url, folder) as running:
        yield running


def make_project(crowd: Crowd, name: str = "street", *, members: tuple[str, ...] = ("ana", "ben", "ines"), **extra: object) -> None:
    """An image-class project over the six street images, made through the API by the manager."""
    with crowd.client("boss") as boss:
        body = {"name": name, "kind": "image-class", "options": {"classes": ["car", "bus"]}, **extra}
        assert boss.post("/projects", json=body).status_code == 200
        rows = [{"id": f"s{i}", "image": f"street/img{i:03d}.jpeg", "answer": "car"} for i in range(6)]
        assert boss.post(f"/projects/{name}/tasks", json={"rows": rows}).json() == {"added": 6}
        for member in members:
            assert boss.post(f"/projects/{name}/members", json={"worker": member}).status_code == 200
