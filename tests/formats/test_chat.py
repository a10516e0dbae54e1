"""Chat JSON lines: question/answer dialogs and free text out, loaded by `datasets`, and back in."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import label, text_project

import crowdnb
from crowdnb import formats
from crowdnb.errors import ValidationError

CONTEXTS = ["Our store opens at 9 and closes at 18. 서울점은 월요일 휴무.", "返品は30日以内 📦"]
DIALOGS = {
    "t0": {"turns": [{"question": "When do you open?", "answer": "At 9."}, {"question": "서울점은 언제 쉬나요?", "answer": "월요일입니다."}]},
    "t1": {"turns": [{"question": "返品できますか？", "answer": "30日以内なら 📦 OK"}]},
}


def messages(context: str, dialog: dict) -> list[dict]:
    turns = [m for t in dialog["turns"] for m in ({"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]})]
    return [{"role": "system", "content": context}, *turns]


def load(path: Path, cache: Path) -> list[dict]:
    """The rows `datasets` loads from a JSON lines file, offline, with its cache in `cache`."""
    os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets

    return list(datasets.load_dataset("json", data_files=str(path), cache_dir=str(cache), split="train"))


def test_qa_dialogs_load_with_datasets(store, tmp_path: Path) -> None:
    project = text_project(store, [*CONTEXTS, "never labeled"], "qa", overlap=2)
    label(project, "ana", DIALOGS)
    label(project, "ben", {"t1": DIALOGS["t1"]})
    done = project.export(tmp_path / "chat.jsonl", "chat-jsonl")
    assert (done.counts.tasks, done.counts.labels) == (3, 3)
    rows = load(done.path, tmp_path / "cache")
    assert [(r["id"], r["worker"]) for r in rows] == [("t0", "ana"), ("t1", "ana"), ("t1", "ben")]
    assert [r["messages"] for r in rows] == [messages(CONTEXTS[int(r["id"][1:])], DIALOGS[r["id"]]) for r in rows]
    assert all(r["status"] and "confidence" not in r for r in rows)


def test_qa_reads_back_and_imports_as_predictions(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, CONTEXTS, "qa")
    label(project, "ana", DIALOGS)
    done = project.export(tmp_path / "agg.jsonl", "chat-jsonl", aggregated=True)
    rows = [r for piece in formats.read(done.path, "chat-jsonl", kind="qa") for r in piece.to_dict("records")]
    assert [(r["text"], r["id"], r["label"]) for r in rows] == [(CONTEXTS[0], "t0", DIALOGS["t0"]), (CONTEXTS[1], "t1", DIALOGS["t1"])]
    assert all(0 <= r["confidence"] <= 1 and "worker" not in r for r in load(done.path, tmp_path / "cache"))
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "qa", store=sqlite_store)
    assert copy.import_tasks(done.path, "chat-jsonl", as_="prediction").added == 2
    tasks = copy.tasks()
    assert tasks["payload"].tolist() == [{"text": CONTEXTS[0], "prediction": DIALOGS["t0"]}, {"text": CONTEXTS[1], "prediction": DIALOGS["t1"]}]


def test_free_text_is_prompt_task_and_answer(sqlite_store, tmp_path: Path) -> None:
    texts = ["A long review of a café ☕ in 東京.", "짧은 글"]
    project = text_project(sqlite_store, texts, "free-text", prompt="Summarize in one line.")
    label(project, "ana", {"t0": "Good café.", "t1": "짧다."})
    done = project.export(tmp_path / "sum.jsonl", "chat-jsonl")
    rows = load(done.path, tmp_path / "cache")
    assert rows[0]["messages"] == [
        {"role": "system", "content": "Summarize in one line."}, {"role": "user", "content": texts[0]}, {"role": "assistant", "content": "Good café."},
    ]
    read = [r for piece in formats.read(done.path, "chat-jsonl", kind="free-text") for r in piece.to_dict("records")]
    assert [(r["text"], r["label"]) for r in read] == [(texts[0], "Good café."), (texts[1], "짧다.")]
    bare = text_project(sqlite_store, texts, "free-text")
    label(bare, "ana", {"t0": "Good café."})
    line = json.loads(bare.export(tmp_path / "bare.jsonl", "chat-jsonl").path.read_text(encoding="utf-8"))
    assert [m["role"] for m in line["messages"]] == ["user", "assistant"]


def test_chat_reader_takes_unanswered_dialogs_and_names_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "tasks.jsonl"
    good.write_text(json.dumps({"messages": [{"role": "system", "content": "context"}]}) + "\n", encoding="utf-8")
    (row,) = [r for piece in formats.read(good, "chat-jsonl", kind="qa") for r in piece.to_dict("records")]
    assert (row["text"], row["id"], row["label"]) == ("context", None, None)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        json.dumps({"messages": [{"role": "system", "content": "c"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        "{oops",
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        json.dumps({"messages": [{"role": "system", "content": "c"}, {"role": "user", "content": "q"}]}),
        json.dumps({"messages": "hello"}),
    ]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        list(formats.read(bad, "chat-jsonl", kind="qa"))
    assert [(p.row, p.field) for p in caught.value.problems] == [("bad.jsonl:2", ""), ("bad.jsonl:3", "messages"), ("bad.jsonl:4", "messages"), ("bad.jsonl:5", "messages")]
