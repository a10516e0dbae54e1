"""The `packaging` marker: tests of the built wheel in fresh virtual environments (a few
minutes; part of the default suite, deselect with ``-m "not packaging"``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "packaging: builds the wheel and installs it into fresh venvs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/packaging/" in item.nodeid:
            item.add_marker(pytest.mark.packaging)
