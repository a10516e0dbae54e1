"""Security over real sockets: tokens, roles, membership, gold answers, media paths."""

from __future__ import annotations

import time

import sqlalchemy as sa
from crowd import Crowd, make_project

from crowdnb.store.schema import workers

WINDOW = {"start": "2020-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
# (method, path, json body, the roles allowed); {p} is a project the caller belongs to, unless
# the caller is "eve", a worker who belongs to no project.
ENDPOINTS = [
    ("GET", "/me", None, {"worker", "inspector", "manager"}),
    ("GET", "/me/balance", None, {"worker", "inspector", "manager"}),
    ("GET", "/projects", None, {"worker", "inspector", "manager"}),
    ("POST", "/projects", {"name": "new", "kind": "text-class", "options": {"classes": ["a"]}}, {"manager"}),
    ("GET", "/projects/{p}", None, {"worker", "inspector", "manager"}),
    ("POST", "/projects/{p}/members", {"worker": "ben"}, {"manager"}),
    ("POST", "/projects/{p}/tasks", {"rows": [{"id": "x", "image": "street/img005.jpeg"}]}, {"manager"}),
    ("GET", "/projects/{p}/tasks", None, {"manager"}),
    ("GET", "/projects/{p}/labels", None, {"manager"}),
    ("GET", "/projects/{p}/export?format=csv", None, {"manager"}),
    ("POST", "/projects/{p}/claim", {"n": 1}, {"worker", "manager"}),
    ("POST", "/projects/{p}/renew", {"task_ids": [1]}, {"worker", "manager"}),
    ("POST", "/projects/{p}/submit", {"annotation_id": "sec-test-0001", "task_id": 1, "label": "car"}, {"worker", "manager"}),
    ("POST", "/projects/{p}/submit-many", {"labels": [{"annotation_id": "sec-test-0002", "task_id": 1, "label": "car"}]}, {"worker", "manager"}),
    ("POST", "/projects/{p}/skip", {"task_id": 2}, {"worker", "manager"}),
    ("GET", "/projects/{p}/progress", None, {"worker", "inspector", "manager"}),
    ("GET", "/projects/{p}/my-labels", None, {"worker", "manager"}),
    ("POST", "/projects/{p}/reviews/claim", {"n": 1}, {"inspector", "manager"}),
    ("POST", "/projects/{p}/reviews/nope", {"decision": "approved"}, {"inspector", "manager"}),
    ("GET", "/payouts", None, {"manager"}),
    ("GET", "/projects/{p}/tasks/1/media", None, {"worker", "inspector", "manager"}),
]
CALLERS = {"boss": "manager", "ines": "inspector", "ana": "worker"}


def _call(client, method: str, path: str, body: object):
    params = WINDOW if path == "/payouts" else None
    return client.request(method, path, json=body, params=params)


def test_every_endpoint_needs_a_valid_token(shared_crowd: Crowd) -> None:
    make_project(shared_crowd, "street")
    for who, headers in ((None, {}), ("bad", {"Authorization": "Bearer cnb_not-a-real-token"})):
        with shared_crowd.client(None) as client:
            for method, path, body, _ in ENDPOINTS:
                answer = client.request(method, path.format(p="street"), json=body, headers=headers,
                                        params=WINDOW if path == "/payouts" else None)
                assert answer.status_code == 401, (who, method, path, answer.text)


def test_roles_table(shared_crowd: Crowd) -> None:
    make_project(shared_crowd, "roles")
    for who, role in CALLERS.items():
        with shared_crowd.client(who) as client:
            for method, path, body, allowed in ENDPOINTS:
                answer = _call(client, method, path.format(p="roles"), body)
                if role in allowed:
                    assert answer.status_code != 403 and answer.status_code < 500, (who, method, path, answer.text)
                else:
                    assert answer.status_code == 403, (who, method, path, answer.text)


def test_projects_of_others_are_closed(shared_crowd: Crowd) -> None:
    make_project(shared_crowd, "mine", members=("ana",))
    make_project(shared_crowd, "theirs", members=("ben",))
    with shared_crowd.client("ana") as ana, shared_crowd.client("eve") as eve:
        assert "mine" in ana.get("/projects").json() and "theirs" not in ana.get("/projects").json()
        assert eve.get("/projects").json() == []
        for method, path, body, _ in ENDPOINTS:
            if "{p}" not in path:
                continue
            for client, project in ((ana, "theirs"), (ana, "no-such-project"), (eve, "mine")):
                answer = _call(client, method, path.format(p=project), body)
                assert answer.status_code == 403, (project, method, path, answer.text)


def test_workers_never_see_gold_or_other_workers_labels(shared_crowd: Crowd) -> None:
    make_project(shared_crowd, "gold")
    with shared_crowd.client("ana") as ana, shared_crowd.client("ben") as ben:
        task = ana.post("/projects/gold/claim", json={"n": 1}).json()[0]
        ana.post("/projects/gold/submit", json={"annotation_id": "ana-label-0001", "task_id": task["task_id"], "label": "bus"})
        assert ben.get("/projects/gold/my-labels").json() == []
        assert ben.get("/projects/gold/labels").status_code == 403
        assert ben.get("/projects/gold/tasks").status_code == 403
        stolen = ben.post("/projects/gold/submit", json={"annotation_id": "ana-label-0001", "task_id": task["task_id"], "label": "car"})
        assert stolen.status_code == 409  # someone else's annotation id cannot be overwritten
        claimed = ben.post("/projects/gold/claim", json={"n": 10}).json()
        assert all("answer" not in t["payload"] for t in claimed)


ESCAPES = [
    "../server.log", "..%2fserver.log", "%2e%2e/server.log", "%252e%252e%252fserver.log", "street/../../server.log",
    "/etc/passwd", "%2fetc%2fpasswd", "street/%2e%2e/%2e%2e/server.log", "street\\..\\..\\server.log",
    "escape/passwd", "street/img000.jpeg%00.txt", "street/link.jpeg",
]


def test_media_paths_cannot_escape_the_root(shared_crowd: Crowd) -> None:
    """Callers name a task, never a path; the paths managers send with new tasks stay inside
    the media root, and path tricks in a media URL reach no file."""
    (shared_crowd.media / "escape").symlink_to("/etc", target_is_directory=True)
    (shared_crowd.media / "street" / "link.jpeg").symlink_to("/etc/passwd")
    make_project(shared_crowd, "escapes", members=("ana",))
    with shared_crowd.client("boss") as boss, shared_crowd.client("ana") as ana:
        for path in ESCAPES:
            answer = boss.post("/projects/escapes/tasks", json={"rows": [{"id": "x", "image": path}]})
            assert answer.status_code == 422, (path, answer.status_code, answer.text)
        (task,) = ana.post("/projects/escapes/claim", json={"n": 1}).json()
        assert ana.get(task["payload"]["media"]).status_code == 200
        for path in ESCAPES:
            for url in (f"/projects/escapes/tasks/{path}/media", f"/projects/escapes/tasks/{task['task_id']}/media/{path}"):
                answer = ana.get(url)
                assert answer.status_code in (404, 422), (url, answer.status_code)
                assert b"root:" not in answer.content and b"INFO" not in answer.content, url
    assert len(shared_crowd.store.tasks(shared_crowd.store.project("escapes").id)) == 6


def test_tokens_are_stored_hashed(shared_crowd: Crowd) -> None:
    with shared_crowd.store.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(workers.c.name, workers.c.token_hash)).all())
    for name, token in shared_crowd.tokens.items():
        assert stored[name] != token and token not in stored[name] and len(stored[name]) == 64
    if shared_crowd.store.dialect == "sqlite":
        raw = open(shared_crowd.store.engine.url.database, "rb").read()
        assert not any(token.encode() in raw for token in shared_crowd.tokens.values())


def test_a_new_token_revokes_the_old_one(shared_crowd: Crowd) -> None:
    old = shared_crowd.tokens["ana"]
    shared_crowd.tokens["ana"] = shared_crowd.store.issue_token("ana")
    with shared_crowd.client("ana") as ana:
        assert ana.get("/me").status_code == 200
        # On PostgreSQL a server forgets the old token when the store's notice reaches it (ms).
        deadline = time.monotonic() + 2
        while ana.get("/me", headers={"Authorization": f"Bearer {old}"}).status_code != 401:
            assert time.monotonic() < deadline, "the old token still works"
            time.sleep(0.02)
