"""Real-browser test fixtures: Debian chromium driven by the sync Playwright API, one JupyterLab
server per session, Voila servers per test.  Run with
``/tmp/venv/bin/python -m pytest tests/browser -v``.

Fixtures
--------
browser  (session)   playwright Browser (chromium at /usr/bin/chromium, headless); fails loudly if
                     the binary is missing.
page                 fresh BrowserContext + Page per test; on failure a screenshot and the console
                     log are saved next to the test's tmp_path (paths shown in the report).
console              ConsoleCollector of ``page``: ``.errors``, ``.messages``, ``.dump()``,
                     ``.assert_no_errors(ignore=[regex])``.
lab_extra_env (session) dict of extra server env vars (default {}); override to give every kernel
                     of the session some variables.
lab      (session)   harness.LabServer: ``.url .token .root .env .log_path``,
                     ``.write_notebook(name, cells, env=None)``, ``.open_notebook(page, name)``,
                     ``.run_all(page, name=None)``, ``.state(page, name)``.
voila                factory ``voila(notebook_path, env=None) -> base URL`` (servers stopped at
                     test end).

Per-test kernel environment: the lab server is shared, so tests put their variables into the
notebook itself -- ``lab.write_notebook(name, cells, env={...})`` prepends a cell doing
``os.environ.update({...})``.  For Voila, ``env`` goes into that test's server environment.
Kernels also get the repo root on PYTHONPATH, so ``import crowdnb`` works without installing it.
"""
from __future__ import annotations


import pytest

from harness import (ConsoleCollector, start_lab, start_voila, tail)

NAVIGATION_MS = 120_000


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: real-browser test (chromium + jupyter/voila servers)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"_harness_rep_{rep.when}", rep)
    if rep.when == "call" and rep.failed:
        lab = item.funcargs.get("lab")
        if lab is not None:
            rep.sections.append(("jupyterlab log tail", tail(lab.log_path, 40)))


@pytest.fixture
def _page_console(browser, request, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # Voila runs a notebook's every cell before its page loads: on 2 busy cores that has taken
    # over Playwright's default 30 s.
    page.set_default_navigation_timeout(NAVIGATION_MS)
    collector = ConsoleCollector(page)
    try:
        yield page, collector
    finally:
        rep = getattr(request.node, "_harness_rep_call", None)
        if rep is not None and rep.failed:
            shot = tmp_path / "failure.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except Exception as exc:  # page may be gone
                shot = f"<screenshot failed: {exc}>"
            log = tmp_path / "console.log"
            log.write_text(collector.dump())
            print(f"\n[harness] screenshot: {shot}\n[harness] console log: {log}")
        context.close()


@pytest.fixture
def page(_page_console):
    return _page_console[0]


@pytest.fixture
def console(_page_console):
    return _page_console[1]


@pytest.fixture(scope="session")
def lab_extra_env():
    """Extra environment for the session's JupyterLab server (and thus all its kernels)."""
    return {}


@pytest.fixture(scope="session")
def lab(tmp_path_factory, lab_extra_env):
    error = None
    try:
        server = start_lab(tmp_path_factory.mktemp("lab"), lab_extra_env)
    except RuntimeError as exc:
        error = str(exc)
    if error:
        pytest.fail(error, pytrace=False)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def voila(tmp_path_factory):
    procs = []

    def start(notebook_path, env=None, timeout=60):
        try:
            url, proc = start_voila(notebook_path, tmp_path_factory.mktemp("voila"), env, timeout)
        except RuntimeError as exc:
            error = str(exc)
        else:
            procs.append(proc)
            return url
        pytest.fail(error, pytrace=False)

    try:
        yield start
    finally:
        for p in procs:
            p.stop()
