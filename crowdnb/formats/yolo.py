"""YOLO (Ultralytics) datasets: boxes, polygons and keypoints, one label file per labeled image.

The folder holds ``labels/<stem>.txt`` per labeled task, one object a line, coordinates
normalized to the image size (0-1, 6 decimals; read back to 1/100 pixel, as labels are kept,
so boxes on images up to 6,000 pixels wide come back exactly): detection ``cls cx cy w h``;
segmentation ``cls x1 y1 x2 y2 ...``; pose ``cls cx cy w h px1 py1 v1 ...`` (v 2 visible, 0 not,
and 1, occluded, read as visible; the box encloses the visible points; one object per image,
class 0 named after the project, no line when no point is visible). ``data.yaml`` gives
``train`` and ``val`` (both the one split exported), ``nc`` and ``names`` ({id: name} in the
project's class order) and, for pose, ``kpt_shape: [K, 3]`` and, when points pair up by name
(``left`` <-> ``right``), ``flip_idx``. It has no ``path``: Ultralytics then takes the dataset
root to be the file's folder, so the export can move (a relative ``path`` is read against the
working directory or Ultralytics' datasets folder, an absolute one ties the export to where it
was written). Read back, a ``path`` is taken relative to the file's folder.

With ``media="copy"`` each task's image is copied as ``images/<stem>.<ext>`` and ``train`` is
``images``: Ultralytics finds a label by putting ``labels`` for ``images`` in the image's path,
so this layout trains as is. With ``media="path"``, ``train`` is ``train.txt``, each task's
image path (absolute, or relative to `media_root`; tasks may share an image); Ultralytics,
looking for labels beside the images, needs the copy. Stems are the images' own unless an
earlier task had the same one (`Stems`), and a reader replaying ``train.txt`` finds each file.

A task without labels has no file and is not listed; one labeled empty has an empty file. Raw
exports with labels by several workers on an image stop with a ValueError (`one_answer`).
``crowdnb_tasks.jsonl`` (`Tasks`) gives each label file's task id, ``{"file":
"labels/img000.txt", "id": "img0"}`` a line (Ultralytics and supervision read only
``data.yaml``, the images and ``labels/``). Read back, a task's id is the index's, else (a
dataset made elsewhere) its label file's path under ``labels/`` without ``.txt`` (``img3``,
``train/img3``); an image without a label file has no objects.

Written by hand: supervision's writer wants every image's detections in memory at once and
Ultralytics converts only from COCO JSON, while the format is a few lines of text per image,
written here as each image comes (a million boxes hold one image's labels in memory at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from crowdnb.errors import Problem, ValidationError, require
from crowdnb.formats.base import Context, Counts, Format, Item, classes_of, pieces
from crowdnb.formats.imagefiles import (
    IMAGE_SUFFIXES,
    Left,
    Stems,
    Tasks,
    copied,
    one_answer,
    task_ids,
)

SPLITS = ("train", "val", "test")
VISIBLE, HIDDEN = 2, 0


def _class_names(context: Context) -> list[str]:
    """The classes as the file numbers them: the project's, or for pose the project itself."""
    return [context.project] if context.kind.name == "keypoints" else classes_of(context.config)


def _n(value: float) -> str:
    return f"{value:.6f}"


def _box(x0: float, y0: float, x1: float, y1: float, width: float, height: float) -> str:
    """A box as YOLO writes it: its centre and size, normalized."""
    return f"{_n((x0 + x1) / 2 / width)} {_n((y0 + y1) / 2 / height)} {_n((x1 - x0) / width)} {_n((y1 - y0) / height)}"


def _lines(label: list[dict[str, Any]], payload: dict[str, Any], kind: str, ids: dict[str, int]) -> list[str]:
    """An image's label as the lines of its label file."""
    width, height = float(payload["width"]), float(payload["height"])
    if kind == "bbox":
        return [f"{ids[b['label']]} {_box(b['x'], b['y'], b['x'] + b['w'], b['y'] + b['h'], width, height)}" for b in label]
    if kind == "polygon":
        return [f"{ids[p['label']]} " + " ".join(f"{_n(x / width)} {_n(y / height)}" for x, y in p["points"]) for p in label]
    placed = [p for p in label if p["visible"]]
    if not placed:
        return []
    xs, ys = [p["x"] for p in placed], [p["y"] for p in placed]
    points = (f"{_n(p['x'] / width)} {_n(p['y'] / height)} {VISIBLE}" if p["visible"] else f"{_n(0)} {_n(0)} {HIDDEN}" for p in label)
    return [f"0 {_box(min(xs), min(ys), max(xs), max(ys), width, height)} {' '.join(points)}"]


def _hidden(name: str) -> dict[str, Any]:
    return {"name": name, "x": None, "y": None, "visible": False}


def flip_idx(points: list[str]) -> list[int] | None:
    """Each point's mirror image under a horizontal flip (``left`` <-> ``right`` in its name,
    itself when the name has neither); None when a left or right point has no mirror."""
    index = {name: i for i, name in enumerate(points)}
    out = []
    for i, name in enumerate(points):
        if "left" in name or "right" in name:
            mirror = name.replace("left", "\0").replace("right", "left").replace("\0", "right")
            if mirror not in index:
                return None
            out.append(index[mirror])
        else:
            out.append(i)
    return out


def _data_yaml(context: Context, listed: str) -> dict[str, Any]:
    names = _class_names(context)
    data: dict[str, Any] = {"train": listed, "val": listed, "nc": len(names), "names": dict(enumerate(names))}
    if context.kind.name == "keypoints":
        points = list(context.config["points"])
        data["kpt_shape"] = [len(points), 3]
        flips = flip_idx(points)
        if flips is not None and flips != list(range(len(points))):
            data["flip_idx"] = flips
    return data


def _yaml() -> Any:
    return require("yaml", feature="the yolo format (data.yaml)", extra="formats")


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    yaml = _yaml()

    kind, copy = context.kind.name, context.options.media == "copy"
    ids = {name: i for i, name in enumerate(_class_names(context))}
    counts, stems = Counts(), Stems()
    left = Left(counts)
    labels = out / "labels"
    labels.mkdir(parents=True)
    listed = "images" if copy else "train.txt"
    with ExitStack() as stack:
        listing = None if copy else stack.enter_context((out / listed).open("w", encoding="utf-8"))
        index = stack.enter_context(Tasks(out, counts))
        for item in items:
            counts.tasks += 1
            answer = one_answer(item, "YOLO")
            if answer is None:
                left.unlabeled += 1
            elif "image" not in item.payload:
                left.no_file(item, "YOLO")
            else:
                ref = item.payload["image"] if copy else str(context.media_ref(item.payload))
                stem = stems.of(ref)
                if listing is None:
                    copied(item.payload, out / "images", stem)
                else:
                    listing.write(ref + "\n")
                lines = _lines(answer.label, item.payload, kind, ids)
                (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                index.add(f"labels/{stem}.txt", item.id)
                counts.labels += 1
                counts.objects += len(lines)
                counts.files += 2 if copy else 1
    left.close()
    (out / "data.yaml").write_text(yaml.safe_dump(_data_yaml(context, listed), sort_keys=False, allow_unicode=True), encoding="utf-8")
    counts.files += 1 if copy else 2
    return counts


def _names(data: dict[str, Any]) -> dict[int, str]:
    names = data.get("names")
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in names.items()}
    if isinstance(names, list):
        return dict(enumerate(map(str, names)))
    raise ValidationError([Problem("data.yaml", "names", f"expected a list or {{id: name}} of classes, got {names!r}")])


def _images(data: dict[str, Any], root: Path, context: Context) -> Iterator[tuple[str, Path]]:
    """The dataset's images as (reference, path): the splits' folders (all their images,
    sorted) or path lists (relative paths under `media_root`, else beside it), each folder or
    list once (``val`` is often ``train``); a list may name an image more than once."""
    seen: set[Path] = set()
    for split in SPLITS:
        entries = data.get(split) or []
        for entry in [entries] if isinstance(entries, str) else entries:
            where = root / entry
            if where in seen:
                continue
            seen.add(where)
            if where.is_dir():
                yield from ((p.relative_to(root).as_posix(), p) for p in sorted(where.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES)
            elif where.is_file():
                refs = (line.strip() for line in where.read_text(encoding="utf-8").splitlines())
                yield from ((ref, Path(context.resolve(ref, where.parent))) for ref in refs if ref)
            else:
                raise ValidationError([Problem("data.yaml", split, f"no image folder or list at {str(where)!r}")])


def _label_file(image: Path, ref: str, root: Path, stems: Stems) -> str:
    """Where an image's labels are, under `root`: Ultralytics' ``images`` -> ``labels`` in its
    path inside the dataset, else ``labels/<stem>.txt`` as the writer named it."""
    if image.is_relative_to(root):
        parts = list(image.relative_to(root).parts)
        if "images" in parts[:-1]:
            at = len(parts) - 2 - parts[-2::-1].index("images")
            parts[at] = "labels"
            return PurePosixPath(*parts).with_suffix(".txt").as_posix()
    return f"labels/{stems.of(ref)}.txt"


class _Shapes:
    """Label file lines as the kind's shapes, in pixels of an image of `size`."""

    def __init__(self, context: Context, names: dict[int, str], kpt_shape: tuple[int, int] | None) -> None:
        self.kind, self.names, self.kpt_shape = context.kind.name, names, kpt_shape
        self.classes = set(classes_of(context.config))
        self.points = list(context.config.get("points") or [str(i) for i in range(kpt_shape[0] if kpt_shape else 0)])

    def line(self, values: list[str], size: tuple[int, int]) -> Any:
        """One line: a box or polygon, or for pose the whole point set."""
        name = self._name(values[0])
        numbers = [float(v) for v in values[1:]]
        width, height = size
        if self.kind == "keypoints":
            return self._pose(numbers, size)
        if self.kind == "bbox":
            if len(numbers) != 4:
                raise ValueError(f"expected 'class cx cy w h', got {len(values)} values")
            cx, cy, w, h = numbers
            x0, y0 = _px(cx - w / 2, width), _px(cy - h / 2, height)
            return {"label": name, "x": x0, "y": y0, "w": round(_px(cx + w / 2, width) - x0, 2), "h": round(_px(cy + h / 2, height) - y0, 2)}
        if len(numbers) < 6 or len(numbers) % 2:
            raise ValueError(f"expected 'class x1 y1 x2 y2 x3 y3 ...' (3 points or more), got {len(values)} values")
        return {"label": name, "points": [[_px(x, width), _px(y, height)] for x, y in zip(numbers[::2], numbers[1::2], strict=True)]}

    def label(self, found: list[Any]) -> Any:
        """An image's label from its lines' shapes (pose: its one object, or none visible)."""
        if self.kind != "keypoints":
            return found
        if len(found) > 1:
            raise ValueError(f"keypoints: one object per image, found {len(found)}")
        return found[0] if found else [_hidden(name) for name in self.points]

    def _name(self, value: str) -> str:
        number = float(value)
        if not number.is_integer() or int(number) not in self.names:
            raise ValueError(f"class id {value} is not one of data.yaml's names {self.names}")
        name = self.names[int(number)]
        if self.classes and name not in self.classes:
            raise ValueError(f"class {name!r} is not one of the project's classes {sorted(self.classes)}")
        return name

    def _pose(self, numbers: list[float], size: tuple[int, int]) -> list[dict[str, Any]]:
        assert self.kpt_shape is not None
        k, d = self.kpt_shape
        if len(numbers) != 4 + k * d:
            raise ValueError(f"expected 'class cx cy w h' and {k} points of {d} values, got {len(numbers) + 1} values")
        out = []
        for name, i in zip(self.points, range(4, 4 + k * d, d), strict=True):
            x, y = numbers[i], numbers[i + 1]
            shown = numbers[i + 2] > 0 if d == 3 else (x, y) != (0, 0)
            out.append({"name": name, "x": _px(x, size[0]), "y": _px(y, size[1]), "visible": True} if shown else _hidden(name))
        return out


def _px(value: float, size: int) -> float:
    """A normalized coordinate in pixels, within the image, to 1/100 pixel as labels are kept
    (NaN stays NaN, for the label's check to refuse)."""
    return round(min(max(value * size, 0.0), size), 2)


def _kpt_shape(data: dict[str, Any], context: Context) -> tuple[int, int] | None:
    if context.kind.name != "keypoints":
        return None
    shape = data.get("kpt_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and shape[1] in (2, 3) and isinstance(shape[0], int)):
        raise ValidationError([Problem("data.yaml", "kpt_shape", f"expected [points, 2 or 3] for keypoints, got {shape!r}")])
    points = context.config.get("points")
    if points and shape[0] != len(points):
        raise ValidationError([Problem("data.yaml", "kpt_shape", f"{shape[0]} points per object; the project has {len(points)}: {points}")])
    return int(shape[0]), int(shape[1])


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    from PIL import Image

    yaml = _yaml()

    data_yaml = path / "data.yaml" if path.is_dir() else path
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}
    root = data_yaml.parent / data["path"] if data.get("path") else data_yaml.parent
    shapes = _Shapes(context, _names(data), _kpt_shape(data, context))
    stems = Stems()
    problems: list[Problem] = []
    ids = task_ids(root, problems)
    sizes: dict[Path, tuple[int, int]] = {}  # tasks may share an image

    def rows() -> Iterator[dict[str, Any]]:
        for ref, image in _images(data, root, context):
            source = _label_file(image, ref, root, stems)
            size = sizes.get(image)
            if size is None:
                try:
                    with Image.open(image) as opened:
                        size = sizes[image] = opened.size
                except OSError as exc:
                    problems.append(Problem(source, "image", f"cannot read the image {str(image)!r}: {exc}"))
                    continue
            try:
                text = (root / source).read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            found: list[Any] = []
            bad = False
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        found.append(shapes.line(line.split(), size))
                    except ValueError as exc:
                        problems.append(Problem(f"{source}:{n}", "label", str(exc)))
                        bad = True
            label = None
            if not bad:
                try:
                    label = shapes.label(found)
                except ValueError as exc:
                    problems.append(Problem(source, "label", str(exc)))
            task = ids.get(source) or source.removeprefix("labels/").removesuffix(".txt")
            yield {"image": str(image), "id": task, "label": label, "source": source}

    return pieces(rows(), "image", problems)


FORMAT = Format(
    "yolo", frozenset({"bbox", "polygon", "keypoints"}),
    "YOLO (Ultralytics): labels/<image>.txt per image and data.yaml", _write, _read, folder=True, extra="formats",
)
