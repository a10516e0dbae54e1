"""A real crowdnb server over 127.0.0.1 for each test, with a manager, an inspector, workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from samples import write_images
from servers import Server

from crowdnb import Store


@dataclass
class Crowd:
    """A running server and tokens for its people."""

    server: Server
    store: Store
    media: Path
    tokens: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.server.url + "/api/v1", headers=headers, timeout=30)


PEOPLE = {"boss": "manager", "ines": "inspector", "ana": "worker", "ben": "worker", "eve": "worker"}


@pytest.fixture
def crowd(store_url: str, tmp_path: Path) -> Iterator[Crowd]:
    media = tmp_path / "media"
    write_images(media / "street", 6)
    store = Store(store_url)
    tokens = {name: store.issue_token(name, role) for name, role in PEOPLE.items()}
    server = Server(store_url, media, tmp_path / "server.log").start()
    try:
        yield Crowd(server, store, media, tokens)
    finally:
        server.stop()
        store.close()


def make_project(crowd: Crowd, name: str = "street", *, members: tuple[str, ...] = ("ana", "ben", "ines"), **extra: object) -> None:
    """An image-class project over the six street images, made through the API by the manager."""
    with crowd.client("boss") as boss:
        body = {"name": name, "kind": "image-class", "options": {"classes": ["car", "bus"]}, **extra}
        assert boss.post("/projects", json=body).status_code == 200
        rows = [{"id": f"s{i}", "image": f"street/img{i:03d}.jpeg", "answer": "car"} for i in range(6)]
        assert boss.post(f"/projects/{name}/tasks", json={"rows": rows}).json() == {"added": 6}
        for member in members:
            assert boss.post(f"/projects/{name}/members", json={"worker": member}).status_code == 200
