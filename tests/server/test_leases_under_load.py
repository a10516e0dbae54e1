"""Short leases under load, over HTTP on PostgreSQL: workers who walk away holding tasks, who
skip, who are slow past their lease and then label, and who renew while they look. Every task
ends with exactly `overlap` labels from distinct workers; no task is handed to a worker twice;
only a label whose lease ran out may be refused (its task was full), never a renewed one; no
acknowledged label is lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from crowdload import PageWorker, check_labels, load_project, wait_until_labeled
from servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

LEASE = 3  # seconds; the API's minimum is 10, the store allows less
KINDS: dict[str, dict[str, float]] = {
    "walker": {"walk_after": 1},  # claims once and leaves, holding the batch
    "skipper": {"skip_rate": 0.5},
    "dawdler": {"dawdle": LEASE + 1, "prefetch": 1},  # labels after the leases ran out, claims meanwhile
    "renewer": {"dawdle": LEASE + 1, "batch": 1, "renew": 0.5},  # as slow, but keeps the lease
    "regular": {},
}


def test_expiring_leases_skips_and_renewals_keep_the_overlap_exact(pg_cluster, tmp_path: Path) -> None:
    n_tasks, overlap = 120, 3
    store, tokens = load_project(pg_cluster.new_database(), 25, n_tasks, overlap, lease_seconds=LEASE)
    server = Server(store.url, tmp_path, tmp_path / "server.log").start()
    stop = threading.Event()
    kinds = [list(KINDS)[i % len(KINDS)] for i in range(len(tokens))]
    workers = [
        PageWorker(server.url, token, stop, lease_seconds=LEASE, seed=i, **KINDS[kind])  # type: ignore[arg-type]
        for i, (token, kind) in enumerate(zip(tokens, kinds, strict=True))
    ]
    of = {kind: [w for w, k in zip(workers, kinds, strict=True) if k == kind] for kind in KINDS}
    try:
        for worker in workers:
            worker.start()
        wait_until_labeled(store, "load", overlap, n_tasks, timeout=120)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        assert not any(w.is_alive() for w in workers)
        check_labels(store, "load", n_tasks, overlap, [w.outcome() for w in workers])
        for worker in workers:
            assert len(worker.handed) == len(set(worker.handed)), "a task was handed twice to one worker"
            assert set(worker.statuses) <= {200, 409}, worker.statuses
            assert set(worker.refused) <= set(worker.late), "a label on a live lease was refused"
        assert all(len(w.handed) <= 2 and not w.acknowledged for w in of["walker"])
        assert sum(len(w.skipped) for w in of["skipper"]) > 0
        assert all(w.late for w in of["dawdler"])  # every dawdler labels at least one task late
        assert all(w.acknowledged and not w.refused and w.renew_shortfalls == 0 for w in of["renewer"])
    finally:
        stop.set()
        server.stop()
        store.close()
