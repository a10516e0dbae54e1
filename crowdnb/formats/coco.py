"""COCO: one JSON file of boxes, polygons or person keypoints, as detection and pose tools read it.

The file holds ``info`` (project, kind, crowdnb version, date), ``licenses``, ``categories`` (id
from 1 in the project's class order; for keypoints one category named after the project, with
its point names and its skeleton as 1-based index pairs), ``images`` (id from 1 in task order,
``file_name``, ``width``, ``height``, the task id as ``crowdnb_task``) and ``annotations``:
``bbox`` ``[x, y, w, h]`` in pixels, ``area``, ``iscrowd`` 0, ``segmentation``
``[[x1, y1, x2, y2, ...]]`` for a polygon (area by the shoelace formula), ``keypoints`` as
``x, y, v`` triplets (v=2 placed, v=0 not visible, at 0, 0) with ``num_keypoints`` and the box
of the placed points.

A raw export adds ``crowdnb_worker``, ``crowdnb_status`` and ``crowdnb_annotation`` to each
annotation and lists on each image the workers whose labels it holds (``crowdnb_workers``: a
worker who drew nothing reads back as an empty label, not as no label). An aggregated export
adds ``score`` (the shape's agreement among workers, else the answer's confidence) and
``crowdnb_confidence`` to each annotation, and ``crowdnb_confidence`` to each answered image;
scored so, the annotations evaluate as detections with ``pycocotools.cocoeval.COCOeval``.

The file is written by hand, as pycocotools reads COCO files but does not write them. Images are
written as tasks come while annotations go to a spool file appended after them, so an export of
millions of boxes holds one task's labels in memory.

Reading takes any COCO instances or person keypoints file: images become tasks (their id from
``crowdnb_task``, else none), each image's annotations (each worker's, in a raw export) a label,
category names the project's classes and keypoint names its points (a keypoint labeled but
occluded, v=1, is placed). The file is streamed with ijson (the ``formats`` extra; a kept C
parser, where `json.load` of a million annotations takes near a GiB of Python objects): its
categories and images first, then its annotations, of which only the shapes are kept (an image's
annotations may be anywhere in the file); polygons are read from
``segmentation`` lists, not RLE masks (crowd regions), and a keypoints task holds one point set,
so an image with several keypoint annotations (of one worker) is refused.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from crowdnb.errors import Problem, ValidationError, require
from crowdnb.formats.base import Answer, Context, Counts, Format, Item, classes_of, frame

BATCH = 5_000
NUMBER_TYPES = frozenset({int, float})
KINDS = frozenset({"bbox", "polygon", "keypoints"})
Labels = dict[Any, dict[str | None, list[Any]]]  # image id -> worker (None: unnamed) -> shapes


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _info(context: Context) -> dict[str, Any]:
    from crowdnb import __version__

    now = datetime.now(timezone.utc)
    return {
        "description": f"crowdnb project {context.project} ({context.kind.name})", "project": context.project,
        "kind": context.kind.name, "crowdnb": __version__, "year": now.year,
        "date_created": now.isoformat().replace("+00:00", "Z"),
    }


def _categories(context: Context) -> list[dict[str, Any]]:
    """The project's classes as categories; for keypoints, its one point set."""
    if context.kind.name == "keypoints":
        points = context.config["points"]
        skeleton = [[points.index(a) + 1, points.index(b) + 1] for a, b in context.config.get("skeleton") or []]
        name = context.project
        return [{"id": 1, "name": name, "supercategory": name, "keypoints": points, "skeleton": skeleton}]
    return [{"id": n, "name": name, "supercategory": name} for n, name in enumerate(classes_of(context.config), 1)]


def shoelace(points: list[list[float]]) -> float:
    """The area of a simple polygon."""
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice) / 2


def _extent(points: list[list[float]]) -> list[float]:
    """The box [x, y, w, h] around `points` (all zero when there are none)."""
    if not points:
        return [0.0, 0.0, 0.0, 0.0]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _shapes(label: Any, context: Context) -> Iterator[dict[str, Any]]:
    """A label's annotations without ids, image or crowdnb fields: one per box or polygon, one
    for a set of keypoints."""
    kind = context.kind.name
    if kind == "keypoints":
        placed = [[p["x"], p["y"]] for p in label if p["visible"]]
        box = _extent(placed)
        triplets = [v for p in label for v in ((p["x"], p["y"], 2) if p["visible"] else (0, 0, 0))]
        yield {
            "category_id": 1, "keypoints": triplets, "num_keypoints": len(placed),
            "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
        }
        return
    category = {name: n for n, name in enumerate(classes_of(context.config), 1)}
    for shape in label:
        if kind == "bbox":
            box = [shape["x"], shape["y"], shape["w"], shape["h"]]
            yield {"category_id": category[shape["label"]], "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
        else:
            points = shape["points"]
            yield {
                "category_id": category[shape["label"]], "segmentation": [[v for p in points for v in p]],
                "bbox": _extent(points), "area": shoelace(points), "iscrowd": 0,
            }


def _score(answer: Answer, n: int, context: Context) -> float | None:
    """The `n`th shape's detection score: its agreement among workers, else the answer's
    confidence (for keypoints, whose agreement is per point, always the confidence)."""
    agreement = answer.agreement if context.kind.name != "keypoints" else None
    if agreement is not None and n < len(agreement) and not math.isnan(agreement[n]):
        return agreement[n]
    return answer.confidence


def _image(item: Item, image_id: int, context: Context) -> dict[str, Any]:
    image = {
        "id": image_id, "file_name": context.media_ref(item.payload),
        "width": item.payload.get("width"), "height": item.payload.get("height"), "crowdnb_task": item.id,
    }
    if context.options.aggregated:
        if item.answers:
            image["crowdnb_confidence"] = item.answers[0].confidence
    else:
        image["crowdnb_workers"] = [answer.worker for answer in item.answers]
    return image


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    aggregated = context.options.aggregated
    annotation_id = 0
    spooled = tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent)  # annotations, after the images
    with out.open("w", encoding="utf-8") as handle, spooled as spool:
        head = {"info": _info(context), "licenses": [], "categories": _categories(context)}
        handle.write(_dumps(head)[:-1] + ',\n"images":[')
        for image_id, item in enumerate(items, 1):
            counts.tasks += 1
            handle.write(("\n" if image_id == 1 else ",\n") + _dumps(_image(item, image_id, context)))
            for answer in item.answers:
                counts.labels += 1
                for n, shape in enumerate(_shapes(answer.label, context)):
                    annotation_id += 1
                    shape = {"id": annotation_id, "image_id": image_id, **shape}
                    if aggregated:
                        shape.update(score=_score(answer, n, context), crowdnb_confidence=answer.confidence)
                    else:
                        shape.update(
                            crowdnb_worker=answer.worker, crowdnb_status=answer.status,
                            crowdnb_annotation=answer.annotation_id,
                        )
                    spool.write(("\n" if annotation_id == 1 else ",\n") + _dumps(shape))
        handle.write('\n],\n"annotations":[')
        spool.seek(0)
        shutil.copyfileobj(spool, handle)
        handle.write("\n]}\n")
    counts.objects = annotation_id
    return counts


def _pairs(flat: list[float]) -> Iterator[tuple[float, float]]:
    """[x1, y1, x2, y2, ...] as (x, y) pairs."""
    return zip(flat[::2], flat[1::2], strict=True)


def _numbers(values: list[Any]) -> bool:
    """Whether every JSON value is a number (a bool is not; checked at C speed: a million boxes
    are checked twice per import)."""
    return set(map(type, values)) <= NUMBER_TYPES


def _polygon_flaw(parts: Any) -> str | None:
    """What keeps a ``segmentation`` from being read as polygons, if anything."""
    if isinstance(parts, dict):
        return "an RLE segmentation (crowd region)"
    if not isinstance(parts, list) or not parts:
        return "no polygon segmentation"
    if not all(isinstance(part, list) and len(part) % 2 == 0 and _numbers(part) for part in parts):
        return "a segmentation that is not lists of x, y numbers"
    return None


class _Reading:
    """A COCO file read for a project: its categories mapped to the project's classes or points
    (each checked once, when an annotation first uses it), its annotations to shapes of the
    kind, and every problem found (reported at once)."""

    def __init__(self, categories: list[dict[str, Any]], path: Path, context: Context) -> None:
        self.path, self.context = path, context
        self.problems: list[Problem] = []
        self.categories = {c.get("id"): c for c in categories}
        self.usable: dict[Any, bool] = {}  # category id -> whether its annotations can be read
        self.points: dict[Any, list[str]] = {}

    def problem(self, where: str, message: str, field: str = "label") -> None:
        """Note what is wrong at `where` (e.g. ``annotation 7``) of the file."""
        self.problems.append(Problem(f"{self.path.name}:{where}", field, message))

    def _usable(self, category_id: Any) -> bool:
        """Whether annotations of the category can be read (it exists); whether its class is
        one of the project's (or its keypoints the project's points) is checked too, the
        problem noted once per category."""
        if category_id in self.usable:
            return self.usable[category_id]
        category = self.categories.get(category_id)
        if category is None:
            self.problem("categories", f"no category with id {category_id!r}")
        elif self.context.kind.name == "keypoints":
            self.points[category_id] = self._points(category)
        else:
            classes, name = classes_of(self.context.config), category.get("name")
            if classes and name not in classes:
                self.problem(f"category {category_id}", f"unknown class {name!r}; the project's classes: {classes}")
        self.usable[category_id] = category is not None  # read on, so that every problem is found
        return self.usable[category_id]

    def _points(self, category: dict[str, Any]) -> list[str]:
        """The category's point names, each one of the project's points."""
        names = list(category.get("keypoints") or [])
        points = self.context.config.get("points") or names
        unknown = [name for name in names if name not in points]
        if not names:
            self.problem(f"category {category['id']}", "the category names no keypoints")
        elif unknown:
            self.problem(f"category {category['id']}", f"unknown points {unknown}; the project's points: {points}")
        return names

    def labels(self, annotations: Iterator[dict[str, Any]]) -> Labels:
        """The annotations, as they stream from the file, as shapes grouped by image and
        worker (only the shapes are kept, not the annotations)."""
        grouped: Labels = {}
        for annotation in annotations:
            if not self._usable(annotation.get("category_id")):
                continue  # named among the problems
            shapes = grouped.setdefault(annotation.get("image_id"), {}).setdefault(annotation.get("crowdnb_worker"), [])
            if self.context.kind.name == "keypoints":
                shapes.append(self._keypoints(annotation))
            else:
                shapes.extend(self._shapes(annotation))
        return grouped

    def _shapes(self, annotation: dict[str, Any]) -> list[dict[str, Any]]:
        """A box or polygon annotation as the kind's shapes (a polygon of several parts as one
        shape per part)."""
        name, number = self.categories[annotation["category_id"]]["name"], annotation.get("id")
        if self.context.kind.name == "bbox":
            box = annotation.get("bbox")
            if not (isinstance(box, list) and len(box) == 4 and _numbers(box)):
                self.problem(f"annotation {number}", f"annotation {number} has no bbox [x, y, w, h]")
                return []
            x, y, w, h = box
            return [{"label": name, "x": x, "y": y, "w": w, "h": h}]
        parts = annotation.get("segmentation")
        flaw = _polygon_flaw(parts)
        if flaw is not None:
            self.problem(f"annotation {number}", f"annotation {number} has {flaw}; crowdnb reads polygons")
            return []
        return [{"label": name, "points": [[x, y] for x, y in _pairs(part)]} for part in parts]

    def _keypoints(self, annotation: dict[str, Any]) -> list[dict[str, Any]]:
        """A keypoints annotation as the project's points in order (v > 0, labeled even if
        occluded: placed; a point the category lacks: not visible)."""
        names = self.points[annotation["category_id"]]
        values = annotation.get("keypoints") or []
        if values and (len(values) != 3 * len(names) or not _numbers(values)):  # none: not visible
            number = annotation.get("id")
            self.problem(f"annotation {number}", f"annotation {number}: keypoints must be {len(names)} x, y, v triplets of numbers")
            values = [0] * (3 * len(names))
        found = {name: values[3 * i:3 * i + 3] for i, name in enumerate(names)}
        out = []
        for name in self.context.config.get("points") or names:
            x, y, v = found.get(name) or (0, 0, 0)
            if v > 0:
                out.append({"name": name, "x": float(x), "y": float(y), "visible": True})
            else:
                out.append({"name": name, "x": None, "y": None, "visible": False})
        return out

    def label(self, shapes: list[Any], where: str) -> Any:
        """One worker's (or the file's) shapes of an image as a label: the shapes, or for
        keypoints the one point set."""
        if self.context.kind.name != "keypoints":
            return shapes
        if len(shapes) > 1:
            self.problem(where, f"{len(shapes)} keypoint annotations; a keypoints task holds one point set")
        return shapes[0]

    def rows(self, image: dict[str, Any], labels: Labels) -> list[dict[str, Any]]:
        """An image's rows: one, or one per worker where a raw export names them (its shapes
        taken out of `labels`)."""
        media, path = self.context.kind.media.column, self.path
        by_worker = labels.pop(image.get("id"), {})
        named = image.get("crowdnb_workers") or []
        ref = image.get("file_name")
        if isinstance(ref, str) and ref:
            ref = self.context.resolve(ref, path.parent)
        else:
            self.problem(f"image {image.get('id')}", f"image {image.get('id')} has no file_name", media)
        rows = []
        for worker in list(dict.fromkeys([*named, *by_worker])) or [None]:
            where = f"image {image.get('id')}" + (f", worker {worker}" if worker is not None else "")
            shapes = by_worker.get(worker)
            answered = worker in named or "crowdnb_confidence" in image  # labeled, with no shapes
            label = self.label(shapes, where) if shapes else ([] if answered else None)
            rows.append({media: ref, "id": image.get("crowdnb_task"), "label": label, "source": f"{path.name}:{where}"})
        return rows


def _head(path: Path, ijson: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The file's categories and images, read by one scan of its JSON events that stops once
    both arrays are read: crowdnb (like most tools) writes them before the annotations, so the
    annotations, nearly all of the file, are not scanned here."""
    found: dict[str, list[dict[str, Any]]] = {"categories": [], "images": []}
    items = {f"{key}.item": key for key in found}
    left = set(found)
    builder: Any = None
    current = ""
    with path.open("rb") as handle:
        for prefix, event, value in ijson.parse(handle, use_float=True):
            if builder is not None:
                builder.event(event, value)
                if prefix == current and event in ("end_map", "end_array"):
                    found[items[current]].append(builder.value)
                    builder = None
            elif prefix in items and event in ("start_map", "start_array"):
                current, builder = prefix, ijson.ObjectBuilder()
                builder.event(event, value)
            elif prefix in found and event == "end_array":
                left.discard(prefix)
                if not left:
                    break
    return found["categories"], found["images"]


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    """The file's images as tasks, in pieces of `BATCH`: two scans of the file, one for the
    categories and images, one streaming the annotations, which are kept only as shapes."""
    ijson = require("ijson", feature="reading COCO files", extra="formats")
    categories, images = _head(path, ijson)
    reading = _Reading(categories, path, context)
    with path.open("rb") as handle:
        labels = reading.labels(ijson.items(handle, "annotations.item", use_float=True))
    rows: list[dict[str, Any]] = []
    pieces = []
    for image in images:
        rows.extend(reading.rows(image, labels))
        if len(rows) >= BATCH:
            pieces.append(rows)
            rows = []
    pieces.append(rows)
    for image_id in labels:  # what the images did not take
        reading.problem(f"image {image_id}", f"annotations name image_id {image_id!r}, which is not one of the file's images", "image_id")
    if reading.problems:
        raise ValidationError(reading.problems)
    media = context.kind.media.column
    for piece in pieces:
        if piece:
            yield frame(piece, media)


def _validate(path: Path, context: Context, counts: Counts) -> None:
    """The file as pycocotools loads it: every image and annotation written, each indexed."""
    import contextlib
    import io

    coco = require("pycocotools.coco", feature="validating COCO files", extra="formats")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        loaded = coco.COCO(str(path))  # type: ignore[attr-defined]
    if (len(loaded.imgs), len(loaded.anns)) != (counts.tasks, counts.objects):
        raise ValueError(
            f"pycocotools read {len(loaded.imgs)} images and {len(loaded.anns)} annotations from {path.name}, "
            f"but {counts.tasks} and {counts.objects} were written"
        )


FORMAT = Format("coco", KINDS, "COCO instances / person keypoints JSON", _write, _read, validate=_validate)
