"""A crowd worker's Voila app against a real crowdnb server: label with the keyboard, and the
server's store has the labels under the worker's name."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from servers import Server

import crowdnb
from crowdnb import SqlStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "crowd_worker.ipynb"


def test_worker_app_in_voila_labels_through_the_server(voila, page, console, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crowd.sqlite'}"
    with SqlStore(url) as store:
        project = crowdnb.Project.create("street", kind="text-class", classes=["car", "bus"], store=store, overlap=2)
        project.add_tasks(pd.DataFrame({"id": ["a", "b", "c"], "text": ["a red car", "the 42 bus", "a taxi"]}))
        token = store.issue_token("ana")
        store.add_member(project.info.id, "ana")
    server = Server(url, tmp_path, tmp_path / "server.log").start()
    try:
        shutil.copy(NOTEBOOK, tmp_path / "crowd_worker.ipynb")
        page.goto(voila(tmp_path / "crowd_worker.ipynb", env={
            "CROWDNB_SERVER": server.url, "CROWDNB_TOKEN": token, "CROWDNB_PROJECT": "street",
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }))
        root = page.locator(".cnb-root")
        root.wait_for(timeout=60_000)
        assert "street · ana" in root.locator(".cnb-title").inner_text()
        page.wait_for_function("() => document.querySelector('.cnb-root').dataset.taskId === 'a'", timeout=30_000)
        root.locator(".cnb-title").click()
        for key in ("1", "Enter", "2", "Enter"):
            page.keyboard.press(key)
        page.wait_for_function("() => document.querySelector('.cnb-root').dataset.taskId === 'c'", timeout=30_000)
        with SqlStore(url) as store:
            deadline = time.monotonic() + 15
            while len(labels := crowdnb.Project.open("street", store=store).labels()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        assert labels[["task", "worker", "label"]].values.tolist() == [["a", "ana", "car"], ["b", "ana", "bus"]]
        assert page.get_by_text("ana: 0 points").count() == 1
        console.assert_no_errors()
    finally:
        server.stop()
