"""The HTTP API over real sockets: hand-out, submits, inspection, rework, points."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from crowd import Crowd, make_project


def _submit(client, project: str, task_id: int, label: str, annotation_id: str | None = None):
    body = {"annotation_id": annotation_id or uuid.uuid4().hex, "task_id": task_id, "label": label, "duration_ms": 900}
    return client.post(f"/projects/{project}/submit", json=body)


def test_worker_flow_claim_media_submit_retry_progress(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana, crowd.client("boss") as boss:
        assert ana.get("/me").json() == {"id": crowd.store.account("ana").id, "name": "ana", "role": "worker"}
        assert ana.get("/projects").json() == ["street"]
        tasks = ana.post("/projects/street/claim", json={"n": 2}).json()
        assert [t["external_id"] for t in tasks] == ["s0", "s1"]
        assert "answer" not in str(tasks) and "known_answer" not in str(tasks)  # gold stays hidden
        image = ana.get(tasks[0]["payload"]["media"])
        assert image.status_code == 200 and image.content == (crowd.media / "street/img000.jpeg").read_bytes()
        first = _submit(ana, "street", tasks[0]["task_id"], "bus", "retry-me-0001")
        again = _submit(ana, "street", tasks[0]["task_id"], "bus", "retry-me-0001")
        assert first.status_code == again.status_code == 200
        assert not first.json()["duplicate"] and again.json()["duplicate"]
        assert first.json()["submitted_at"] == again.json()["submitted_at"]
        bad = _submit(ana, "street", tasks[1]["task_id"], "tram")
        assert bad.status_code == 422 and "unknown class 'tram'" in bad.json()["detail"]
        assert ana.get("/projects/street/progress").json() == {"done": 1, "total": 6}
        mine = ana.get("/projects/street/my-labels").json()
        assert [(m["task"], m["label"], m["status"]) for m in mine] == [("s0", "bus", "approved")]
        everything = boss.get("/projects/street/labels").json()
        assert [(r["task"], r["worker"], r["label"]) for r in everything] == [("s0", "ana", "bus")]
        assert len(boss.get("/projects/street/tasks").json()) == 6


def test_inspection_rework_and_points(crowd: Crowd) -> None:
    make_project(crowd, price=10, review_rate=1.0)
    with crowd.client("ana") as ana, crowd.client("ines") as ines, crowd.client("boss") as boss:
        task = ana.post("/projects/street/claim", json={"n": 1}).json()[0]
        _submit(ana, "street", task["task_id"], "bus", "first-try-0001")
        assert ana.get("/me/balance").json()["points"] == 0  # waits for inspection
        (review,) = ines.post("/projects/street/reviews/claim", json={"n": 5}).json()
        assert review["annotation_id"] == "first-try-0001" and review["label"] == "bus"
        assert "worker" not in review
        refused = ines.post("/projects/street/reviews/first-try-0001", json={"decision": "rejected", "reason": ""})
        assert refused.status_code == 422  # a rejection needs a reason
        ines.post("/projects/street/reviews/first-try-0001", json={"decision": "rejected", "reason": "it is a car"})
        back = ana.post("/projects/street/claim", json={"n": 3}).json()
        assert back[0]["task_id"] == task["task_id"] and back[0]["rework"] == "it is a car"
        mine = ana.get("/projects/street/my-labels").json()
        assert (mine[0]["status"], mine[0]["reason"]) == ("rejected", "it is a car")
        _submit(ana, "street", task["task_id"], "car", "second-try-01")
        (review,) = ines.post("/projects/street/reviews/claim", json={"n": 5}).json()
        assert review["annotation_id"] == "second-try-01"
        for _ in range(2):  # a retried decision pays once
            assert ines.post("/projects/street/reviews/second-try-01", json={"decision": "approved"}).status_code == 200
        assert ana.get("/me/balance").json() == {"worker": "ana", "points": 10}
        clash = ines.post("/projects/street/reviews/second-try-01", json={"decision": "rejected", "reason": "no"})
        assert clash.status_code == 409
        now = datetime.now(timezone.utc)
        window = {"start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=1)).isoformat()}
        assert boss.get("/payouts", params=window).json() == [{"worker": "ana", "points": 10, "entries": 1}]


def test_inspectors_never_inspect_their_own_work(crowd: Crowd) -> None:
    make_project(crowd, review_rate=1.0, members=("ana", "ines"))
    with crowd.client("boss") as boss, crowd.client("ines") as ines:
        task = boss.post("/projects/street/claim", json={"n": 1}).json()[0]
        _submit(boss, "street", task["task_id"], "car", "boss-label-01")
        assert ines.post("/projects/street/reviews/claim", json={"n": 5}).json()[0]["annotation_id"] == "boss-label-01"
        assert boss.post("/projects/street/reviews/claim", json={"n": 5}).json() == []
        own = boss.post("/projects/street/reviews/boss-label-01", json={"decision": "approved"})
        assert own.status_code == 403


def test_unreviewed_labels_are_approved_after_the_window(crowd: Crowd) -> None:
    import time

    make_project(crowd, price=3, review_rate=1.0, review_window_seconds=1)
    with crowd.client("ana") as ana:
        task = ana.post("/projects/street/claim", json={"n": 1}).json()[0]
        _submit(ana, "street", task["task_id"], "car")
        assert ana.get("/me/balance").json()["points"] == 0
        time.sleep(1.5)
        assert ana.get("/me/balance").json()["points"] == 3
        assert ana.get("/projects/street/my-labels").json()[0]["status"] == "approved"


def test_the_python_client_end_to_end(crowd: Crowd, tmp_path) -> None:
    import crowdnb
    from crowdnb.widgets import Labeler

    boss = crowdnb.connect(crowd.server.url, crowd.tokens["boss"], outbox=tmp_path / "boss.sqlite")
    ana = crowdnb.connect(crowd.server.url, crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")
    ines = crowdnb.connect(crowd.server.url, crowd.tokens["ines"], outbox=tmp_path / "ines.sqlite")
    try:
        import pandas as pd

        street = crowdnb.Project.create("cars", "image-class", store=boss, classes=["car", "bus"], price=2, review_rate=1.0)
        assert street.add_tasks(pd.DataFrame({"id": ["x", "y"], "image": ["street/img000.jpeg", "street/img001.jpeg"]})) == 2
        street.add_member("ana")
        street.add_member("ines")
        widget = crowdnb.Project.open("cars", store=ana).annotate(prefetch=1)
        assert isinstance(widget, Labeler) and widget.title == "cars · ana" and widget.total == 2
        source = widget._source
        items = source.fetch(2, [])
        assert items[0].image == (crowd.media / "street/img000.jpeg").read_bytes() and items[0].width == 64
        source.submit(items[0].task_id, "bus", "client-e2e-0001", 700)
        assert ana.flush() == 0
        inspector = crowdnb.Project.open("cars", store=ines).inspect()
        assert inspector.current["annotation_id"] == "client-e2e-0001" and inspector.image.value == items[0].image
        inspector.approve.click()
        assert ana.balance() == 2
        assert crowdnb.Project.open("cars", store=ana).my_labels()[["task", "label", "status"]].values.tolist() == [["x", "bus", "approved"]]
        assert street.labels()["worker"].tolist() == ["ana"]
    finally:
        for client in (boss, ana, ines):
            client.close()


def test_labels_the_server_refuses_later_are_reported_to_the_worker(crowd: Crowd, tmp_path) -> None:
    import crowdnb

    make_project(crowd)
    ana = crowdnb.connect(crowd.server.url, crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")
    try:
        widget = crowdnb.Project.open("street", store=ana).annotate(prefetch=1)
        widget._source.submit(999_999, "car", "refused-later-01", 5)  # a task of no project of hers
        assert ana.flush() == 0
        (notice,) = widget._source.notices()
        assert notice.startswith("not stored: submit 999999:") and "not in project" in notice
        assert widget._source.notices() == []
        assert ana.outbox.failures()[0][0] == "refused-later-01"
    finally:
        ana.close()


def test_one_label_outside_the_request_limits_does_not_take_its_batch_down(crowd: Crowd, tmp_path) -> None:
    import crowdnb

    make_project(crowd)
    ana = crowdnb.connect(crowd.server.url, crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")
    try:
        widget = crowdnb.Project.open("street", store=ana).annotate(prefetch=2)
        first, second = widget._source.fetch(2, [])
        widget._source.submit(first.task_id, "car", "batch-good-01", 1_000)
        widget._source.submit(second.task_id, "car", "batch-slow-01", 90_000_000)  # open for 25 hours
        assert ana.flush() == 0
        assert [m["task"] for m in crowdnb.Project.open("street", store=ana).my_labels().to_dict("records")] == [first.external_id]
        assert [row[0] for row in ana.outbox.failures()] == ["batch-slow-01"]
    finally:
        ana.close()


def test_submit_many_stores_or_refuses_each_label_alone(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana:
        t0, t1 = ana.post("/projects/street/claim", json={"n": 2}).json()
        labels = [
            {"annotation_id": "many-0000001", "task_id": t0["task_id"], "label": "car"},
            {"annotation_id": "many-0000002", "task_id": t1["task_id"], "label": "tram"},
            {"annotation_id": "many-0000001", "task_id": t0["task_id"], "label": "car"},
        ]
        outcomes = ana.post("/projects/street/submit-many", json={"labels": labels}).json()
        assert [(o["stored"], o["duplicate"]) for o in outcomes] == [(True, False), (False, False), (True, True)]
        assert "unknown class 'tram'" in outcomes[1]["detail"]
        assert [m["task"] for m in ana.get("/projects/street/my-labels").json()] == ["s0"]


def test_values_the_store_cannot_keep_are_refused_not_a_server_error(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana, crowd.client("ines") as ines:
        task = ana.post("/projects/street/claim", json={"n": 1}).json()[0]
        bad = ana.post("/projects/street/submit", json={"annotation_id": "nul\x00-in-the-id", "task_id": task["task_id"], "label": "car"})
        assert bad.status_code == 422 and "annotation_id" in bad.json()["detail"]
        decided = ines.post("/projects/street/reviews/nul%00id", json={"decision": "approve"})
        assert decided.status_code in (404, 422), decided.text
