"""ipyannotations widgets (and anything with their protocol) as a project's widget."""

from __future__ import annotations

from pathlib import Path

import ipywidgets
import pandas as pd
import pytest
from ipyannotations.images import ClassLabeller
from ipyannotations.text import ClassLabeller as TextClassLabeller
from PIL import Image
from samples import write_images

import crowdnb
from crowdnb.widgets import PluginLabeler


@pytest.fixture
def photos(store: crowdnb.Store, tmp_path: Path) -> crowdnb.Project:
    project = crowdnb.Project.create("p", kind="image-class", classes=["cat", "dog"], store=store)
    project.add_tasks(pd.DataFrame({"image": [str(p) for p in write_images(tmp_path, 4)], "id": list("abcd")}))
    return project


def test_ipyannotations_class_labeller_labels_a_project(photos: crowdnb.Project) -> None:
    labeller = ClassLabeller(options=["cat", "dog"])
    shown: list[object] = []
    labeller.display_function = shown.append
    runner = photos.annotate(widget=labeller, worker="ana")
    assert isinstance(runner, PluginLabeler)
    assert not any(type(c).__name__ == "Event" for c in labeller.children)  # viewless child removed
    assert all(isinstance(c, ipywidgets.DOMWidget) for c in labeller.children)
    assert isinstance(shown[0], Image.Image) and shown[0].size == (64, 48)
    press = lambda key: labeller._handle_keystroke({"type": "keyup", "key": key})  # what ipyevents sends
    press("2")  # a: dog
    labeller.skip_button.click()  # b: ipyannotations' skip submits None
    press("1")  # c: cat
    press("Backspace")  # undo: back to c...
    press("Backspace")  # ...and to the skipped b
    press("1")
    labels = photos.labels()
    assert dict(zip(labels["task"], labels["label"], strict=True)) == {"a": "dog", "b": "cat", "c": "cat"}
    assert runner.count.value == "3 / 4" and runner.current.external_id == "c"


def test_invalid_labels_from_a_plugin_are_reported_not_stored(photos: crowdnb.Project) -> None:
    labeller = ClassLabeller(options=["cat", "dog", "cow"])
    labeller.display_function = lambda item: None
    runner = photos.annotate(widget=labeller)
    labeller._handle_keystroke({"type": "keyup", "key": "3"})
    assert "unknown class 'cow'" in runner.message.value
    assert photos.labels().empty and runner.current.external_id == "a"


def test_text_labeller_gets_the_task_text_and_a_converter(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("t", kind="text-multilabel", classes=["a", "b"], store=store)
    project.add_tasks(pd.DataFrame({"text": ["<b>first</b>", "second"]}))
    labeller = TextClassLabeller(options=["a", "b"])
    shown: list[object] = []
    labeller.display_function = shown.append
    project.annotate(widget=labeller, to_label=lambda data: [data])
    assert shown == ["<b>first</b>"]
    labeller._handle_keystroke({"type": "keyup", "key": "2"})
    assert project.labels()["label"].tolist() == [["b"]]
