"""One call per label: `submit-and-claim` stores the label and leases the next tasks."""

from __future__ import annotations

import uuid

from crowd import Crowd, make_project


def _next(client, task_id: int, label: str, *, n: int = 1, exclude: tuple[int, ...] = (), annotation_id: str | None = None):
    body = {"annotation_id": annotation_id or uuid.uuid4().hex, "task_id": task_id, "label": label, "n": n, "exclude": list(exclude)}
    return client.post("/projects/street/submit-and-claim", json=body)


def test_a_page_labels_the_whole_project_with_one_call_per_task(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana:
        (task,) = ana.post("/projects/street/claim", json={"n": 1}).json()
        seen = []
        while task is not None:
            answer = _next(ana, task["task_id"], "bus")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["duplicate"] is False and body["submitted_at"]
            seen.append(task["external_id"])
            assert len(body["tasks"]) <= 1 and "answer" not in str(body["tasks"])  # gold stays hidden
            task = body["tasks"][0] if body["tasks"] else None
        assert seen == [f"s{i}" for i in range(6)]
        assert ana.get("/projects/street/progress").json() == {"done": 6, "total": 6}


def test_the_tasks_a_page_holds_are_not_handed_out_again(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana:
        t0, t1 = ana.post("/projects/street/claim", json={"n": 2}).json()
        body = _next(ana, t0["task_id"], "car", n=2, exclude=(t1["task_id"],)).json()
        assert [t["external_id"] for t in body["tasks"]] == ["s2", "s3"]


def test_a_retry_is_a_duplicate_and_a_refused_label_leases_nothing(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("ana") as ana:
        (t0,) = ana.post("/projects/street/claim", json={"n": 1}).json()
        first = _next(ana, t0["task_id"], "car", annotation_id="next-retry-01", n=0)
        again = _next(ana, t0["task_id"], "car", annotation_id="next-retry-01", n=0)
        assert first.json()["tasks"] == again.json()["tasks"] == []
        assert again.json()["duplicate"] and again.json()["submitted_at"] == first.json()["submitted_at"]
        (t1,) = ana.post("/projects/street/claim", json={"n": 1}).json()
        refused = _next(ana, t1["task_id"], "tram", n=3)
        assert refused.status_code == 422 and "unknown class 'tram'" in refused.json()["detail"]
        assert ana.get("/projects/street/progress").json()["done"] == 1
        # Nothing was leased by the refused call: the next claim starts right after the held task.
        assert [t["external_id"] for t in ana.post("/projects/street/claim", json={"n": 5, "exclude": [t1["task_id"]]}).json()] == ["s2", "s3", "s4", "s5"]


def test_a_worker_outside_the_project_may_not(crowd: Crowd) -> None:
    make_project(crowd)
    with crowd.client("eve") as eve:
        assert _next(eve, 1, "car").status_code == 403
