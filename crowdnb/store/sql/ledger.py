"""The points ledger: append-only entries; balances and payouts are sums over it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from crowdnb import values
from crowdnb.store.schema import ledger, workers


def credit(
    conn: sa.Connection, worker_id: int, amount: int, reason: str, key: str,
    project_id: int | None = None, annotation_id: str | None = None,
) -> bool:
    """Append a credit unless one with `key` exists; True if it was added."""
    values.refuse(reason, "reason")
    values.refuse(key, "key")
    if conn.scalar(sa.select(sa.func.count()).where(ledger.c.key == key)):
        return False
    conn.execute(
        ledger.insert().values(
            worker_id=worker_id, amount=amount, reason=reason, key=key, project_id=project_id, annotation_id=annotation_id,
        )
    )
    return True


def balance(conn: sa.Connection, worker_id: int) -> int:
    """A worker's points: the sum of their ledger entries."""
    return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(ledger.c.amount), 0)).where(ledger.c.worker_id == worker_id)))


def utc_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """`start` and `end` in UTC; ValueError for naive datetimes (whose clock would they be on?)
    and for moments UTC cannot write (before year 1 or after 9999)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("payouts need timezone-aware start and end, e.g. datetime(2026, 12, 1, tzinfo=timezone.utc)")
    try:
        return start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"payouts need start and end within the years 1 to 9999 in UTC, got {start}, {end}") from None


def payouts(conn: sa.Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Points earned per worker in [start, end): worker, points, entries."""
    start, end = utc_period(start, end)
    rows = conn.execute(
        sa.select(workers.c.name.label("worker"), sa.func.sum(ledger.c.amount).label("points"), sa.func.count().label("entries"))
        .join(workers, workers.c.id == ledger.c.worker_id)
        .where(ledger.c.created_at >= start, ledger.c.created_at < end)
        .group_by(workers.c.name)
        .order_by(workers.c.name)
    ).all()
    return pd.DataFrame(rows, columns=["worker", "points", "entries"])
