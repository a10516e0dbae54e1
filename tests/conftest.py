"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("support")))

from pgcluster import Cluster  # noqa: E402

from crowdnb.store import SqlStore  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the whole test session."""
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """An open, migrated store on each back end."""
    with SqlStore(store_url) as opened:
        yield opened
