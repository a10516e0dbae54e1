"""Pascal VOC: boxes, one XML annotation per image.

The folder holds ``Annotations/<stem>.xml`` per labeled task (``folder``, ``filename``,
``path``, ``source``, ``size`` width/height/depth, ``segmented``, and per box an ``object``
with ``name``, ``pose`` Unspecified, ``truncated`` 0, ``difficult`` 0 and ``bndbox``),
``ImageSets/Main/default.txt`` listing the stems, and with ``media="copy"`` each task's image
as ``JPEGImages/<stem>.<ext>``. Stems are the images' own unless an earlier task had the same
one (`Stems`: tasks may share an image). A task without labels has no file and is not listed;
one labeled empty has no ``object``. ``crowdnb_tasks.jsonl`` (`Tasks`) gives each annotation's
task id, ``{"file": "Annotations/img000.xml", "id": "img0"}`` a line (VOC readers such as
supervision's read only the annotations and images). Read back, a task's id is the index's,
else (a folder made elsewhere) its annotation's stem, its image
``JPEGImages/<filename>`` when there, else ``path`` (relative: under `media_root`, else the
folder's); the annotations are those the list names, else every one.

Coordinates follow the VOC devkit: 1-based pixel indices, inclusive at both ends. crowdnb's
pixel coordinates are continuous from the image's top-left corner, so a box ``x, y, w, h``
covers pixels ``x`` to ``x + w`` (0-based, end excluded), that is ``xmin = x + 1``,
``xmax = x + w``, and back ``x = xmin - 1``, ``w = xmax - xmin + 1`` (as supervision reads and
writes them). Values are written to 1/100 pixel, as labels are kept, whole ones as integers
(the devkit's), so a round trip gives the same boxes, with one exception: a box less than a
pixel wide (or high) would have ``xmax < xmin`` (an empty or inverted box to VOC readers), so it is
written one pixel wide, ``xmax = max(xmin, x + w)`` (``x`` kept), and reads back with
``w = 1``; the export's ``counts.skipped`` says how many boxes were widened so.

Reading applies the same 1-based rule to every file; it cannot tell a 0-based file (as some
tools write, with ``xmin`` 0 at the left edge) from a 1-based one. Such a file's boxes read one
pixel up and left of where it meant them, and a box with ``xmin`` (or ``ymin``) below 1 would
start left of the image: it is clipped at the edge, ``x = 0`` and ``w = xmax`` (its right edge
kept, one pixel narrower than the rule gives), with a warning counting such boxes. Files
crowdnb writes always have ``xmin >= 1``, so their round trips are exact.

A stem listed in ``ImageSets/Main/default.txt`` and an annotation's ``filename`` must be plain
file names (`plain_name`): ``../x`` or ``/etc/passwd`` would reach outside the folder, and each
is named as a problem.

Written from a template, one file as each image comes (supervision's writer wants every
image's detections in memory at once): the document ElementTree wrote (``ET.indent``ed, its
declaration), byte for byte, text escaped with `xml.sax.saxutils.escape` (``&``, ``<``, ``>``,
as ElementTree does; there are no attributes), in a fraction of the time ElementTree's
pure-Python serialization took. Read with expat building
an ElementTree (`ET.TreeBuilder`, as `ET.parse` does, plus each ``object``'s line for errors);
defusedxml is not a crowdnb dependency and its guards are not needed: expat here does not fetch
external entities or DTDs, a document type declaration is refused as it starts (VOC files never
have one, and entities need one), expat 2.4.1 and newer (2.5.0 with this Python, see
`pyexpat.EXPAT_VERSION`) caps entity amplification anyway, and a file is parsed in one call, so
expat's slowness before 2.6.0 on a huge token fed in many pieces does not arise.
"""

from __future__ import annotations

import pyexpat
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd
from PIL import Image

from crowdnb.errors import Problem
from crowdnb.formats.base import Context, Counts, Format, Item, classes_of, pieces
from crowdnb.formats.imagefiles import Left, Stems, Tasks, copied, one_answer, plain_name, task_ids

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


def _text(tag: str, text: object, indent: str) -> str:
    """An element holding only text, on its line: escaped (``&``, ``<``, ``>``, as ElementTree
    does), and empty as ElementTree writes it (``<tag />``)."""
    value = escape(str(text))
    return f"{indent}<{tag}>{value}</{tag}>\n" if value else f"{indent}<{tag} />\n"


def _corners(box: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    """A box's VOC corners, 1-based and inclusive; one less than a pixel wide (or high) is
    written one pixel so (``xmax = xmin``: never ``xmax < xmin``)."""
    xmin, ymin = box["x"] + 1, box["y"] + 1
    return (("xmin", xmin), ("ymin", ymin), ("xmax", max(xmin, box["x"] + box["w"])), ("ymax", max(ymin, box["y"] + box["h"])))


def _thin(box: dict[str, Any]) -> bool:
    """Whether a box is less than a pixel wide or high (written one pixel so)."""
    return box["w"] < 1 or box["h"] < 1


# ElementTree's declaration and indentation (two spaces, `ET.indent`), no newline at the end.
HEAD = "<?xml version='1.0' encoding='utf-8'?>\n<annotation>\n"
OBJECT = "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"


def _annotation(label: list[dict[str, Any]], payload: dict[str, Any], image: tuple[str, str, str], depth: int, context: Context) -> str:
    """An image's annotation document, as ElementTree wrote it (`ET.indent`ed) but from a
    template: serializing an element tree in pure Python took most of an export's time."""
    folder, filename, path = image
    parts = [HEAD, _text("folder", folder, "  "), _text("filename", filename, "  "), _text("path", path, "  ")]
    parts += ["  <source>\n", _text("database", context.project, "    "), "  </source>\n  <size>\n"]
    parts += [_text("width", payload["width"], "    "), _text("height", payload["height"], "    "), _text("depth", depth, "    ")]
    parts.append("  </size>\n  <segmented>0</segmented>\n")
    for box in label:
        parts += ["  <object>\n", _text("name", box["label"], "    "), OBJECT]
        parts += [f"      <{tag}>{_px(value)}</{tag}>\n" for tag, value in _corners(box)]
        parts.append("    </bndbox>\n  </object>\n")
    parts.append("</annotation>")
    return "".join(parts)


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
    thin = 0
    with (out / LIST).open("w", encoding="utf-8") as listing, Tasks(out, counts) as index:
        for item in items:
            counts.tasks += 1
            answer = one_answer(item, "Pascal VOC")
            if answer is None:
                left.unlabeled += 1
            elif "image" not in item.payload:
                left.no_file(item, "Pascal VOC")
            else:
                stem, image = _image(item.payload, out, context, stems)
                document = _annotation(answer.label, item.payload, image, _depth(item.payload["image"], depths), context)
                (out / ANNOTATIONS / f"{stem}.xml").write_bytes(document.encode("utf-8"))
                listing.write(stem + "\n")
                index.add(f"{ANNOTATIONS}/{stem}.xml", item.id)
                counts.labels += 1
                counts.objects += len(answer.label)
                thin += sum(_thin(box) for box in answer.label)
                counts.files += 2 if context.options.media == "copy" else 1
    left.close()
    if thin:
        counts.skipped.append(f"{thin} box(es) less than a pixel wide or high: written one pixel so (VOC's xmax >= xmin); they read back 1 pixel wide")
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
    # The 1-based rule x = xmin - 1; a box with xmin below 1 (a 0-based file) is clipped at the
    # image's edge, its right edge kept (see the module's docstring).
    x, y = max(corners["xmin"] - 1, 0.0), max(corners["ymin"] - 1, 0.0)
    return {"label": name, "x": round(x, 2), "y": round(y, 2), "w": round(corners["xmax"] - x, 2), "h": round(corners["ymax"] - y, 2)}


def _stems(path: Path, problems: list[Problem]) -> list[str]:
    """The annotations to read: those `LIST` names, in its order, else every one, sorted. A
    listed stem that is not a plain file name (``../../x``) is a problem, and not read."""
    if not (path / LIST).is_file():
        return sorted(p.stem for p in (path / ANNOTATIONS).glob("*.xml"))
    stems = []
    for n, line in enumerate((path / LIST).read_text(encoding="utf-8").splitlines(), 1):
        stem = line.strip()
        if not stem:
            continue
        if plain_name(stem):
            stems.append(stem)
        else:
            problems.append(Problem(f"{LIST}:{n}", "id", f"the stem {stem!r} is not a file name in {ANNOTATIONS} (it would be read from outside the folder); refused"))
    return stems


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    classes = set(classes_of(context.config))
    problems: list[Problem] = []
    ids = task_ids(path, problems)
    clipped: list[str] = []

    def rows() -> Iterator[dict[str, Any]]:
        for stem in _stems(path, problems):
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
                    continue
                if any(float(element.findtext(f"bndbox/{tag}") or 1) < 1 for tag in ("xmin", "ymin")):
                    clipped.append(f"{source}:{lines[element]}")
            filename = (root.findtext("filename") or "").strip()
            if filename and not plain_name(filename):
                problems.append(Problem(source, "image", f"the filename {filename!r} is not a file name in {IMAGES} (it would be read from outside the folder); refused"))
                continue
            local = path / IMAGES / filename
            image = str(local) if filename and local.is_file() else context.resolve((root.findtext("path") or filename).strip(), path)
            yield {"image": image, "id": ids.get(source) or stem, "label": label, "source": source}
        if clipped:
            warnings.warn(
                f"{len(clipped)} box(es) with xmin or ymin below 1 (a 0-based VOC file?) clipped at the image's edge, "
                f"read 1 pixel narrower than VOC's 1-based rule gives: {clipped[:5]}",
                stacklevel=2,
            )

    return pieces(rows(), "image", problems)


FORMAT = Format("voc", frozenset({"bbox"}), "Pascal VOC: Annotations/<image>.xml per image", _write, _read, folder=True)
