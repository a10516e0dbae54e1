"""Dialogs as chat fine-tuning data: JSON lines of ``{"messages": [{"role", "content"}, ...]}``,
the form OpenAI's fine-tuning, TRL's SFT trainer and ``datasets`` chat templates read.

One label per line. ``qa``: a ``system`` message with the task text (the instruction or
context), then per turn a ``user`` message (the question) and an ``assistant`` message (its
answer). ``free-text``: a ``system`` message with the project's prompt (when it has one), a
``user`` message with the task text and an ``assistant`` message with the written text. Beside
``messages``: ``id`` (the task), ``meta`` and ``worker``, ``status``, ``annotation_id`` (raw)
or ``confidence`` (aggregated); ``datasets.load_dataset("json", ...)`` loads them as columns.

Reading takes the text back from the ``system`` message (qa) or the ``user`` message
(free-text) and the label from the rest; a line without answers is a task without a label.

Written by hand: a line is one JSON object, so no library is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from crowdnb.errors import Problem, require
from crowdnb.formats.base import (
    Context,
    Counts,
    Format,
    Item,
    answer_fields,
    json_lines,
    pieces,
)
from crowdnb.intake import to_json

Message = dict[str, str]


def _message(role: str, content: str) -> Message:
    return {"role": role, "content": content}


def messages(text: str, label: Any, context: Context) -> list[Message]:
    """A label of the task `text` as chat messages."""
    if context.kind.name == "qa":
        turns = [m for turn in label["turns"] for m in (_message("user", turn["question"]), _message("assistant", turn["answer"]))]
        return [_message("system", text), *turns]
    prompt = context.config.get("prompt") or ""
    return [*([_message("system", prompt)] if prompt else []), _message("user", text), _message("assistant", label)]


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for item in items:
            counts.tasks += 1
            lines = []
            for answer in item.answers:
                dialog = messages(item.payload["text"], answer.label, context)
                lines.append(to_json({"messages": dialog, "id": item.id, "meta": item.meta, **answer_fields(answer, context.options)}) + "\n")
                counts.labels += 1
            handle.write("".join(lines))
    return counts


def _qa(found: list[Message]) -> tuple[str, Any]:
    """The task text and turns (None: none) of a qa dialog; ValueError says what is wrong."""
    roles = [m["role"] for m in found]
    if roles[:1] != ["system"]:
        raise ValueError("a qa dialog begins with a system message holding the task text")
    if roles[1:] != ["user", "assistant"] * (len(roles[1:]) // 2):
        raise ValueError(f"after the system message come user and assistant messages in turn, got roles {roles[1:]}")
    turns = [{"question": q["content"], "answer": a["content"]} for q, a in zip(found[1::2], found[2::2], strict=True)]
    return found[0]["content"], {"turns": turns} if turns else None


def _free_text(found: list[Message]) -> tuple[str, Any]:
    """The task text and written answer (None: none) of a free-text dialog."""
    roles = [m["role"] for m in found]
    asked = found[1:] if roles[:1] == ["system"] else found
    if [m["role"] for m in asked] not in (["user"], ["user", "assistant"]):
        raise ValueError(f"a free-text dialog is an optional system message, the user's text and the assistant's answer; got roles {roles}")
    return asked[0]["content"], asked[1]["content"] if len(asked) == 2 else None


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("role"), str) and isinstance(value.get("content"), str)


def _row(record: Any, kind: str, source: str) -> dict[str, Any]:
    """A task row from a JSON line; ValueError says what is wrong."""
    found = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(found, list) or not all(_is_message(m) for m in found):
        raise ValueError('a line is an object whose "messages" lists {"role", "content"} objects of text')
    text, label = _qa(found) if kind == "qa" else _free_text(found)
    task_id = record.get("id")
    return {"text": text, "id": None if task_id in ("", None) else task_id, "label": label, "source": source}


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    problems: list[Problem] = []

    def rows() -> Iterator[dict[str, Any]]:
        for source, record in json_lines(path, problems):
            try:
                yield _row(record, context.kind.name, source)
            except ValueError as exc:
                problems.append(Problem(source, "messages", str(exc)))

    return pieces(rows(), "text", problems)


def _validate(path: Path, context: Context, counts: Counts) -> None:
    """The file as `datasets.load_dataset("json")` loads it (as fine-tuning tools do): one
    dialog per label written, each a list of messages."""
    import shutil
    import tempfile

    datasets = require("datasets", feature="validating chat JSON lines", extra="hf")
    cache = tempfile.mkdtemp(prefix=".hf-cache.", dir=path.parent)
    try:
        loaded = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=cache)  # type: ignore[attr-defined]
        found, columns = loaded.num_rows, loaded.column_names
        del loaded  # its Arrow files in the cache are memory-mapped
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if found != counts.labels or (found and "messages" not in columns):
        raise ValueError(f"datasets read {found} dialogs with columns {columns} from {path.name}, but {counts.labels} were written")


FORMAT = Format(
    "chat-jsonl", frozenset({"qa", "free-text"}), "chat JSON lines: system/user/assistant messages per dialog", _write, _read,
    validate=_validate,
)
