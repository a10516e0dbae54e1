"""Entity spans as NER training data: CoNLL (IOB2), spaCy/Prodigy JSON lines and spaCy's DocBin.

``conll`` (CoNLL 2003 style): a header comment, then per label a ``-DOCSTART- -X- O O`` line, a
blank line, comments ``# id = "t0"`` (the task id as JSON) and ``# worker = ...`` /
``# status = ...`` (raw) or ``# confidence = ...`` (aggregated), one ``token tag`` line per
token (IOB2 tags: ``B-PER``, ``I-PER``, ``O``) and a blank line: one task is one sentence. The
text is split into tokens by `TOKEN`: a run of word characters (letters, digits, ``_``) is a
token, except that every Chinese character and kana is a token of its own (those scripts are
written without spaces), and any other non-space character (punctuation, each code point of an
emoji) is a token alone; whitespace separates and is dropped. A span that does not start and
end on token boundaries, overlapping spans (IOB cannot encode them) and a class with whitespace
(it would split the tag column) cannot be written: that label is left out whole (a sentence
missing one entity would teach a model it is none) and `Counts.skipped` says why. seqeval works
on the tag sequences; spaCy's ``convert`` (``-c ner``) reads no comment lines, so drop them
first (``grep -v '^# '``) or export ``docbin``. Reading takes any whitespace-separated columns
(the first is the token, the last the tag, so 4-column CoNLL 2003 files read too), a
blank-line block is a task, ``-DOCSTART-`` lines and other comments are ignored. The original
spacing is not in the file, so the text read is the tokens joined by single spaces, with span
offsets into that text; an ``I-`` tag after ``O`` or another class begins an entity (as
seqeval and spaCy read it).

``spacy-jsonl`` (spaCy's and Prodigy's JSON lines): one label per line, ``{"text", "spans":
[{"start", "end", "label"}], "id", "meta"}`` plus ``worker``, ``status``, ``annotation_id``
(raw) or ``confidence`` and each span's ``agreement`` (aggregated). Offsets are code points,
end exclusive, as the ``spans`` kind has them, so it reads back exactly.

``docbin`` (spaCy's ``.spacy`` training file): one `Doc` per label, tokenized by
``spacy.blank("xx")``, the spans as ``doc.ents`` (what ``ner`` trains on) or, in a project that
allows overlapping spans, in ``doc.spans["sc"]`` (what ``spancat`` trains on; every doc of
the file alike); the task id, metadata and worker or confidence in ``doc.user_data``. A span
that is not on spaCy's token boundaries (``Doc.char_span``, strict) leaves its label out,
reported in `Counts.skipped`. A DocBin is one compressed message, so spaCy holds it in memory
(token arrays, not `Doc` objects) until it is written; it packs each doc's user data as it is
added (about a millisecond each: srsly looks its encoders up every time), so a DocBin takes
about a thousand labels a second.

Written by hand: no library writes CoNLL from character offsets and says what it could not
encode, and the JSON lines need none; the DocBin is spaCy's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from crowdnb.errors import Problem, ValidationError, require
from crowdnb.formats.base import (
    PIECE,
    Answer,
    Context,
    Counts,
    Format,
    Item,
    answer_fields,
    frame,
    json_lines,
    pieces,
)
from crowdnb.intake import to_json

KINDS = frozenset({"spans"})
_CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
TOKEN = re.compile(rf"{_CJK}|(?:(?!{_CJK})\w)+|\S")
HEADER = "# crowdnb conll: tokens are word-character runs (a CJK character alone) or single other characters; tags IOB2\n"
DOCSTART = "-DOCSTART- -X- O O"
SPANS_KEY = "sc"

Span = dict[str, Any]


def tokens(text: str) -> list[tuple[int, int]]:
    """The (start, end) code-point offsets of `text`'s CoNLL tokens (see `TOKEN`)."""
    return [m.span() for m in TOKEN.finditer(text)]


def _spans(answer: Answer, text: str) -> list[Span]:
    """The answer's spans with their text (aggregated ones have none: taken from the task)."""
    return [{**s, "text": text[s["start"]:s["end"]]} for s in answer.label]


def _described(span: Span) -> str:
    return f"[{span['start']}, {span['end']}) {span['label']} {span['text']!r}"


def _who(item: Item, answer: Answer) -> str:
    return f"task {item.id}" + (f" (worker {answer.worker})" if answer.worker is not None else "")


def iob(offsets: list[tuple[int, int]], spans: list[Span]) -> tuple[list[str], list[str]]:
    """IOB2 tags of the tokens at `offsets` for `spans`, and why any span cannot be tagged."""
    tags = ["O"] * len(offsets)
    starts = {start: i for i, (start, _) in enumerate(offsets)}
    ends = {end: i for i, (_, end) in enumerate(offsets)}
    problems = []
    for span in spans:
        first, last = starts.get(span["start"]), ends.get(span["end"])
        if re.search(r"\s", span["label"]):
            problems.append(f"span {_described(span)}: a class with whitespace cannot be a CoNLL tag")
        elif first is None or last is None or last < first:
            problems.append(f"span {_described(span)} does not start and end on token boundaries")
        elif any(tag != "O" for tag in tags[first:last + 1]):
            problems.append(f"span {_described(span)} overlaps another; IOB tags cannot encode overlapping spans")
        else:
            tags[first:last + 1] = [f"B-{span['label']}"] + [f"I-{span['label']}"] * (last - first)
    return tags, problems


def _comments(item: Item, answer: Answer, context: Context) -> str:
    lines = [f"# id = {to_json(item.id)}"]
    if context.options.aggregated:
        lines.append(f"# confidence = {answer.confidence}")
    else:
        lines += [f"# {key} = {to_json(getattr(answer, key))}" for key in ("worker", "status")]
    return "".join(line + "\n" for line in lines)


def _write_conll(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(HEADER)
        for item in items:
            counts.tasks += 1
            text = item.payload["text"]
            offsets = tokens(text) if item.answers else []
            for answer in item.answers:
                spans = _spans(answer, text)
                tags, problems = iob(offsets, spans)
                if problems:
                    counts.skipped.append(f"{_who(item, answer)}: {'; '.join(problems)}; label not written")
                    continue
                lines = "".join(f"{text[a:b]} {tag}\n" for (a, b), tag in zip(offsets, tags, strict=True))
                handle.write(f"{DOCSTART}\n\n{_comments(item, answer, context)}{lines}\n")
                counts.labels += 1
                counts.objects += len(spans)
    return counts


def _is_tag(tag: str) -> bool:
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(class, first token, last token) of each entity in IOB tags; an ``I-`` that does not
    continue an entity of its class begins one (as seqeval and spaCy read it)."""
    found: list[tuple[str, int, int]] = []
    open_class: str | None = None
    for i, tag in enumerate(tags):
        prefix, name = tag[:2], tag[2:]
        if prefix == "I-" and name == open_class:
            found[-1] = (name, found[-1][1], i)
        elif prefix in ("B-", "I-"):
            found.append((name, i, i))
            open_class = name
        else:
            open_class = None
    return found


def _sentence(words: list[str], tags: list[str]) -> tuple[str, list[Span]]:
    """The text of a CoNLL sentence (tokens joined by single spaces) and its spans."""
    starts, at = [], 0
    for word in words:
        starts.append(at)
        at += len(word) + 1
    text = " ".join(words)
    spans = []
    for name, first, last in entities(tags):
        start, end = starts[first], starts[last] + len(words[last])
        spans.append({"start": start, "end": end, "label": name, "text": text[start:end]})
    return text, spans


def _read_conll(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    words: list[str] = []
    tags: list[str] = []
    task_id: str | None = None
    sentences = 0

    def flush() -> None:
        """End the sentence being read, if any (an id comment waits for the next one)."""
        nonlocal words, tags, task_id, sentences
        if words:
            sentences += 1
            text, spans = _sentence(words, tags)
            rows.append({"text": text, "id": task_id, "label": spans, "source": f"{path.name}:sentence {sentences}"})
            words, tags, task_id = [], [], None

    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                flush()
            elif line.startswith("# ") and (len(fields) != 2 or not _is_tag(fields[-1])):
                if line.startswith("# id = "):
                    flush()
                    task_id = _comment_id(line[len("# id = "):].strip(), f"{path.name}:{n}", problems)
            elif len(fields) < 2:
                problems.append(Problem(f"{path.name}:{n}", "label", f"{line.strip()!r} has no tag (a line is 'token tag')"))
            elif not _is_tag(fields[-1]):
                problems.append(Problem(f"{path.name}:{n}", "label", f"tag {fields[-1]!r} is not IOB2 (O, B-class, I-class)"))
            else:
                words.append(fields[0])
                tags.append(fields[-1])
            if len(rows) >= PIECE:
                if not problems:
                    yield frame(rows, "text")
                rows = []
        flush()
    if problems:
        raise ValidationError(problems)
    if rows:
        yield frame(rows, "text")


def _comment_id(value: str, source: str, problems: list[Problem]) -> str | None:
    """A task id from its comment: JSON text (as written), or the bare id other tools write."""
    if not value.startswith('"'):
        return value
    try:
        found = json.loads(value)
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, str):
        problems.append(Problem(source, "id", f"{value!r} is not a JSON string"))
        return None
    return found


def _write_jsonl(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for item in items:
            counts.tasks += 1
            text = item.payload["text"]
            lines = []
            for answer in item.answers:
                spans = [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in answer.label]
                if answer.agreement is not None:
                    spans = [{**s, "agreement": a} for s, a in zip(spans, answer.agreement, strict=True)]
                record = {"text": text, "spans": spans, "id": item.id, "meta": item.meta, **answer_fields(answer, context.options)}
                lines.append(to_json(record) + "\n")
                counts.labels += 1
                counts.objects += len(spans)
            handle.write("".join(lines))
    return counts


def _json_spans(record: dict[str, Any], source: str, problems: list[Problem]) -> list[Span] | None:
    """A JSON line's spans as the kind takes them (None: the line has no ``spans``)."""
    if record.get("spans") is None:
        return None
    text, spans = record["text"], record["spans"]
    if not isinstance(spans, list) or not all(isinstance(s, dict) and {"start", "end", "label"} <= s.keys() for s in spans):
        problems.append(Problem(source, "label", 'spans must be a list of {"start", "end", "label"} objects'))
        return None
    out = []
    for s in spans:
        start, end = s["start"], s["end"]
        piece = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
        out.append({"start": start, "end": end, "label": s["label"], "text": piece})
    return out


def _read_jsonl(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    problems: list[Problem] = []

    def rows() -> Iterator[dict[str, Any]]:
        for source, record in json_lines(path, problems):
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                problems.append(Problem(source, "text", 'a line is an object with a "text" string'))
                continue
            task_id = record.get("id")
            yield {"text": record["text"], "id": None if task_id in ("", None) else task_id,
                   "label": _json_spans(record, source, problems), "source": source}

    return pieces(rows(), "text", problems)


def _spacy() -> Any:
    return require("spacy", feature="the docbin format", extra="spacy")


def _doc(tokenized: Any, item: Item, answer: Answer, context: Context) -> tuple[Any, list[str]]:
    """The `Doc` of one answer (None if a span is not on spaCy's tokens) and why not."""
    doc, spans = tokenized.copy(), _spans(answer, item.payload["text"])
    found = [doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="strict") for s in spans]
    missed = [
        f"span {_described(s)} does not start and end on spaCy's token boundaries"
        for s, f in zip(spans, found, strict=True) if f is None
    ]
    if missed:
        return None, missed
    if context.config.get("allow_overlap"):
        doc.spans[SPANS_KEY] = found
    else:
        doc.ents = found
    doc.user_data.update({"id": item.id, "meta": item.meta, **answer_fields(answer, context.options)})
    return doc, []


def _write_docbin(items: Iterator[Item], out: Path, context: Context) -> Counts:
    spacy = _spacy()
    from spacy.tokens import DocBin

    nlp = spacy.blank("xx")
    docs = DocBin(store_user_data=True)
    counts = Counts(files=1)
    for item in items:
        counts.tasks += 1
        tokenized = nlp.make_doc(item.payload["text"]) if item.answers else None
        for answer in item.answers:
            doc, missed = _doc(tokenized, item, answer, context)
            if doc is None:
                counts.skipped.append(f"{_who(item, answer)}: {'; '.join(missed)}; label not written")
                continue
            docs.add(doc)
            counts.labels += 1
            counts.objects += len(answer.label)
    docs.to_disk(out)
    return counts


def _doc_spans(doc: Any) -> list[Span]:
    found: Iterable[Any] = doc.spans[SPANS_KEY] if SPANS_KEY in doc.spans else doc.ents
    spans = [{"start": s.start_char, "end": s.end_char, "label": s.label_, "text": s.text} for s in found]
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


def _read_docbin(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    spacy = _spacy()
    from spacy.tokens import DocBin

    vocab = spacy.blank("xx").vocab
    rows: list[dict[str, Any]] = []
    for n, doc in enumerate(DocBin().from_disk(path).get_docs(vocab)):
        task_id = doc.user_data.get("id")
        rows.append({"text": doc.text, "id": task_id if isinstance(task_id, str) else None,
                     "label": _doc_spans(doc), "source": f"{path.name}:doc {n}"})
        if len(rows) >= PIECE:
            yield frame(rows, "text")
            rows = []
    if rows:
        yield frame(rows, "text")


def _validate_docbin(path: Path, context: Context, counts: Counts) -> None:
    """The file as spaCy loads it: one Doc per label written."""
    _spacy()
    from spacy.tokens import DocBin

    found = len(DocBin().from_disk(path))
    if found != counts.labels:
        raise ValueError(f"spaCy read {found} docs from {path.name}, but {counts.labels} labels were written")


FORMATS = {
    "conll": Format("conll", KINDS, "CoNLL 2003 style, a token and its IOB2 tag per line", _write_conll, _read_conll),
    "spacy-jsonl": Format(
        "spacy-jsonl", KINDS, "spaCy/Prodigy JSON lines: text and code-point offset spans", _write_jsonl, _read_jsonl,
    ),
    "docbin": Format(
        "docbin", KINDS, "spaCy DocBin (.spacy): doc.ents, or doc.spans['sc'] when spans overlap", _write_docbin, _read_docbin,
        extra="spacy", validate=_validate_docbin,
    ),
}
