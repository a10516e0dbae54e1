"""Task media: what a kind's tasks carry (a text, or an image) and the adapter that turns an
input cell into a stored payload and a payload into what the widget shows.

Images: a reference is checked when a task is added and its bytes read when it is shown.
Photos the browser can decode natively (JPEG, PNG, GIF, WebP) are sent as their own file bytes,
never re-encoded; other formats are converted to PNG once, when shown.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from PIL import Image, UnidentifiedImageError

BROWSER_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def image_payload(ref: Any) -> dict[str, Any]:
    """The stored payload of an image reference (a local path or an http(s) URL).

    A path must point at a readable image; its absolute path, size and format are recorded.
    Raises ValueError saying what is wrong with `ref`.
    """
    if isinstance(ref, os.PathLike):
        ref = os.fspath(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"expected an image path or URL, got {ref!r}")
    scheme = urlparse(ref).scheme.lower()
    if scheme in ("http", "https"):
        return {"image_url": ref}
    if scheme and len(scheme) > 1:
        raise ValueError(f"unsupported URL scheme {scheme!r} in {ref!r}; use a path or http(s)")
    path = Path(ref).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"no image file at {str(path)!r}")
    try:
        with Image.open(path) as image:
            width, height = image.size
            fmt = image.format or "unknown"
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read {str(path)!r} as an image ({exc.__class__.__name__})") from None
    return {"image": str(path), "width": width, "height": height, "format": fmt}


def read_image(payload: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes and MIME type to send to the browser for a stored image payload."""
    path = Path(payload["image"])
    mime = BROWSER_FORMATS.get(payload.get("format", ""))
    if mime is not None:
        return path.read_bytes(), mime
    with Image.open(path) as image:
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue(), "image/png"


class Media:
    """A kind's media: the input column it reads, the payload it stores, the bytes it shows."""

    column: ClassVar[str]

    def payload(self, value: Any) -> dict[str, Any]:
        """The stored payload of an input cell; raises ValueError saying what is wrong."""
        raise NotImplementedError

    def shown(self, payload: dict[str, Any]) -> tuple[bytes, str] | None:
        """Bytes and MIME type for the widget (None: the payload's text is all it shows)."""
        return None


class TextMedia(Media):
    """A text to label: a non-empty string."""

    column: ClassVar[str] = "text"

    def payload(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        if not value.strip():
            raise ValueError(f"empty text {value!r}; a text task needs something to label")
        return {"text": value}


class ImageMedia(Media):
    """An image to label: a local file (its size recorded) or an http(s) URL."""

    column: ClassVar[str] = "image"

    def payload(self, value: Any) -> dict[str, Any]:
        return image_payload(value)

    def shown(self, payload: dict[str, Any]) -> tuple[bytes, str] | None:
        return read_image(payload) if "image" in payload else None


TEXT = TextMedia()
IMAGE = ImageMedia()
