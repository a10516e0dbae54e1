"""Tasks dynamic overlap sends to an inspector, over HTTP: who may see them, and deciding them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from crowd import Crowd

import crowdnb
from crowdnb.quality.rules import QualityPolicy


def test_inspectors_see_split_tasks_with_their_votes_and_decide_them(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    boss = crowdnb.connect(crowd.server.url, crowd.tokens["boss"], outbox=tmp_path / "boss.sqlite")
    ana = crowdnb.connect(crowd.server.url, crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")
    ines = crowdnb.connect(crowd.server.url, crowd.tokens["ines"], outbox=tmp_path / "ines.sqlite")
    try:
        policy = QualityPolicy(target_confidence=0.95, max_overlap=4)
        split = crowdnb.Project.create("split", "text-class", store=boss, classes=["a", "b"], quality=policy)
        split.add_tasks(pd.DataFrame({"id": ["t0"], "text": ["<b>which one?</b>"]}))
        for member in ("ana", "ben", "ines"):
            split.add_member(member)
        for who, label in (("ana", "a"), ("ben", "b")):
            with crowd.client(who) as client:
                (task,) = client.post("/projects/split/claim", json={"n": 1}).json()
                body = {"annotation_id": f"split-{who}-t0", "task_id": task["task_id"], "label": label}
                answer = client.post("/projects/split/submit", json=body)
                assert answer.status_code == 200, answer.text
        with crowd.client("ana") as worker:
            assert worker.get("/projects/split/escalated").status_code == 403
            assert worker.post("/projects/split/escalated/t0", json={"label": "a"}).status_code == 403
        waiting = crowdnb.Project.open("split", store=ines).escalated()
        assert waiting[["task", "votes", "n_labels"]].values.tolist() == [["t0", {"a": 1, "b": 1}, 2]]
        inspector = crowdnb.Project.open("split", store=ines)
        with crowd.client("ines") as client:
            wrong = client.post("/projects/split/escalated/t0", json={"label": "c"})
            assert wrong.status_code == 422 and "'c'" in wrong.json()["detail"]
        inspector.resolve("t0", "b")
        assert split.results()[["task", "label", "confidence"]].values.tolist() == [["t0", "b", 1.0]]
        assert inspector.escalated().empty
    finally:
        for client in (boss, ana, ines):
            client.close()
