"""The quickstart in a real JupyterLab and in Voila: label with the keyboard, then read the store."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from harness import env_cell_source, wait_for_widget

from crowdnb import Project, SqlStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"

# (keys pressed on the current item, id of the item expected after them); photo classes are
# 1 person, 2 animal, 3 object, 4 texture, 5 space; message classes 1 praise, 2 complaint, 3 question
PHOTO_STEPS = [
    (["1", "Enter"], "camera"),
    (["3", "Enter"], "chelsea"),  # camera as "object": corrected below
    (["Backspace"], "camera"),
    (["1", "Enter"], "chelsea"),  # relabeled: person
    (["2", "Enter"], "cat"),
    (["s"], "coffee"),  # skip the second cat
    (["3", "Enter"], "rocket"),
    (["3", "Enter"], "clock"),
]
PHOTO_LABELS = {"astronaut": "person", "camera": "person", "chelsea": "animal", "coffee": "object", "rocket": "object"}

MESSAGE_STEPS = [
    (["1", "Enter"], "m01"),
    (["2", "Enter"], "m02"),
    (["s"], "m03"),
    (["Backspace"], "m02"),
    (["3", "Enter"], "m03"),  # m02 was never labeled before the skip: labeled now
    (["1", "Enter"], "m04"),
    (["1", "Enter"], "m05"),
    (["Backspace"], "m04"),
    (["2", "Enter"], "m05"),  # relabeled: complaint
]
MESSAGE_LABELS = {"m00": "praise", "m01": "complaint", "m02": "question", "m03": "praise", "m04": "complaint"}


def quickstart_copy(folder: Path, name: str, env: dict[str, str]) -> Path:
    """The quickstart notebook, unchanged but for a first cell that sets the kernel's env."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(env_cell_source(env)))
    path = folder / name
    nbformat.write(notebook, path)
    return path


def label_with_keys(page, root, first: str, steps: list[tuple[list[str], str]]) -> None:
    """Focus the widget, then press each step's keys and wait for the expected next item."""
    expect_task(root, first)
    root.locator(".cnb-stage").click()
    for keys, expected in steps:
        for key in keys:
            page.keyboard.press(key)
        expect_task(root, expected)


def expect_task(root, task_id: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while root.get_attribute("data-task-id") != task_id:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected task {task_id!r}, widget shows {root.get_attribute('data-task-id')!r}")
        time.sleep(0.02)


def stored_labels(store_url: str, project: str, expected: int, timeout: float = 15) -> dict[str, tuple[str, str]]:
    """task -> (worker, label) once `expected` labels are stored."""
    with SqlStore(store_url) as store:
        deadline = time.monotonic() + timeout
        while True:
            labels = Project.open(project, store=store).labels()
            if len(labels) >= expected or time.monotonic() > deadline:
                return {row.task: (row.worker, row.label) for row in labels.itertuples()}
            time.sleep(0.1)


def assert_flow(page, store_url: str, worker: str) -> None:
    page.wait_for_function("() => document.querySelectorAll('.cnb-root').length === 2", timeout=60_000)
    photos, messages = page.locator(".cnb-root").all()
    label_with_keys(page, photos, "astronaut", PHOTO_STEPS)
    label_with_keys(page, messages, "m00", MESSAGE_STEPS)
    assert stored_labels(store_url, "photos", 5) == {k: (worker, v) for k, v in PHOTO_LABELS.items()}
    assert stored_labels(store_url, "messages", 5) == {k: (worker, v) for k, v in MESSAGE_LABELS.items()}
    with SqlStore(store_url) as store:
        photo_project = Project.open("photos", store=store)
        assert photo_project.progress(worker) == (5, 13)
        tasks = photo_project.tasks().set_index("id")
        assert tasks.loc["cat", "n_labels"] == 0  # skipped, not labeled
    assert "5 / 13" in photos.locator(".cnb-count").inner_text()


def test_quickstart_in_jupyterlab(lab, page, console, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'lab.sqlite'}"
    worker = "lab-tester"
    quickstart_copy(lab.root, "quickstart_lab.ipynb", {"CROWDNB_STORE": store_url, "CROWDNB_WORKER": worker})
    lab.open_notebook(page, "quickstart_lab.ipynb")
    lab.run_all(page)
    assert_flow(page, store_url, worker)
    console.assert_no_errors()


def test_quickstart_in_voila(voila, page, console, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'voila.sqlite'}"
    worker = "voila-tester"
    notebook = quickstart_copy(tmp_path, "quickstart_voila.ipynb", {})
    page.goto(voila(notebook, env={"CROWDNB_STORE": store_url, "CROWDNB_WORKER": worker}))
    wait_for_widget(page, ".cnb-root", timeout=60)
    assert_flow(page, store_url, worker)
    console.assert_no_errors()


def test_task_text_is_shown_as_text_never_as_html(lab, page, console, tmp_path: Path) -> None:
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold?</b>'
    store_url = f"sqlite:///{tmp_path / 'xss.sqlite'}"
    cells = [
        "import crowdnb, pandas as pd\n"
        "p = crowdnb.Project.create('xss', kind='text-class', classes=['<i>ok</i>', 'fine'])\n"
        f"p.add_tasks(pd.DataFrame({{'text': [{payload!r}]}}))\n"
        "p.annotate()"
    ]
    lab.write_notebook("xss.ipynb", cells, env={"CROWDNB_STORE": store_url, "CROWDNB_WORKER": "x"})
    lab.open_notebook(page, "xss.ipynb")
    lab.run_all(page)
    root = wait_for_widget(page, ".cnb-root .cnb-text")
    assert root.inner_text() == payload
    assert page.locator(".cnb-root .cnb-stage img, .cnb-root .cnb-stage script, .cnb-root b").count() == 0
    assert page.locator(".cnb-root .cnb-class").first.inner_text().endswith("<i>ok</i>")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    console.assert_no_errors()
