"""Folders of images: the files found, classes from parent folders, links out of the folder
left out, and a large import through the read-only "image-folder" format."""

from __future__ import annotations

from pathlib import Path

import pytest
from samples import write_images  # tests/support, on the path from the root conftest

import crowdnb
from crowdnb import formats
from crowdnb.formats.folder import image_folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """``root`` with cat/ and dog/deep/ images, one image at the top, a text file, an upper-case
    extension, a link to an image outside and a link to a folder outside."""
    root = tmp_path / "root"
    write_images(root / "cat", 2)
    write_images(root / "dog" / "deep", 1, fmt="PNG")
    write_images(root, 1)
    (root / "cat" / "img000.jpeg").rename(root / "cat" / "A.JPG")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / "fake.png.txt").write_text("not an image")
    outside = write_images(tmp_path / "outside", 1)[0]
    (root / "cat" / "stolen.jpeg").symlink_to(outside)
    (root / "elsewhere").symlink_to(tmp_path / "outside", target_is_directory=True)
    return root


def test_images_found_with_classes_from_their_parent_folder(photos: Path) -> None:
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) outside .*\['cat/stolen.jpeg'\]"):
        found = image_folder(photos, labels_from="parent")
    assert found.to_dict("list") == {
        "image": [str(photos / "cat" / "A.JPG"), str(photos / "cat" / "img001.jpeg"), str(photos / "dog" / "deep" / "img000.png"), str(photos / "img000.jpeg")],
        "id": ["cat/A.JPG", "cat/img001.jpeg", "dog/deep/img000.png", "img000.jpeg"],
        "label": ["cat", "cat", "deep", None],
    }


def test_pattern_and_no_labels(photos: Path) -> None:
    found = image_folder(photos, "dog/**/*")
    assert found.columns.tolist() == ["image", "id"] and found["id"].tolist() == ["dog/deep/img000.png"]
    with pytest.raises(ValueError, match="labels_from must be one of"):
        image_folder(photos, labels_from="folder")
    with pytest.raises(ValueError, match="no folder at"):
        image_folder(photos / "missing")


def test_import_of_a_folder_as_known_answers(store, photos: Path) -> None:
    project = crowdnb.Project.create("folder", "image-class", store=store, classes=["cat", "deep"])
    with pytest.warns(UserWarning, match="stolen.jpeg"):
        assert project.import_tasks(photos, "image-folder", as_="answer").added == 4
    tasks = project.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == {"cat/A.JPG": "cat", "cat/img001.jpeg": "cat", "dog/deep/img000.png": "deep", "img000.jpeg": None}
    assert tasks["payload"].map(lambda p: (p["width"], p["height"], p["format"])).tolist() == [(64, 48, "JPEG")] * 2 + [(64, 48, "PNG"), (64, 48, "JPEG")]


def test_other_image_kinds_take_the_images_as_tasks(photos: Path) -> None:
    with pytest.warns(UserWarning):
        rows = [row for piece in formats.read(photos, "image-folder", kind="bbox") for row in piece.to_dict("records")]
    assert [(row["id"], row["label"]) for row in rows] == [("cat/A.JPG", None), ("cat/img001.jpeg", None), ("dog/deep/img000.png", None), ("img000.jpeg", None)]


def test_two_thousand_images_after_a_dry_run(sqlite_store, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for name in ("ant", "bee"):
        write_images(root / name, 1_000, size=(8, 6))
    project = crowdnb.Project.create("many", "image-class", store=sqlite_store, classes=["ant", "bee"])
    checked = project.import_tasks(root, "image-folder", as_="answer", dry_run=True)
    assert (checked.rows, checked.added, checked.dry_run) == (2_000, 0, True) and len(project.tasks()) == 0
    assert project.import_tasks(root, "image-folder", as_="answer").added == 2_000
    tasks = project.tasks()
    assert len(tasks) == 2_000 and (tasks["known_answer"] == tasks["id"].str.split("/").str[0]).all()


def test_image_folder_is_read_only(sqlite_store, tmp_path: Path) -> None:
    project = crowdnb.Project.create("ro", "image-class", store=sqlite_store, classes=["cat"])
    assert "image-folder" in formats.formats_for("image-class", reading=True)
    assert "image-folder" not in formats.formats_for("image-class")
    with pytest.raises(ValueError, match="format 'image-folder' can only be read; formats that write image-class: \\[.*'csv'"):
        project.export(tmp_path / "out", "image-folder")
    assert not [p.name for p in tmp_path.iterdir() if "out" in p.name]  # neither the folder nor a half-written one


def test_one_list_of_image_suffixes_compared_in_lower_case(tmp_path: Path) -> None:
    from crowdnb.formats import folder, imagefiles, ocr

    suffixes = imagefiles.IMAGE_SUFFIXES
    assert isinstance(suffixes, frozenset) and all(s == s.lower() and s.startswith(".") for s in suffixes)
    assert {".gif", ".webp", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".png"} <= suffixes
    assert folder.IMAGE_SUFFIXES is suffixes and ocr.IMAGE_SUFFIXES is suffixes and not hasattr(folder, "EXTENSIONS")
    root = tmp_path / "mixed"
    for name, fmt in (("a.GIF", "GIF"), ("b.WebP", "WEBP"), ("c.bmp", "BMP"), ("d.Tif", "TIFF"), ("e.jpg", "JPEG")):
        write_images(root, 1, fmt=fmt)[0].rename(root / name)
    (root / "f.gif.txt").write_text("not an image")
    assert image_folder(root)["id"].tolist() == ["a.GIF", "b.WebP", "c.bmp", "d.Tif", "e.jpg"]
