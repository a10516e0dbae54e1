"""Smoke tests proving the browser harness: real clicks in JupyterLab and Voila reach the kernel."""
import pytest

from harness import wait_for_file, wait_for_widget, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

IPW_CELL = '''\
import os, pathlib, ipywidgets as w
OUT = pathlib.Path(os.environ["HARNESS_OUT"])
btn = w.Button(description="ipw-click")
btn.on_click(lambda b: (OUT / "ipw_clicked").write_text("ok"))
btn
'''

ANYWIDGET_CELL = '''\
import os, pathlib, anywidget

class Hi(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const b = document.createElement("button");
      b.className = "aw-hi";
      b.textContent = "aw-click";
      b.addEventListener("click", () => model.send({ type: "hi" }));
      el.appendChild(b);
    }
    export default { render };
    """

def _on_msg(widget, content, buffers):
    if content.get("type") == "hi":
        (pathlib.Path(os.environ["HARNESS_OUT"]) / "aw_clicked").write_text("ok")

hi = Hi()
hi.on_msg(_on_msg)
hi
'''

# Extra console errors to tolerate (regexes); off-host resource failures are ignored by default.
IGNORED_JS_ERRORS = []


def test_lab_ipywidgets_and_anywidget(lab, page, console, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    lab.write_notebook("smoke_lab.ipynb", [IPW_CELL, ANYWIDGET_CELL], env={"HARNESS_OUT": out})
    lab.open_notebook(page, "smoke_lab.ipynb")
    lab.run_all(page)

    ipw = ".jp-OutputArea-output button.jupyter-button:has-text('ipw-click')"
    wait_for_widget(page, ipw).click()
    wait_for_file(out / "ipw_clicked", timeout=10)

    wait_for_widget(page, ".jp-OutputArea-output button.aw-hi").click()
    wait_for_file(out / "aw_clicked", timeout=10)

    console.assert_no_errors(ignore=IGNORED_JS_ERRORS)


def test_voila_anywidget(voila, page, console, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    nb = write_notebook(tmp_path / "smoke_voila.ipynb", [ANYWIDGET_CELL])
    url = voila(nb, env={"HARNESS_OUT": str(out)})
    page.goto(url)

    wait_for_widget(page, "button.aw-hi", timeout=60).click()
    wait_for_file(out / "aw_clicked", timeout=10)

    console.assert_no_errors(ignore=IGNORED_JS_ERRORS)
