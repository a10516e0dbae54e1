"""Small sample files for tests: real JPEG/PNG/TIFF images made with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, n: int, *, fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> list[Path]:
    """`n` distinct noise images in `folder`, returned in order."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"img{i:03d}.{fmt.lower()}"
        Image.fromarray(pixels).save(path, format=fmt)
        paths.append(path)
    return paths
