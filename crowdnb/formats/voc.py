"""Pascal VOC: boxes, one XML annotation per image.

The folder holds ``Annotations/<stem>.xml`` per labeled task (``folder``, ``filename``,
``path``, ``source``, ``size`` width/height/depth, ``segmented``, and per box an ``object``
with ``name``, ``pose`` Unspecified, ``truncated`` 0, ``difficult`` 0 and ``bndbox``),
``ImageSets/Main/default.txt`` listing the stems, and with ``media="copy"`` each task's image
as ``JPEGImages/<stem>.<ext>``. Stems are the images' own unless an earlier task had the same
one (`Stems`: tasks may share an image). A task without labels has no file and is not listed;
one labeled empty has no ``object``. Read back, a task's id is its annotation's stem, its image
``JPEGImages/<filename>`` when there, else ``path`` (relative: under `media_root`, else the
folder's); the annotations are those the list names, else every one.

Coordinates follow the VOC devkit: 1-based pixel indices, inclusive at both ends. crowdnb's
pixel coordinates are continuous from the image's top-left corner, so a box ``x, y, w, h``
covers pixels ``x`` to ``x + w`` (0-based, end excluded), that is ``xmin = x + 1``,
``xmax = x + w``, and back ``x = xmin - 1``, ``w = xmax - xmin + 1`` (as supervision reads and
writes them). Values are written to 1/100 pixel, as labels are kept, whole ones as integers
(the devkit's), so a round trip gives the same boxes.

Written by hand with `xml.etree.ElementTree` (it escapes text), one file as each image comes:
supervision's writer wants every image's detections in memory at once. Read with expat building
an ElementTree (`ET.TreeBuilder`, as `ET.parse` does, plus each ``object``'s line for errors);
defusedxml is not a crowdnb dependency and its guards are not needed: expat here does not fetch
external entities or DTDs, a document type declaration is refused as it starts (VOC files never
have one, and entities need one), expat 2.4.1 and newer (2.5.0 with this Python, see
`pyexpat.EXPAT_VERSION`) caps entity amplification anyway, and a file is parsed in one call, so
expat's slowness before 2.6.0 on a huge token fed in many pieces does not arise.
"""

from __future__ import annotations

import pyexpat
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from crowdnb.errors import Problem
from crowdnb.formats.base import Context, Counts, Format, Item, classes_of, pieces
from crowdnb.formats.imagefiles import Left, Stems, copied, one_answer

IMAGES, ANNOTATIONS, LIST = "JPEGImages", "Annotations", "ImageSets/Main/default.txt"


def _px(value: float) -> str:
    """A coordinate to 1/100 pixel, a whole one as an integer."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _image(payload: dict[str, Any], out: Path, context: Context, stems: Stems) -> tuple[str, tuple[str, str, str]]:
    """The annotation's stem and the image as it records it: folder, file name and path (with
    ``media="copy"``, the task's copy in ``JPEGImages``, named as the annotation)."""
    if context.options.media == "copy":
        stem = stems.of(payload["image"])
        name = copied(payload, out / IMAGES, stem)
        return stem, (IMAGES, name, f"{IMAGES}/{name}")
    ref = str(context.media_ref(payload))
    return stems.of(ref), (Path(payload["image"]).parent.name, Path(ref).name, ref)


def _text(parent: ET.Element, tag: str, text: object) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(text)
    return child


def _annotation(label: list[dict[str, Any]], payload: dict[str, Any], image: tuple[str, str, str], depth: int, context: Context) -> ET.Element:
    folder, filename, path = image
    root = ET.Element("annotation")
    _text(root, "folder", folder)
    _text(root, "filename", filename)
    _text(root, "path", path)
    _text(ET.SubElement(root, "source"), "database", context.project)
    size = ET.SubElement(root, "size")
    for tag, value in (("width", payload["width"]), ("height", payload["height"]), ("depth", depth)):
        _text(size, tag, value)
    _text(root, "segmented", 0)
    for box in label:
        item = ET.SubElement(root, "object")
        for tag, value in (("name", box["label"]), ("pose", "Unspecified"), ("truncated", 0), ("difficult", 0)):
            _text(item, tag, value)
        bndbox = ET.SubElement(item, "bndbox")
        corners = (("xmin", box["x"] + 1), ("ymin", box["y"] + 1), ("xmax", box["x"] + box["w"]), ("ymax", box["y"] + box["h"]))
        for tag, value in corners:
            _text(bndbox, tag, _px(value))
    ET.indent(root)
    return root


def _depth(image: str, depths: dict[str, int]) -> int:
    """The image's channels, read once per image (tasks may share one)."""
    if image not in depths:
        with Image.open(image) as opened:
            depths[image] = len(opened.getbands())
    return depths[image]


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts, stems = Counts(), Stems()
    left = Left(counts)
    (out / ANNOTATIONS).mkdir(parents=True)
    (out / LIST).parent.mkdir(parents=True)
    depths: dict[str, int] = {}
    with (out / LIST).open("w", encoding="utf-8") as listing:
        for item in items:
            counts.tasks += 1
            answer = one_answer(item, "Pascal VOC")
            if answer is None:
                left.unlabeled += 1
            elif "image" not in item.payload:
                left.no_file(item, "Pascal VOC")
            else:
                stem, image = _image(item.payload, out, context, stems)
                tree = _annotation(answer.label, item.payload, image, _depth(item.payload["image"], depths), context)
                ET.ElementTree(tree).write(out / ANNOTATIONS / f"{stem}.xml", encoding="utf-8", xml_declaration=True)
                listing.write(stem + "\n")
                counts.labels += 1
                counts.objects += len(answer.label)
                counts.files += 2 if context.options.media == "copy" else 1
    left.close()
    counts.files += 1
    return counts


def _parsed(data: bytes) -> tuple[ET.Element, dict[ET.Element, int]]:
    """An annotation's tree and the line each ``object`` starts on; a ValueError for a
    document type declaration, an `ExpatError` for bad XML."""
    builder = ET.TreeBuilder()
    parser = pyexpat.ParserCreate()
    parser.buffer_text = True
    lines: dict[ET.Element, int] = {}

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = builder.start(tag, attributes)
        if tag == "object":
            lines[element] = parser.CurrentLineNumber

    def refuse(*_: object) -> None:
        raise ValueError("declares a DTD, which VOC files never do; refused")

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, builder.end, builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.Parse(data, True)
    return builder.close(), lines


def _box(element: ET.Element, classes: set[str]) -> dict[str, Any]:
    """An ``object`` as a box; a ValueError says what is missing or wrong."""
    name = (element.findtext("name") or "").strip()
    if not name:
        raise ValueError("object without a name")
    if classes and name not in classes:
        raise ValueError(f"class {name!r} is not one of the project's classes {sorted(classes)}")
    bndbox = element.find("bndbox")
    given = {child.tag: child.text for child in bndbox} if bndbox is not None else {}
    corners = {}
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        text = given.get(tag)
        if text is None:
            raise ValueError(f"object {name!r} has no bndbox/{tag}")
        corners[tag] = float(text)
    x, y = max(corners["xmin"] - 1, 0.0), max(corners["ymin"] - 1, 0.0)  # 0-based files give xmin 0
    return {"label": name, "x": round(x, 2), "y": round(y, 2), "w": round(corners["xmax"] - x, 2), "h": round(corners["ymax"] - y, 2)}


def _stems(path: Path) -> list[str]:
    """The annotations to read: those `LIST` names, in its order, else every one, sorted."""
    if (path / LIST).is_file():
        return [line.strip() for line in (path / LIST).read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(p.stem for p in (path / ANNOTATIONS).glob("*.xml"))


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    classes = set(classes_of(context.config))
    problems: list[Problem] = []

    def rows() -> Iterator[dict[str, Any]]:
        for stem in _stems(path):
            source = f"{ANNOTATIONS}/{stem}.xml"
            try:
                root, lines = _parsed((path / source).read_bytes())
            except (ValueError, pyexpat.ExpatError) as exc:
                problems.append(Problem(source, "label", f"not a VOC annotation: {exc}"))
                continue
            label = []
            for element in root.findall("object"):
                try:
                    label.append(_box(element, classes))
                except ValueError as exc:
                    problems.append(Problem(f"{source}:{lines[element]}", "label", str(exc)))
            filename = (root.findtext("filename") or "").strip()
            local = path / IMAGES / filename
            image = str(local) if filename and local.is_file() else context.resolve((root.findtext("path") or filename).strip(), path)
            yield {"image": image, "id": stem, "label": label, "source": source}

    return pieces(rows(), "image", problems)


FORMAT = Format("voc", frozenset({"bbox"}), "Pascal VOC: Annotations/<image>.xml per image", _write, _read, folder=True)
