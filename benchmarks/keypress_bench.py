"""Browser benchmark: how fast the next item is on screen after a keypress, in a real JupyterLab.

One JupyterLab server and one headless Debian chromium (the harness of ``tests/browser``) run
three notebooks on a SQLite store in a temporary directory, over distinct 1-megapixel JPEG
photos made from scikit-image's bundled sample images:

1. crowdnb ``image-class``: press ``1`` (pick a class) then ``Enter`` (submit); the widget's
   ``cnb-painted`` event (``what == "shown"``) gives the time from the Enter key event to the
   frame that shows the next item.
2. ipyannotations 0.5.1 ``ClassLabeller`` on the same photos, driven by crowdnb
   (``project.annotate(widget=...)``): press ``1`` (keyup submits through the kernel); a page
   probe times the keyup event to the frame after the next ``<img>`` in the labeller's output
   area is decoded.
3. crowdnb ``bbox``: mouse drags on the image; ``cnb-painted`` (``what == "drawn"``) gives the
   time from the pointerup event to the frame with the box and its class picker.

Each press waits for the next item, then pauses briefly (as a person would) so the prefetch
queue can refill; the first ``--warmup`` presses are not counted.  Prints machine facts, a table
of latencies and PASS/FAIL for the targets.

    python benchmarks/keypress_bench.py [--items 200] [--warmup 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from importlib.metadata import version
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
from playwright.sync_api import Browser, Page, sync_playwright
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from harness import CHROMIUM_ARGS, CHROMIUM_PATH, LabServer, start_lab

from crowdnb import Project, SqlStore

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
           "retina")
PHOTO_SIDE = 1000
JPEG_QUALITY = 90
SPARE_PHOTOS = 10
CLASSES = ["animal", "person", "object", "scene"]
VIEWPORT = {"width": 1280, "height": 1000}
WORKER = "bench"
PAUSE_MS = 30
BBOX_IMAGES = 5
BOXES_PER_IMAGE = 10
WAIT_MS = 60_000

CLASSIFY_P95_TARGET_MS = 25.0
SPEEDUP_P95_TARGET = 15.0
BBOX_P95_TARGET_MS = 16.0

# Page probe for crowdnb: collect the widget's `cnb-painted` details (the event does not bubble).
CNB_PROBE_JS = """() => {
  window.cnbPainted = [];
  document.querySelector('.cnb-root')
    .addEventListener('cnb-painted', (event) => window.cnbPainted.push(event.detail));
}"""

# Page probe for ipyannotations: keyup time (window, capture phase: before ipyevents' document
# listener) to the frame after the next <img> in the labeller's output area is decoded.
IPA_PROBE_JS = """() => {
  const probe = window.ipaProbe = { key: null, shown: [] };
  window.addEventListener('keyup', (event) => { probe.key = event.timeStamp; }, true);
  const output = document.querySelector('.widget-output img').closest('.widget-output');
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        const img = node.nodeName === 'IMG' ? node : node.querySelector?.('img');
        if (!img) continue;
        const start = probe.key;
        img.decode().catch(() => undefined).then(() => requestAnimationFrame(
          () => probe.shown.push({ start, end: performance.now() })));
      }
    }
  }).observe(output, { childList: true, subtree: true });
}"""


@dataclass(frozen=True)
class Row:
    """One measurement: sample count and latency percentiles in ms."""

    name: str
    n: int
    p50: float
    p95: float
    max: float


def summarize(name: str, latencies_ms: list[float]) -> Row:
    """p50 / p95 / max (linear interpolation between samples) of `latencies_ms`."""
    p50, p95, top = np.percentile(latencies_ms, [50, 95, 100])
    return Row(name, len(latencies_ms), float(p50), float(p95), float(top))


# --------------------------------------------------------------------------- photos

def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` distinct square JPEGs: random crops of the sample photos, flipped or rotated by a
    right angle, then tilted a little, with colour, brightness and contrast jitter."""
    rng = np.random.default_rng(seed)
    sources = [Image.fromarray(getattr(skdata, name)()) for name in SOURCES]
    transposes = [None, *Image.Transpose]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image = sources[i % len(sources)]
        width, height = image.size
        side = int(min(width, height) * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        photo = image.crop((x, y, x + side, y + side))
        if (transpose := transposes[rng.integers(len(transposes))]) is not None:
            photo = photo.transpose(transpose)
        angle = rng.uniform(-10, 10)
        photo = photo.rotate(angle, resample=Image.Resampling.BICUBIC)
        inner = side / (abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle))))
        margin = (side - inner) / 2
        photo = photo.crop((margin, margin, side - margin, side - margin))
        for enhance in (ImageEnhance.Color, ImageEnhance.Brightness, ImageEnhance.Contrast):
            photo = enhance(photo).enhance(rng.uniform(0.75, 1.25))
        photo = photo.resize((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
        path = folder / f"photo-{i:04d}.jpg"
        photo.save(path, quality=JPEG_QUALITY)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- notebooks

def project_cell(name: str, kind: str, store_url: str, photos: Path, n: int) -> str:
    """Notebook code: a project of `kind` with the first `n` photos of folder `photos`."""
    return (
        "import crowdnb, pandas as pd\n"
        "from pathlib import Path\n"
        f"photos = sorted(Path({str(photos)!r}).glob('*.jpg'))[:{n}]\n"
        f"project = crowdnb.Project.create({name!r}, kind={kind!r}, classes={CLASSES!r},\n"
        f"                                 store={store_url!r})\n"
        "project.add_tasks(pd.DataFrame({'id': [p.stem for p in photos],\n"
        "                                'image': [str(p) for p in photos]}))"
    )


def open_widget(browser: Browser, lab: LabServer, name: str, cells: list[str]) -> Page:
    """Write and run notebook `name` in a fresh browser context; returns its page."""
    lab.write_notebook(name, cells, env={"CROWDNB_WORKER": WORKER})
    page = browser.new_context(viewport=VIEWPORT).new_page()
    lab.open_notebook(page, name, timeout=120)
    lab.run_all(page, timeout=180)
    return page


def close_widget(page: Page, lab: LabServer) -> None:
    """Close the page's context and shut down the server's kernels (they would keep running)."""
    page.context.close()
    api = f"{lab.url}/api/kernels"
    with urllib.request.urlopen(f"{api}?token={lab.token}") as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{api}/{kernel['id']}?token={lab.token}", method="DELETE")
        urllib.request.urlopen(request).close()


def wait_labels(store_url: str, project: str, n: int, timeout: float = 30) -> None:
    """Check that the kernel stored `n` labels for `project` (submits travel in the background)."""
    deadline = time.monotonic() + timeout
    with SqlStore(store_url) as store:
        while (got := len(Project.open(project, store=store).labels())) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{project}: {got} labels stored, expected {n}")
            time.sleep(0.2)


# --------------------------------------------------------------------------- measurements

def cnb_painted(page: Page, what: str, n: int) -> list[float]:
    """end - start of the first `n` cnb-painted events of kind `what`, once they have fired."""
    count = f"window.cnbPainted.filter((d) => d.what === {what!r}).length"
    page.wait_for_function(f"(n) => {count} >= n", arg=n, timeout=WAIT_MS)
    details = page.evaluate("() => window.cnbPainted")
    return [d["end"] - d["start"] for d in details if d["what"] == what][:n]


def next_task(page: Page, previous: str | None) -> str:
    """Wait until the crowdnb widget shows a task other than `previous`; returns its id."""
    shown = page.wait_for_function(
        "(prev) => { const id = document.querySelector('.cnb-root').dataset.taskId;"
        " return id && id !== prev && id; }", arg=previous, timeout=WAIT_MS)
    return shown.json_value()


def crowdnb_classify(page: Page, presses: int) -> list[float]:
    """Press 1 then Enter `presses` times, each after the next task is shown."""
    root = page.locator(".cnb-root[data-task-id]")
    root.wait_for(timeout=WAIT_MS)
    page.evaluate(CNB_PROBE_JS)
    root.locator(".cnb-title").click()
    task = root.get_attribute("data-task-id")
    for _ in range(presses):
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        task = next_task(page, task)
        page.wait_for_timeout(PAUSE_MS)
    return cnb_painted(page, "shown", presses)


def ipyannotations_classify(page: Page, presses: int) -> list[float]:
    """Press 1 (keyup submits) `presses` times, each after the next image is painted."""
    image = page.locator(".widget-output img")
    image.wait_for(timeout=WAIT_MS)
    page.evaluate(IPA_PROBE_JS)
    image.click()  # the mouse inside the widget: ipyevents listens for keys while it is there
    for i in range(presses):
        page.keyboard.press("1")
        page.wait_for_function("(n) => window.ipaProbe.shown.length >= n", arg=i + 1,
                               timeout=WAIT_MS)
        page.wait_for_timeout(PAUSE_MS)
    shown = page.evaluate("() => window.ipaProbe.shown")
    if len(shown) != presses:
        raise AssertionError(f"{len(shown)} images painted for {presses} keypresses")
    return [d["end"] - d["start"] for d in shown]


def box_drags(bounds: dict[str, float]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Page coordinates of BOXES_PER_IMAGE drags in a 5 x 2 grid on the shown image, last cell
    first, so the class picker (at a new box's lower right) never covers the next start point."""
    columns, rows = 5, BOXES_PER_IMAGE // 5
    cell_w, cell_h = 0.9 / columns, 0.8 / rows
    drags = []
    for index in reversed(range(BOXES_PER_IMAGE)):
        fx, fy = 0.05 + (index % columns) * cell_w, 0.1 + (index // columns) * cell_h
        start = (bounds["x"] + fx * bounds["width"], bounds["y"] + fy * bounds["height"])
        end = (start[0] + 0.6 * cell_w * bounds["width"],
               start[1] + 0.6 * cell_h * bounds["height"])
        drags.append((start, end))
    return drags


def crowdnb_bbox(page: Page) -> list[float]:
    """Draw BOXES_PER_IMAGE boxes on each of BBOX_IMAGES images (Enter submits each image)."""
    root = page.locator(".cnb-root[data-task-id]")
    root.wait_for(timeout=WAIT_MS)
    page.evaluate(CNB_PROBE_JS)
    drawn = 0
    for _ in range(BBOX_IMAGES):
        task = root.get_attribute("data-task-id")
        canvas = root.locator(".cnb-canvas")
        canvas.scroll_into_view_if_needed()
        for start, end in box_drags(canvas.locator("img").bounding_box()):
            page.mouse.move(*start)
            page.mouse.down()
            page.mouse.move(*end, steps=5)
            page.mouse.up()
            drawn += 1
            cnb_painted(page, "drawn", drawn)
            page.wait_for_timeout(PAUSE_MS)
        page.keyboard.press("Enter")
        next_task(page, task)
    return cnb_painted(page, "drawn", drawn)


def run_all(browser: Browser, lab: LabServer, store_url: str, photos: Path, warmup: int,
            items: int) -> tuple[list[float], list[float], list[float]]:
    """The three measurements, one notebook each, on one store; returns their latencies (ms)
    without the warm-up."""
    presses = warmup + items
    page = open_widget(browser, lab, "crowdnb_classify.ipynb", [
        project_cell("classify", "image-class", store_url, photos, presses + SPARE_PHOTOS),
        "project.annotate()"])
    classify = crowdnb_classify(page, presses)[warmup:]
    close_widget(page, lab)
    wait_labels(store_url, "classify", presses)

    page = open_widget(browser, lab, "ipyannotations_classify.ipynb", [
        project_cell("plugin", "image-class", store_url, photos, presses + SPARE_PHOTOS),
        "from ipyannotations.images import ClassLabeller\n"
        f"project.annotate(widget=ClassLabeller(options={CLASSES!r}))"])
    plugin = ipyannotations_classify(page, presses)[warmup:]
    close_widget(page, lab)
    wait_labels(store_url, "plugin", presses)

    page = open_widget(browser, lab, "crowdnb_bbox.ipynb", [
        project_cell("boxes", "bbox", store_url, photos, BBOX_IMAGES + 1), "project.annotate()"])
    bbox = crowdnb_bbox(page)
    close_widget(page, lab)
    wait_labels(store_url, "boxes", BBOX_IMAGES)
    return classify, plugin, bbox


# --------------------------------------------------------------------------- report

def table(rows: list[Row]) -> str:
    """The measurements as an aligned text table."""
    lines = [f"{'measurement':<56} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}   (ms)"]
    lines += [f"{r.name:<56} {r.n:>5} {r.p50:>8.1f} {r.p95:>8.1f} {r.max:>8.1f}" for r in rows]
    return "\n".join(lines)


def targets(classify: Row, plugin: Row, bbox: Row) -> str:
    """PASS/FAIL lines for the three targets."""
    speedup = plugin.p95 / classify.p95
    checks = [
        (classify.p95 < CLASSIFY_P95_TARGET_MS,
         f"crowdnb classification p95 {classify.p95:.1f} ms < {CLASSIFY_P95_TARGET_MS:g} ms"),
        (speedup >= SPEEDUP_P95_TARGET,
         f"crowdnb vs ipyannotations at p95: {speedup:.1f}x faster"
         f" (target >= {SPEEDUP_P95_TARGET:g}x)"),
        (bbox.p95 < BBOX_P95_TARGET_MS,
         f"bbox mouse-up to box shown p95 {bbox.p95:.1f} ms < {BBOX_P95_TARGET_MS:g} ms"),
    ]
    return "\n".join(f"{'PASS' if ok else 'FAIL'}  {text}" for ok, text in checks)


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="timed keypresses per classifier")
    parser.add_argument("--warmup", type=int, default=30, help="untimed keypresses before those")
    args = parser.parse_args()
    presses = args.warmup + args.items

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crowdnb-keypress-") as tmp:
        folder = Path(tmp)
        store_url = f"sqlite:///{folder / 'bench.sqlite'}"
        photo_dir = folder / "photos"
        photos = make_photos(photo_dir, presses + SPARE_PHOTOS)
        mean_kib = sum(p.stat().st_size for p in photos) / len(photos) / 1024
        lab = start_lab(folder / "lab")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
                try:
                    print(f"cpus: {os.cpu_count()}   chromium: {browser.version}"
                          f"   jupyterlab: {version('jupyterlab')}"
                          f"   python: {platform.python_version()}   {platform.platform()}"
                          f"\nload avg before: {load()}")
                    print(f"photos: {len(photos)} JPEGs {PHOTO_SIDE}x{PHOTO_SIDE}"
                          f" q{JPEG_QUALITY}, mean {mean_kib:.0f} KiB\n", flush=True)
                    classify, plugin, bbox = run_all(
                        browser, lab, store_url, photo_dir, args.warmup, args.items)
                finally:
                    browser.close()
        finally:
            lab.process.stop()

    rows = [
        summarize("crowdnb image-class: Enter -> next item shown", classify),
        summarize(f"ipyannotations {version('ipyannotations')} ClassLabeller: keyup -> next image",
                  plugin),
        summarize("crowdnb bbox: mouse-up -> box and picker shown", bbox),
    ]
    print(table(rows))
    print(f"\n(warm-up of {args.warmup} presses not counted; {PAUSE_MS} ms pause after each item)")
    print(targets(*rows))
    print(f"\ntotal runtime: {time.perf_counter() - began:.0f} s   load avg after: {load()}")


if __name__ == "__main__":
    main()
