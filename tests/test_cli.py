"""The `crowdnb` command: workers, membership, listing and exporting, and what it needs installed."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from samples import write_images

import crowdnb
from crowdnb.cli import SERVER_EXTRA, main, serving_line
from crowdnb.store import STORE_ENV, Submission
from crowdnb.store.schema import tasks

ROOT = Path(crowdnb.__file__).resolve().parents[1]


def _submit(store: crowdnb.SqlStore, project: str, worker: str, task: str, label: object) -> None:
    info = store.project(project)
    with store.engine.connect() as conn:
        task_id = conn.scalar(sa.select(tasks.c.id).where(tasks.c.project_id == info.id, tasks.c.external_id == task))
    store.submit(info.id, store.worker_id(worker), Submission(uuid.uuid4().hex, task_id, label, 2500))


def _token(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    """A store with a text-class project 'p' (tasks 1, 2) and one label by ana on task 1."""
    path = str(tmp_path / "s.sqlite")
    with crowdnb.SqlStore(path) as store:
        project = crowdnb.Project.create("p", kind="text-class", classes=["a"], store=store)
        project.add_tasks(pd.DataFrame({"text": ["x", "y"], "id": ["1", "2"]}))
        crowdnb.Project.create("q", kind="text-class", classes=["a"], store=store)
        _submit(store, "p", "ana", "1", "a")
    return path


def test_worker_add_prints_a_token_once_that_authenticates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = str(tmp_path / "s.sqlite")
    assert main(["--store", store_path, "worker", "add", "ines", "--role", "inspector"]) == 0
    token = _token(capsys)
    with crowdnb.SqlStore(store_path) as store:
        account = store.authenticate(token)
        assert (account.name, account.role) == ("ines", "inspector")


def test_member_projects_and_labels(store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", store_path, "worker", "add", "ana"]) == 0  # labeled locally: no token yet
    assert main(["--store", store_path, "member", "add", "p", "ana"]) == 0
    assert main(["--store", store_path, "member", "add", "nope", "ana"]) == 1
    assert main(["--store", store_path, "projects"]) == 0
    assert "p\ttext-class\t2 tasks" in capsys.readouterr().out
    out = tmp_path / "labels.csv"
    assert main(["--store", store_path, "labels", "p", "--out", str(out)]) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert frame[["task", "text", "worker"]].values.tolist() == [["1", "x", "ana"]]
    assert json.loads(frame.loc[0, "label"]) == "a"
    with crowdnb.SqlStore(store_path) as store:
        assert store.member_projects(store.account("ana").id) == ["p"]


def test_worker_add_refuses_to_replace_a_token_or_change_a_role_without_force(
    store_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", store_path, "worker", "add", "ana", "--role", "manager"]) == 1  # labeled locally, no token
    assert "the role would change from worker to manager" in capsys.readouterr().err
    assert main(["--store", store_path, "worker", "add", "cy", "--role", "manager"]) == 0
    first = _token(capsys)
    assert main(["--store", store_path, "worker", "add", "cy"]) == 1
    assert "a new token would stop the current one working" in capsys.readouterr().err
    assert main(["--store", store_path, "worker", "add", "cy", "--role", "worker"]) == 1
    err = capsys.readouterr().err
    assert "'cy' already exists (manager)" in err and "from manager to worker" in err and "--force" in err
    with crowdnb.SqlStore(store_path) as store:
        account = store.authenticate(first)
        assert (account.name, account.role) == ("cy", "manager")  # untouched
        assert store.account("ana").role == "worker"
    assert main(["--store", store_path, "worker", "add", "cy", "--role", "worker", "--force"]) == 0
    second = _token(capsys)
    with crowdnb.SqlStore(store_path) as store:
        assert store.authenticate(first) is None
        assert store.authenticate(second).role == "worker"


def test_worker_add_keeps_an_existing_role_by_default(store_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    with crowdnb.SqlStore(store_path) as store:
        store.worker_id("ines", role="inspector")  # registered without a token
    assert main(["--store", store_path, "worker", "add", "ines"]) == 0
    assert "token for ines (inspector)" in capsys.readouterr().out


def test_worker_list_shows_role_token_and_projects(store_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--store", store_path, "worker", "add", "ben", "--role", "inspector"])
    main(["--store", store_path, "member", "add", "q", "ben"])
    main(["--store", store_path, "member", "add", "p", "ben"])
    capsys.readouterr()
    assert main(["--store", store_path, "worker", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["ana\tworker\tno token\t-", "ben\tinspector\ttoken set\tp, q"]


def test_worker_remove_revokes_and_ends_membership(store_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--store", store_path, "worker", "add", "ben"])
    token = _token(capsys)
    main(["--store", store_path, "member", "add", "p", "ben"])
    assert main(["--store", store_path, "worker", "remove", "ben"]) == 0
    assert "ben: token revoked" in capsys.readouterr().out
    with crowdnb.SqlStore(store_path) as store:
        assert store.authenticate(token) is None
        assert store.member_projects(store.account("ben").id) == []
    assert main(["--store", store_path, "worker", "remove", "nobody"]) == 1
    assert "no worker 'nobody'" in capsys.readouterr().err


def test_worker_remove_keeps_labels_and_refuses_without_force(store_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--store", store_path, "worker", "add", "ana"])
    token = _token(capsys)
    main(["--store", store_path, "member", "add", "p", "ana"])
    main(["--store", store_path, "member", "add", "q", "ana"])
    with crowdnb.SqlStore(store_path) as store:
        store.set_worker_status(store.project("p").id, store.account("ana").id, "banned")
    assert main(["--store", store_path, "worker", "remove", "ana"]) == 1
    err = capsys.readouterr().err
    assert "1 label(s) (p: 1)" in err and "--force" in err
    with crowdnb.SqlStore(store_path) as store:
        assert store.authenticate(token) is not None
    assert main(["--store", store_path, "worker", "remove", "ana", "--force"]) == 0
    out = capsys.readouterr().out
    assert "token revoked" in out and "no longer a member of q" in out and "keeps their standing in p" in out
    with crowdnb.SqlStore(store_path) as store:
        assert store.authenticate(token) is None
        assert store.labels(store.project("p").id)["worker"].tolist() == ["ana"]
        standing = store.worker_standing(store.project("p").id).set_index("worker")
        assert standing.loc["ana", "status"] == "banned"  # her label still does not count
        assert store.member_projects(store.account("ana").id) == ["p"]


@pytest.mark.parametrize("command", [["projects"], ["labels", "p"], ["worker", "list"], ["worker", "remove", "ana"], ["member", "add", "p", "ana"]])
def test_commands_on_a_missing_store_file_refuse_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--store", "typo.sqlite", *command]) == 1
    assert capsys.readouterr().err.strip() == f"no store at {tmp_path / 'typo.sqlite'} (give --store or set CROWDNB_STORE)"
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.sqlite"))
    assert main(command) == 1
    assert f"no store at {tmp_path / 'env.sqlite'}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_worker_add_creates_a_new_store(tmp_path: Path) -> None:
    assert main(["--store", str(tmp_path / "new.sqlite"), "worker", "add", "ana"]) == 0
    assert (tmp_path / "new.sqlite").exists()


@pytest.fixture
def structured(tmp_path: Path) -> tuple[str, dict[str, list[Any]]]:
    """A store with bbox, spans and qa projects, each with labels (non-ASCII text included)."""
    path = str(tmp_path / "structured.sqlite")
    images = write_images(tmp_path / "img", 2)
    with crowdnb.SqlStore(path) as store:
        boxes = crowdnb.Project.create("boxes", kind="bbox", classes=["cat", "dög"], overlap=2, store=store)
        boxes.add_tasks(pd.DataFrame({"image": [str(p) for p in images], "id": ["i1", "i2"], "camera": ["a", "b"]}))
        _submit(store, "boxes", "ana", "i1", [{"label": "dög", "x": 1, "y": 2, "w": 10.5, "h": 20}])
        _submit(store, "boxes", "ben", "i1", [])
        _submit(store, "boxes", "ana", "i2", [{"label": "cat", "x": 0, "y": 0, "w": 5, "h": 5}, {"label": "dög", "x": 9, "y": 9, "w": 3, "h": 3}])
        spans = crowdnb.Project.create("spans", kind="spans", classes=["PER", "LOC"], store=store)
        spans.add_tasks(pd.DataFrame({"text": ["Zoë lives in Malmö, \"Sweden\""], "id": ["s1"], "source": [{"a": [1, 2]}]}))
        _submit(store, "spans", "ana", "s1", [{"start": 0, "end": 3, "label": "PER"}, {"start": 13, "end": 18, "label": "LOC"}])
        qa = crowdnb.Project.create("qa", kind="qa", store=store)
        qa.add_tasks(pd.DataFrame({"text": ["Write a dialog, with commas, and\nnew lines"], "id": ["d1"]}))
        _submit(store, "qa", "ana", "d1", {"turns": [{"question": "Why, \"really\"?", "answer": "Because\n— ✓"}]})
        stored = {name: store.labels(store.project(name).id)["label"].tolist() for name in ("boxes", "spans", "qa")}
    return path, stored


@pytest.mark.parametrize("project", ["boxes", "spans", "qa"])
def test_csv_cells_read_back_as_json(
    structured: tuple[str, dict[str, list[Any]]], tmp_path: Path, project: str
) -> None:
    path, stored = structured
    out = tmp_path / f"{project}.csv"
    assert main(["--store", path, "labels", project, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [json.loads(row["label"]) for row in rows] == stored[project]
    assert all(isinstance(json.loads(row["meta"]), dict) for row in rows)
    assert "\\u" not in text  # non-ASCII written as itself
    media = "image" if project == "boxes" else "text"
    assert rows[0]["task"] and rows[0][media]
    for row in rows:
        stamp = datetime.fromisoformat(row["submitted_at"])
        assert row["submitted_at"].endswith("Z") and stamp.utcoffset() == timezone.utc.utcoffset(None)
        assert row["duration_ms"] == "2500"


def test_csv_and_jsonl_carry_task_ids_media_and_metadata(structured: tuple[str, dict[str, list[Any]]], tmp_path: Path) -> None:
    path, stored = structured
    assert main(["--store", path, "labels", "boxes", "--out", str(tmp_path / "b.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "b.csv").open(encoding="utf-8")))
    assert [r["task"] for r in rows] == ["i1", "i1", "i2"]
    assert rows[0]["image"].endswith("img000.jpeg") and Path(rows[0]["image"]).is_absolute()
    assert json.loads(rows[2]["meta"]) == {"camera": "b"}
    assert main(["--store", path, "labels", "spans", "--out", str(tmp_path / "s.jsonl")]) == 0
    (line,) = (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["task"] == "s1" and record["text"] == 'Zoë lives in Malmö, "Sweden"' and record["worker"] == "ana"
    assert record["label"] == stored["spans"][0] and record["meta"] == {"source": {"a": [1, 2]}}
    assert record["duration_ms"] == 2500 and record["flag"] is None and record["prediction_accepted"] is None
    assert datetime.fromisoformat(record["submitted_at"]).tzinfo is not None
    assert main(["--store", path, "labels", "qa", "--out", str(tmp_path / "qa.txt"), "--format", "jsonl"]) == 0
    assert json.loads((tmp_path / "qa.txt").read_text(encoding="utf-8"))["label"] == stored["qa"][0]


def test_labels_of_an_unknown_project_write_no_file(structured: tuple[str, dict[str, list[Any]]], tmp_path: Path) -> None:
    path, _ = structured
    assert main(["--store", path, "labels", "nope", "--out", str(tmp_path / "x.csv")]) == 1
    assert not (tmp_path / "x.csv").exists()


def test_serve_says_where_it_listens_before_starting(
    store_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from crowdnb.server.app import MEDIA_ENV

    monkeypatch.setenv(STORE_ENV, "unset")
    monkeypatch.setenv(MEDIA_ENV, "unset")
    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(capsys.readouterr().out))
    assert main(["--store", store_path, "serve", "--media", str(tmp_path), "--port", "8123", "--processes", "3"]) == 0
    assert started == [f"crowdnb serving sqlite:///{store_path} on http://127.0.0.1:8123 (3 processes), media from {tmp_path}\n"]
    assert os.environ[STORE_ENV] == f"sqlite:///{store_path}" and os.environ[MEDIA_ENV] == str(tmp_path)


def test_the_serving_line_hides_the_password() -> None:
    line = serving_line("postgresql+psycopg://crowd:s3cret@db.example:5432/labels", "::", 80, 1, "/srv/media")
    assert "s3cret" not in line
    assert line == "crowdnb serving postgresql+psycopg://crowd:***@db.example:5432/labels on http://[::]:80 (1 process), media from /srv/media"


# The CLI run in a fresh interpreter in which some modules cannot be imported, as if their extra
# were not installed. It runs each command of a JSON list and prints their exit codes last.
WITHOUT = """
import json, sys
from importlib.abc import MetaPathFinder

blocked = set(sys.argv[1].split(","))

class Uninstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Uninstalled())
from crowdnb.cli import main

codes = []
for argv in json.loads(sys.argv[2]):
    try:
        codes.append(main(argv))
    except SystemExit as exit:
        codes.append(exit.code)
loaded = sorted({m.split(".")[0] for m in sys.modules} & blocked)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def _without(blocked: list[str], commands: list[list[str]]) -> tuple[list[int], str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(blocked), json.dumps(commands)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    *out, last = done.stdout.splitlines()
    result = json.loads(last)
    assert result["loaded"] == []
    return result["codes"], "\n".join(out), done.stderr


SERVER = ["fastapi", "starlette", "uvicorn"]
POSTGRES = ["psycopg", "psycopg_binary"]


@pytest.mark.parametrize(
    "blocked",
    [
        SERVER,
        [*SERVER, *POSTGRES],
    ],
    ids=["no-server-extra", "base-only"],
)
def test_every_command_but_serve_works_with_the_base_dependencies(store_path: str, tmp_path: Path, blocked: list[str]) -> None:
    store = ["--store", store_path]
    commands = [
        ["--help"], ["worker", "--help"], [*store, "projects"], [*store, "worker", "add", "ben"], [*store, "member", "add", "p", "ben"],
        [*store, "worker", "list"], [*store, "labels", "p", "--out", str(tmp_path / "x.jsonl")], [*store, "worker", "remove", "ben"],
    ]
    codes, out, err = _without(blocked, commands)
    assert codes == [0] * len(commands), err
    assert "usage: crowdnb" in out and "p\ttext-class\t2 tasks" in out and "ben\tworker\ttoken set\tp" in out
    assert json.loads((tmp_path / "x.jsonl").read_text())["label"] == "a"


@pytest.mark.parametrize("blocked", [["fastapi"], ["uvicorn"], SERVER])
def test_serve_without_the_server_extra_says_what_to_install(store_path: str, tmp_path: Path, blocked: list[str]) -> None:
    codes, out, err = _without(blocked, [["--store", store_path, "serve", "--media", str(tmp_path)]])
    assert codes == [2]
    assert err.strip() == SERVER_EXTRA == 'crowdnb serve needs the server extra: pip install "crowdnb[server]"'
    assert "crowdnb serving" not in out


def test_export_and_import_from_a_shell(store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.parquet"
    assert main(["--store", store_path, "export", "p", "--format", "parquet", "--out", str(out), "--aggregated", "--min-confidence", "0.5"]) == 0
    assert "wrote 1 labels of 2 tasks" in capsys.readouterr().out
    assert json.loads(Path(f"{out}.manifest.json").read_text())["options"]["min_confidence"] == 0.5
    assert pd.read_parquet(out)[["task", "label"]].to_dict("records") == [{"task": "1", "label": "a"}]
    assert main(["--store", store_path, "import", "q", str(out), "--format", "parquet", "--as", "answer", "--dry-run"]) == 0
    assert "1 tasks checked, all good (dry run: nothing stored)" in capsys.readouterr().out
    assert main(["--store", store_path, "import", "q", str(out), "--format", "parquet", "--as", "answer"]) == 0
    assert "added 1 of 1 tasks to q" in capsys.readouterr().out
    assert main(["--store", store_path, "import", "q", str(out), "--format", "parquet", "--as", "answer"]) == 1
    assert "id '1' is already a task of 'q'" in capsys.readouterr().err
    assert main(["--store", store_path, "export", "p", "--format", "coco", "--out", str(tmp_path / "c.json")]) == 1
    assert "format 'coco' does not carry text-class labels" in capsys.readouterr().err
