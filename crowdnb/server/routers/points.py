"""Points: what workers have earned for approved labels, and what managers pay out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from crowdnb.server import models
from crowdnb.server.deps import Caller, StoreDep, records, require

router = APIRouter(tags=["points"])


@router.get("/me/balance")
def balance(store: StoreDep, caller: Caller) -> models.Balance:
    """The caller's points: the sum of their ledger entries."""
    return models.Balance(worker=caller.name, points=store.balance(caller.id))


@router.get("/payouts")
def payouts(store: StoreDep, caller: Caller, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Points earned per worker between `start` and `end` (managers only)."""
    require(caller, "manager")
    return records(store.payouts(start, end))
