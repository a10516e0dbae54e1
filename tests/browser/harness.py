"""Helpers for the real-browser tests (JupyterLab / Voila + Playwright + Debian chromium).

Used by ``conftest.py`` in this folder; importable from tests as ``from harness import ...``
(pytest puts this folder on ``sys.path`` because it has no ``__init__.py``).

Per-test kernel environment
---------------------------
Kernels inherit the environment of the server that starts them.  The JupyterLab server is shared
by the whole session, so per-test variables cannot go into its process environment.  Instead a
test writes its notebook with :func:`write_notebook` (or ``LabServer.write_notebook``) and passes
``env={...}``: the notebook then starts with a cell that does ``os.environ.update(...)`` before any
other code runs.  Session-wide variables can be given to the server itself by overriding the
``lab_extra_env`` fixture.  Voila servers are per test, so ``voila(nb, env={...})`` puts ``env``
into the server (and therefore the kernel) environment directly.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# --------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 60) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(lines[-n:])


def base_env(extra: Mapping[str, str] | None = None, isolate_dir: Path | None = None) -> dict:
    """Environment for a Jupyter/Voila server started from the venv of ``sys.executable``.

    * the venv's bin goes first on PATH; the repo root goes on PYTHONPATH (so kernels can
      ``import crowdnb`` without it being installed);
    * with ``isolate_dir`` the per-user Jupyter config/runtime/data dirs and IPYTHONDIR point
      into it.  JUPYTER_DATA_DIR only replaces the *user* data dir: ``{sys.prefix}/share/jupyter``
      (lab extensions such as anywidget / jupyter-widgets, and the python3 kernelspec) stays on
      the search path.
    """
    env = dict(os.environ)
    for k in ("JUPYTER_TOKEN", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(k, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
    env["PYTHONUNBUFFERED"] = "1"
    if isolate_dir is not None:
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTER_DATA_DIR", "data"),
            ("IPYTHONDIR", "ipython"),
        ):
            d = Path(isolate_dir) / sub
            d.mkdir(parents=True, exist_ok=True)
            env[var] = str(d)
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if pytest dies (even by SIGKILL), Linux only."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class ServerProcess:
    """A server subprocess in its own process group, logging to a file."""

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path):
        self.cmd = list(cmd)
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd, env=dict(env), cwd=str(cwd), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_http(self, url: str, timeout: float,
                  accept: Callable[[int], bool] = lambda c: c == 200) -> None:
        """Poll ``url`` until it answers with an accepted status; raise RuntimeError (with the
        log tail) if the process dies or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode}: {' '.join(self.cmd)}\n"
                    f"--- log tail ({self.log_path}) ---\n{tail(self.log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except (urllib.error.URLError, OSError) as e:
                code, last = None, e
            if code is not None:
                if accept(code):
                    return
                last = f"HTTP {code}"
            time.sleep(0.1)
        raise RuntimeError(
            f"server not ready after {timeout:.0f}s at {url} (last: {last}): {' '.join(self.cmd)}\n"
            f"--- log tail ({self.log_path}) ---\n{tail(self.log_path)}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the whole process group (server and its kernels), SIGKILL if needed."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # (jupyter_client starts kernels in their own session: SIGTERM lets the server shut them
        # down; after a SIGKILL they exit by themselves when they notice their parent is gone.)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


# --------------------------------------------------------------------------- notebooks

def env_cell_source(env: Mapping[str, str]) -> str:
    return "import os\nos.environ.update(%s)" % json.dumps({str(k): str(v) for k, v in env.items()},
                                                          indent=1)


def make_notebook(cells: Iterable[str], env: Mapping[str, str] | None = None) -> dict:
    """An nbformat-4 notebook (python3 kernel) from code-cell sources; with ``env`` a first cell
    sets those variables in the kernel's ``os.environ``."""
    import nbformat

    srcs = ([env_cell_source(env)] if env else []) + list(cells)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in srcs]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write_notebook(path: Path, cells: Iterable[str], env: Mapping[str, str] | None = None) -> Path:
    import nbformat

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(make_notebook(cells, env), str(path))
    return path


# --------------------------------------------------------------------------- JupyterLab

# Settings that keep JupyterLab 4.6 from blocking the page (see shared notes).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}

# JS run in the page: state of the notebook panel whose path is `name`.
_NB_STATE_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return {phase: 'no-app'};
  const dlg = document.querySelector('.jp-Dialog');
  const panels = Array.from(app.shell.widgets('main'));
  const panel = panels.find(
    w => w.context && w.context.path === name && w.content && w.content.widgets);
  if (!panel) return {phase: 'no-panel', dialog: dlg ? dlg.innerText.slice(0, 300) : null};
  const sc = panel.sessionContext;
  const kernel = sc && sc.session && sc.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const counts = cells.map(c => c.model.executionCount);
  const errors = [];
  for (const c of cells) {
    const outs = c.model.outputs;
    for (let i = 0; i < outs.length; i++) {
      const o = outs.get(i);
      if (o.type === 'error') {
        const j = o.toJSON();
        const tb = (j.traceback || []).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '');
        errors.push(j.ename + ': ' + j.evalue + '\\n' + tb);
      }
    }
  }
  return {
    phase: 'panel',
    ready: !!(panel.context.isReady && sc && sc.isReady),
    connection: kernel ? kernel.connectionStatus : null,
    status: kernel ? kernel.status : null,
    counts, errors,
    dialog: dlg ? dlg.innerText.slice(0, 300) : null,
  };
}
"""


@dataclass
class LabServer:
    url: str                      # e.g. http://127.0.0.1:PORT  (no trailing slash)
    token: str
    root: Path                    # ServerApp.root_dir; notebooks go here
    env: dict                     # environment of the server (inherited by kernels)
    log_path: Path
    process: ServerProcess = field(repr=False)
    page_name: str | None = None  # last notebook opened by open_notebook()

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def write_notebook(self, name: str, cells: Iterable[str],
                       env: Mapping[str, str] | None = None) -> Path:
        """Write ``root/name`` (see module docstring for ``env``).  Use a fresh name per test:
        rewriting a file that is open in the page makes JupyterLab ask about conflicts."""
        return write_notebook(self.root / name, cells, env)

    def state(self, page, name: str) -> dict:
        return page.evaluate(_NB_STATE_JS, name)

    def _poll(self, page, name, done: Callable[[dict], bool], timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        st = {}
        while True:
            st = self.state(page, name)
            if st.get("errors"):
                raise AssertionError(f"error output in {name}:\n" + "\n\n".join(st["errors"]))
            if done(st):
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached for {name} after {timeout}s; state={st}\n"
                                   f"--- lab log tail ---\n{tail(self.log_path, 30)}")
            page.wait_for_timeout(100)

    def open_notebook(self, page, name: str, timeout: float = 60) -> None:
        """Open ``root/name`` in a fresh workspace and wait until its kernel is connected+idle."""
        if not (self.root / name).exists():
            raise FileNotFoundError(self.root / name)
        self.page_name = name
        page.goto(self.notebook_url(name), wait_until="domcontentloaded")
        self._poll(page, name, lambda s: s.get("ready") and s.get("connection") == "connected"
                   and s.get("status") == "idle", timeout, "kernel connected+idle")

    def run_all(self, page, name: str | None = None, timeout: float = 60) -> None:
        """Run all cells of the open notebook ``name`` (default: the last opened one) and wait
        until every code cell has a new execution count and the kernel is idle.  Raises
        AssertionError with the traceback if any cell produced an error output."""
        name = name or self.page_name
        st = self._poll(page, name, lambda s: s.get("connection") == "connected"
                        and s.get("status") == "idle", timeout, "kernel connected+idle")
        before = max([c for c in st["counts"] if c is not None], default=0)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self._poll(page, name, lambda s: s.get("status") == "idle" and s["counts"]
                   and all(c is not None and c > before for c in s["counts"]),
                   timeout, "all cells executed")


def start_lab(workdir: Path, extra_env: Mapping[str, str] | None = None,
              timeout: float = 60, *, python: Path | None = None,
              user_env: Mapping[str, str] | None = None) -> LabServer:
    """JupyterLab in ``workdir``, isolated (its own settings, config and runtime dirs).

    By default it runs from this checkout (``base_env``: the repo on PYTHONPATH). With
    ``python`` (another virtualenv's interpreter) and ``user_env`` (the environment a user of
    that virtualenv has), it runs that install as a user would: its kernels are that python."""
    workdir = Path(workdir)
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    settings = workdir / "lab-settings"
    for rel, data in LAB_SETTINGS.items():
        p = settings / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data))
    env = base_env(extra_env, isolate_dir=workdir / "jupyter")
    if user_env is not None:  # only the isolation of base_env, none of the checkout
        isolated = ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR")
        env = {**user_env, **{k: env[k] for k in isolated}, "PYTHONUNBUFFERED": "1",
               "XDG_DATA_HOME": str(workdir / "data")}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(workdir / "workspaces")
    token = secrets.token_hex(16)
    errors = []
    for attempt in range(3):  # a port picked by free_port() can be taken before the server binds
        port = free_port()
        log_path = workdir / f"lab-{attempt}.log"
        cmd = [str(python or sys.executable), "-m", "jupyterlab", "--allow-root", "--no-browser",
               "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.terminals_enabled=False", "--LabApp.news_url=None",
               "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        proc = ServerProcess(cmd, env, root, log_path)
        url = f"http://127.0.0.1:{port}"
        try:
            proc.wait_http(f"{url}/api/status?token={token}", timeout)
        except RuntimeError as exc:
            proc.stop()
            errors.append(str(exc))
            if "already in use" in tail(log_path, 200):
                continue
            break
        return LabServer(url=url, token=token, root=root, env=env, log_path=log_path, process=proc)
    raise RuntimeError("JupyterLab did not start:\n" + "\n\n".join(errors))


# --------------------------------------------------------------------------- Voila

def start_voila(notebook: Path, workdir: Path, env: Mapping[str, str] | None = None,
                timeout: float = 60) -> tuple[str, ServerProcess]:
    notebook = Path(notebook).resolve()
    workdir = Path(workdir)
    full_env = base_env(env, isolate_dir=workdir / "jupyter")
    errors = []
    for attempt in range(3):
        port = free_port()
        log_path = workdir / f"voila-{attempt}.log"
        cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
               "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--show_tracebacks=True"]
        proc = ServerProcess(cmd, full_env, notebook.parent, log_path)
        url = f"http://127.0.0.1:{port}"
        try:
            # Any HTTP answer on a path that does not exist proves the server is serving, without
            # GET / (which would start a kernel and execute the notebook).
            proc.wait_http(f"{url}/__harness_probe__", timeout, accept=lambda c: True)
        except RuntimeError as exc:
            proc.stop()
            errors.append(str(exc))
            if "already in use" in tail(log_path, 200):
                continue
            break
        return url + "/", proc
    raise RuntimeError("Voila did not start:\n" + "\n\n".join(errors))


# --------------------------------------------------------------------------- page helpers

class ConsoleCollector:
    """Collects console messages and uncaught page errors of a Playwright page."""

    def __init__(self, page=None):
        self.messages: list[tuple[str, str]] = []   # (type, text) for every console message
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []
        if page is not None:
            self.attach(page)

    def attach(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed_requests.append(
            f"{r.method} {r.url}: {r.failure}"))

    def _on_console(self, msg) -> None:
        text = msg.text
        if msg.type == "error" and text.startswith("Failed to load resource"):
            url = (msg.location or {}).get("url")  # the URL that failed to load
            if url:
                text = f"{text} ({url})"
        self.messages.append((msg.type, text))

    @property
    def errors(self) -> list[str]:
        return [f"pageerror: {e}" for e in self.page_errors] + \
               [f"console.error: {t}" for k, t in self.messages if k == "error"]

    # No internet here: Voila's template links font-awesome CSS from cdn.jsdelivr.net.  Failures
    # to load resources from hosts other than the local servers are ignored by default.
    DEFAULT_IGNORE = (
        r"^console\.error: Failed to load resource: .*\((?!https?://(127\.0\.0\.1|localhost)[:/])",
    )

    def assert_no_errors(self, ignore: Sequence[str] = (), use_default_ignore: bool = True) -> None:
        """Fail if any page error / console.error matches no regex in ``ignore`` (plus
        ``DEFAULT_IGNORE`` unless ``use_default_ignore=False``)."""
        pats = list(ignore) + (list(self.DEFAULT_IGNORE) if use_default_ignore else [])
        bad = [e for e in self.errors if not any(re.search(p, e) for p in pats)]
        assert not bad, "JS errors in page:\n" + "\n".join(bad)

    def dump(self) -> str:
        return "\n".join([f"[{k}] {t}" for k, t in self.messages] +
                         [f"[pageerror] {e}" for e in self.page_errors] +
                         [f"[requestfailed] {r}" for r in self.failed_requests])


def wait_for_widget(page, selector: str, timeout: float = 30):
    """Wait until ``selector`` is visible; return its Locator (first match).  ``timeout`` in s."""
    loc = page.locator(selector).first
    loc.wait_for(state="visible", timeout=timeout * 1000)
    return loc


def wait_for_file(path: Path, timeout: float = 10, interval: float = 0.05) -> Path:
    """Poll until ``path`` exists; raise AssertionError after ``timeout`` seconds."""
    path = Path(path)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(interval)
    return path
