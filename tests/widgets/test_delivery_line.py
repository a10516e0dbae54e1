"""The labeler over a real server says what became of the labels it took: the kernel side answers
the page's "status" with the outbox's state, and the page's words for it (static/delivery.js,
run in Node) say "signed out" and what was set aside. Each widget tells the set-aside labels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from crowd import Crowd, make_project
from driver import messages, send, widget_for
from test_js_units import node

import crowdnb
from crowdnb.widgets.bundle import STATIC


def shown(delivery: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """What the page's delivery line shows for `delivery` (the front end's own function, in Node)."""
    script = (
        f"import {{ deliveryText }} from {json.dumps((STATIC / 'delivery.js').as_uri())};"
        "console.log(JSON.stringify(deliveryText(JSON.parse(process.argv[1]), process.argv[2])));"
    )
    done = subprocess.run([node(), "--input-type=module", "-e", script, json.dumps(delivery), lang],
                          capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def test_the_labeler_shows_labels_set_aside_and_a_revoked_token(shared_crowd: Crowd, tmp_path: Path) -> None:
    crowd = shared_crowd
    token = crowd.store.issue_token("fay")
    make_project(crowd, "shown", members=("fay",))
    fay = crowdnb.connect(crowd.server.url, token, outbox=tmp_path / "fay.sqlite")
    try:
        project = crowdnb.Project.open("shown", store=fay)
        first, second = widget_for(project, "fay"), widget_for(project, "fay")
        send(first, {"type": "hello"})
        assert first.delivery == {
            "state": "sent", "waiting": 0, "failed": 0, "last_failure": None, "last_error": None,
            "retrying_since": None, "next_attempt_in": None,
        }
        item = messages(first, "items")[0][0]["items"][0]
        send(first, {"type": "submit", "id": "not-hers-0001", "task_id": 999_999, "label": "car"})
        assert fay.flush() == 0
        for widget in (first, second):  # each widget of the store tells it, once
            send(widget, {"type": "status"})
            assert widget.delivery["failed"] == 1 and widget.error.startswith("not stored: submit 999999: ")
            widget.error = ""
            send(widget, {"type": "status"})
            assert widget.error == ""
        assert shown(first.delivery)["text"].startswith("1 label could not be stored: submit 999999: ")

        crowd.store.issue_token("fay")  # a new token: this one is revoked
        send(first, {"type": "submit", "id": "kept-label-01", "task_id": item["task_id"], "label": "bus", "duration_ms": 900})
        assert messages(first, "ack")[-1][0]["id"] == "kept-label-01" and fay.flush() == 1
        send(first, {"type": "status"})
        assert (first.delivery["state"], first.delivery["waiting"]) == ("signed out", 1)
        line = shown(first.delivery)
        assert line["isError"] and line["text"].startswith("Signed out: the server no longer accepts this token. 1 label kept on this computer.")
        assert "401" in line["title"]
        assert shown(first.delivery, "ko")["text"].startswith("로그아웃됨: ")
        assert crowdnb.Project.open("shown", store=crowd.store).labels().empty
    finally:
        fay.close()


def test_a_local_store_has_no_delivery_line(tmp_path: Path) -> None:
    project = crowdnb.Project.create("here", "text-class", store=crowdnb.SqlStore(tmp_path / "s.sqlite"), classes=["a"])
    project.add_tasks(pd.DataFrame({"id": ["t1"], "text": ["one"]}))
    widget = widget_for(project)
    send(widget, {"type": "hello"})
    send(widget, {"type": "status"})
    assert widget.delivery == {} and shown(widget.delivery) == {"text": "", "isError": False, "title": ""}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_page_reads_every_state_the_kernel_sends(lang: str) -> None:
    from datetime import UTC, datetime, timedelta

    from crowdnb.client import OutboxState
    from crowdnb.widgets.labeler import describe_delivery

    now = datetime(2026, 3, 1, 3, 4, 5, tzinfo=UTC)
    busy = OutboxState("retrying", 2, ("submit 1: 422: no",), "answered 503", now - timedelta(seconds=30), now + timedelta(seconds=4.04))
    described = describe_delivery(busy, now)
    assert described["next_attempt_in"] == 4.0 and described["retrying_since"] == "2026-03-01T03:03:35+00:00"
    text = shown(described, lang)["text"]
    assert ("next try in 4 s" if lang == "en" else "4초 후 다시 시도") in text and "submit 1: 422: no" in text
