"""Exports over a real server: a manager downloads what a local export of the same store writes,
image paths relative to the media folder, nothing left in the server's temporary folder."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from types import SimpleNamespace
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from crowd import Crowd, make_project, running_crowd
from fastapi import HTTPException
from samples import write_images

import crowdnb
from crowdnb.client.http import HttpStore, _unpacked
from crowdnb.errors import Forbidden, LabelError, MissingExtra
from crowdnb.formats import Counts, Exported, Options
from crowdnb.server.routers import exports
from crowdnb.server.routers.exports import SERVER_MEDIA, _zipped
from crowdnb.store import SqlStore
from crowdnb.store.types import Submission

Opener = Callable[[str, str], crowdnb.Project]  # (who, project name) -> the project over the server, as them


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Crowd, Path]]:
    """A crowd whose server keeps its temporary files in a folder of the test's (returned with it)."""
    folder = tmp_path_factory.mktemp("export")
    url = f"sqlite:///{folder / 'store.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_cluster").new_database()
    server_tmp = folder / "server-tmp"
    server_tmp.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(server_tmp))  # the server process's tempfile folder
        with running_crowd(url, folder) as crowd:
            patch.delenv("TMPDIR")
            yield crowd, server_tmp


def _label(store: SqlStore, project: str, worker: str, labels: dict[str, Any]) -> None:
    """`worker` labels the tasks named in `labels` (task id -> label), straight in the store."""
    info, worker_id = store.project(project), store.worker_id(worker)
    wanted = dict(labels)
    while wanted:
        claimed = store.claim(info.id, worker_id, max(len(wanted), 50))
        assert claimed, f"{worker} could not claim {sorted(wanted)[:5]}"
        chosen = [Submission(uuid.uuid4().hex, t.id, wanted.pop(t.external_id)) for t in claimed if t.external_id in wanted]
        assert all(not isinstance(o, Exception) for o in store.submit_many(info.id, worker_id, chosen))
        for task in claimed:
            if task.external_id not in labels:
                store.skip(info.id, worker_id, task.id)


def _street(crowd: Crowd, name: str) -> None:
    """The six street images, labeled by ana and ben (overlap 2)."""
    make_project(crowd, name, overlap=2)
    _label(crowd.store, name, "ana", {f"s{i}": "car" if i % 2 else "bus" for i in range(6)})
    _label(crowd.store, name, "ben", {f"s{i}": "car" for i in range(4)})


@pytest.fixture
def remote(served: tuple[Crowd, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opener]:
    """Opens a project over the server as one of the crowd (`HttpStore`), closing the stores after the test."""
    crowd, _ = served
    stores: list[HttpStore] = []

    def open_as(who: str, name: str) -> crowdnb.Project:
        stores.append(crowdnb.connect(crowd.server.url, crowd.tokens[who], outbox=tmp_path_factory.mktemp("outbox") / "outbox.sqlite"))
        return crowdnb.Project.open(name, store=stores[-1])

    yield open_as
    for store in stores:
        store.close()


def _local(crowd: Crowd, name: str) -> crowdnb.Project:
    return crowdnb.Project.open(name, store=crowd.store)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)


def _manifest(done: Exported) -> dict[str, Any]:
    found = json.loads(done.manifest.read_text())
    del found["exported_at"], found["options"]["media_root"]
    return found


def _leftovers(server_tmp: Path) -> list[str]:
    return sorted(p.name for p in server_tmp.iterdir())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("aggregated", [False, True], ids=["raw", "aggregated"])
def test_an_export_over_the_server_is_the_local_one(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path, fmt: str, aggregated: bool) -> None:
    crowd, server_tmp = served
    name = f"same-{fmt}-{aggregated}"
    _street(crowd, name)
    used = server_tmp.stat().st_mtime_ns
    over = remote("boss", name).export(tmp_path / "remote" / f"out.{fmt}", fmt, aggregated=aggregated)
    local = _local(crowd, name).export(tmp_path / "local" / f"out.{fmt}", fmt, aggregated=aggregated, media_root=str(crowd.media))
    pd.testing.assert_frame_equal(_read(over.path), _read(local.path))
    assert len(_read(over.path)) == (6 if aggregated else 10)
    assert over.counts == local.counts and _manifest(over) == _manifest(local)
    assert json.loads(over.manifest.read_text())["options"]["media_root"] == SERVER_MEDIA
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == [f"out.{fmt}", f"out.{fmt}.manifest.json"]
    assert _leftovers(server_tmp) == [] and server_tmp.stat().st_mtime_ns != used  # written there, then removed


def test_the_download_is_an_attachment_with_its_manifest(served: tuple[Crowd, Path]) -> None:
    crowd, _ = served
    _street(crowd, "héllo")
    with crowd.client("boss") as boss:
        answer = boss.get("/projects/héllo/export", params={"format": "jsonl", "worker": ["ana"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == "attachment; filename*=utf-8''h%C3%A9llo.jsonl"
    assert answer.headers["content-type"] == "application/x-ndjson" and answer.headers["x-crowdnb-layout"] == "file"
    manifest = json.loads(base64.urlsafe_b64decode(answer.headers["x-crowdnb-manifest"]))
    assert manifest["options"]["workers"] == ["ana"] and manifest["counts"]["labels"] == 6
    assert {json.loads(line)["worker"] for line in answer.text.splitlines()} == {"ana"}


def test_image_paths_are_relative_to_the_media_folder(served: tuple[Crowd, Path], tmp_path: Path) -> None:
    crowd, _ = served
    make_project(crowd, "paths")
    outside = write_images(tmp_path / "elsewhere", 1)[0]  # a local store may keep any path
    (tmp_path / "alias").symlink_to(crowd.media / "street")  # a path into the media folder by another name
    images = [str(outside), str(tmp_path / "alias" / "img001.jpeg")]
    crowd.store.add_tasks(crowd.store.project("paths").id, pd.DataFrame({"id": ["out", "alias"], "image": images}))
    _label(crowd.store, "paths", "ana", {"s0": "car", "out": "bus", "alias": "car"})
    with crowd.client("boss") as boss:
        answer = boss.get("/projects/paths/export", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    rows = pd.read_csv(io.StringIO(answer.text), keep_default_na=False)
    assert dict(zip(rows["task"], rows["image"], strict=True)) == {"s0": "street/img000.jpeg", "out": "", "alias": "street/img001.jpeg"}
    shown = answer.text + base64.urlsafe_b64decode(answer.headers["x-crowdnb-manifest"]).decode()
    assert str(crowd.media) not in shown and str(tmp_path) not in shown


def test_only_managers_export(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, server_tmp = served
    make_project(crowd, "closed")
    for who in ("ana", "ines", "eve"):
        with crowd.client(who) as client:
            answer = client.get("/projects/closed/export", params={"format": "csv"})
            assert answer.status_code == 403, (who, answer.text)
    with pytest.raises(Forbidden):
        remote("ines", "closed").export(tmp_path / "out.csv", "csv")
    assert not (tmp_path / "out.csv").exists()
    with crowd.client("boss") as boss:
        assert boss.get("/projects/nope/export", params={"format": "csv"}).status_code == 404
    assert _leftovers(server_tmp) == []


@pytest.mark.parametrize(("query", "status", "message"), [
    ({"format": "nope"}, 422, "unknown format 'nope'; formats: ["),
    ({}, 422, "format"),
    ({"format": "csv", "min_confidence": 0.5}, 422, "min_confidence applies to aggregated results"),
    ({"format": "csv", "aggregated": True, "min_confidence": 2}, 422, "min_confidence must be within 0-1"),
    ({"format": "csv", "aggregated": True, "worker": ["ana"]}, 422, "workers and approved_only select raw labels"),
    ({"format": "csv", "aggregated": True, "method": "nope"}, 422, "unknown aggregation method 'nope'"),
    ({"format": "csv", "media": "copy"}, 400, "media='copy' is not served"),
])
def test_bad_requests_say_why(served: tuple[Crowd, Path], query: dict[str, Any], status: int, message: str) -> None:
    crowd, server_tmp = served
    name = f"bad-{uuid.uuid4().hex[:6]}"
    make_project(crowd, name)
    with crowd.client("boss") as boss:
        answer = boss.get(f"/projects/{name}/export", params=query)
    assert answer.status_code == status and message in answer.text, answer.text
    assert _leftovers(server_tmp) == []


def test_a_refused_export_over_http_store_raises_and_leaves_nothing(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, _ = served
    make_project(crowd, "refused")
    (tmp_path / "out.csv").write_text("what was there")
    with pytest.raises(LabelError, match="unknown format 'nope'"):
        remote("boss", "refused").export(tmp_path / "out.csv", "nope")
    with pytest.raises(ValueError, match="relative to the server's media folder"):
        remote("boss", "refused").export(tmp_path / "out.csv", "csv", media_root="/srv")
    with pytest.raises(ValueError, match="selects no labels"):
        remote("boss", "refused").export(tmp_path / "out.csv", "csv", workers=[])
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"] and (tmp_path / "out.csv").read_text() == "what was there"


# On SQLite each label is a durable commit of its own: 20,000 of them take minutes to store.
@pytest.mark.parametrize("served", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_large_export_arrives_complete_and_nothing_stays_behind(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, server_tmp = served
    n = 10_000
    info = crowd.store.create_project("large", "text-class", {"classes": ["a", "b"]}, overlap=2)
    crowd.store.add_tasks(info.id, pd.DataFrame({"id": [f"t{i}" for i in range(n)], "text": [f"text {i} ✓" for i in range(n)]}))
    for worker in ("ana", "ben"):
        _label(crowd.store, "large", worker, {f"t{i}": "ab"[i % 2] for i in range(n)})
    done = remote("boss", "large").export(tmp_path / "large.csv", "csv")
    local = _local(crowd, "large").export(tmp_path / "local.csv", "csv")
    assert done.counts.labels == 2 * n and done.path.read_bytes() == local.path.read_bytes()
    with crowd.client("boss") as boss, boss.stream("GET", "/projects/large/export", params={"format": "jsonl"}) as answer:
        assert answer.status_code == 200
        first = next(answer.iter_raw())  # the caller goes away after the first piece
        assert first and int(answer.headers["content-length"]) > len(first)
        assert _leftovers(server_tmp) == []  # unlinked while the download goes on


def test_a_manifest_too_big_for_a_header_comes_in_a_zip(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, server_tmp = served
    classes = [f"class number {i:04d}" for i in range(300)]
    info = crowd.store.create_project("wide", "text-class", {"classes": classes})
    crowd.store.add_tasks(info.id, pd.DataFrame({"id": ["t0", "t1"], "text": ["one", "two"]}))
    _label(crowd.store, "wide", "ana", {"t0": classes[7]})
    with crowd.client("boss") as boss:
        answer = boss.get("/projects/wide/export", params={"format": "csv"})
    assert answer.headers["content-type"] == "application/zip" and "x-crowdnb-manifest" not in answer.headers
    assert answer.headers["content-disposition"] == 'attachment; filename="wide.csv.zip"'
    assert zipfile.ZipFile(io.BytesIO(answer.content)).namelist() == ["wide.csv", "wide.csv.manifest.json"]
    done = remote("boss", "wide").export(tmp_path / "wide.csv", "csv")
    local = _local(crowd, "wide").export(tmp_path / "local" / "wide.csv", "csv")
    assert done.path.read_bytes() == local.path.read_bytes() and _manifest(done) == _manifest(local)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local", "wide.csv", "wide.csv.manifest.json"]
    assert _leftovers(server_tmp) == []


def test_a_folder_export_travels_as_a_zip_and_replaces_the_folder(tmp_path: Path) -> None:
    written = tmp_path / "written"
    (written / "labels").mkdir(parents=True)
    (written / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (written / "data.yaml").write_text("names: [car]\n")
    (written / "manifest.json").write_text(json.dumps({"counts": Counts(files=2).as_dict()}))
    archive = _zipped(Exported(written, written / "manifest.json", Counts()), True, "ignored", tmp_path / "x.zip")
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["data.yaml", "labels/a.txt", "manifest.json"]
    target = tmp_path / "out"
    (target / "stale").mkdir(parents=True)
    _unpacked(archive, target, folder=True)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["data.yaml", "labels", "labels/a.txt", "manifest.json"]
    assert (target / "labels" / "a.txt").read_text() == "0 0.5 0.5 0.1 0.1\n"


def test_a_format_the_server_lacks_is_refused_and_its_folder_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def missing(*_: object, **__: object) -> Exported:
        raise MissingExtra("the hf-dataset format", "hf", "datasets")

    monkeypatch.setattr(exports.formats, "export", missing)
    monkeypatch.setattr(exports.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(HTTPException) as refused:
        exports._written(SimpleNamespace(name="p"), "hf-dataset", Options(), validate=False)  # type: ignore[arg-type]
    assert refused.value.status_code == 422 and 'pip install "crowdnb[hf]"' in refused.value.detail
    assert list(tmp_path.iterdir()) == []


def _boxes(crowd: Crowd, name: str) -> crowdnb.Project:
    """A bbox project over the six street images (in the media folder), boxes by ana."""
    project = crowdnb.Project.create(name, "bbox", store=crowd.store, classes=["car", "bus"])
    images = sorted((crowd.media / "street").glob("*.jpeg"))
    project.add_tasks(pd.DataFrame({"id": [f"s{i}" for i in range(len(images))], "image": [str(p) for p in images]}))
    crowd.store.add_member(project.info.id, "boss")
    box = [{"label": "bus", "x": 2.5, "y": 3.0, "w": 20.0, "h": 10.25}]
    _label(crowd.store, name, "ana", {"s0": box, "s1": box * 2, "s2": []})
    return project


def test_geometry_exports_over_the_server_are_the_local_ones(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, server_tmp = served
    local = _boxes(crowd, f"boxes-{uuid.uuid4().hex[:6]}")
    over = remote("boss", local.name)
    coco = over.export(tmp_path / "remote.json", "coco", validate=True)
    here = local.export(tmp_path / "local.json", "coco", media_root=str(crowd.media))
    mine, theirs = json.loads(coco.path.read_text()), json.loads(here.path.read_text())
    assert coco.counts.objects == 3 and mine["annotations"] == theirs["annotations"] and mine["images"] == theirs["images"]
    assert [image["file_name"] for image in mine["images"]][:2] == ["street/img000.jpeg", "street/img001.jpeg"]
    yolo = over.export(tmp_path / "remote-yolo", "yolo")
    local.export(tmp_path / "local-yolo", "yolo", media_root=str(crowd.media))
    labels = sorted(p.relative_to(yolo.path).as_posix() for p in (yolo.path / "labels").rglob("*.txt"))
    assert len(labels) == 3, labels  # the three labeled images, one file each
    for name in labels:
        assert (yolo.path / name).read_text() == (tmp_path / "local-yolo" / name).read_text()
    assert (yolo.path / "manifest.json").is_file() and yolo.counts.tasks == 6
    assert _leftovers(server_tmp) == []
    copy = crowdnb.Project.create(f"copy-{local.name}", "bbox", store=crowd.store, classes=["car", "bus"])
    crowd.store.add_member(copy.info.id, "boss")
    into = remote("boss", copy.name)
    assert into.import_tasks(coco.path, "coco", as_="answer").added == 6  # the server's relative paths, as they came
    answers = dict(zip(copy.tasks()["id"], copy.tasks()["known_answer"], strict=True))
    assert answers["s1"] == local.labels().set_index("task").loc["s1", "label"] and answers["s3"] is None


def test_a_server_export_says_which_images_it_could_not_reach(served: tuple[Crowd, Path], remote: Opener, tmp_path: Path) -> None:
    crowd, _ = served
    project = crowdnb.Project.create(f"reach-{uuid.uuid4().hex[:6]}", "bbox", store=crowd.store, classes=["car"])
    outside = write_images(tmp_path / "elsewhere", 1)[0]  # a local store may keep any path
    project.add_tasks(pd.DataFrame({"id": ["in", "out"], "image": [str(crowd.media / "street" / "img000.jpeg"), str(outside)]}))
    crowd.store.add_member(project.info.id, "boss")
    box = [{"label": "car", "x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0}]
    _label(crowd.store, project.name, "ana", {"in": box, "out": box})
    done = remote("boss", project.name).export(tmp_path / "y", "yolo")
    assert done.counts.labels == 1
    assert "out: YOLO needs image files; its image is not in this export's reach (outside the server's media folder)" in done.counts.skipped
    assert str(tmp_path) not in json.dumps(json.loads(done.manifest.read_text()))
