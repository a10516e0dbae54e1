"""The local store refuses what PostgreSQL cannot keep, on SQLite too, with the messages the
server gives (`crowdnb.values`), and stores nothing when it does."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
from snapshots import snapshot

from crowdnb import values
from crowdnb.errors import LabelError, Problem, ValidationError
from crowdnb.store import NewTask, SqlStore, Submission

NUL = values.text_flaw("\x00")  # "contains U+0000 (NUL) at position 0, which cannot be stored"


def flaw(text: str) -> str:
    """The message for `text`, as the store and the server word it."""
    message = values.text_flaw(text)
    assert message is not None
    return message


@pytest.fixture
def filled(store: SqlStore) -> SqlStore:
    """A free-text project with two tasks, one label awaiting inspection, ana and ines in it."""
    info = store.create_project("notes", "free-text", {"min_chars": 1, "max_chars": 100, "prompt": ""}, review_rate=1.0)
    store.insert_tasks(info.id, [NewTask("t1", {"text": "first"}), NewTask("t2", {"text": "second"})])
    for name, role in (("ana", "worker"), ("ines", "inspector")):
        store.issue_token(name, role)
        store.add_member(info.id, name)
    ana = store.account("ana").id
    task = store.claim(info.id, ana, 1)[0]
    store.submit(info.id, ana, Submission("ann-00000001", task.id, "fine", 1000))
    store.claim(info.id, ana, 1)
    return store


def test_names_are_refused_before_any_query(filled: SqlStore) -> None:
    before = snapshot(filled)
    pid = filled.project("notes").id
    cases = [
        (lambda: filled.create_project("p\x00", "text-class", {"classes": ["a"]}), "project name: " + flaw("p\x00")),
        (lambda: filled.create_project("p\ud800", "text-class", {"classes": ["a"]}), "project name: " + flaw("p\ud800")),
        (lambda: filled.create_project("p", "text-class", {"classes": ["a", "b\x00"]}), "config.classes[1]: " + flaw("b\x00")),
        (lambda: filled.project("\x00"), "project name: " + NUL),
        (lambda: filled.add_member(pid, "a\x00"), "worker name: " + flaw("a\x00")),
        (lambda: filled.issue_token("a\ud800"), "worker name: " + flaw("a\ud800")),
        (lambda: filled.worker_id("\x00"), "worker name: " + NUL),
        (lambda: filled.account("\x00"), "worker name: " + NUL),
        (lambda: filled.project_access(1, "\x00"), "project name: " + NUL),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            call()
    assert snapshot(filled) == before


def test_task_rows_are_named_by_row_and_column(filled: SqlStore) -> None:
    pid = filled.project("notes").id
    before = snapshot(filled)
    frame = pd.DataFrame({"id": ["a", "b\x00", "c"], "text": ["fine", "fine", "te\x00xt"], "k\x00": [1, 2, 3]})
    with pytest.raises(ValidationError) as refused:
        filled.add_tasks(pid, frame)
    assert set(refused.value.problems) == {
        Problem(1, "id", flaw("b\x00")),
        Problem(2, "text", flaw("te\x00xt")),
        *(Problem(row, "['k\\x00']", "the key " + flaw("k\x00")) for row in range(3)),
    }
    meta = pd.DataFrame({"text": ["x"], "extra": [{"deep": ["\ud800"]}]})
    with pytest.raises(ValidationError, match=re.escape("field 'extra.deep[0]': " + flaw("\ud800"))):
        filled.add_tasks(pid, meta)
    with pytest.raises(ValidationError, match=re.escape("row 'n1', field 'x': is nan, which JSON cannot hold")):
        filled.insert_tasks(pid, [NewTask("n1", {"text": "x"}, meta={"x": float("nan")})])
    assert snapshot(filled) == before


def test_labels_and_annotation_ids_are_refused_alone(filled: SqlStore) -> None:
    pid, ana = filled.project("notes").id, filled.account("ana").id
    task = filled.claim(pid, ana, 1)[0]
    before = snapshot(filled)
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(LabelError, match="^" + re.escape("label: " + flaw("ok \ud800")) + "$"):
        filled.submit(pid, ana, Submission("ann-00000002", task.id, "ok \ud800", 1000))
    with pytest.raises(ValidationError, match=re.escape("field 'annotation_id': " + flaw("ann-\x00-02"))):
        filled.submit(pid, ana, Submission("ann-\x00-02", task.id, "fine", 1000))
    with pytest.raises(LabelError, match=r"^label\[0\]\[0\].*: is nested more than 32 levels deep$"):
        filled.submit(pid, ana, Submission("ann-00000003", task.id, deep, 1000))
    outcomes = filled.submit_many(pid, ana, [
        Submission("ann-00000004", task.id, "bad \udc80", 1000), Submission("ann-\ud800-05", task.id, "fine", 1000),
    ])
    assert [str(o) for o in outcomes] == [
        "label: " + flaw("bad \udc80"),
        str(ValidationError([Problem("ann-\ud800-05", "annotation_id", flaw("ann-\ud800-05"))])),
    ]
    assert snapshot(filled) == before
    assert filled.submit_many(pid, ana, [Submission("ann-00000006", task.id, "fine", 1000)])[0].duplicate is False


def test_reasons_ids_and_credits_are_refused(filled: SqlStore) -> None:
    pid, ines, ana = filled.project("notes").id, filled.account("ines").id, filled.account("ana").id
    before = snapshot(filled)
    with pytest.raises(ValueError, match="^" + re.escape("reason: " + flaw("bad\x00")) + "$"):
        filled.decide(pid, ines, "ann-00000001", "reject", "bad\x00")
    with pytest.raises(ValueError, match="^" + re.escape("annotation_id: " + NUL) + "$"):
        filled.decide(pid, ines, "\x00", "approve")
    with pytest.raises(ValueError, match="^" + re.escape("key: " + flaw("k\ud800")) + "$"):
        filled.credit(ana, 5, "bonus", "k\ud800")
    assert snapshot(filled) == before
    assert filled.balance(ana) == 0


def test_payouts_need_timezone_aware_datetimes(filled: SqlStore) -> None:
    now = datetime.now(UTC)
    assert filled.payouts(now - timedelta(days=1), now).empty
    with pytest.raises(ValueError, match="timezone-aware start and end"):
        filled.payouts(datetime(2020, 1, 1), now)
    with pytest.raises(ValueError, match="timezone-aware start and end"):
        filled.payouts(now, datetime(2030, 1, 1))
    far = timezone(timedelta(hours=14))
    with pytest.raises(ValueError, match="within the years 1 to 9999 in UTC"):
        filled.payouts(datetime(1, 1, 1, tzinfo=far), now)
