"""Text kinds: entity spans, chatbot question/answer dialogs, free text and image captions."""

from __future__ import annotations

from typing import Any, ClassVar

from crowdnb.aggregation.methods import Estimator
from crowdnb.aggregation.text import BestCandidate, SpanAggregator
from crowdnb.errors import LabelError
from crowdnb.kinds.base import Kind
from crowdnb.kinds.checks import (
    class_list,
    count,
    flag,
    items,
    known_class,
    no_options,
    record,
    text,
)
from crowdnb.media import IMAGE, TEXT, Media


class Spans(Kind):
    """Labeled character ranges of the task text (NER).

    Offsets are indices into the Python string (Unicode code points, so an emoji counts as one),
    end exclusive: ``[{"start", "end", "label", "text"}, ...]``, sorted by position. Overlapping
    spans are refused unless the project allows them.
    """

    aggregator: ClassVar[Estimator] = SpanAggregator

    name: ClassVar[str] = "spans"
    media: ClassVar[Media] = TEXT
    view: ClassVar[str] = "spans"

    def make_config(self, *, classes: Any = None, allow_overlap: bool = False, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        return {"classes": class_list(self.name, classes), "allow_overlap": flag(allow_overlap, f"{self.name}: allow_overlap")}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        source = payload.get("text", "")
        spans = []
        for i, value in enumerate(items(label, "label")):
            where = f"spans[{i}]"
            optional = {"text"} if isinstance(value, dict) and "text" in value else set()
            value = record(value, where, {"start", "end", "label", *optional})
            start, end = value["start"], value["end"]
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(source)):
                raise LabelError(f"{where}: range [{start!r}, {end!r}) is not inside the {len(source)}-character text")
            if "text" in value and value["text"] != source[start:end]:
                raise LabelError(f"{where}.text: {value['text']!r} is not the text at [{start}, {end}): {source[start:end]!r}")
            spans.append({"start": start, "end": end, "label": known_class(value["label"], config, f"{where}.label"), "text": source[start:end]})
        spans.sort(key=lambda s: (s["start"], s["end"]))
        if not config["allow_overlap"]:
            for a, b in zip(spans, spans[1:]):
                if b["start"] < a["end"]:
                    raise LabelError(f"spans {a['text']!r} and {b['text']!r} overlap; this project does not allow it")
        return spans

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        """The same spans: ranges and classes."""
        return _span_set(label) == _span_set(known)


def _span_set(spans: list[dict[str, Any]]) -> set[tuple[int, int, str]]:
    return {(s["start"], s["end"], s["label"]) for s in spans}


class QA(Kind):
    """Chatbot dialog writing: from the task's instruction/context, the worker writes one or more
    turns of a question and its expected answer: ``{"turns": [{"question", "answer"}, ...]}``.
    Written dialogs have no one right form, so QA tasks take no known answer."""

    aggregator: ClassVar[Estimator] = BestCandidate
    label_uses_payload: ClassVar[bool] = False
    checkable: ClassVar[bool] = False

    name: ClassVar[str] = "qa"
    media: ClassVar[Media] = TEXT
    view: ClassVar[str] = "qa"

    def make_config(
        self,
        *,
        min_turns: int = 1,
        max_turns: int = 10,
        max_question_chars: int = 500,
        max_answer_chars: int = 2000,
        **options: Any,
    ) -> dict[str, Any]:
        no_options(self.name, options)
        config = {
            "min_turns": min_turns, "max_turns": max_turns,
            "max_question_chars": max_question_chars, "max_answer_chars": max_answer_chars,
        }
        config = {key: count(value, f"qa: {key}", minimum=1) for key, value in config.items()}
        if config["min_turns"] > config["max_turns"]:
            raise ValueError(f"qa: need 1 <= min_turns <= max_turns, got {min_turns}, {max_turns}")
        return config

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        turns = items(record(label, "label", {"turns"})["turns"], "turns")
        if not config["min_turns"] <= len(turns) <= config["max_turns"]:
            raise LabelError(f"turns: {len(turns)} turn(s), expected {config['min_turns']} to {config['max_turns']}")
        out = []
        for i, turn in enumerate(turns):
            turn = record(turn, f"turns[{i}]", {"question", "answer"})
            out.append({
                "question": text(turn["question"], f"turns[{i}].question", max_chars=config["max_question_chars"]).strip(),
                "answer": text(turn["answer"], f"turns[{i}].answer", max_chars=config["max_answer_chars"]).strip(),
            })
        return {"turns": out}


class FreeText(Kind):
    """A written answer about a text (e.g. a summary or a rewrite). Free text has no one right
    form, so these tasks take no known answer (labels are reviewed by inspectors instead)."""

    aggregator: ClassVar[Estimator] = BestCandidate
    label_uses_payload: ClassVar[bool] = False
    checkable: ClassVar[bool] = False

    name: ClassVar[str] = "free-text"
    media: ClassVar[Media] = TEXT
    view: ClassVar[str] = "freetext"

    def make_config(self, *, min_chars: int = 1, max_chars: int = 2000, prompt: str = "", **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        min_chars, max_chars = count(min_chars, f"{self.name}: min_chars"), count(max_chars, f"{self.name}: max_chars")
        if min_chars > max_chars:
            raise ValueError(f"{self.name}: need 0 <= min_chars <= max_chars, got {min_chars}, {max_chars}")
        if not isinstance(prompt, str):
            raise ValueError(f"{self.name}: prompt must be text, got {prompt!r}")
        return {"min_chars": min_chars, "max_chars": max_chars, "prompt": prompt}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> str:
        value = text(label, "label", required=config["min_chars"] > 0, max_chars=config["max_chars"]).strip()
        if len(value) < config["min_chars"]:
            raise LabelError(f"label: {len(value)} characters, at least {config['min_chars']} needed")
        return value


class Caption(FreeText):
    """A written description of an image."""

    name: ClassVar[str] = "caption"
    media: ClassVar[Media] = IMAGE
