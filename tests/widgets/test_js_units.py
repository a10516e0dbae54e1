"""The front end's pure state functions, tested in Node (`node --test tests/widgets/js`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).with_name("js")


def node() -> str:
    """The node binary; fails (never skips) without it, so a missing Node is noticed."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("node not found on PATH: the front-end unit tests need Node 20+ (apt-get install nodejs)", pytrace=False)
    return found


def test_node_unit_tests_pass() -> None:
    files = sorted(JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {JS_TESTS}"
    result = subprocess.run([node(), "--test", *map(str, files)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
