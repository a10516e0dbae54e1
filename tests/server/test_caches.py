"""The server's memory of accounts and memberships (`crowdnb.server.caches`), on its own."""

from __future__ import annotations

import time

from crowdnb.server.caches import Caches, Recent
from crowdnb.store.types import Account

ANA = Account(1, "ana", "worker")


def test_nothing_is_kept_until_the_listener_trusts_the_caches() -> None:
    caches = Caches(30)
    caches.keep_account("k", ANA, caches.generation)
    assert caches.account("k") is None
    caches.reset(True)
    caches.keep_account("k", ANA, caches.generation)
    assert caches.account("k") == ANA
    caches.reset(False)  # the listener lost its connection
    assert caches.account("k") is None
    caches.keep_account("k", ANA, caches.generation)
    assert caches.account("k") is None


def test_an_answer_looked_up_across_a_reset_is_not_kept() -> None:
    """A token revoked while a request was looking it up: the notice came in between."""
    caches = Caches(30)
    caches.reset(True)
    before = caches.generation
    caches.reset(True)  # the notice, while the lookup ran in a thread
    caches.keep_account("k", ANA, before)
    caches.keep_project((1, "p"), {"id": 1}, before)
    assert caches.account("k") is None and caches.project((1, "p")) is None


def test_entries_expire_and_the_oldest_go_first() -> None:
    recent: Recent[str, int] = Recent(0.05, size=2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("c", 3)
    assert recent.get("a") is None and recent.get("b") == 2
    time.sleep(0.06)
    assert recent.get("c") is None


def test_zero_seconds_turns_the_caches_off() -> None:
    caches = Caches(0)
    caches.reset(True)
    caches.keep_account("k", ANA, caches.generation)
    assert caches.account("k") is None
