"""Every notebook in notebooks/ runs top to bottom, headless, as a new user runs it: a fresh
SQLite store, no crowd server configured, and a working folder that is a temporary copy of
notebooks/ (so nothing is written into the checkout). A new notebook is covered automatically."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROBE = "import sys, crowdnb\nprint('probe', sys.executable, crowdnb.__file__, sep='|')"

# What a notebook must show beyond the generic checks (all given strings in its printed text).
PRINTED = {
    "crowd_worker.ipynb": ["This is a DEMO", "데모입니다", "demo-worker: 0 points"],
    "inspector.ipynb": ["This is a DEMO", "데모입니다"],
}

pytestmark = pytest.mark.timeout(180)


def notebook_names() -> list[str]:
    return sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_folder_has_notebooks() -> None:
    assert len(notebook_names()) >= 6, notebook_names()


@pytest.fixture
def new_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working copy of notebooks/, a fresh store and data folder, no crowd server; the kernel
    (which inherits this environment) imports crowdnb from this checkout."""
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("sample-photos", ".ipynb_checkpoints", "*.sqlite*"))
    for name in ("CROWDNB_SERVER", "CROWDNB_TOKEN", "CROWDNB_PROJECT", "CROWDNB_WORKER", "JUPYTER_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CROWDNB_STORE", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return work


def texts(cell: Any) -> str:
    """Printed text and plain-text results of a code cell."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_runs_top_to_bottom(name: str, new_user: Path) -> None:
    checkout_before = sorted(p.name for p in NOTEBOOKS.iterdir())
    notebook = nbformat.read(new_user / name, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(notebook, kernel_name="python3", timeout=120, store_widget_state=True,
                            resources={"metadata": {"path": str(new_user)}})
    client.execute()  # raises CellExecutionError, with the traceback, if any cell errors

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    stderr = "".join(o["text"] for c in cells for o in c.get("outputs", [])
                     if o["output_type"] == "stream" and o["name"] == "stderr")
    assert "Traceback" not in stderr, stderr

    probe = texts(cells[-1]).strip().split("|")
    assert probe[0] == "probe" and Path(probe[1]).parent == Path(sys.executable).parent, probe  # this venv's kernel
    assert Path(probe[2]).resolve() == (REPO / "crowdnb" / "__init__.py").resolve(), probe

    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = [o["data"][WIDGET_VIEW]["model_id"] for c in cells for o in c.get("outputs", [])
             if WIDGET_VIEW in o.get("data", {})]
    for model_id in shown:
        assert model_id in state, f"{name}: displayed widget {model_id} has no saved state"
    labelers = [s["state"] for s in state.values() if s["model_name"] == "AnyModel" and "view" in s["state"]]
    for labeler in labelers:
        assert labeler["total"] > 0, f"{name}: {labeler['title']!r} has no tasks"
        assert labeler["error"] == "", f"{name}: {labeler['title']!r} shows {labeler['error']!r}"
    printed = "".join(texts(c) for c in cells[:-1])
    assert shown or printed.strip(), f"{name} shows nothing"
    for expected in PRINTED.get(name, []):
        assert expected in printed, f"{name}: {expected!r} not in the outputs:\n{printed[:3000]}"
    if name == "inspector.ipynb":
        reviews = [s["state"]["value"] for s in state.values() if s["model_name"] == "LabelModel"]
        assert any(v.startswith("task m") for v in reviews), f"the inspector shows no label to review: {reviews}"
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == checkout_before, "the run wrote into the checkout"
