"""An ipyannotations 0.5.1 widget as a project's widget renders and labels in JupyterLab and Voila."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import wait_for_widget, write_notebook

from crowdnb import Project, SqlStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CELLS = [
    "import crowdnb, pandas as pd\n"
    "from crowdnb.samples import sample_messages\n"
    "from ipyannotations.text import ClassLabeller\n"
    "p = crowdnb.Project.create('plug', kind='text-class', classes=['praise', 'complaint', 'question'])\n"
    "p.add_tasks(sample_messages().head(3).drop(columns='answer'))\n"
    "p.annotate(widget=ClassLabeller(options=['praise', 'complaint', 'question']))",
]


@pytest.mark.parametrize("where", ["lab", "voila"])
def test_ipyannotations_labeller_renders_and_stores(where: str, request, page, console, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'plug.sqlite'}"
    env = {"CROWDNB_STORE": store_url, "CROWDNB_WORKER": "plug-tester"}
    if where == "lab":
        lab = request.getfixturevalue("lab")
        lab.write_notebook(f"plug_{tmp_path.name}.ipynb", CELLS, env=env)
        lab.open_notebook(page, f"plug_{tmp_path.name}.ipynb")
        lab.run_all(page)
    else:
        page.goto(request.getfixturevalue("voila")(write_notebook(tmp_path / "plug.ipynb", CELLS), env=env))
    button = wait_for_widget(page, "button.jupyter-button:has-text('complaint')", timeout=60)
    assert page.get_by_text("The courier was early").count() == 1
    button.click()
    page.get_by_text("My order arrived with a cracked screen.").wait_for(timeout=15_000)
    with SqlStore(store_url) as store:
        deadline = time.monotonic() + 10
        while (labels := Project.open("plug", store=store).labels()).empty and time.monotonic() < deadline:
            time.sleep(0.1)
    assert labels[["task", "worker", "label"]].values.tolist() == [["m00", "plug-tester", "complaint"]]
    assert page.get_by_text("1 / 3").count() == 1
    assert page.get_by_text("Class null not found").count() == 0
    console.assert_no_errors()
