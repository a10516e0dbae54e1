"""The formats benchmark of issue 13: export 1,000,000 boxes on 100,000 images from PostgreSQL
to COCO and YOLO, and import them back, each direction timed in a fresh process with its peak
memory, against the targets (< 60 s and < 1 GiB each).

    python benchmarks/formats_bench.py [--pg-dir /work/fmt-pg] [--images 100000] [--boxes 10]
        [--formats coco,yolo] [--keep]

The project is made through the public API, as a user's would be: `add_tasks` of the images
(1,000 distinct noise JPEGs of 640x480, each under 100 task ids, so the disk holds 1,000 files),
then one worker claims every task and submits its boxes (`submit_many`, a thousand labels per
durable commit). With `--pg-dir` the server keeps its data there and a second run reuses the
project; otherwise a throwaway server is made and removed.

Each call runs in a child (this script with ``--child``) that opens the project with
`Project.open`, records its peak RSS (the baseline: imports, the store), times the one call and
records the peak RSS again (`ru_maxrss`). Exports are raw (every worker's label, here one per
image) and refer to the images by path relative to the image folder; imports add the tasks to a
new project of a fresh database with the boxes as predictions, after the import's dry run. The
1-minute load average is printed beside each figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from scale_bench import maxrss_gib, run_child  # benchmarks/, beside this script

HERE = Path(__file__).resolve().parent
DISTINCT_IMAGES = 1_000
SIZE = (640, 480)
CLASSES = ["car", "person", "bicycle", "sign", "light"]
PROJECT = "formats-boxes"
IMPORTED = "import_"  # the imports' databases are named so
BOXES = 10  # per image
TARGET_SECONDS, TARGET_GIB = 60.0, 1.0
SUFFIX = {"coco": "json", "yolo": "yolo"}


def write_images(folder: Path) -> list[Path]:
    """The distinct images, written once (kept in `folder` across runs)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(DISTINCT_IMAGES):
        path = folder / f"scene{i:04d}.jpg"
        if not path.exists():
            pixels = rng.integers(0, 255, size=(SIZE[1] // 8, SIZE[0] // 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).resize(SIZE).save(path, quality=70)
        paths.append(path)
    return paths


def boxes(rng: np.random.Generator, n: int) -> list[list[dict[str, Any]]]:
    """`n` labels of random boxes inside the image, each box in pixels rounded to 0.01."""
    out = []
    for _ in range(n):
        w = rng.uniform(8, 200, BOXES).round(2)
        h = rng.uniform(8, 200, BOXES).round(2)
        x = (rng.uniform(0, 1, BOXES) * (SIZE[0] - w)).round(2)
        y = (rng.uniform(0, 1, BOXES) * (SIZE[1] - h)).round(2)
        names = rng.integers(0, len(CLASSES), BOXES)
        out.append([
            {"label": CLASSES[k], "x": float(left), "y": float(top), "w": float(width), "h": float(height)}
            for k, left, top, width, height in zip(names, x, y, w, h, strict=True)
        ])
    return out



def build(url: str, images: int, folder: Path) -> None:
    """The project of `images` tasks, each labeled with `BOXES` boxes by one worker."""
    import pandas as pd

    from crowdnb import Project
    from crowdnb.store import SqlStore
    from crowdnb.store.types import Submission

    store = SqlStore(url)
    if PROJECT in store.project_names():
        project = Project.open(PROJECT, store=store)
        if len(project.tasks()) == images and len(project.labels(["task"])) == images:
            print(f"reusing {PROJECT}: {images:,} images labeled", file=sys.stderr)
            return
        raise SystemExit(f"{url} has a {PROJECT!r} of another size: use another --pg-dir")
    began = time.perf_counter()
    paths = [str(p) for p in write_images(folder)]
    project = Project.create(PROJECT, "bbox", store=store, classes=CLASSES)
    frame = pd.DataFrame({"id": [f"img{i:06d}" for i in range(images)], "image": [paths[i % len(paths)] for i in range(images)]})
    project.add_tasks(frame, progress=False)
    print(f"added {images:,} tasks in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    rng = np.random.default_rng(1)
    worker = store.worker_id("labeler")
    done = 0
    while True:
        claimed = store.claim(project.info.id, worker, 1000)
        if not claimed:
            break
        labels = boxes(rng, len(claimed))
        outcomes = store.submit_many(project.info.id, worker, [
            Submission(str(uuid.uuid4()), task.id, label) for task, label in zip(claimed, labels, strict=True)
        ])
        refused = [o for o in outcomes if isinstance(o, Exception)]
        if refused:
            raise SystemExit(f"a label was refused: {refused[0]}")
        done += len(claimed)
    print(f"built {done:,} labels x {BOXES} boxes in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    store.close()


def child(job: dict[str, Any]) -> dict[str, Any]:
    """One export or import, timed, with its peak memory."""
    from crowdnb import Project
    from crowdnb.store import SqlStore

    store = SqlStore(job["url"])
    if job["call"] == "export":
        project = Project.open(PROJECT, store=store)
        base, began = maxrss_gib(), time.perf_counter()
        done = project.export(job["path"], job["format"], media_root=job["media"], progress=False)
        facts = {"rows": done.counts.objects or done.counts.labels, "tasks": done.counts.tasks}
    else:
        project = Project.create(f"imported-{job['format']}", "bbox", store=store, classes=CLASSES)
        base, began = maxrss_gib(), time.perf_counter()
        done = project.import_tasks(job["path"], job["format"], as_="prediction", media_root=job["media"], progress=False)
        facts = {"rows": done.added, "tasks": done.added}
    facts.update(seconds=time.perf_counter() - began, peak_gib=maxrss_gib(), base_gib=base)
    store.close()
    return facts


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """A new empty database on the same server (for an import), dropped afterwards, with any
    an interrupted run left."""
    import psycopg
    import sqlalchemy as sa

    made = sa.make_url(url)
    name = f"{IMPORTED}{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=made.host, port=made.port, user=made.username, dbname=made.database, autocommit=True) as conn:
        for (old,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [IMPORTED + "%"]).fetchall():
            conn.execute(f'DROP DATABASE "{old}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield made.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def row(call: str, fmt: str, load: tuple[float, float], facts: dict[str, Any]) -> str:
    if "error" in facts:
        return f"| {call} | {fmt} | {facts['error']} | | | | {load[0]:.2f} -> {load[1]:.2f} | ERROR |"
    ok = facts["seconds"] < TARGET_SECONDS and facts["peak_gib"] < TARGET_GIB
    return (
        f"| {call} | {fmt} | {facts['tasks']:,} | {facts['seconds']:.1f} | {facts['peak_gib']:.2f} | {facts['base_gib']:.2f} "
        f"| {load[0]:.2f} -> {load[1]:.2f} | {'PASS' if ok else 'FAIL'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child")
    parser.add_argument("--pg-dir", type=Path, help="keep the server's data here (and reuse the project)")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--formats", default="coco,yolo")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        Path(job["out"]).write_text(json.dumps(child(job)))
        return
    sys.path.insert(0, str(HERE.parent / "tests" / "support"))
    from pgcluster import Cluster

    cluster = Cluster(durable=True, root=args.pg_dir, port=55433) if args.pg_dir else Cluster(durable=True)
    cluster.start()
    work = Path(tempfile.mkdtemp(prefix="formats-bench-"))
    media = (args.pg_dir.parent / "fmt-images") if args.pg_dir else work / "images"
    lines = [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; load {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"project: {args.images:,} images x {BOXES} boxes = {args.images * BOXES:,} boxes, one label per image, PostgreSQL (fsync on)",
        "",
        "| call | format | images | s | peak GiB | baseline GiB | load before -> after | < 60 s, < 1 GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    try:
        build(cluster.url(), args.images, media)
        for fmt in args.formats.split(","):
            path = work / f"export.{SUFFIX.get(fmt, fmt)}"
            for call in ("export", "import"):
                before = os.getloadavg()[0]
                print(f"{call} {fmt} (load {before:.2f})", file=sys.stderr, flush=True)
                with nullcontext(cluster.url()) if call == "export" else fresh_database(cluster.url()) as url:
                    job = {"call": call, "format": fmt, "url": url, "path": str(path), "media": str(media)}
                    facts = run_child(job, args.timeout, Path(__file__))
                lines.append(row(call, fmt, (before, os.getloadavg()[0]), facts))
            size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size if path.exists() else 0
            lines.append(f"|  | {fmt}: {size / 1e6:.0f} MB written | | | | | | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        cluster.stop()  # a kept --pg-dir keeps its data
    print("\n".join(lines))


if __name__ == "__main__":
    main()
