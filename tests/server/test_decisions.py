"""Inspectors approve or reject: the words the store and the HTTP API accept, and the error
for any other word."""

from __future__ import annotations

from pathlib import Path

import pytest
from crowd import Crowd, make_project

import crowdnb
from crowdnb.store import NewTask, Submission
from crowdnb.store.sql.review import decision_word

REFUSED = "decision must be 'approve' or 'reject', got 'maybe'"


@pytest.mark.parametrize(
    ("said", "stored"),
    [("approve", "approved"), ("approved", "approved"), (" APPROVE ", "approved"), ("Approved", "approved"),
     ("reject", "rejected"), ("rejected", "rejected"), ("\tReject\n", "rejected"), ("REJECTED ", "rejected")],
)
def test_decision_words(said: str, stored: str) -> None:
    assert decision_word(said) == stored


@pytest.mark.parametrize("said", ["maybe", "", "approv", "yes", "re ject"])
def test_other_words_are_refused_by_name(said: str) -> None:
    with pytest.raises(ValueError, match=f"^decision must be 'approve' or 'reject', got {said!r}$"):
        decision_word(said)


def test_the_store_reads_every_decision_word(tmp_path: Path) -> None:
    store = crowdnb.SqlStore(tmp_path / "s.sqlite")
    try:
        info = store.create_project("words", "text-class", {"classes": ["a"]}, price=2)
        store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": "x"}) for i in range(3)])
        store.set_review(info.id, 1.0)
        ana, ines = store.worker_id("ana"), store.worker_id("ines", role="inspector")
        for task in store.claim(info.id, ana, 3):
            store.submit(info.id, ana, Submission(f"ana-{task.external_id}", task.id, "a"))
        with pytest.raises(ValueError) as refused:
            store.decide(info.id, ines, "ana-t0", "maybe")
        assert str(refused.value) == REFUSED
        store.decide(info.id, ines, "ana-t0", " Approve ")
        store.decide(info.id, ines, "ana-t0", "approved")  # the same decision again: harmless
        store.decide(info.id, ines, "ana-t1", "REJECT", "not an a")
        store.decide(info.id, ines, "ana-t2", "rejected", "not an a either")
        with pytest.raises(crowdnb.Conflict):
            store.decide(info.id, ines, "ana-t1", "approve")
        statuses = store.worker_labels(info.id, ana).set_index("annotation_id")["status"].to_dict()
        assert statuses == {"ana-t0": "approved", "ana-t1": "rejected", "ana-t2": "rejected"}
        assert store.balance(ana) == 2
    finally:
        store.close()


def test_the_api_reads_every_decision_word_and_names_a_wrong_one(crowd: Crowd) -> None:
    make_project(crowd, price=4, review_rate=1.0)
    with crowd.client("ana") as ana, crowd.client("ines") as ines:
        for task in ana.post("/projects/street/claim", json={"n": 3}).json():
            body = {"annotation_id": f"words-{task['external_id']}", "task_id": task["task_id"], "label": "car"}
            assert ana.post("/projects/street/submit", json=body).status_code == 200
        assert len(ines.post("/projects/street/reviews/claim", json={"n": 5}).json()) == 3
        wrong = ines.post("/projects/street/reviews/words-s0", json={"decision": "maybe"})
        assert wrong.status_code == 422 and wrong.json() == {"detail": REFUSED, "problems": []}
        decided = [("words-s0", " Approve "), ("words-s1", "reject"), ("words-s2", "REJECTED")]
        for annotation_id, word in decided:
            answer = ines.post(f"/projects/street/reviews/{annotation_id}", json={"decision": word, "reason": "a bus"})
            assert answer.status_code == 200, answer.text
        assert ines.post("/projects/street/reviews/words-s0", json={"decision": "approve"}).status_code == 200
        assert ines.post("/projects/street/reviews/words-s0", json={"decision": "reject", "reason": "no"}).status_code == 409
        mine = {m["annotation_id"]: m["status"] for m in ana.get("/projects/street/my-labels").json()}
        assert mine == {"words-s0": "approved", "words-s1": "rejected", "words-s2": "rejected"}
        assert ana.get("/me/balance").json()["points"] == 4
