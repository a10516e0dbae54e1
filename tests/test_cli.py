"""The `crowdnb` command: workers, membership, listing and exporting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import crowdnb
from crowdnb.cli import main


def test_worker_add_prints_a_token_once_that_authenticates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = str(tmp_path / "s.sqlite")
    assert main(["--store", store_path, "worker", "add", "ines", "--role", "inspector"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with crowdnb.SqlStore(store_path) as store:
        account = store.authenticate(token)
        assert (account.name, account.role) == ("ines", "inspector")


def test_member_projects_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = str(tmp_path / "s.sqlite")
    with crowdnb.SqlStore(store_path) as store:
        project = crowdnb.Project.create("p", kind="text-class", classes=["a"], store=store)
        project.add_tasks(pd.DataFrame({"text": ["x", "y"], "id": ["1", "2"]}))
        widget = project.annotate(worker="ana")
        widget._on_message(widget, {"type": "hello"}, [])
        source = widget._source
        (first, *_) = source.fetch(1, [])
        source.submit(first.task_id, "a", "cli-test-0001", 10)
    main(["--store", store_path, "worker", "add", "ana"])
    assert main(["--store", store_path, "member", "add", "p", "ana"]) == 0
    assert main(["--store", store_path, "member", "add", "nope", "ana"]) == 1
    assert main(["--store", store_path, "projects"]) == 0
    assert "p\ttext-class\t2 tasks" in capsys.readouterr().out
    out = tmp_path / "labels.csv"
    assert main(["--store", store_path, "labels", "p", "--out", str(out)]) == 0
    assert pd.read_csv(out)[["task", "worker", "label"]].values.tolist() == [[1, "ana", "a"]]
    with crowdnb.SqlStore(store_path) as store:
        assert store.member_projects(store.account("ana").id) == ["p"]
