"""The labeler's kernel side, driven with the exact messages its front end sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from samples import write_images

import crowdnb
from driver import messages, send, widget_for


@pytest.fixture
def image_project(store: crowdnb.Store, tmp_path: Path) -> crowdnb.Project:
    project = crowdnb.Project.create("animals", kind="image-class", classes=["cat", "dog", "other"], store=store)
    paths = write_images(tmp_path / "img", 5)
    project.add_tasks(pd.DataFrame({"image": [str(p) for p in paths], "id": [f"i{i}" for i in range(5)]}))
    return project


def test_hello_sends_prefetched_items_with_binary_images(image_project: crowdnb.Project, tmp_path: Path) -> None:
    widget = widget_for(image_project, prefetch=2)
    assert (widget.done, widget.total, widget.view) == (0, 5, "classify")
    assert widget.config == {"classes": ["cat", "dog", "other"]}
    send(widget, {"type": "hello"})
    (content, buffers), = messages(widget, "items")
    assert [i["external_id"] for i in content["items"]] == ["i0", "i1", "i2"]
    assert all(i["has_image"] and i["image_mime"] == "image/jpeg" for i in content["items"])
    assert buffers[0] == (tmp_path / "img" / "img000.jpeg").read_bytes()


def test_submit_is_stored_then_acknowledged(image_project: crowdnb.Project) -> None:
    widget = widget_for(image_project)
    send(widget, {"type": "hello"})
    first = messages(widget, "items")[0][0]["items"][0]
    send(widget, {"type": "submit", "id": "ann-1", "task_id": first["task_id"], "label": "dog", "duration_ms": 812})
    send(widget, {"type": "submit", "id": "ann-1", "task_id": first["task_id"], "label": "dog", "duration_ms": 812})
    assert [m[0]["id"] for m in messages(widget, "ack")] == ["ann-1", "ann-1"]
    labels = image_project.labels()
    assert labels[["task", "worker", "label", "duration_ms"]].values.tolist() == [["i0", "ana", "dog", 812]]
    assert (widget.done, widget.total) == (1, 5)


def test_invalid_label_is_rejected_with_a_message_and_not_stored(image_project: crowdnb.Project) -> None:
    widget = widget_for(image_project)
    send(widget, {"type": "hello"})
    task_id = messages(widget, "items")[0][0]["items"][0]["task_id"]
    send(widget, {"type": "submit", "id": "bad", "task_id": task_id, "label": "<b>bird</b>"})
    (rejected, _), = messages(widget, "rejected")
    assert rejected["id"] == "bad" and "unknown class" in rejected["message"]
    assert "unknown class" in widget.error
    assert image_project.labels().empty


def test_fetch_never_repeats_held_items_and_skip_moves_on(image_project: crowdnb.Project) -> None:
    widget = widget_for(image_project, prefetch=1)
    send(widget, {"type": "hello"})
    send(widget, {"type": "fetch", "n": 2})
    ids = [i["external_id"] for m in messages(widget, "items") for i in m[0]["items"]]
    assert ids == ["i0", "i1", "i2", "i3"]
    send(widget, {"type": "skip", "task_id": messages(widget, "items")[0][0]["items"][0]["task_id"]})
    send(widget, {"type": "fetch", "n": 5})
    last = messages(widget, "items")[-1][0]
    assert [i["external_id"] for i in last["items"]] == ["i4"] and last["more"]
    send(widget, {"type": "fetch", "n": 5})
    assert messages(widget, "items")[-1][0] == {"type": "items", "items": [], "more": False}


def test_a_new_page_resumes_at_the_first_unlabeled_task(image_project: crowdnb.Project) -> None:
    widget = widget_for(image_project, prefetch=1)
    send(widget, {"type": "hello"})
    items = messages(widget, "items")[0][0]["items"]
    send(widget, {"type": "submit", "id": "a", "task_id": items[0]["task_id"], "label": "cat"})
    widget.close()
    # "kernel restart": a fresh project handle and widget for the same worker
    reopened = crowdnb.Project.open("animals", store=image_project.store.url)
    again = widget_for(reopened, prefetch=1)
    send(again, {"type": "hello"})
    assert [i["external_id"] for i in messages(again, "items")[0][0]["items"]] == ["i1", "i2"]
    assert (again.done, again.total) == (1, 5)


def test_text_items_carry_the_text_verbatim(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("t", kind="text-class", classes=["ok"], store=store)
    payload = '<img src=x onerror="window.__pwned=1">'
    project.add_tasks(pd.DataFrame({"text": [payload]}))
    widget = widget_for(project)
    send(widget, {"type": "hello"})
    (content, buffers), = messages(widget, "items")
    assert content["items"][0]["text"] == payload and buffers == []


def test_on_submit_callbacks_run_after_storage(image_project: crowdnb.Project) -> None:
    widget = widget_for(image_project)
    seen: list[dict[str, Any]] = []
    widget.on_submit(seen.append)
    send(widget, {"type": "hello"})
    item = messages(widget, "items")[0][0]["items"][0]
    send(widget, {"type": "submit", "id": "x", "task_id": item["task_id"], "external_id": "i0", "label": "cat"})
    assert seen == [{"task": "i0", "label": "cat"}]
    assert len(image_project.labels()) == 1


def test_front_end_module_ships_with_the_package() -> None:
    from crowdnb import kinds
    from crowdnb.widgets.labeler import Labeler

    source = Labeler._esm
    assert source.count("export default") == 1 and "innerHTML" not in source
    for kind in kinds.names():
        assert f"// ---- views/{kinds.get(kind).view}.js" in source


def test_a_label_the_store_refuses_for_another_reason_is_rejected_not_resent(tmp_path: Path) -> None:
    store = crowdnb.SqlStore(tmp_path / "s.sqlite")
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a"])
    project.add_tasks(pd.DataFrame({"id": ["t1"], "text": ["one"]}))
    widget = project.annotate(worker="ana")
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    widget._on_message(widget, {"type": "submit", "id": "for-no-task-1", "task_id": 999, "label": "a"}, [])
    assert sent[-1]["type"] == "rejected" and "999" in sent[-1]["message"]
    assert project.labels().empty
