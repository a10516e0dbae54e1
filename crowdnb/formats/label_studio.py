"""Label Studio's JSON: the list of tasks that Label Studio imports and exports, for every kind.

A task is ``{"id", "data": {"image": ref} or {"text": ...}, "meta", "annotations", "predictions"}``;
``data.crowdnb_id`` keeps the crowdnb task id (Label Studio numbers tasks itself, and keeps the
data). A raw export writes each worker's label as an annotation, ``completed_by`` being
``{"id": <a number made from the worker's name>, "email": <the worker's name>}`` (Label Studio
matches annotators by email on import and refuses unknown ones unless its
ALLOW_IMPORT_TASKS_WITH_UNKNOWN_EMAILS setting is on; its converter reads the email as the
annotator), with the label's status and id under ``"crowdnb"``. An aggregated export writes each
answer as a prediction, ``score`` its confidence, ``model_version`` ``crowdnb-<method>``, and each
shape's, region's or span's agreement as its result's ``score``.

Results follow Label Studio's conventions, with the control names of `labeling_config` (the
matching ``<View>`` to paste into a Label Studio project): coordinates are percent of the image
(``original_width``/``original_height`` beside them); boxes are ``rectanglelabels``, polygons
``polygonlabels``, keypoints ``keypointlabels`` (one result per visible point, labeled with the
point's name; a point not visible has none); OCR regions a ``rectangle`` (``polygon`` for quads)
and a ``textarea`` with the same region ``id``; spans ``labels`` with ``start``/``end``/``text``
in code points, as Label Studio's editor counts them since its emoji fix (label-studio-frontend
#308; its NER emoji test checks code point offsets) and as its converter slices the text; older
versions counted UTF-16 units (label-studio #1347), which are read too, recognized by the span's
``text``; classes ``choices``; captions and free text a ``textarea``; a QA dialog two
``textarea`` results, ``question`` and ``answer``, each listing its texts in turn order.

Label Studio shows an image by its URL: an image under `media_root` is written as a file of its
local storage rooted there (``/data/local-files/?d=<path>``, served when Label Studio's
LOCAL_FILES_DOCUMENT_ROOT is `media_root`), other local images by path (its converter reads them).

Reading takes every task's annotations (one row each, cancelled ones skipped) or, when it has
none, its best-scored prediction; results are found by type, so exports of other Label Studio
projects read too. Written by hand: Label Studio's own converter turns its JSON into other
formats but not labels into its JSON, and it is a test dependency only. The file is written and
read one task at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote
from xml.etree import ElementTree

from crowdnb.errors import Problem, ValidationError
from crowdnb.formats.base import Answer, Context, Counts, Format, Item, classes_of, frame
from crowdnb.formats.table import ALL_KINDS

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.kinds import Kind

BATCH = 5_000
CHUNK = 1 << 20  # characters read at a time
ID_KEY = "crowdnb_id"
KEYPOINT_WIDTH = 0.5  # the size Label Studio draws a keypoint at, percent of the image width
LOCAL_FILES = "/data/local-files/?d="  # how Label Studio refers to a file of its local storage
IMAGE_KINDS = frozenset({"image-class", "image-multilabel", "bbox", "polygon", "keypoints", "ocr", "caption"})
TEXTAREA = {"caption": "caption", "free-text": "response"}

Size = tuple[float, float]
Result = dict[str, Any]


class Bad(Exception):
    """A label that cannot be written or read, and why."""


def labeling_config(kind: Kind | str, config: dict[str, Any]) -> str:
    """The Label Studio labeling config (``<View>`` XML) that shows a project's tasks and holds
    its labels with the control names this format writes: paste it into a Label Studio project's
    Labeling Interface before importing an export, and give it to Label Studio's converter."""
    name = kind if isinstance(kind, str) else kind.name
    media = "image" if name in IMAGE_KINDS else "text"
    view = ElementTree.Element("View")
    if config.get("prompt"):
        ElementTree.SubElement(view, "Header", value=config["prompt"])
    ElementTree.SubElement(view, "Image" if media == "image" else "Text", name=media, value=f"${media}")
    for tag, attributes, values in _controls(name, config):
        control = ElementTree.SubElement(view, tag, {"name": attributes["name"], "toName": media, **attributes})
        for value in values:
            ElementTree.SubElement(control, "Choice" if tag == "Choices" else "Label", value=value)
    ElementTree.indent(view)
    return ElementTree.tostring(view, encoding="unicode") + "\n"


def _controls(kind: str, config: dict[str, Any]) -> list[tuple[str, dict[str, str], list[str]]]:
    """(tag, attributes, choice or label values) of each control tag of `kind`'s config."""
    classes = classes_of(config)
    if kind in ("image-class", "text-class", "image-multilabel", "text-multilabel"):
        choice = "multiple" if kind.endswith("multilabel") else "single"
        return [("Choices", {"name": "class", "choice": choice}, classes)]
    if kind == "bbox":
        return [("RectangleLabels", {"name": "label"}, classes)]
    if kind == "polygon":
        return [("PolygonLabels", {"name": "label"}, classes)]
    if kind == "keypoints":
        return [("KeyPointLabels", {"name": "keypoint"}, list(config.get("points") or []))]
    if kind == "spans":
        return [("Labels", {"name": "label"}, classes)]
    if kind == "ocr":
        shape = ("Polygon", {"name": "poly"}) if config.get("shape") == "quad" else ("Rectangle", {"name": "bbox"})
        text = {"name": "transcription", "editable": "true", "perRegion": "true", "required": "true", "maxSubmissions": "1"}
        return [(*shape, []), ("TextArea", text, [])]
    if kind == "qa":
        turns = str(config.get("max_turns", 10))
        return [("TextArea", {"name": field, "maxSubmissions": turns}, []) for field in ("question", "answer")]
    return [("TextArea", {"name": TEXTAREA[kind], "maxSubmissions": "1"}, [])]


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    annotation_ids = itertools.count(1)
    with out.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for number, item in enumerate(items, 1):
            counts.tasks += 1
            task = _task(item, number, annotation_ids, context, counts)
            handle.write(("\n" if number == 1 else ",\n") + json.dumps(task, ensure_ascii=False))
        handle.write("\n]\n")
    return counts


def _task(item: Item, number: int, annotation_ids: Iterator[int], context: Context, counts: Counts) -> dict[str, Any]:
    """The Label Studio task of `item`, numbered `number`, its annotations numbered by `annotation_ids`."""
    media = context.kind.media.column
    ref = _image_ref(item.payload, context) if media == "image" else item.payload.get("text")
    task: dict[str, Any] = {
        "id": number, "data": {media: ref, ID_KEY: item.id}, "meta": item.meta, "annotations": [], "predictions": [],
    }
    for answer in item.answers:
        try:
            result = _results(answer, item.payload, context)
        except Bad as exc:
            counts.skipped.append(f"task {item.id!r}: {exc}")
            continue
        counts.labels += 1
        counts.objects += len(answer.label) if context.kind.name in LISTS else 0
        if context.options.aggregated:
            method = context.options.method or context.kind.aggregator.name
            task["predictions"].append({"model_version": f"crowdnb-{method}", "score": answer.confidence, "result": result})
        else:
            task["annotations"].append({
                "id": next(annotation_ids), "completed_by": _annotator(answer.worker), "result": result,
                "was_cancelled": False, "ground_truth": False,
                "crowdnb": {"status": answer.status, "annotation_id": answer.annotation_id},
            })
    return task


def _image_ref(payload: dict[str, Any], context: Context) -> str | None:
    """The image as `Context.media_ref` gives it; a path relative to `media_root` as a file of
    Label Studio's local storage rooted there (``/data/local-files/?d=<path>``)."""
    ref = context.media_ref(payload)
    if ref is not None and context.options.media_root is not None and "://" not in ref and not os.path.isabs(ref):
        return LOCAL_FILES + quote(ref)
    return ref


def _annotator(worker: str | None) -> dict[str, Any]:
    """``completed_by``: a number that is the same for a worker in every export, and the name."""
    name = worker or ""
    return {"id": int(hashlib.sha1(name.encode()).hexdigest()[:8], 16), "email": name}


def _results(answer: Answer, payload: dict[str, Any], context: Context) -> list[Result]:
    """`answer`'s label as Label Studio results: the results of each shape, region or span share
    a region id and its agreement as their score."""
    kind = context.kind.name
    size = _size(payload)
    if kind in GEOMETRY and size is None:
        raise Bad("the image size is unknown (a URL image), and Label Studio needs coordinates in percent of it")
    to_name = "image" if kind in IMAGE_KINDS else "text"
    out = []
    for i, group in enumerate(WRITERS[kind](answer.label, size)):
        score = answer.agreement[i] if answer.agreement is not None else math.nan
        for result in ({"id": f"r{i}", **r, "to_name": to_name} for r in group):
            if size is not None and kind in GEOMETRY:
                result.update(original_width=int(size[0]), original_height=int(size[1]), image_rotation=0)
            if not math.isnan(score):
                result["score"] = score
            out.append(result)
    return out


def _size(payload: dict[str, Any]) -> Size | None:
    if "width" in payload and "height" in payload:
        return float(payload["width"]), float(payload["height"])
    return None


def _result(type_: str, from_name: str, value: dict[str, Any]) -> Result:
    return {"type": type_, "from_name": from_name, "value": value}


def _percent_box(box: dict[str, float], size: Size) -> dict[str, float]:
    width, height = size
    return {
        "x": 100 * box["x"] / width, "y": 100 * box["y"] / height,
        "width": 100 * box["w"] / width, "height": 100 * box["h"] / height, "rotation": 0,
    }


def _percent_points(points: list[list[float]], size: Size) -> list[list[float]]:
    return [[100 * x / size[0], 100 * y / size[1]] for x, y in points]


# Each writer turns a label into groups of results, one group per shape, region or span.
Groups = list[list[Result]]


def _write_choices(label: Any, size: Size | None) -> Groups:
    chosen = label if isinstance(label, list) else [label]
    return [[_result("choices", "class", {"choices": chosen})]] if chosen else []


def _write_boxes(label: list[dict[str, Any]], size: Size) -> Groups:
    return [[_result("rectanglelabels", "label", {**_percent_box(b, size), "rectanglelabels": [b["label"]]})] for b in label]


def _write_polygons(label: list[dict[str, Any]], size: Size) -> Groups:
    return [
        [_result("polygonlabels", "label", {
            "points": _percent_points(p["points"], size), "polygonlabels": [p["label"]], "closed": True,
        })]
        for p in label
    ]


def _write_keypoints(label: list[dict[str, Any]], size: Size) -> Groups:
    return [
        [_result("keypointlabels", "keypoint", {
            "x": 100 * p["x"] / size[0], "y": 100 * p["y"] / size[1], "width": KEYPOINT_WIDTH, "keypointlabels": [p["name"]],
        })] if p["visible"] else []
        for p in label
    ]


def _write_ocr(label: list[dict[str, Any]], size: Size) -> Groups:
    out = []
    for region in label:
        if "quad" in region:
            shape: dict[str, Any] = {"points": _percent_points(region["quad"], size), "closed": True}
            geometry = _result("polygon", "poly", shape)
        else:
            shape = _percent_box(region["box"], size)
            geometry = _result("rectangle", "bbox", shape)
        out.append([geometry, _result("textarea", "transcription", {**shape, "text": [region["text"]]})])
    return out


def _write_spans(label: list[dict[str, Any]], size: Size | None) -> Groups:
    return [
        [_result("labels", "label", {"start": s["start"], "end": s["end"], "text": s["text"], "labels": [s["label"]]})]
        for s in label
    ]


def _write_qa(label: dict[str, Any], size: Size | None) -> Groups:
    return [[_result("textarea", field, {"text": [turn[field] for turn in label["turns"]]}) for field in ("question", "answer")]]


def _write_text(field: str) -> Callable[[str, Size | None], Groups]:
    def write(label: str, size: Size | None) -> Groups:
        return [[_result("textarea", field, {"text": [label]})]]

    return write


GEOMETRY = frozenset({"bbox", "polygon", "keypoints", "ocr"})
LISTS = GEOMETRY | {"spans"}  # kinds whose label is a list of objects
WRITERS: dict[str, Callable[[Any, Any], Groups]] = {
    "image-class": _write_choices, "text-class": _write_choices, "image-multilabel": _write_choices,
    "text-multilabel": _write_choices, "bbox": _write_boxes, "polygon": _write_polygons, "keypoints": _write_keypoints,
    "ocr": _write_ocr, "spans": _write_spans, "qa": _write_qa,
    "caption": _write_text(TEXTAREA["caption"]), "free-text": _write_text(TEXTAREA["free-text"]),
}


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    media = context.kind.media.column
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for number, task in enumerate(_tasks_in(path), 1):
        rows.extend(_rows(task, number, path, context, problems))
        if len(rows) >= BATCH:
            yield frame(rows, media)
            rows = []
    if problems:
        raise ValidationError(problems)
    if rows:
        yield frame(rows, media)


def _rows(task: Any, number: int, path: Path, context: Context, problems: list[Problem]) -> list[dict[str, Any]]:
    """A task's rows: one per annotation that was not cancelled, else one for its best-scored
    prediction, else one without a label; bad labels go to `problems`."""
    media = context.kind.media.column
    if not isinstance(task, dict) or not isinstance(task.get("data", task), dict):
        message = f"expected a Label Studio task (an object with data), got {task!r}"
        problems.append(Problem(f"{path.name}:task {number}", "data", message))
        return []
    source = f"{path.name}:task {task.get('id', number)}"
    data = task.get("data", task)
    ref = data.get(media, next((v for k, v in data.items() if k != ID_KEY and isinstance(v, str)), None))
    if media == "image" and isinstance(ref, str):
        ref = _local(ref, path, context)
    task_id = data.get(ID_KEY, str(task["id"]) if "id" in task else None)
    labeled = _labelings(task, source)
    if not labeled:
        return [{media: ref, "id": task_id, "label": None, "source": source}]
    reading = Reading(context, ref)
    rows = []
    for where, labeling in labeled:
        try:
            results = labeling.get("result")
            label = READERS[context.kind.name](results if isinstance(results, list) else [], reading)
        except Bad as exc:
            problems.append(Problem(where, "label", str(exc)))
            continue
        rows.append({media: ref, "id": task_id, "label": label, "source": where})
    return rows


def _labelings(task: dict[str, Any], source: str) -> list[tuple[str, dict[str, Any]]]:
    """(source, annotation) for each annotation not cancelled or, without any, (source,
    prediction) for the best-scored prediction."""
    annotations = _objects(task, "annotations") or _objects(task, "completions")  # "completions": before Label Studio 1.0
    done = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
    if done:
        return [(f"{source} annotation {a.get('id', k)}", a) for k, a in enumerate(done, 1)]
    predictions = _objects(task, "predictions")
    if predictions:
        best = max(predictions, key=lambda p: p["score"] if isinstance(p.get("score"), (int, float)) else -math.inf)
        return [(f"{source} prediction", best)]
    return []


def _objects(task: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The annotations (or predictions) of a task that are objects."""
    found = task.get(key)
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


def _local(ref: str, path: Path, context: Context) -> str:
    """An image reference as `add_tasks` takes it; a file of Label Studio's local storage
    (``/data/local-files/?d=<path>``) is looked for under `media_root` (else beside the file)."""
    if ref.startswith(LOCAL_FILES):
        ref = unquote(ref[len(LOCAL_FILES):])
    return context.resolve(ref, path.parent)


def _tasks_in(path: Path) -> Iterator[Any]:
    """The tasks of a Label Studio JSON file (a list of tasks, or one task) one at a time,
    never holding more of the file than one task and a chunk. Tasks are separated by commas and
    nothing but whitespace may follow the list: a problem names the character where it does."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as handle:
        cursor = _Cursor(handle)
        cursor.more()
        cursor.skip_space()
        if cursor.peek() != "[":
            try:
                task = json.loads(cursor.buffer[cursor.pos:] + handle.read())
            except json.JSONDecodeError as exc:
                raise _not_json(path, exc) from None
            yield task
            return
        cursor.pos += 1
        cursor.skip_space()
        if cursor.peek() != "]":
            while True:
                while True:
                    try:
                        task, cursor.pos = decoder.raw_decode(cursor.buffer, cursor.pos)
                        break
                    except json.JSONDecodeError as exc:
                        if not cursor.more():
                            raise _bad(path, f"{exc.msg}", cursor.base + exc.pos) from None
                yield task
                cursor.skip_space()
                found = cursor.peek()
                if found == "]":
                    break
                if found != ",":
                    raise _bad(path, f"expected ',' or ']' after a task, found {cursor.snippet()!r}" if found else "the list of tasks has no closing ']'", cursor.offset)
                cursor.pos += 1
                cursor.skip_space()
        cursor.pos += 1
        cursor.skip_space()
        if cursor.peek():
            raise _bad(path, f"data after the list of tasks: {cursor.snippet()!r}", cursor.offset)


SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


class _Cursor:
    """A position in a text file read a chunk at a time: `buffer` holds the file from
    character `base` on, up to what has been read; `pos` is the position in it."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.buffer, self.base, self.pos = handle, "", 0, 0

    @property
    def offset(self) -> int:
        """The position as a character offset in the file."""
        return self.base + self.pos

    def more(self) -> bool:
        """One more chunk read, what is before `pos` dropped; False at the end of the file."""
        chunk = self.handle.read(CHUNK)
        if not chunk:
            return False
        self.buffer, self.base, self.pos = self.buffer[self.pos:] + chunk, self.base + self.pos, 0
        return True

    def skip_space(self) -> None:
        while True:
            self.pos = SPACE.match(self.buffer, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buffer) or not self.more():
                return

    def peek(self) -> str:
        """The character at `pos` ("" at the end of the file; call after `skip_space`)."""
        return self.buffer[self.pos:self.pos + 1]

    def snippet(self) -> str:
        """Up to 20 characters from `pos`, for errors."""
        while len(self.buffer) - self.pos < 20 and self.more():
            pass
        return self.buffer[self.pos:self.pos + 20]


def _not_json(path: Path, exc: json.JSONDecodeError) -> ValidationError:
    return ValidationError([Problem(path.name, "file", f"not Label Studio JSON: {exc}")])


def _bad(path: Path, what: str, offset: int) -> ValidationError:
    return ValidationError([Problem(path.name, "file", f"not Label Studio JSON: {what} at character {offset}")])


class Reading:
    """What reading one task's results needs: the project's classes and config, the task's text,
    and its image size (measured from the file only when a result has no original size)."""

    def __init__(self, context: Context, ref: Any) -> None:
        self.config = context.config
        self.classes = classes_of(context.config)
        self.ref = ref
        self._measured: Size | None = None

    def known(self, name: Any) -> str:
        """A class name of the project (any name when the project's classes are not given)."""
        if not isinstance(name, str) or (self.classes and name not in self.classes):
            raise Bad(f"class {name!r} is not one of the project's classes {self.classes}")
        return name

    def size(self, result: Result) -> Size:
        """The image size a result's percents are of."""
        if isinstance(result.get("original_width"), (int, float)) and isinstance(result.get("original_height"), (int, float)):
            return float(result["original_width"]), float(result["original_height"])
        if self._measured is None:
            from PIL import Image

            try:
                with Image.open(self.ref) as image:
                    self._measured = float(image.width), float(image.height)
            except (OSError, TypeError, ValueError):
                raise Bad(
                    f"a result has no original_width/original_height and the image {self.ref!r} cannot be opened to measure it"
                ) from None
        return self._measured


def _of(results: list[Result], *types: str) -> Iterator[Result]:
    return (r for r in results if isinstance(r, dict) and r.get("type") in types and isinstance(r.get("value"), dict))


def _pixels_box(result: Result, reading: Reading) -> dict[str, float]:
    value, (width, height) = result["value"], reading.size(result)
    if value.get("rotation"):
        raise Bad(f"a box rotated by {value['rotation']} degrees cannot be stored as an axis-aligned box")
    try:
        return {
            "x": _px(value["x"], width), "y": _px(value["y"], height),
            "w": _px(value["width"], width), "h": _px(value["height"], height),
        }
    except (KeyError, TypeError) as exc:
        raise Bad(f"a box needs numbers x, y, width and height, got {value!r}") from exc


def _pixels_points(result: Result, reading: Reading) -> list[list[float]]:
    points, (width, height) = result["value"].get("points"), reading.size(result)
    try:
        return [[_px(x, width), _px(y, height)] for x, y in points]
    except (TypeError, ValueError) as exc:
        raise Bad(f"expected points [[x, y], ...] in percent, got {points!r}") from exc


def _px(percent: Any, extent: float) -> float:
    if isinstance(percent, bool) or not isinstance(percent, (int, float)):
        raise TypeError(percent)
    return round(percent * extent / 100, 2)


def _read_class(results: list[Result], reading: Reading) -> str | None:
    chosen = _read_choices(results, reading)
    if len(chosen) > 1:
        raise Bad(f"one class expected, got {chosen}")
    return chosen[0] if chosen else None


def _read_choices(results: list[Result], reading: Reading) -> list[str]:
    return [reading.known(c) for r in _of(results, "choices") for c in r["value"].get("choices") or []]


def _classes(result: Result, key: str, reading: Reading) -> list[str]:
    names = result["value"].get(key) or []
    if not names:
        raise Bad(f"a {key} result without a class")
    return [reading.known(name) for name in names]


def _read_boxes(results: list[Result], reading: Reading) -> list[dict[str, Any]]:
    return [
        {"label": name, **_pixels_box(r, reading)}
        for r in _of(results, "rectanglelabels") for name in _classes(r, "rectanglelabels", reading)
    ]


def _read_polygons(results: list[Result], reading: Reading) -> list[dict[str, Any]]:
    return [
        {"label": name, "points": _pixels_points(r, reading)}
        for r in _of(results, "polygonlabels") for name in _classes(r, "polygonlabels", reading)
    ]


def _read_keypoints(results: list[Result], reading: Reading) -> list[dict[str, Any]]:
    placed: dict[str, dict[str, Any]] = {}
    for r in _of(results, "keypointlabels"):
        for name in r["value"].get("keypointlabels") or []:
            if reading.config.get("points") and name not in reading.config["points"]:
                raise Bad(f"point {name!r} is not one of the project's points {reading.config['points']}")
            if name in placed:
                raise Bad(f"point {name!r} is placed twice")
            if r["value"].get("hidden"):
                placed[name] = {"name": name, "x": None, "y": None, "visible": False}
            else:
                x, y = _pixels_points({**r, "value": {"points": [[r["value"].get("x"), r["value"].get("y")]]}}, reading)[0]
                placed[name] = {"name": name, "x": x, "y": y, "visible": True}
    names = reading.config.get("points") or list(placed)
    return [placed.get(name, {"name": name, "x": None, "y": None, "visible": False}) for name in names]


def _read_ocr(results: list[Result], reading: Reading) -> list[dict[str, Any]]:
    """OCR regions: the results sharing a region id give its shape and its transcription."""
    regions: dict[Any, dict[str, Any]] = {}
    for r in _of(results, "rectangle", "rectanglelabels", "labels", "polygon", "polygonlabels", "textarea"):
        region = regions.setdefault(r.get("id", len(regions)), {"texts": []})
        if "geometry" not in region and ("points" in r["value"] or "width" in r["value"]):
            region["geometry"] = r
        if r["type"] == "textarea":
            region["texts"] += _strings(r["value"])
    quads = reading.config.get("shape") == "quad"
    out = []
    for key, region in regions.items():
        shape = region.get("geometry")
        if shape is None:
            raise Bad(f"region {key!r} has a transcription but no rectangle or polygon")
        text = "\n".join(region["texts"])
        if "points" in shape["value"]:
            if not quads:
                raise Bad(f"region {key!r} is a polygon; this project's OCR regions are boxes")
            quad = _pixels_points(shape, reading)
            if len(quad) != 4:
                raise Bad(f"region {key!r}: a quad has 4 points, got {len(quad)}")
            out.append({"quad": quad, "text": text})
        elif quads:
            box = _pixels_box(shape, reading)
            x, y, right, bottom = box["x"], box["y"], round(box["x"] + box["w"], 2), round(box["y"] + box["h"], 2)
            out.append({"quad": [[x, y], [right, y], [right, bottom], [x, bottom]], "text": text})
        else:
            out.append({"box": _pixels_box(shape, reading), "text": text})
    return out


def _read_spans(results: list[Result], reading: Reading) -> list[dict[str, Any]]:
    text = reading.ref if isinstance(reading.ref, str) else ""
    spans = []
    for r in _of(results, "labels"):
        start, end = _offsets(r["value"], text)
        spans += [{"start": start, "end": end, "label": name, "text": text[start:end]} for name in _classes(r, "labels", reading)]
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


def _offsets(value: dict[str, Any], text: str) -> tuple[int, int]:
    """A span's code point offsets; offsets in UTF-16 units (Label Studio before its emoji fix)
    are recognized by the span's text and converted."""
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)):
        raise Bad(f"a span needs integer start and end, got {start!r}, {end!r}")
    quoted = value.get("text")
    if not isinstance(quoted, str) or text[start:end] == quoted:
        return start, end
    start16, end16 = _from_utf16(text, start), _from_utf16(text, end)
    if start16 is not None and end16 is not None and text[start16:end16] == quoted:
        return start16, end16
    raise Bad(f"span [{start}, {end}) of the text is {text[start:end]!r}, not its text {quoted!r}")


def _from_utf16(text: str, unit: int) -> int | None:
    """The code point index at UTF-16 offset `unit` of `text` (None inside a surrogate pair or
    past the end)."""
    count = 0
    for i, char in enumerate(text):
        if count >= unit:
            return i if count == unit else None
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text) if count == unit else None


def _texts(results: list[Result], field: str | None = None) -> list[str] | None:
    """The texts of the textarea results (of one control, when `field` is given); None without any."""
    found = [r for r in _of(results, "textarea") if field is None or r.get("from_name") == field]
    return [t for r in found for t in _strings(r["value"])] if found else None


def _strings(value: dict[str, Any]) -> list[str]:
    """A textarea result's texts (a list of strings; a lone string taken as one)."""
    texts = value.get("text")
    texts = [texts] if isinstance(texts, str) else texts if isinstance(texts, list) else []
    if not all(isinstance(t, str) for t in texts):
        raise Bad(f"a textarea's text is a list of strings, got {value.get('text')!r}")
    return texts


def _read_text(results: list[Result], reading: Reading) -> str | None:
    texts = _texts(results)
    return "\n".join(texts) if texts is not None else None


def _read_qa(results: list[Result], reading: Reading) -> dict[str, Any] | None:
    questions, answers = _texts(results, "question"), _texts(results, "answer")
    if questions is None and answers is None:
        return None
    if len(questions or []) != len(answers or []):
        raise Bad(f"{len(questions or [])} question(s) but {len(answers or [])} answer(s); each turn needs both")
    return {"turns": [{"question": q, "answer": a} for q, a in zip(questions or [], answers or [], strict=True)]}


READERS: dict[str, Callable[[list[Result], Reading], Any]] = {
    "image-class": _read_class, "text-class": _read_class, "image-multilabel": _read_choices,
    "text-multilabel": _read_choices, "bbox": _read_boxes, "polygon": _read_polygons, "keypoints": _read_keypoints,
    "ocr": _read_ocr, "spans": _read_spans, "qa": _read_qa, "caption": _read_text, "free-text": _read_text,
}

FORMAT = Format(
    "label-studio", ALL_KINDS, "Label Studio JSON tasks (annotations or predictions; see labeling_config)", _write, _read,
)
