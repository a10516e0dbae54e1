"""OCR ground truth: COCO-Text (one JSON file) and ICDAR 2015 (a folder of ``gt_*.txt`` files).

**coco-text** follows COCO-Text v2: ``info``, ``cats`` (empty), ``imgs`` {id: {id, file_name,
width, height, set, crowdnb_task}}, ``anns`` {id: {id, image_id, bbox [x, y, w, h], mask (the
region's 4 corners as [x1, y1, ..., x4, y4]; a box's clockwise from its top-left), utf8_string,
language, legibility "legible", class "machine printed", area}} and ``imgToAnns`` {image id:
[ann ids]}. Ids are integers from 1 in task order (the official ``coco_text`` API reads them
with ``int``; it also reads every image's ``set``: the task's ``set`` or ``split`` metadata when
it is train, val or test, else "train"). ``language`` is "ko" for text in Hangul, "ja" for text
in kana, else "na" (Han alone is Chinese or Japanese, Latin alone any of many languages; the key
is always there because the API's category filters read it on every annotation). A raw export
adds ``crowdnb_worker``, ``crowdnb_status`` and ``crowdnb_annotation`` to each annotation and ``crowdnb_workers`` (whose
labels are written, even those with no region) to each image (read back: a label for each worker
listed there or found on an annotation of the image); an aggregated one adds the task's
``crowdnb_confidence`` to each image (null: no answer) and annotation, and the region's agreement
as ``score``. Annotations are spooled to a temporary file and the JSON assembled from it, so an
export holds one task at a time; reading loads the JSON whole, as every COCO-Text reader does.

**icdar2015** writes one ``gt_<stem>.txt`` per label (the image's name, characters other than
letters, digits, ``.``, ``-`` and ``_`` made ``_``; another image of that name gets a short hash
of its reference before it, another label of the same image ``_1``, ``_2``...: `Stems`), UTF-8 without a BOM, CRLF lines
``x1,y1,x2,y2,x3,y3,x4,y4,transcription``: corners clockwise (a counter-clockwise quad is
reversed, its first corner kept: it marks where the text starts), a box's from its top-left.
Coordinates are written as stored (to 1/100 pixel), integers when integral: the round trip is
exact, but the official RRC evaluation script accepts integers only (most training loaders read
floats). A transcription is everything after the 8th comma; one that starts and ends with a
double quote is quoted and escaped (``\\`` and ``\\"``) as that script unquotes it; one with a
line break cannot be a line and is written ``###`` (do not care; noted in the counts' skipped).
``index.jsonl`` lists every task: its ``gt`` file (null: unlabeled), ``image`` (a path, or
``images/...`` with ``media="copy"``), ``task``, and ``worker``/``status`` or ``confidence``.

Reading gives each label's regions in the project's shape (``box`` or ``quad``): a box from an
axis-aligned quad (any other is a problem: use a quad project), a quad from a COCO-Text mask of
4 points (or its bbox's corners). Regions without usable text are skipped: ICDAR's ``###`` and
COCO-Text's illegible or blank annotations. An ICDAR folder without an index (the official
files, with their BOM) is read in natural order of its ``gt_<stem>.txt`` files, the image of each
being ``<stem>.jpg`` (or another of `IMAGE_SUFFIXES`, in any case; the first by name) under
`media_root`, beside the files or in their ``images`` folder. An annotation whose image is not
in ``imgs``, and a ``gt`` in the index that is not a file name in the folder, are problems.

Both are written by hand: no library kept here writes them (pycocotools reads COCO's detection
layout, not COCO-Text's; ICDAR files are plain lines its scripts only read).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from crowdnb.errors import Problem, ValidationError
from crowdnb.formats.base import Answer, Context, Counts, Format, Item, frame
from crowdnb.formats.imagefiles import IMAGE_SUFFIXES, Stems, plain_name
from crowdnb.intake import to_json

BATCH = 2_000  # rows per frame read
INDEX = "index.jsonl"
SETS = ("train", "val", "test")
DO_NOT_CARE = "###"
QUOTED = re.compile(r'^\s*"(.*)"\s*$')  # a transcription the ICDAR scripts unquote
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")

Corners = list[list[float]]


class Bad(Exception):
    """A region that cannot be read, with the reason."""


# Geometry shared by both formats.


def _round(value: float) -> float:
    return round(float(value), 2) + 0.0  # + 0.0: no -0.0


def _corners(region: dict[str, Any]) -> Corners:
    """A region's 4 corners: a quad's as stored, a box's clockwise from its top-left."""
    if "quad" in region:
        return [[_round(x), _round(y)] for x, y in region["quad"]]
    box = region["box"]
    x0, y0, x1, y1 = box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]
    return [[_round(x), _round(y)] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]


def _bounds(corners: Corners) -> list[float]:
    """The axis-aligned [x, y, w, h] around the corners."""
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return [min(xs), min(ys), _round(max(xs) - min(xs)), _round(max(ys) - min(ys))]


def _signed_area(corners: Corners) -> float:
    """The shoelace area, positive when the corners go clockwise in image coordinates (y down)."""
    pairs = zip(corners, corners[1:] + corners[:1], strict=True)
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs) / 2


def _clockwise(corners: Corners) -> Corners:
    """The corners clockwise, from the same first corner."""
    return corners if _signed_area(corners) >= 0 else [corners[0], *corners[:0:-1]]


def _region(corners: Corners, text: str, shape: str) -> dict[str, Any]:
    """A region in the project's shape; a box only from axis-aligned corners."""
    if shape == "quad":
        return {"quad": corners, "text": text}
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    if {(x, y) for x, y in corners} != {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}:
        raise Bad(f"the quad {corners} is not an axis-aligned rectangle; a box project takes only those (create the project with shape='quad')")
    return {"box": {"x": x0, "y": y0, "w": _round(x1 - x0), "h": _round(y1 - y0)}, "text": text}


def _number(value: Any, what: str) -> float:
    """A finite coordinate: a number, or numeric text as in ICDAR lines."""
    found = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        found = float(value)
    elif isinstance(value, str):
        try:
            found = float(value.strip())
        except ValueError:
            pass
    if found is None or not math.isfinite(found):
        raise Bad(f"{what}: expected a number, got {value!r}")
    return _round(found)


def _points(values: Any, what: str) -> Corners:
    """4 corners from a flat list of 8 numbers."""
    if not isinstance(values, list) or len(values) != 8:
        raise Bad(f"{what}: expected 8 numbers (4 corners), got {values!r}")
    flat = [_number(v, f"{what}[{i}]") for i, v in enumerate(values)]
    return [flat[i:i + 2] for i in range(0, 8, 2)]


def _chunks(rows: Iterable[dict[str, Any]], media: str) -> Iterator[pd.DataFrame]:
    """Rows as frames of at most `BATCH`."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield frame(batch, media)
            batch = []
    if batch:
        yield frame(batch, media)


# COCO-Text.


def _language(text: str) -> str:
    """The language a text's script shows: "ko" (Hangul), "ja" (kana), else "na"."""
    hangul, kana = HANGUL.search(text) is not None, KANA.search(text) is not None
    return "ko" if hangul and not kana else "ja" if kana and not hangul else "na"


def _split(meta: dict[str, Any]) -> str:
    found = meta.get("set", meta.get("split"))
    return found if found in SETS else "train"


def _annotation(ann_id: int, image_id: int, region: dict[str, Any], answer: Answer, n: int, aggregated: bool) -> dict[str, Any]:
    corners = _corners(region)
    ann: dict[str, Any] = {
        "id": ann_id, "image_id": image_id, "bbox": _bounds(corners), "mask": [v for p in corners for v in p],
        "utf8_string": region["text"], "language": _language(region["text"]), "legibility": "legible",
        "class": "machine printed", "area": _round(abs(_signed_area(corners))),
    }
    if aggregated:
        agreement = answer.agreement[n] if answer.agreement is not None and n < len(answer.agreement) else None
        ann.update(crowdnb_confidence=answer.confidence, score=agreement if agreement == agreement else None)
    else:
        ann.update(crowdnb_worker=answer.worker, crowdnb_status=answer.status, crowdnb_annotation=answer.annotation_id)
    return ann


def _image(image_id: int, item: Item, ref: str | None, aggregated: bool) -> dict[str, Any]:
    img: dict[str, Any] = {"id": image_id, "file_name": ref}
    img.update({k: item.payload[k] for k in ("width", "height") if k in item.payload})
    img.update(set=_split(item.meta), crowdnb_task=item.id)
    if aggregated:
        img["crowdnb_confidence"] = item.answers[0].confidence if item.answers else None
    else:
        img["crowdnb_workers"] = [a.worker for a in item.answers]
    return img


def _write_coco_text(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts, aggregated = Counts(files=1), context.options.aggregated
    info = {
        "description": f"crowdnb project {context.project} (ocr, {context.config.get('shape', 'box')})",
        "version": "2.0", "date_created": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    with (
        out.open("w", encoding="utf-8") as handle,
        tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent) as anns,
        tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent) as index,
    ):
        handle.write('{"info":' + to_json(info) + ',"cats":{},"imgs":{')
        ann_id = 0
        for image_id, item in enumerate(items, 1):
            counts.tasks += 1
            ids = []
            for answer in item.answers:
                counts.labels += 1
                for n, region in enumerate(answer.label):
                    ann_id += 1
                    ann = _annotation(ann_id, image_id, region, answer, n, aggregated)
                    anns.write(("," if ann_id > 1 else "") + f'"{ann_id}":' + to_json(ann))
                    ids.append(ann_id)
            counts.objects += len(ids)
            comma = "," if image_id > 1 else ""
            handle.write(f'{comma}"{image_id}":' + to_json(_image(image_id, item, context.media_ref(item.payload), aggregated)))
            index.write(f'{comma}"{image_id}":' + to_json(ids))
        for name, spool in (("anns", anns), ("imgToAnns", index)):
            handle.write(f'}},"{name}":{{')
            spool.seek(0)
            shutil.copyfileobj(spool, handle)
        handle.write("}}\n")
    return counts


def _coco_region(ann: Any, shape: str) -> dict[str, Any] | None:
    """An annotation as a region of `shape`; None for one without usable text."""
    if not isinstance(ann, dict):
        raise Bad(f"expected an annotation object, got {ann!r}")
    text = ann.get("utf8_string")
    if ann.get("legibility") == "illegible" or not isinstance(text, str) or not text.strip():
        return None
    mask = ann.get("mask")
    if shape == "quad" and mask is not None:
        return {"quad": _points(mask, "mask"), "text": text}
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise Bad(f"bbox: expected [x, y, w, h], got {bbox!r}")
    x, y, w, h = (_number(v, f"bbox[{i}]") for i, v in enumerate(bbox))
    if shape == "quad":
        return {"quad": [[x, y], [_round(x + w), y], [_round(x + w), _round(y + h)], [x, _round(y + h)]], "text": text}
    return {"box": {"x": x, "y": y, "w": w, "h": h}, "text": text}


def _coco_labels(img: dict[str, Any], anns: list[tuple[str, Any]], shape: str, problems: list[Problem]) -> list[Any]:
    """An image's labels: each listed worker's regions (raw crowdnb export), the answer or None
    (aggregated), else all its regions as one label."""
    labels: dict[Any, list[dict[str, Any]]] = {}
    for source, ann in anns:
        try:
            region = _coco_region(ann, shape)
        except Bad as exc:
            problems.append(Problem(source, "label", str(exc)))
            continue
        regions = labels.setdefault(ann.get("crowdnb_worker"), [])  # a worker's, even without usable text
        if region is not None:
            regions.append(region)
    if "crowdnb_workers" in img:
        named = img["crowdnb_workers"] if isinstance(img["crowdnb_workers"], list) else []
        return [labels.get(worker, []) for worker in dict.fromkeys([*named, *labels])] or [None]
    if "crowdnb_confidence" in img and img["crowdnb_confidence"] is None:
        return [None]
    return [[region for regions in labels.values() for region in regions]]


def _read_coco_text(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    media, shape = context.kind.media.column, context.config.get("shape", "box")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError([Problem(path.name, "", f"not COCO-Text JSON: {exc}")]) from None
    imgs, anns = (data.get(key) if isinstance(data, dict) else None for key in ("imgs", "anns"))
    if not isinstance(imgs, dict) or not isinstance(anns, dict):
        raise ValidationError([Problem(path.name, "", "not COCO-Text JSON: expected objects 'imgs' and 'anns'")])
    by_image: dict[str, list[Any]] = {str(k): v for k, v in (data.get("imgToAnns") or {}).items()}
    if "imgToAnns" not in data:
        for key, ann in anns.items():
            by_image.setdefault(str(ann.get("image_id") if isinstance(ann, dict) else None), []).append(key)
    problems: list[Problem] = []
    images = {str(key) for key in imgs}
    if "imgToAnns" in data:
        problems.extend(Problem(f"{path.name}:imgToAnns[{key}]", "imgToAnns", f"no image {key} in imgs") for key in by_image if key not in images)
    for key, ann in anns.items():
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if str(image_id) not in images:
            problems.append(Problem(f"{path.name}:anns[{key}]", "image_id", f"no image {image_id!r} in imgs"))

    def rows() -> Iterator[dict[str, Any]]:
        for key, img in imgs.items():
            source = f"{path.name}:imgs[{key}]"
            if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
                problems.append(Problem(source, media, f"expected an image with a file_name, got {img!r}"))
                continue
            ids = [str(a) for a in by_image.get(str(key), [])]
            problems.extend(Problem(source, "imgToAnns", f"no annotation {a} in anns") for a in ids if a not in anns)
            found = [(f"{path.name}:anns[{a}]", anns[a]) for a in ids if a in anns]
            task = img.get("crowdnb_task")
            for label in _coco_labels(img, found, shape, problems):
                yield {media: context.resolve(img["file_name"], path.parent), "id": task, "label": label, "source": source}

    yield from _chunks(rows(), media)
    if problems:
        raise ValidationError(problems)


# ICDAR 2015.


def _transcription(text: str) -> str | None:
    """A text as the end of an ICDAR line (quoted when the scripts would unquote it); None if
    it has a line break."""
    if "\r" in text or "\n" in text:
        return None
    if QUOTED.match(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _unquoted(text: str) -> str:
    """A transcription as the ICDAR scripts read it."""
    found = QUOTED.match(text)
    return found.group(1).replace("\\\\", "\\").replace('\\"', '"') if found else text


def _coordinate(value: float) -> str:
    """A coordinate as written: an integer when integral, else its decimals."""
    value = _round(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _gt_name(stems: Stems, ref: str | None, item: Item) -> str:
    """A new ``gt_<stem>.txt`` for a label of `item`'s image: `Stems` of the image's reference
    (its query left out), its file name made safe first, so the names stay unique."""
    where = PurePath(ref.split("?")[0]) if ref else None
    key = str(where.with_name(_safe(where.name))) if where is not None and where.name else _safe(item.id)
    return f"gt_{stems.of(key)}.txt"


def _safe(stem: str) -> str:
    return re.sub(r"[^\w.-]", "_", stem)


def _write_icdar(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts, aggregated, stems = Counts(files=1), context.options.aggregated, Stems()
    with (out / INDEX).open("w", encoding="utf-8") as index:
        for item in items:
            counts.tasks += 1
            ref = context.media_ref(item.payload, out)
            entry = {"image": ref, "task": item.id}
            if not item.answers:
                index.write(to_json({"gt": None, **entry}) + "\n")
            for answer in item.answers:
                name = _gt_name(stems, ref, item)
                lines = []
                for n, region in enumerate(answer.label):
                    text = _transcription(region["text"])
                    if text is None:
                        counts.skipped.append(f"{item.id}: region {n}'s text has a line break, which an ICDAR line cannot hold; written as {DO_NOT_CARE}")
                    corners = _clockwise(_corners(region))
                    lines.append(",".join(_coordinate(v) for p in corners for v in p) + "," + (text or DO_NOT_CARE) + "\r\n")
                (out / name).write_text("".join(lines), encoding="utf-8", newline="")
                extra = {"confidence": answer.confidence} if aggregated else {"worker": answer.worker, "status": answer.status}
                index.write(to_json({"gt": name, **entry, **extra}) + "\n")
                counts.labels += 1
                counts.objects += len(lines)
                counts.files += 1
    return counts


def _icdar_line(line: str) -> tuple[Corners, str]:
    """The corners and transcription of a line ``x1,y1,...,x4,y4,transcription``."""
    parts = line.split(",", 8)
    if len(parts) < 9:
        raise Bad(f"expected x1,y1,x2,y2,x3,y3,x4,y4,transcription; got {len(parts)} field(s): {line!r}")
    names = [f"{axis}{i}" for i in range(1, 5) for axis in "xy"]
    flat = [_number(v, name) for v, name in zip(parts[:8], names, strict=True)]
    return [flat[i:i + 2] for i in range(0, 8, 2)], _unquoted(parts[8])


def _icdar_label(path: Path, shape: str, problems: list[Problem]) -> list[dict[str, Any]]:
    """The regions of a gt file (a BOM or not, CRLF or LF), ``###`` skipped."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(path.name, "label", f"not UTF-8 text: {exc}"))
        return []
    regions = []
    for n, line in enumerate(content.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            corners, text = _icdar_line(line)
            if text != DO_NOT_CARE:
                regions.append(_region(corners, text, shape))
        except Bad as exc:
            problems.append(Problem(f"{path.name}:{n}", "label", str(exc)))
    return regions


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _entries(folder: Path, context: Context, problems: list[Problem]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, entry) for each task of the folder: the index's lines, else one per gt file
    with the image of the same stem."""
    index = folder / INDEX
    if index.exists():
        with index.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(Problem(f"{INDEX}:{n}", "", f"not JSON: {exc}"))
                    continue
                if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
                    problems.append(Problem(f"{INDEX}:{n}", "image", f"expected an object with an image, got {entry!r}"))
                    continue
                yield f"{INDEX}:{n}", {**entry, "image": context.resolve(entry["image"], folder)}
        return
    roots = [Path(context.options.media_root)] if context.options.media_root is not None else [folder, folder / "images"]
    images: dict[str, Path] = {}  # stem -> the first image of that stem, root by root, by name
    for root in roots:
        found_in = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()) if root.is_dir() else []
        for image in found_in:
            images.setdefault(image.stem, image)
    for gt in sorted(folder.glob("gt_*.txt"), key=lambda p: _natural(p.name)):
        stem = gt.stem.removeprefix("gt_")
        found = images.get(stem)
        if found is None:
            problems.append(Problem(gt.name, "image", f"no image {stem}.jpg (or .png, ...) in {' or '.join(map(str, roots))}"))
            continue
        yield gt.name, {"gt": gt.name, "image": str(found)}


def _read_icdar(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    media, shape = context.kind.media.column, context.config.get("shape", "box")
    if not path.is_dir():
        raise ValidationError([Problem(path.name, "", "an ICDAR 2015 export is a folder of gt_*.txt files")])
    problems: list[Problem] = []

    def rows() -> Iterator[dict[str, Any]]:
        for source, entry in _entries(path, context, problems):
            gt = entry.get("gt")
            if gt is not None and (not isinstance(gt, str) or not plain_name(gt) or not (path / gt).is_file()):
                problems.append(Problem(source, "label", f"no file {gt!r} in {path}"))
                continue
            label = _icdar_label(path / gt, shape, problems) if gt is not None else None
            yield {media: entry["image"], "id": entry.get("task"), "label": label, "source": gt or source}

    yield from _chunks(rows(), media)
    if problems:
        raise ValidationError(problems)


OCR_KINDS = frozenset({"ocr"})
FORMATS = {
    "coco-text": Format("coco-text", OCR_KINDS, "COCO-Text v2 JSON: images, text annotations and the image index", _write_coco_text, _read_coco_text),
    "icdar2015": Format(
        "icdar2015", OCR_KINDS, "ICDAR 2015 ground truth: a gt_<image>.txt of x1,y1,...,x4,y4,transcription lines per image",
        _write_icdar, _read_icdar, folder=True,
    ),
}
