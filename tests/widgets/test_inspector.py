"""The inspector's widget on a local store: approve, reject with a reason, never one's own work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from samples import write_images

import crowdnb
from crowdnb.store import Submission


def test_inspector_approves_rejects_and_sends_rework(store: crowdnb.Store, tmp_path: Path) -> None:
    project = crowdnb.Project.create("p", kind="image-class", classes=["cat", "dog"], store=store, price=4)
    project.add_tasks(pd.DataFrame({"image": [str(p) for p in write_images(tmp_path, 3)], "id": ["a", "b", "c"]}))
    store.set_review(project.info.id, 1.0)
    ana = store.worker_id("ana")
    for task in store.claim(project.info.id, ana, 3):
        store.submit(project.info.id, ana, Submission(f"ana-{task.external_id}", task.id, "cat"))
    assert set(project.labels()["status"]) == {"submitted"}

    inspector = project.inspect(inspector="ines")
    assert inspector.task.value == "task a" and inspector.image.value == (tmp_path / "img000.jpeg").read_bytes()
    assert '"cat"' in inspector.label.value
    inspector.approve.click()
    inspector.reject.click()  # no reason yet: refused
    assert "reason" in inspector.message.value and inspector.current["external_id"] == "b"
    inspector.reason.value = "that is a dog"
    inspector.reject.click()
    inspector.approve.click()
    assert inspector.current is None and "Nothing to inspect" in inspector.task.value

    labels = project.labels().set_index("task")
    assert labels["status"].to_dict() == {"a": "approved", "b": "rejected", "c": "approved"}
    assert store.balance(ana) == 8
    (rework,) = store.claim(project.info.id, ana, 5)
    assert (rework.external_id, rework.rework) == ("b", "that is a dog")
    assert project.inspect(inspector="ana").current is None  # nothing of others' waits; never her own
