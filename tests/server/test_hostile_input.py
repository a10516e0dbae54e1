"""Hostile input over real HTTP: every value the store cannot keep is a 422 naming its place in
the request, before the token or the project is looked up, and the store is left as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from crowd import Crowd, make_project
from snapshots import snapshot

from crowdnb.quality.rules import QualityPolicy

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Setup:
    crowd: Crowd
    task: int  # a free-text task ana holds in "notes"
    pending: str  # a label of ana's in "street", awaiting inspection


@pytest.fixture(scope="module")
def setup(shared_crowd: Crowd) -> Iterator[Setup]:
    make_project(shared_crowd, "street", review_rate=1.0)
    with shared_crowd.client("boss") as boss, shared_crowd.client("ana") as ana:
        assert boss.post("/projects", json={"name": "notes", "kind": "free-text"}).status_code == 200
        assert boss.post("/projects/notes/tasks", json={"rows": [{"id": "n1", "text": "hello"}]}).json() == {"added": 1}
        assert boss.post("/projects/notes/members", json={"worker": "ana"}).status_code == 200
        task = ana.post("/projects/notes/claim", json={"n": 1}).json()[0]["task_id"]
        street = ana.post("/projects/street/claim", json={"n": 1}).json()[0]["task_id"]
        label = {"annotation_id": "pending-00001", "task_id": street, "label": "car"}
        assert ana.post("/projects/street/submit", json=label).status_code == 200
    yield Setup(shared_crowd, task, "pending-00001")


def call(crowd: Crowd, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
    """A request as `who` (a person, or "garbage" for a made-up token); a `bytes` body is sent
    as it is, anything else as JSON with \\u escapes (which can carry lone surrogates)."""
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    token = "made-up-token" if who == "garbage" else crowd.tokens[who]
    with httpx.Client(base_url=crowd.server.url + "/api/v1", timeout=30) as client:
        return client.request(method, path, content=content, headers={"Authorization": f"Bearer {token}", **(JSON if content else {})})


def said(answer: httpx.Response) -> list[str]:
    """What a refusal says: its detail and its problems."""
    body = answer.json()
    detail = body["detail"]
    return [detail if isinstance(detail, str) else json.dumps(detail), *body.get("problems", [])]


def new_project(**extra: Any) -> dict[str, Any]:
    return {"name": "fresh", "kind": "image-class", "options": {"classes": ["a", "b"]}, **extra}


# (name, caller, method, path, body, what the answer must name); {task} and {pending} are filled in.
PROBES: list[tuple[str, str, str, str, Any, str]] = [
    ("NUL project, made-up token", "garbage", "GET", "/projects/%00/progress", None, "path.project: contains U+0000"),
    ("NUL project name alone, made-up token", "garbage", "GET", "/projects/%00", None, "path.project"),
    ("NUL project, worker", "ana", "POST", "/projects/a%00b/claim", {"n": 1}, "path.project: contains U+0000 (NUL) at position 1"),
    ("lone surrogate in a free-text label", "ana", "POST", "/projects/notes/submit-many",
     {"labels": [{"annotation_id": "hostile-00001", "task_id": "{task}", "label": "ok \ud800"}]},
     "body.labels[0].label: contains a lone surrogate U+D800 at position 3"),
    ("NUL annotation id", "ana", "POST", "/projects/notes/submit",
     {"annotation_id": "hostile\x0000002", "task_id": "{task}", "label": "fine"}, "body.annotation_id: contains U+0000"),
    ("NUL annotation id in a batch", "ana", "POST", "/projects/notes/submit-many",
     {"labels": [{"annotation_id": "hostile-00003", "task_id": "{task}", "label": "fine"},
                 {"annotation_id": "hostile\x0000004", "task_id": "{task}", "label": "fine"}]},
     "body.labels[1].annotation_id: contains U+0000"),
    ("NUL annotation id in the path", "ines", "POST", "/projects/street/reviews/pending%00", {"decision": "approve"},
     "path.annotation_id: contains U+0000"),
    ("NUL reject reason", "ines", "POST", "/projects/street/reviews/{pending}", {"decision": "reject", "reason": "no\x00"},
     "body.reason: contains U+0000 (NUL) at position 2"),
    ("NUL project name", "boss", "POST", "/projects", new_project(name="fr\x00sh"), "body.name: contains U+0000"),
    ("NUL class name", "boss", "POST", "/projects", new_project(options={"classes": ["a", "b\x00"]}),
     "body.options.classes[1]: contains U+0000"),
    ("NUL task text", "boss", "POST", "/projects/notes/tasks", {"rows": [{"id": "x1", "text": "he\x00llo"}]},
     "body.rows[0].text: contains U+0000 (NUL) at position 2"),
    ("NUL task id", "boss", "POST", "/projects/notes/tasks", {"rows": [{"id": "x\x002", "text": "hello"}]},
     "body.rows[0].id: contains U+0000"),
    ("NUL metadata key", "boss", "POST", "/projects/notes/tasks", {"rows": [{"id": "x3", "text": "hi", "k\x00": 1}]},
     "body.rows[0]['k\\x00']: the key contains U+0000"),
    ("lone surrogate in metadata", "boss", "POST", "/projects/notes/tasks",
     {"rows": [{"id": "x4", "text": "hi", "source": {"who": "\udc80"}}]}, "body.rows[0].source.who: contains a lone surrogate U+DC80"),
    ("NUL member name", "boss", "POST", "/projects/notes/members", {"worker": "ana\x00"}, "body.worker: contains U+0000"),
    ("NUL worker name in the path", "boss", "GET", "/workers/ana%00", None, "path.name: contains U+0000"),
    ("NUL in a query parameter", "boss", "GET", "/projects/street/results?method=m%00", None, "query.method: contains U+0000"),
    ("option `store`", "boss", "POST", "/projects", new_project(options={"classes": ["a"], "store": "x.sqlite"}),
     "unknown option(s) ['store']; its options: ['classes']"),
    ("option `overlap`", "boss", "POST", "/projects", new_project(options={"classes": ["a"], "overlap": 3}), "['overlap']"),
    ("option `quality`", "boss", "POST", "/projects", new_project(options={"classes": ["a"], "quality": {}}), "['quality']"),
    ("option `self`", "boss", "POST", "/projects", new_project(options={"classes": ["a"], "self": 1}), "['self']"),
    ("classes not a list", "boss", "POST", "/projects", new_project(options={"classes": 5}), "`classes` must list"),
    ("option of the wrong type", "boss", "POST", "/projects",
     {"name": "fresh", "kind": "qa", "options": {"min_turns": "two"}}, "qa: min_turns: expected a whole number"),
    ("unknown quality setting", "boss", "POST", "/projects", new_project(quality={"bogus": 1}), "unknown quality setting(s) ['bogus']"),
    ("quality setting of the wrong type", "boss", "POST", "/projects", new_project(quality={"control_rate": "x"}),
     "quality setting control_rate must be float"),
    ("infinite quality setting", "boss", "POST", "/projects", (b'{"name": "fresh", "kind": "image-class", '
     b'"options": {"classes": ["a"]}, "quality": {"prior_weight": 1e400}}'), "body.quality.prior_weight: is inf"),
    ("quality threshold out of range", "boss", "PUT", "/projects/street/quality", {"policy": {"ban_below": 7}},
     "quality setting ban_below is a skill, between 0 and 1"),
    ("payouts without a time zone", "boss", "GET", "/payouts?start=2020-01-01T00:00:00&end=2030-01-01T00:00:00Z", None,
     '"loc": ["query", "start"], "msg": "Input should have timezone info"'),
    ("payouts before the year 1 in UTC", "boss", "GET", "/payouts?start=0001-01-01T00:00:00%2B14:00&end=2030-01-01T00:00:00Z",
     None, "within the years 1 to 9999 in UTC"),
    ("JSON nested 100,000 deep", "boss", "POST", "/projects/notes/members", b"[" * 100_000 + b"]" * 100_000,
     "body: is nested more than 32 levels deep"),
    ("JSON nested 40 deep", "ana", "POST", "/projects/notes/submit",
     b'{"annotation_id": "hostile-00005", "task_id": 1, "label": ' + b"[" * 40 + b"]" * 40 + b"}",
     "is nested more than 32 levels deep"),
    ("NaN", "ana", "POST", "/projects/notes/submit", b'{"annotation_id": "hostile-00006", "task_id": 1, "label": NaN}',
     "body.label: is nan, which JSON cannot hold"),
    ("a body that is not UTF-8", "boss", "POST", "/projects/notes/members", b'{"worker": "\xed\xa0\x80"}', "body: is not UTF-8 text"),
    ("an integer of 5,000 digits", "ana", "POST", "/projects/notes/claim", b'{"n": 1' + b"0" * 5000 + b"}", "body: Exceeds the limit"),
]


def filled(body: Any, setup: Setup) -> Any:
    """`body` with {task} and {pending} replaced."""
    if isinstance(body, bytes) or body is None:
        return body
    text = json.dumps(body).replace('"{task}"', str(setup.task)).replace("{pending}", setup.pending)
    return json.loads(text)


@pytest.mark.parametrize(("name", "who", "method", "path", "body", "named"), PROBES, ids=[p[0] for p in PROBES])
def test_hostile_values_are_refused_naming_the_field(setup: Setup, name: str, who: str, method: str, path: str, body: Any, named: str) -> None:
    crowd = setup.crowd
    before = snapshot(crowd.store)
    answer = call(crowd, who, method, path.format(pending=setup.pending), filled(body, setup))
    assert answer.status_code == 422, (name, answer.text)
    assert any(named in text for text in said(answer)), (name, answer.text)
    assert snapshot(crowd.store) == before, name


def test_refusals_come_before_the_token_is_checked(setup: Setup) -> None:
    """A made-up token learns nothing about projects, but a value that cannot be stored is
    refused before the token is even looked up; a clean request is then a 401."""
    assert call(setup.crowd, "garbage", "GET", "/projects/%00/progress").status_code == 422
    assert call(setup.crowd, "garbage", "POST", "/projects/street/members", {"worker": "a\x00"}).status_code == 422
    assert call(setup.crowd, "garbage", "GET", "/projects/street/progress").status_code == 401
    assert call(setup.crowd, "garbage", "POST", "/projects/street/members", {"worker": "ana"}).status_code == 401


def test_text_beyond_ascii_is_kept(setup: Setup) -> None:
    """Escaped surrogate pairs (how JSON writes an emoji in ASCII) are one character, not lone
    surrogates; raw UTF-8 is fine too."""
    label = {"annotation_id": "unicode-0001", "task_id": setup.task, "label": "très bien \U0001f600"}
    assert call(setup.crowd, "ana", "POST", "/projects/notes/submit", label).status_code == 200
    raw = json.dumps({"rows": [{"id": "ü1", "text": "naïve — ok \U0001f600"}]}, ensure_ascii=False).encode()
    assert call(setup.crowd, "boss", "POST", "/projects/notes/tasks", raw).json() == {"added": 1}
    stored = setup.crowd.store.tasks(setup.crowd.store.project("notes").id)
    assert stored["payload"].tolist()[-1] == {"text": "naïve — ok \U0001f600"}
    mine = call(setup.crowd, "ana", "GET", "/projects/notes/my-labels").json()
    assert [m["label"] for m in mine] == ["très bien \U0001f600"]


def test_quality_policies_round_trip_over_http(setup: Setup) -> None:
    policy = {"control_rate": 0.2, "min_control": 2, "ban_below": 0.5, "min_duration_ms": 800}
    created = call(setup.crowd, "boss", "POST", "/projects", new_project(name="quality", quality=policy))
    assert created.status_code == 200, created.text
    assert created.json()["quality"] == QualityPolicy(**policy).to_dict()
    assert call(setup.crowd, "boss", "GET", "/projects/quality").json()["quality"] == QualityPolicy(**policy).to_dict()
    changed = {"max_skips_in_row": 3, "target_confidence": 0.9, "max_overlap": 5}
    assert call(setup.crowd, "boss", "PUT", "/projects/quality/quality", {"policy": changed}).json()["quality"] == QualityPolicy(**changed).to_dict()
    assert setup.crowd.store.quality(setup.crowd.store.project("quality").id) == QualityPolicy(**changed)
    assert call(setup.crowd, "boss", "PUT", "/projects/quality/quality", {"policy": None}).json()["quality"] is None
