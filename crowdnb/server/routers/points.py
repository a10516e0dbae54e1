"""Points: what workers have earned for approved labels, and what managers pay out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime

from crowdnb.server import models
from crowdnb.server.deps import Caller, StoreDep, records, require
from crowdnb.server.routing import CheckedRoute

router = APIRouter(tags=["points"], route_class=CheckedRoute)


@router.get("/me/balance")
def balance(store: StoreDep, caller: Caller) -> models.Balance:
    """The caller's points: the sum of their ledger entries."""
    return models.Balance(worker=caller.name, points=store.balance(caller.id))


@router.get("/payouts")
def payouts(store: StoreDep, caller: Caller, start: AwareDatetime, end: AwareDatetime) -> list[dict[str, Any]]:
    """Points earned per worker from `start` to `end` (managers only); both need a time zone
    (``2026-12-01T00:00:00Z``), a time without one is ambiguous."""
    require(caller, "manager")
    return records(store.payouts(start, end))
