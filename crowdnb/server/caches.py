"""What a server process remembers between requests: accounts by token, and projects with
membership, so that a worker's claim or label costs no query to find out who they are.

Only positive answers are kept: a new token, project or member works at once in every
process. Taking access away must reach every process too, so the caches are kept only on a
PostgreSQL store, where each server process LISTENs on a channel that the store's triggers
NOTIFY when a token is replaced or revoked, a role changes, or a member, worker or project is
removed, by whatever path (migration 0007); a notice empties the caches. While that
connection is down (PostgreSQL restarting) nothing is cached. Entries also expire after
``$CROWDNB_AUTH_CACHE_SECONDS`` (default 30; 0 turns the caches off). A worker's status
(suspended, banned) is not cached: the store checks it on every claim and label.

A dict with expiry, used only on the event loop's thread, is all a cache is here, which is why
it is written out rather than a dependency.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from crowdnb.store.sql.accounts import ACCESS_CHANNEL
from crowdnb.store.types import Account

CACHE_ENV = "CROWDNB_AUTH_CACHE_SECONDS"
RECONNECT_SECONDS = 1.0
log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Answers kept for `seconds`, at most `size` of them (the oldest go first)."""

    def __init__(self, seconds: float, size: int = 100_000) -> None:
        self.seconds = seconds
        self.size = size
        self._kept: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._kept.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del self._kept[key]
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if len(self._kept) >= self.size:
            del self._kept[next(iter(self._kept))]
        self._kept[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        self._kept.clear()


@dataclass
class Caches:
    """Accounts by token hash, and project rows by (account id, project name) for members
    (and managers). `trusted` is False while changes could go unnoticed: then nothing is kept.

    An answer looked up in the store is kept only if no reset came while it was looked up
    (`generation` is the same before and after): a token revoked during the lookup must not be
    put back in memory after the notice emptied it."""

    seconds: float
    accounts: Recent[str, Account] = field(init=False)
    access: Recent[tuple[int, str], dict[str, Any]] = field(init=False)
    trusted: bool = False
    generation: int = 0  # resets so far

    def __post_init__(self) -> None:
        self.accounts = Recent(self.seconds)
        self.access = Recent(self.seconds)

    def account(self, key: str) -> Account | None:
        return self.accounts.get(key) if self.trusted else None

    def project(self, key: tuple[int, str]) -> dict[str, Any] | None:
        return self.access.get(key) if self.trusted else None

    def keep_account(self, key: str, account: Account, generation: int) -> None:
        """Keep `account`, looked up since reset number `generation`."""
        if self.trusted and generation == self.generation:
            self.accounts.put(key, account)

    def keep_project(self, key: tuple[int, str], row: dict[str, Any], generation: int) -> None:
        """Keep a project row, looked up since reset number `generation`."""
        if self.trusted and generation == self.generation:
            self.access.put(key, row)

    def reset(self, trusted: bool) -> None:
        """Forget everything; keep new answers from now on only if `trusted`."""
        self.accounts.clear()
        self.access.clear()
        self.trusted = trusted and self.seconds > 0
        self.generation += 1


class AccessListener:
    """A thread LISTENing for access changes on a PostgreSQL store; it resets `caches` on
    the event loop's thread for each notice, and distrusts them while disconnected."""

    def __init__(self, engine: sa.Engine, caches: Caches, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.caches = caches
        self.loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crowdnb-access-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _reset(self, trusted: bool) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.caches.reset, trusted)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - the database went away: trust nothing until back
                log.warning("access listener lost its connection (%s); caching stops until it is back", exc)
            self._reset(False)
            self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            conn.autocommit = True
            conn.execute(f"LISTEN {ACCESS_CHANNEL}")
            self._reset(True)  # listening: from here on no change goes unnoticed
            while not self._stop.is_set():
                for _notice in conn.notifies(timeout=1.0):
                    self._reset(True)
        finally:
            raw.invalidate()


def cache_seconds() -> float:
    """How long cached answers live, from the environment."""
    return float(os.environ.get(CACHE_ENV, "30"))
