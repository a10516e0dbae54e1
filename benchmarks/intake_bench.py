"""Task intake benchmark: ``Project.add_tasks`` of a million text-class rows, validation included.

Variants (each in a fresh process, so peak RSS is its own, and a fresh store):

- ``plain``: columns ``id`` and ``text`` (review-like sentences, one in ten in Japanese).
- ``answers``: the same plus a known ``answer`` on 2% of the rows and a ``source`` column that
  becomes metadata.
- ``skip``: the ``plain`` frame added again with ``on_duplicate="skip"`` to the project that
  already holds it (every row a clash, none changed; only the second call is timed).

PostgreSQL is a throwaway server from ``tests/support/pgcluster.py`` with ``durable=True`` (fsync
and synchronous_commit on); SQLite a new file in a temporary directory (WAL, synchronous=FULL,
as the store sets it). "frame" is the process's resident memory once the frame is built (the
imports, about 220 MiB, included); "peak" its high-water mark during the timed call, measured from
there (Linux ``/proc/self/clear_refs``). The target (issue 15) is 1,000,000 rows in < 60 s
on PostgreSQL; SQLite's figures are reported beside it.

    python benchmarks/intake_bench.py [--rows 1000000] [--backends postgres,sqlite]
                                      [--variants plain,answers,skip]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from store_bench import WORDS  # the store benchmark's review-like vocabulary

CLASSES = ["positive", "negative", "neutral", "mixed", "spam"]
TARGET_S = 60.0
TARGET_ROWS = 1_000_000
JAPANESE = ("配達", "が", "遅い", "けれど", "料理", "は", "美味しい", "店員", "さん", "親切", "です", "。")


def frame(rows: int, variant: str) -> pd.DataFrame:
    """`rows` tasks: ids, review-like texts of 8..30 words (every tenth in Japanese), and for
    ``answers`` a known answer on 2% of them and a metadata column."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 31, size=rows)
    picks = rng.integers(0, len(WORDS), size=int(lengths.sum()))
    ends = np.cumsum(lengths)
    texts = [
        ("".join(JAPANESE[w % len(JAPANESE)] for w in picks[end - k : end]) if i % 10 == 9
         else " ".join(WORDS[w] for w in picks[end - k : end]))
        for i, (end, k) in enumerate(zip(ends, lengths))
    ]
    out = pd.DataFrame({"id": [f"t{i:07d}" for i in range(rows)], "text": texts})
    if variant == "answers":
        answers = np.full(rows, None, dtype=object)
        known = rng.random(rows) < 0.02
        answers[known] = np.array(CLASSES, dtype=object)[rng.integers(0, len(CLASSES), size=int(known.sum()))]
        out["answer"] = answers
        out["source"] = [f"shop-{i % 80}" for i in range(rows)]
    return out


def memory_mib(field: str) -> float:
    """``VmRSS`` (resident memory now) or ``VmHWM`` (its peak) of this process, in MiB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 2**10


def reset_peak() -> None:
    """Start measuring peak memory from now (Linux: the high-water mark drops to the current RSS)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(url: str, rows: int, variant: str) -> None:
    """Run one variant in this process and print its figures as JSON."""
    import crowdnb
    from crowdnb.store import SqlStore

    tasks = frame(rows, variant)
    with SqlStore(url) as store:
        project = crowdnb.Project.create("intake", kind="text-class", classes=CLASSES, store=store)
        if variant == "skip":
            project.add_tasks(tasks, progress=False)
        framed = memory_mib("VmRSS")
        reset_peak()
        load = os.getloadavg()[0]
        start = time.perf_counter()
        added = project.add_tasks(tasks, on_duplicate="skip" if variant == "skip" else "error", progress=False)
        seconds = time.perf_counter() - start
        peak = memory_mib("VmHWM")
        stored = store.count_tasks(project.info.id)
    expected = 0 if variant == "skip" else rows
    print(json.dumps({"seconds": seconds, "load": load, "frame_mib": framed, "peak_mib": peak,
                      "ok": added == expected and stored == rows}))


def run(url: str, rows: int, variant: str) -> dict[str, float]:
    """One variant in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, "--rows", str(rows), "--variants", variant],
        check=True, stdout=subprocess.PIPE, text=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--variants", default="plain,answers,skip")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.variants)
        return

    from pgcluster import Cluster

    backends, variants = args.backends.split(","), args.variants.split(",")
    cluster = Cluster(durable=True).start() if "postgres" in backends else None
    print(f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}, python {sys.version.split()[0]}")
    print(f"{'rows':>9}  {'backend':<10} {'variant':<8} {'seconds':>8} {'rows/s':>9} {'frame MiB':>9} "
          f"{'peak MiB':>9} {'load':>5}  result")
    verdicts: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for backend in backends:
                for variant in variants:
                    url = (cluster.new_database() if backend == "postgres"
                           else f"sqlite:///{Path(tmp) / f'{variant}.sqlite'}")
                    r = run(url, args.rows, variant)
                    within = r["seconds"] < TARGET_S * args.rows / TARGET_ROWS
                    verdict = ("PASS" if within else "FAIL") if r["ok"] else "WRONG COUNT"
                    print(f"{args.rows:>9,}  {backend:<10} {variant:<8} {r['seconds']:>8.1f} "
                          f"{args.rows / r['seconds']:>9,.0f} {r['frame_mib']:>9,.0f} {r['peak_mib']:>9,.0f} "
                          f"{r['load']:>5.2f}  {verdict}", flush=True)
                    if backend == "postgres":
                        verdicts.append(f"{verdict}: {variant} on PostgreSQL, {args.rows:,} rows in "
                                        f"{r['seconds']:.1f} s (target < {TARGET_S * args.rows / TARGET_ROWS:.0f} s)")
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
