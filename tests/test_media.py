"""Image references: checked when added, sent as the original bytes when shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from samples import write_images

from crowdnb.media import image_payload, read_image


def test_local_image_payload_records_size_and_format(tmp_path: Path) -> None:
    (path,) = write_images(tmp_path, 1)
    payload = image_payload(str(path))
    assert payload == {"image": str(path.resolve()), "width": 64, "height": 48, "format": "JPEG"}
    data, mime = read_image(payload)
    assert (data, mime) == (path.read_bytes(), "image/jpeg")  # no re-encoding


def test_formats_browsers_cannot_show_are_converted_to_png(tmp_path: Path) -> None:
    (path,) = write_images(tmp_path, 1, fmt="TIFF")
    data, mime = read_image(image_payload(path))
    assert mime == "image/png" and data.startswith(b"\x89PNG")


def test_urls_are_kept_and_other_schemes_refused() -> None:
    assert image_payload("https://example.org/a.jpg") == {"image_url": "https://example.org/a.jpg"}
    with pytest.raises(ValueError, match="javascript"):
        image_payload("javascript:alert(1)")


@pytest.mark.parametrize("ref", ["", None, 3, "/no/such/file.jpg"])
def test_bad_references_are_named(ref: object) -> None:
    with pytest.raises(ValueError, match=repr(ref) if ref != "/no/such/file.jpg" else "no image file"):
        image_payload(ref)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.jpg"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .*fake.jpg"):
        image_payload(path)
