"""Servers keep tokens and memberships in memory on PostgreSQL, and forget them as soon as the
store takes access away, by whatever path."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from crowd import Crowd, make_project

from crowdnb.store.schema import project_workers, workers

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_crowd(pg_cluster, tmp_path):
    from crowd import running_crowd

    with running_crowd(pg_cluster.new_database(), tmp_path) as crowd:
        yield crowd


def _within(seconds: float, ok: Callable[[], bool]) -> float:
    """How long until `ok()` held (polling), failing after `seconds`."""
    start = time.monotonic()
    while not ok():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_token_revoked_outside_crowdnb_stops_working_at_once(pg_crowd: Crowd) -> None:
    make_project(pg_crowd)
    with pg_crowd.client("ana") as ana:
        for _ in range(3):  # now cached
            assert ana.post("/projects/street/claim", json={"n": 1}).status_code == 200
        with pg_crowd.store.engine.begin() as conn:
            conn.execute(sa.update(workers).where(workers.c.name == "ana").values(token_hash=None))
        _within(2, lambda: ana.get("/me").status_code == 401)
        assert ana.post("/projects/street/claim", json={"n": 1}).status_code == 401


def test_a_membership_ended_outside_crowdnb_ends_at_once(pg_crowd: Crowd) -> None:
    make_project(pg_crowd)
    with pg_crowd.client("ana") as ana:
        assert ana.post("/projects/street/claim", json={"n": 1}).status_code == 200
        with pg_crowd.store.engine.begin() as conn:
            conn.execute(project_workers.delete().where(project_workers.c.worker_id == pg_crowd.store.account("ana").id))
        _within(2, lambda: ana.post("/projects/street/claim", json={"n": 1}).status_code == 403)


def test_a_new_token_and_a_new_member_work_at_once(pg_crowd: Crowd) -> None:
    make_project(pg_crowd, members=())
    with pg_crowd.client("ben") as ben:
        assert ben.post("/projects/street/claim", json={"n": 1}).status_code == 403  # refusals are not kept
        pg_crowd.store.add_member(pg_crowd.store.project("street").id, "ben")
        assert ben.post("/projects/street/claim", json={"n": 1}).status_code == 200
    old = pg_crowd.tokens["ben"]
    pg_crowd.tokens["ben"] = pg_crowd.store.issue_token("ben")
    with pg_crowd.client("ben") as ben:
        assert ben.get("/me").status_code == 200
        _within(2, lambda: ben.get("/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401)
