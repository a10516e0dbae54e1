"""What a user installs: the wheel built from this checkout, in fresh virtual environments.

One session fixture builds the wheel once (from a copy of the checkout, so no build/ or
egg-info lands in it) and installs it into two new venvs at the same time: one without extras
(the tour, the command line, light imports, the messages naming a missing extra) and one with
the ``notebook`` extra, whose own JupyterLab runs a notebook with one widget per view in the
real browser. Nothing here uses the checkout's virtualenv or PYTHONPATH except the test runner
and Playwright. Missing prerequisites fail with a message; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import (
    ConsoleCollector,
    free_port,
    start_lab,
    tail,
    write_notebook,
)

pytestmark = pytest.mark.timeout(600)
VIEWS = ["boxes", "classify", "freetext", "keypoints", "multiselect", "polygon", "qa", "spans"]


@dataclass
class Installed:
    wheel: Path
    base: Path       # venv with the plain wheel
    notebook: Path   # venv with the wheel's `notebook` extra
    work: Path


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """The environment of a new user: no PYTHONPATH, no crowdnb variables, `venv` first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("CROWDNB_")}
    main_bin = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != main_bin]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join(path)
    return env


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {done.returncode}:\n"
                    f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}", pytrace=False)
    return done


def checkout_files() -> list[str]:
    """Files of the checkout as git sees them (tracked, and new ones not ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return [f for f in listed if f and (REPO / f).is_file()]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)], cwd=work, env=clean_env())
    wheels = list(dist.glob("crowdnb-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]
    base, notebook = work / "venv-base", work / "venv-notebook"
    env = clean_env()
    for venv in (base, notebook):
        run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env)
    # Both installs at once: most of the time goes to unpacking, and there are two cores.
    installs = [
        subprocess.Popen([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check", spec],
                         cwd=work, env=clean_env(venv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for venv, spec in ((base, str(wheel)), (notebook, f"{wheel}[notebook]"))
    ]
    for process in installs:
        out, err = process.communicate(timeout=480)
        if process.returncode != 0:
            pytest.fail(f"{' '.join(process.args)} failed ({process.returncode}):\n{out[-3000:]}\n{err[-3000:]}", pytrace=False)
    return Installed(wheel, base, notebook, work)


# ------------------------------------------------------------------ the wheel's contents

def test_wheel_has_every_package_file(installed: Installed) -> None:
    expected = {f for f in checkout_files() if f.startswith("crowdnb/") and not f.endswith(".pyc") and "__pycache__" not in f}
    assert any(f.startswith("crowdnb/widgets/static/views/") for f in expected)
    assert any(f.startswith("crowdnb/store/migrations/versions/") for f in expected)
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    missing = sorted(expected - names)
    assert not missing, f"the wheel lacks {len(missing)} file(s) of the checkout: {missing}"
    assert "crowdnb = crowdnb.cli:main" in entry_points


# ------------------------------------------------------------------ without extras

SMOKE = """
import json, sys, uuid
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

import crowdnb
from crowdnb.samples import MESSAGE_CLASSES, sample_messages

folder = Path(sys.argv[1])
store = crowdnb.SqlStore(folder / "tour.sqlite")
images = []
for i, color in enumerate(["red", "green", "blue"]):
    path = folder / f"img{i}.png"
    Image.new("RGB", (64, 48), color).save(path)
    images.append(str(path))
animals = crowdnb.Project.create("animals", kind="image-class", classes=["cat", "dog", "other"], store=store)
animals.add_tasks(pd.DataFrame({"id": ["a", "b", "c"], "image": images}))
messages = crowdnb.Project.create("messages", kind="text-class", classes=MESSAGE_CLASSES, store=store, overlap=1)
texts = sample_messages().head(4)
messages.add_tasks(texts)
answers = dict(zip(texts["id"], texts["answer"]))
report = {"crowdnb": crowdnb.__file__, "views": VIEWS_MISSING, "projects": {}}
for project, label_of in ((animals, lambda task: "cat"), (messages, answers.get)):
    widget = project.annotate(worker="ana")
    report["views"] = [v for v in VIEWS if f"function {v}(" not in widget._esm]
    source = widget._source
    items = source.fetch(10, [])
    for item in items:
        source.submit(item.task_id, label_of(item.external_id), str(uuid.uuid4()), 1500)
    labels, results = project.labels(), project.results()
    report["projects"][project.name] = {
        "view": widget.view, "items": len(items), "labels": labels["label"].tolist(),
        "workers": sorted(set(labels["worker"])), "results": results["label"].tolist(),
    }
print(json.dumps(report))
""".replace("VIEWS_MISSING", "None")


def test_the_tour_runs_in_a_venv_without_extras(installed: Installed, tmp_path: Path) -> None:
    python = installed.base / "bin" / "python"
    script = tmp_path / "smoke.py"
    script.write_text(f"VIEWS = {VIEWS!r}\n" + SMOKE)
    done = run([str(python), str(script), str(tmp_path)], cwd=tmp_path, env=clean_env(installed.base))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["crowdnb"]).is_relative_to(installed.base), report["crowdnb"]
    assert report["views"] == [], f"views missing from the widget's _esm: {report['views']}"
    assert report["projects"] == {
        "animals": {"view": "classify", "items": 3, "labels": ["cat"] * 3, "workers": ["ana"], "results": ["cat"] * 3},
        "messages": {"view": "classify", "items": 4, "labels": ["praise", "complaint", "question", "praise"],
                     "workers": ["ana"], "results": ["praise", "complaint", "question", "praise"]},
    }
    crowdnb = str(installed.base / "bin" / "crowdnb")
    assert "serve" in run([crowdnb, "--help"], cwd=tmp_path, env=clean_env(installed.base)).stdout
    listed = run([crowdnb, "--store", str(tmp_path / "tour.sqlite"), "projects"], cwd=tmp_path, env=clean_env(installed.base)).stdout
    assert listed.splitlines() == ["animals\timage-class\t3 tasks", "messages\ttext-class\t4 tasks"], listed


def test_aggregation_loads_no_store_client_or_notebook_dependency(installed: Installed, tmp_path: Path) -> None:
    code = ("import sys, crowdnb, crowdnb.aggregation\n"
            "print([m for m in ('sqlalchemy', 'httpx', 'IPython', 'psycopg', 'ipywidgets', 'fastapi') if m in sys.modules])")
    done = run([str(installed.base / "bin" / "python"), "-c", code], cwd=tmp_path, env=clean_env(installed.base))
    assert done.stdout.strip() == "[]", done.stdout


FORMATS_SMOKE = """
import json, sys
import pandas as pd
import crowdnb
from crowdnb import formats
from PIL import Image
folder = sys.argv[1]
Image.new("RGB", (40, 30)).save(f"{folder}/a.png")
project = crowdnb.Project.create("boxes", "bbox", store=f"{folder}/f.sqlite", classes=["car"])
project.add_tasks(pd.DataFrame({"id": ["a"], "image": [f"{folder}/a.png"]}))
report = {"writers": formats.formats_for("bbox"), "csv": project.export(f"{folder}/a.csv", "csv").counts.tasks,
          "coco": project.export(f"{folder}/a.json", "coco").counts.tasks}
for name, call in (("coco-read", lambda: list(formats.read(f"{folder}/a.json", "coco", kind="bbox"))),
                   ("yolo", lambda: project.export(f"{folder}/y", "yolo")),
                   ("hf", lambda: project.export(f"{folder}/h", "hf-dataset"))):
    try:
        call()
        report[name] = "ran"
    except crowdnb.MissingExtra as exc:
        report[name] = str(exc)
print(json.dumps(report))
"""


def test_formats_without_extras_write_tables_and_coco_and_name_the_extra_for_the_rest(installed: Installed, tmp_path: Path) -> None:
    script = tmp_path / "formats.py"
    script.write_text(FORMATS_SMOKE)
    done = run([str(installed.base / "bin" / "python"), str(script), str(tmp_path)], cwd=tmp_path, env=clean_env(installed.base))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"coco", "yolo", "voc", "csv", "parquet", "label-studio", "hf-dataset"} <= set(report["writers"])
    assert (report["csv"], report["coco"]) == (1, 1)
    assert 'needs ijson, which is not installed: pip install "crowdnb[formats]"' in report["coco-read"]
    assert 'pip install "crowdnb[formats]"' in report["yolo"] and 'pip install "crowdnb[hf]"' in report["hf"]


def test_serve_without_the_server_extra_names_the_install(installed: Installed, tmp_path: Path) -> None:
    done = run([str(installed.base / "bin" / "crowdnb"), "--store", str(tmp_path / "s.sqlite"), "serve", "--media", str(tmp_path),
                "--port", str(free_port())], cwd=tmp_path, env=clean_env(installed.base), timeout=60, check=False)
    output = done.stdout + done.stderr
    if 'pip install "crowdnb[server]"' not in output or "Traceback" in output or done.returncode == 0:
        pytest.fail("missing behaviour (crowdnb/cli.py, _serve): `crowdnb serve` without the server extra must exit "
                    "non-zero with one line naming pip install \"crowdnb[server]\" and no traceback; it printed "
                    f"(exit {done.returncode}):\n{output[-2000:]}", pytrace=False)


def test_postgres_url_without_psycopg_names_the_install(installed: Installed, tmp_path: Path) -> None:
    code = ("import crowdnb\n"
            "try:\n"
            "    crowdnb.SqlStore('postgresql+psycopg://crowd@127.0.0.1:1/crowd')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc, sep=': ')\n")
    done = run([str(installed.base / "bin" / "python"), "-c", code], cwd=tmp_path, env=clean_env(installed.base), timeout=60)
    if 'pip install "crowdnb[postgres]"' not in done.stdout:
        pytest.fail("missing behaviour (crowdnb/store/engine.py, create_engine): a postgresql+psycopg:// URL without "
                    "psycopg must raise crowdnb.MissingExtra naming pip install \"crowdnb[postgres]\"; it raised: "
                    f"{done.stdout.strip() or done.stderr[-2000:]}", pytrace=False)


def test_demo_server_without_the_server_extra_names_the_install(installed: Installed, tmp_path: Path) -> None:
    code = ("import crowdnb\n"
            "from crowdnb.samples import demo_server\n"
            "try:\n"
            "    demo_server()\n"
            "except crowdnb.MissingExtra as exc:\n"
            "    print(exc)\n")
    done = run([str(installed.base / "bin" / "python"), "-c", code], cwd=tmp_path, env=clean_env(installed.base), timeout=60)
    assert 'pip install "crowdnb[server]"' in done.stdout, done.stdout


# ------------------------------------------------------------------ with the notebook extra, in the browser

VIEW_NOTEBOOK = [
    """import sys, crowdnb
print("kernel", sys.executable, crowdnb.__file__, sep="|")""",
    """from crowdnb.samples import PHOTO_CLASSES, sample_instructions, sample_messages, sample_photos, sample_sentences
photos = sample_photos("photos").set_index("id")
def pick(*names):
    return photos.loc[list(names)].reset_index().drop(columns="answer")
texts = sample_messages().drop(columns="answer").head(3)
store = crowdnb.SqlStore("views.sqlite")
def project(view, kind, tasks, **options):
    made = crowdnb.Project.create(f"view-{view}", kind=kind, store=store, **options)
    made.add_tasks(tasks)
    return made.annotate(worker="tester")""",
    'project("classify", "image-class", pick("chelsea", "coffee"), classes=PHOTO_CLASSES)',
    'project("multiselect", "text-multilabel", texts, classes=["delivery", "payment", "product"])',
    'project("boxes", "bbox", pick("astronaut", "rocket"), classes=["person", "object"])',
    'project("polygon", "polygon", pick("coffee"), classes=["cup", "plate"])',
    'project("keypoints", "keypoints", pick("astronaut"), preset="face")',
    'project("spans", "spans", sample_sentences().head(3), classes=["PLACE", "FOOD"])',
    'project("freetext", "free-text", texts, prompt="Write a short reply.", max_chars=200)',
    'project("qa", "qa", sample_instructions().head(2), min_turns=1, max_turns=3)',
]

# A view-specific element, visible once the view shows its first task.
VIEW_ELEMENT = {
    "classify": ".cnb-canvas img", "multiselect": ".cnb-classes .cnb-class", "boxes": ".cnb-canvas img",
    "polygon": ".cnb-canvas img", "keypoints": ".cnb-keypoints", "spans": ".cnb-spantext .cnb-seg",
    "freetext": "textarea.cnb-input", "qa": ".cnb-qa .cnb-turn textarea",
}


@pytest.mark.browser
def test_every_view_renders_in_the_installed_jupyterlab(installed: Installed, tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import Error as PlaywrightError

    venv = installed.notebook
    lab = start_lab(tmp_path, timeout=90, python=venv / "bin" / "python", user_env=clean_env(venv))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        console = ConsoleCollector(page)
        write_notebook(lab.root / "views.ipynb", VIEW_NOTEBOOK)
        try:
            lab.open_notebook(page, "views.ipynb", timeout=90)
            lab.run_all(page, timeout=120)
            kernel = page.locator(".jp-OutputArea-output", has_text="kernel|").first.inner_text().strip().split("|")
            assert Path(kernel[1]).parent == installed.notebook / "bin", kernel
            assert Path(kernel[2]).is_relative_to(installed.notebook), kernel
            for view in VIEWS:
                root = page.locator(f".cnb-root[data-view='{view}']")
                root.scroll_into_view_if_needed(timeout=30_000)
                page.wait_for_function(
                    "v => document.querySelector(`.cnb-root[data-view='${v}']`)?.dataset.taskId", arg=view, timeout=30_000)
                element = root.locator(VIEW_ELEMENT[view]).first
                element.wait_for(state="visible", timeout=30_000)
                if element.evaluate("e => e.tagName") == "IMG":
                    page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=element.element_handle(), timeout=30_000)
                # text_content: JupyterLab may have scrolled the cell out of view (and hidden it) by now.
                assert f"view-{view} · tester" in (root.locator(".cnb-title").text_content() or "")
            assert page.get_by_text("Error displaying widget").count() == 0
            assert page.locator(".cnb-root").count() == len(VIEWS)
            console.assert_no_errors()
        finally:
            shots = tmp_path / "screens"
            shots.mkdir(exist_ok=True)
            for i, view in enumerate(VIEWS):
                root = page.locator(f".cnb-root[data-view='{view}']")
                if root.count():
                    try:
                        root.scroll_into_view_if_needed(timeout=5_000)
                        root.screenshot(path=str(shots / f"{i}-{view}.png"), timeout=5_000)
                    except PlaywrightError as exc:  # the screenshots are for people; a failure above says what broke
                        print(f"no screenshot of {view}: {exc}")
            print(f"\nscreenshots: {shots}\nconsole:\n{console.dump()}\nlab log tail:\n{tail(lab.log_path, 20)}")
    finally:
        context.close()
        lab.process.stop()
