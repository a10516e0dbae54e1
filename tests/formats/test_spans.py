"""Entity spans out as CoNLL, spaCy JSON lines and DocBin, read by seqeval and spaCy, and back in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import label, text_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crowdnb
from crowdnb import formats
from crowdnb.errors import ValidationError
from crowdnb.formats.spans import tokens

CLASSES = ["PER", "LOC"]
TEXTS = ["Ana met Kim in Seoul.", "서울에서 東京 まで 👨‍👩‍👧 여행, Ana!", "Paris\n\nand  Rome"]


def span(text: str, piece: str, cls: str, after: int = 0) -> dict:
    start = text.index(piece, after)
    return {"start": start, "end": start + len(piece), "label": cls, "text": piece}


LABELS = {
    "t0": [span(TEXTS[0], "Ana", "PER"), span(TEXTS[0], "Kim", "PER"), span(TEXTS[0], "Seoul", "LOC")],
    "t1": [span(TEXTS[1], "서울에서", "LOC"), span(TEXTS[1], "東京", "LOC"), span(TEXTS[1], "👨‍👩‍👧", "PER"), span(TEXTS[1], "Ana", "PER")],
    "t2": [span(TEXTS[2], "Paris\n\nand  Rome", "LOC")],
}


def conll_sentences(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """(task id, tokens, tags) of each sentence of a CoNLL file, parsed here apart from crowdnb."""
    found, task_id, words, tags = [], None, [], []
    for line in [*path.read_text(encoding="utf-8").split("\n"), ""]:
        if line.startswith("# id = "):
            task_id = json.loads(line[len("# id = "):])
        elif not line.strip() or line.startswith(("-DOCSTART-", "# ")):
            if words:
                found.append((task_id, words, tags))
                words, tags = [], []
        else:
            word, tag = line.split()
            words.append(word)
            tags.append(tag)
    return found


def test_conll_tags_give_seqeval_the_exported_entities(store, tmp_path: Path) -> None:
    from seqeval.metrics.sequence_labeling import get_entities

    project = text_project(store, TEXTS, "spans", overlap=2, classes=CLASSES)
    label(project, "ana", LABELS)
    off = {"t0": [{"start": 1, "end": 3, "label": "PER", "text": "na"}]}  # inside the token "Ana"
    label(project, "ben", {**LABELS, **off})
    done = project.export(tmp_path / "ner.conll", "conll")
    assert (done.counts.tasks, done.counts.labels, done.counts.objects) == (3, 5, 13)
    assert len(done.counts.skipped) == 1 and "task t0 (worker ben)" in done.counts.skipped[0]
    assert "[1, 3) PER 'na' does not start and end on token boundaries" in done.counts.skipped[0]
    text = done.path.read_text(encoding="utf-8")
    assert text.startswith("# crowdnb conll: tokens are word-character runs") and text.count("-DOCSTART- -X- O O\n") == 5
    sentences = conll_sentences(done.path)
    assert [s[0] for s in sentences] == ["t0", "t1", "t1", "t2", "t2"]
    for task_id, words, tags in sentences:
        source = TEXTS[int(task_id[1:])]
        offsets = tokens(source)
        assert words == [source[a:b] for a, b in offsets]
        got = [(cls, offsets[first][0], offsets[last][1]) for cls, first, last in get_entities(tags)]
        assert got == [(s["label"], s["start"], s["end"]) for s in LABELS[task_id]]


def test_spacy_convert_reads_conll_without_its_comments(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, TEXTS, "spans", classes=CLASSES)
    label(project, "ana", LABELS)
    done = project.export(tmp_path / "ner.conll", "conll")
    plain = tmp_path / "plain.conll"
    plain.write_text("".join(line for line in done.path.read_text(encoding="utf-8").splitlines(keepends=True) if not line.startswith("# ")), encoding="utf-8")
    out = tmp_path / "converted"
    out.mkdir()
    subprocess.run([sys.executable, "-m", "spacy", "convert", str(plain), str(out), "--converter", "ner", "--n-sents", "0"], check=True, capture_output=True)
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(out / "plain.spacy").get_docs(spacy.blank("xx").vocab))
    assert len(docs) == 3
    for doc, task_id in zip(docs, ["t0", "t1", "t2"], strict=True):
        words = [t.text for t in doc]
        assert [(e.label_, "".join(words[e.start:e.end])) for e in doc.ents] == [
            (s["label"], "".join(s["text"].split())) for s in LABELS[task_id]
        ]


def test_conll_reads_back_as_tokens_joined_by_spaces(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, TEXTS, "spans", classes=CLASSES)
    label(project, "ana", LABELS)
    done = project.export(tmp_path / "ner.conll", "conll", aggregated=True)
    assert done.counts.labels == 3 and "# confidence = " in done.path.read_text(encoding="utf-8")
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "spans", store=sqlite_store, classes=CLASSES)
    assert copy.import_tasks(done.path, "conll", as_="answer").added == 3
    tasks = copy.tasks()
    for task_id, payload, known in zip(tasks["id"], tasks["payload"], tasks["known_answer"], strict=True):
        source = TEXTS[int(task_id[1:])]
        assert payload["text"] == " ".join(source[a:b] for a, b in tokens(source))
        assert [(s["label"], "".join(s["text"].split())) for s in known] == [(s["label"], "".join(s["text"].split())) for s in LABELS[task_id]]
        assert all(payload["text"][s["start"]:s["end"]] == s["text"] for s in known)
    assert tasks["payload"].iloc[0]["text"] == "Ana met Kim in Seoul ."


def test_conll_reports_overlapping_spans_and_classes_with_spaces(sqlite_store, tmp_path: Path) -> None:
    text = "New York City"
    project = text_project(sqlite_store, [text], "spans", classes=["LOC", "big city"], allow_overlap=True)
    label(project, "ana", {"t0": [span(text, "New York", "LOC"), span(text, "York City", "LOC")]})
    done = project.export(tmp_path / "a.conll", "conll")
    assert done.counts.labels == 0 and "overlaps another; IOB tags cannot encode overlapping spans" in done.counts.skipped[0]
    other = text_project(sqlite_store, [text], "spans", classes=["big city"])
    label(other, "ana", {"t0": [span(text, "New York City", "big city")]})
    assert "a class with whitespace cannot be a CoNLL tag" in other.export(tmp_path / "b.conll", "conll").counts.skipped[0]


def test_conll_reader_takes_conll_2003_columns_and_names_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "train.txt"
    good.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n", encoding="utf-8")
    rows = [r for piece in formats.read(good, "conll", kind="spans") for r in piece.reset_index().to_dict("records")]
    assert [(r["source"], r["text"], r["id"]) for r in rows] == [("train.txt:sentence 1", "EU rejects German", None), ("train.txt:sentence 2", "Peter Blackburn", None)]
    assert rows[0]["label"] == [{"start": 0, "end": 2, "label": "ORG", "text": "EU"}, {"start": 11, "end": 17, "label": "MISC", "text": "German"}]
    assert rows[1]["label"] == [{"start": 0, "end": 15, "label": "PER", "text": "Peter Blackburn"}]
    bad = tmp_path / "bad.conll"
    bad.write_text("Ana B-PER\nlonely\nmet X-PER\n\n# id = \"t0\nKim O\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        list(formats.read(bad, "conll", kind="spans"))
    assert [(p.row, p.field) for p in caught.value.problems] == [("bad.conll:2", "label"), ("bad.conll:3", "label"), ("bad.conll:5", "id")]


TEXT_PIECES = ["서울", "東京", "の", "😀", "👨‍👩‍👧", "☀️", "é", "Ana", " ", "\n", ",", "x"]


@st.composite
def labeled_text(draw: st.DrawFn) -> tuple[str, list[dict]]:
    """A text of Korean, Japanese, emoji and Latin pieces, and non-overlapping spans of it."""
    text = "".join(draw(st.lists(st.sampled_from(TEXT_PIECES), min_size=1, max_size=12)))
    text = text if text.strip() else text + "x"
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=6)))
    pairs = list(zip(cuts[::2], cuts[1::2]))
    return text, [{"start": a, "end": b, "label": draw(st.sampled_from(CLASSES)), "text": text[a:b]} for a, b in pairs]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(labeled_text(), min_size=1, max_size=4))
def test_spacy_jsonl_round_trips_code_point_offsets(sqlite_store, tmp_path_factory: pytest.TempPathFactory, cases: list[tuple[str, list[dict]]]) -> None:
    folder = tmp_path_factory.mktemp("jsonl")
    texts = [text for text, _ in cases]
    project = text_project(sqlite_store, texts, "spans", classes=CLASSES)
    label(project, "ana", {f"t{i}": spans for i, (_, spans) in enumerate(cases)})
    done = project.export(folder / "ner.jsonl", "spacy-jsonl")
    lines = [json.loads(line) for line in done.path.read_text(encoding="utf-8").splitlines()]
    assert [(r["text"], r["id"], r["worker"]) for r in lines] == [(t, f"t{i}", "ana") for i, t in enumerate(texts)]
    assert [r["spans"] for r in lines] == [[{k: s[k] for k in ("start", "end", "label")} for s in spans] for _, spans in cases]
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "spans", store=sqlite_store, classes=CLASSES)
    assert copy.import_tasks(done.path, "spacy-jsonl", as_="answer").added == len(cases)
    tasks = copy.tasks()
    assert tasks["payload"].map(lambda p: p["text"]).tolist() == texts
    assert tasks["known_answer"].tolist() == [spans for _, spans in cases]


def test_spacy_jsonl_aggregated_has_confidence_and_agreement(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, TEXTS, "spans", classes=CLASSES)
    label(project, "ana", LABELS)
    done = project.export(tmp_path / "agg.jsonl", "spacy-jsonl", aggregated=True)
    first = json.loads(done.path.read_text(encoding="utf-8").splitlines()[0])
    assert first["id"] == "t0" and 0 < first["confidence"] <= 1 and "worker" not in first
    assert [s["label"] for s in first["spans"]] == ["PER", "PER", "LOC"] and all(0 < s["agreement"] <= 1 for s in first["spans"])
    rows = [r for piece in formats.read(done.path, "spacy-jsonl", kind="spans") for r in piece.to_dict("records")]
    assert rows[1]["label"] == LABELS["t1"]


def test_spacy_jsonl_reader_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok", "spans": []}\nnot json\n{"spans": []}\n{"text": "a", "spans": [{"start": 0}]}\n', encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        list(formats.read(path, "spacy-jsonl", kind="spans"))
    assert [(p.row, p.field) for p in caught.value.problems] == [("in.jsonl:2", ""), ("in.jsonl:3", "text"), ("in.jsonl:4", "label")]


def test_docbin_is_read_by_spacy_with_the_same_spans(store, tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    project = text_project(store, TEXTS, "spans", overlap=2, classes=CLASSES)
    label(project, "ana", LABELS)
    label(project, "ben", {"t1": [span(TEXTS[1], "서울", "LOC")]})  # spaCy's token is 서울에서
    done = project.export(tmp_path / "train.spacy", "docbin")
    assert (done.counts.labels, done.counts.objects) == (3, 8)
    assert len(done.counts.skipped) == 1 and "task t1 (worker ben): span [0, 2) LOC '서울' does not start and end on spaCy's token boundaries" in done.counts.skipped[0]
    docs = list(DocBin().from_disk(done.path).get_docs(spacy.blank("xx").vocab))
    assert [doc.text for doc in docs] == TEXTS
    for doc, task_id in zip(docs, ["t0", "t1", "t2"], strict=True):
        expected = [(s["start"], s["end"], s["label"]) for s in LABELS[task_id]]
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == expected and "sc" not in doc.spans
        assert doc.user_data["id"] == task_id and doc.user_data["worker"] == "ana"
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "spans", store=store, classes=CLASSES)
    assert copy.import_tasks(done.path, "docbin", as_="answer").added == 3
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == LABELS


def test_docbin_keeps_spans_that_may_overlap_in_the_span_group(sqlite_store, tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    text = "New York City"
    spans = [span(text, "New York", "LOC"), span(text, "New York City", "LOC")]
    project = text_project(sqlite_store, [text], "spans", classes=["LOC"], allow_overlap=True)
    label(project, "ana", {"t0": spans})
    done = project.export(tmp_path / "o.spacy", "docbin")
    (doc,) = DocBin().from_disk(done.path).get_docs(spacy.blank("xx").vocab)
    assert [s.text for s in doc.spans["sc"]] == ["New York", "New York City"] and doc.ents == ()
    (row,) = [r for piece in formats.read(done.path, "docbin", kind="spans") for r in piece.to_dict("records")]
    assert row["label"] == spans


@st.composite
def token_spans(draw: st.DrawFn, offsets: list[tuple[int, int]], text: str) -> list[dict]:
    """Non-overlapping spans of `text` from token `offsets`, each starting and ending on one."""
    cuts = sorted(draw(st.sets(st.integers(0, len(offsets)), max_size=6)))
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
    return [{"start": offsets[a][0], "end": offsets[b - 1][1], "label": draw(st.sampled_from(CLASSES)), "text": text[offsets[a][0]:offsets[b - 1][1]]} for a, b in pairs]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_token_aligned_spans_round_trip_through_conll_and_docbin(sqlite_store, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    import spacy

    nlp = spacy.blank("xx")
    text = data.draw(labeled_text())[0]
    conll_spans = data.draw(token_spans(tokens(text), text))
    spacy_spans = data.draw(token_spans([(t.idx, t.idx + len(t)) for t in nlp.make_doc(text)], text))
    folder = tmp_path_factory.mktemp("aligned")
    for fmt, spans in (("conll", conll_spans), ("docbin", spacy_spans)):
        project = text_project(sqlite_store, [text], "spans", classes=CLASSES)
        label(project, "ana", {"t0": spans})
        done = project.export(folder / f"out.{fmt}", fmt)
        assert done.counts.skipped == [] and done.counts.objects == len(spans)
        (row,) = [r for piece in formats.read(done.path, fmt, kind="spans", config=project.config) for r in piece.to_dict("records")]
        if fmt == "docbin":
            assert (row["text"], row["id"], row["label"]) == (text, "t0", spans)
        else:  # the tokens joined by spaces: the same tokens in each span
            assert row["text"] == " ".join(text[a:b] for a, b in tokens(text))
            assert [(s["label"], s["text"].split()) for s in row["label"]] == [(s["label"], [s["text"][a:b] for a, b in tokens(s["text"])]) for s in spans]
