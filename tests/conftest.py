"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("support")))
sys.path.insert(0, str(Path(__file__).with_name("browser")))

from harness import CHROMIUM_ARGS, CHROMIUM_PATH  # noqa: E402
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


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session (Playwright runs one event loop per thread,
    so every test that drives a page shares it)."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.fail(f"{CHROMIUM_PATH} not found or not executable: install Debian chromium "
                    "(apt-get install -y chromium). Do NOT run `playwright install`.",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    error = None
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        error = f"could not launch {CHROMIUM_PATH}: {exc}"
        pw.stop()
    if error:
        pytest.fail(error, pytrace=False)
    try:
        yield b
    finally:
        b.close()
        pw.stop()
