"""Every kind end to end at the Python level: tasks in, the widget's messages, labels stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from samples import write_images
from driver import messages, send, widget_for

import crowdnb

TEXT = "서울역 앞 🍜 ラーメン屋"
FACE = crowdnb.kinds.get("keypoints").make_config(preset="face")["points"]

# kind, options, media, a valid label, an invalid label (and the error it must give)
CASES: list[tuple[str, dict[str, Any], str, Any, Any, str]] = [
    ("image-class", {"classes": ["cat", "dog"]}, "image", "dog", "cow", "unknown class"),
    ("image-multilabel", {"classes": ["day", "rain"]}, "image", ["day", "rain"], [], "at least one"),
    ("bbox", {"classes": ["car", "person"]}, "image", [{"label": "car", "x": 1, "y": 2, "w": 20, "h": 10}],
     [{"label": "car", "x": 60, "y": 2, "w": 20, "h": 10}], "outside the 64x48 image"),
    ("polygon", {"classes": ["road"]}, "image", [{"label": "road", "points": [[0, 0], [60, 0], [30, 40]]}],
     [{"label": "road", "points": [[0, 0], [6, 0]]}], "at least 3 points"),
    ("keypoints", {"preset": "face"}, "image", [{"name": n, "x": 5.0 + i, "y": 7.0, "visible": True} for i, n in enumerate(FACE)],
     [{"name": n, "x": 5.0, "y": 7.0, "visible": True} for n in FACE[:3]], "one entry per point"),
    ("ocr", {}, "image", [{"box": {"x": 1, "y": 1, "w": 30, "h": 9}, "text": "東京駅"}],
     [{"box": {"x": 1, "y": 1, "w": 30, "h": 9}, "text": ""}], "must not be empty"),
    ("caption", {}, "image", "Noise in many colours", "", "must not be empty"),
    ("text-class", {"classes": ["pos", "neg"]}, "text", "pos", "neutral", "unknown class"),
    ("text-multilabel", {"classes": ["a", "b"]}, "text", ["b"], ["c"], "unknown class"),
    ("spans", {"classes": ["PLACE"]}, "text", [{"start": 0, "end": 3, "label": "PLACE"}],
     [{"start": 0, "end": 30, "label": "PLACE"}], "not inside"),
    ("qa", {}, "text", {"turns": [{"question": "Where?", "answer": "Here."}, {"question": "When?", "answer": "Now."}]},
     {"turns": [{"question": "Where?", "answer": " "}]}, "must not be empty"),
    ("free-text", {}, "text", "A summary.", 3, "expected text"),
]

STORED = {
    "bbox": [{"label": "car", "x": 1.0, "y": 2.0, "w": 20.0, "h": 10.0}],
    "polygon": [{"label": "road", "points": [[0.0, 0.0], [60.0, 0.0], [30.0, 40.0]]}],
    "ocr": [{"text": "東京駅", "box": {"x": 1.0, "y": 1.0, "w": 30.0, "h": 9.0}}],
    "spans": [{"start": 0, "end": 3, "label": "PLACE", "text": "서울역"}],
}


def _project(store: crowdnb.Store, tmp_path: Path, kind: str, options: dict, media: str, **columns: Any) -> crowdnb.Project:
    project = crowdnb.Project.create(kind, kind=kind, store=store, **options)
    if media == "image":
        frame = pd.DataFrame({"image": [str(p) for p in write_images(tmp_path / "img", 2)], "id": ["a", "b"]})
    else:
        frame = pd.DataFrame({"text": [TEXT, "second"], "id": ["a", "b"]})
    for name, values in columns.items():
        frame[name] = values
    project.add_tasks(frame)
    return project


@pytest.mark.parametrize(("kind", "options", "media", "good", "bad", "error"), CASES, ids=[c[0] for c in CASES])
def test_every_kind_stores_valid_labels_and_rejects_bad_ones(
    store: crowdnb.Store, tmp_path: Path, kind: str, options: dict, media: str, good: Any, bad: Any, error: str
) -> None:
    project = _project(store, tmp_path, kind, options, media)
    widget = widget_for(project)
    assert widget.view == crowdnb.kinds.get(kind).view and widget.config == project.config
    send(widget, {"type": "hello"})
    items = messages(widget, "items")[0][0]["items"]
    assert items[0]["text"] == (TEXT if media == "text" else None)
    assert (items[0]["width"], items[0]["height"]) == ((64, 48) if media == "image" else (None, None))
    send(widget, {"type": "submit", "id": "bad", "task_id": items[0]["task_id"], "label": bad})
    (rejected, _), = messages(widget, "rejected")
    assert error in rejected["message"]
    send(widget, {"type": "submit", "id": "good", "task_id": items[0]["task_id"], "label": good})
    labels = project.labels()
    assert labels["annotation_id"].tolist() == ["good"]
    expected = STORED.get(kind, good)
    assert labels.loc[0, "label"] == (expected.strip() if isinstance(expected, str) else expected)


def test_predictions_are_shown_and_acceptance_is_recorded(store: crowdnb.Store, tmp_path: Path) -> None:
    boxes = [[{"label": "car", "x": 1, "y": 1, "w": 10, "h": 10}], None]
    project = _project(store, tmp_path, "bbox", {"classes": ["car"]}, "image", prediction=boxes)
    widget = widget_for(project)
    send(widget, {"type": "hello"})
    first, second = messages(widget, "items")[0][0]["items"][:2]
    assert first["prediction"] == [{"label": "car", "x": 1.0, "y": 1.0, "w": 10.0, "h": 10.0}]
    assert second["prediction"] is None
    send(widget, {"type": "submit", "id": "kept", "task_id": first["task_id"], "label": first["prediction"]})
    send(widget, {"type": "submit", "id": "own", "task_id": second["task_id"], "label": []})
    assert project.labels()["prediction_accepted"].tolist() == [True, None]
    edited = [{"label": "car", "x": 2, "y": 1, "w": 10, "h": 10}]
    send(widget, {"type": "submit", "id": "edit", "task_id": first["task_id"], "label": edited})
    assert project.labels().set_index("task").loc["a", "prediction_accepted"] is False


def test_bad_predictions_are_refused_at_intake_naming_the_row(store: crowdnb.Store, tmp_path: Path) -> None:
    with pytest.raises(crowdnb.ValidationError, match=r"row 1, field 'prediction'.*outside"):
        _project(store, tmp_path, "bbox", {"classes": ["car"]}, "image",
                 prediction=[None, [{"label": "car", "x": 100, "y": 1, "w": 10, "h": 10}]])
