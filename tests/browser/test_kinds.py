"""Every task kind in a real JupyterLab and in Voila: the family notebooks, driven by mouse and
keyboard, then the store is read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from harness import env_cell_source

from crowdnb import Project, SqlStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SENTENCE_0 = "서울역 앞에서 비빔밥을 먹었어요 🍚"
SENTENCE_1 = "🍜 東京駅の近くでラーメンを食べた"


@pytest.fixture(params=["lab", "voila"])
def open_family(request: pytest.FixtureRequest, page, tmp_path: Path) -> Callable[[str], tuple[object, str]]:
    """Open notebooks/NAME.ipynb in JupyterLab or Voila with a fresh store; returns (page, url)."""

    def open_notebook(name: str) -> tuple[object, str]:
        store_url = f"sqlite:///{tmp_path / (name + '.sqlite')}"
        env = {"CROWDNB_STORE": store_url, "CROWDNB_WORKER": "tester"}
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        if request.param == "lab":
            lab = request.getfixturevalue("lab")
            notebook.cells.insert(0, nbformat.v4.new_code_cell(env_cell_source(env)))
            file_name = f"{name}_{tmp_path.name}.ipynb"
            nbformat.write(notebook, lab.root / file_name)
            lab.open_notebook(page, file_name)
            lab.run_all(page)
        else:
            path = tmp_path / f"{name}.ipynb"
            nbformat.write(notebook, path)
            page.goto(request.getfixturevalue("voila")(path, env=env))
        return page, store_url

    return open_notebook


def widget(page, project: str):
    """The labeling widget of `project`, scrolled into view."""
    root = page.locator(".cnb-root", has=page.locator(".cnb-title", has_text=f"{project} ·"))
    root.wait_for(timeout=60_000)
    root.scroll_into_view_if_needed()
    return root


def focus(root) -> None:
    root.locator(".cnb-title").click()


def on_image(root, fx: float, fy: float) -> tuple[float, float]:
    """Page coordinates of a point given as fractions of the displayed image."""
    box = root.locator(".cnb-canvas img").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def next_task(root, expected: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while root.get_attribute("data-task-id") != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected task {expected!r}, shows {root.get_attribute('data-task-id')!r}; "
                                 f"status: {root.locator('.cnb-status').inner_text()!r}")
        time.sleep(0.02)


def stored(store_url: str, project: str, n: int = 1, timeout: float = 10) -> dict[str, object]:
    """task -> label, once `n` labels are stored."""
    deadline = time.monotonic() + timeout
    with SqlStore(store_url) as store:
        while True:
            labels = Project.open(project, store=store).labels()
            if len(labels) >= n or time.monotonic() > deadline:
                assert set(labels["worker"]) <= {"tester"}
                return dict(zip(labels["task"], labels["label"], strict=True))
            time.sleep(0.1)


def near(value: float, expected: float, tolerance: float = 4.0) -> bool:
    return abs(value - expected) <= tolerance


def test_image_kinds(open_family, console) -> None:
    page, store_url = open_family("image_tasks")

    # bbox: draw by drag, resize by the corner handle, class by key (astronaut is 512 x 512)
    boxes = widget(page, "boxes")
    next_task(boxes, "astronaut")
    drag(page, on_image(boxes, 0.2, 0.2), on_image(boxes, 0.5, 0.6))
    assert boxes.locator(".cnb-picker").is_visible()
    drag(page, on_image(boxes, 0.5, 0.6), on_image(boxes, 0.6, 0.7))
    page.keyboard.press("?")
    assert boxes.locator(".cnb-help").is_visible() and "draw a box" in boxes.locator(".cnb-help").inner_text()
    page.keyboard.press("Escape")
    assert not boxes.locator(".cnb-help").is_visible()
    drag(page, on_image(boxes, 0.7, 0.7), on_image(boxes, 0.9, 0.9))
    assert boxes.locator("rect.cnb-shape").count() == 2
    page.keyboard.press("z")  # undo the second box
    assert boxes.locator("rect.cnb-shape").count() == 1
    fitted = boxes.locator(".cnb-canvas img").bounding_box()["width"]
    page.mouse.move(*on_image(boxes, 0.5, 0.5))
    page.mouse.wheel(0, -400)
    page.wait_for_function("(w) => document.querySelector('.cnb-canvas img').getBoundingClientRect().width > w * 1.1", arg=fitted)
    page.keyboard.press("0")  # fit again
    assert abs(boxes.locator(".cnb-canvas img").bounding_box()["width"] - fitted) < 1
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    next_task(boxes, "rocket")
    (box,) = stored(store_url, "boxes")["astronaut"]
    assert box["label"] == "person"
    assert near(box["x"], 0.2 * 512) and near(box["y"], 0.2 * 512)
    assert near(box["w"], 0.4 * 512) and near(box["h"], 0.5 * 512)

    # polygon: four clicks, close on the first vertex, class by key (coffee is 600 x 400)
    regions = widget(page, "regions")
    next_task(regions, "coffee")
    corners = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.8), (0.3, 0.8)]
    for fx, fy in corners:
        page.mouse.click(*on_image(regions, fx, fy))
    page.mouse.click(*on_image(regions, *corners[0]))
    drag(page, on_image(regions, *corners[2]), on_image(regions, 0.75, 0.85))  # move a vertex
    corners[2] = (0.75, 0.85)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    next_task(regions, "rocket")
    (polygon,) = stored(store_url, "regions")["coffee"]
    assert polygon["label"] == "plate" and len(polygon["points"]) == 4
    assert all(near(x, fx * 600) and near(y, fy * 400) for (x, y), (fx, fy) in zip(polygon["points"], corners))

    # keypoints: every point of a face, the next one always named
    faces = widget(page, "faces")
    next_task(faces, "astronaut")
    names = []
    for i in range(9):
        names.append(faces.locator(".cnb-next").get_attribute("data-next"))
        page.mouse.click(*on_image(faces, 0.3 + 0.04 * i, 0.3 + 0.02 * i))
    assert faces.locator(".cnb-next").get_attribute("data-next") == ""
    drag(page, on_image(faces, 0.3, 0.3), on_image(faces, 0.2, 0.5))  # move the first point
    focus(faces)
    page.keyboard.press("Enter")
    points = stored(store_url, "faces")["astronaut"]
    assert [p["name"] for p in points] == names and names[0] == "left_eye_outer"
    assert all(p["visible"] for p in points) and near(points[8]["x"], (0.3 + 0.32) * 512)
    assert near(points[0]["x"], 0.2 * 512) and near(points[0]["y"], 0.5 * 512)

    # OCR: draw a region, type Japanese through an input method (composition keys are ignored)
    ocr = widget(page, "signs")
    next_task(ocr, "rocket")
    drag(page, on_image(ocr, 0.1, 0.1), on_image(ocr, 0.4, 0.3))
    field = ocr.locator(".cnb-regions input")
    field.wait_for()
    assert field.evaluate("(el) => el === document.activeElement")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "とうきょうえき", "selectionStart": 7, "selectionEnd": 7})
    field.evaluate("(el) => el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', keyCode: 229, isComposing: true, bubbles: true}))")
    assert field.evaluate("(el) => el === document.activeElement")  # still composing, still typing
    cdp.send("Input.insertText", {"text": "東京駅"})
    page.keyboard.press("Enter")  # leaves the field
    page.keyboard.press("Enter")  # submits
    next_task(ocr, "coffee")
    (region,) = stored(store_url, "signs")["rocket"]
    assert region["text"] == "東京駅" and near(region["box"]["w"], 0.3 * 640)

    # multi-label and caption
    tags = widget(page, "tags")
    focus(tags)
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    next_task(tags, "coffee")
    captions = widget(page, "captions")
    captions.locator("textarea").fill("A tabby cat looks at the camera")
    page.keyboard.press("Control+Enter")
    next_task(captions, "coffee")
    assert stored(store_url, "tags")["astronaut"] == ["outdoor", "person"]
    assert stored(store_url, "captions")["chelsea"] == "A tabby cat looks at the camera"
    console.assert_no_errors()


def select_text(page, root, part: str) -> None:
    """Select `part` of the widget's text with a mouse drag over its characters."""
    rect = root.locator(".cnb-spantext").evaluate(
        """(box, part) => {
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(part);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + part.length);
                const r = range.getBoundingClientRect();
                return {left: r.left, right: r.right, y: r.top + r.height / 2};
            }
            return null;
        }""",
        part,
    )
    drag(page, (rect["left"] + 1, rect["y"]), (rect["right"] - 1, rect["y"]))


def test_text_kinds(open_family, console) -> None:
    page, store_url = open_family("text_tasks")
    entities = widget(page, "entities")
    next_task(entities, "s0")
    select_text(page, entities, "서울역")
    page.keyboard.press("1")
    select_text(page, entities, "비빔밥")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    next_task(entities, "s1")
    select_text(page, entities, "ラーメン")  # after an emoji: two UTF-16 units, one code point
    page.keyboard.press("2")
    for key in ["ArrowLeft"] * 20 + ["ArrowRight"] * 2 + ["Shift+ArrowRight"] * 2:  # by keyboard: "東京"
        page.keyboard.press(key)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    spans = stored(store_url, "entities", 2)
    assert [(s["start"], s["end"], s["label"]) for s in spans["s0"]] == [
        (0, 3, "PLACE"), (SENTENCE_0.index("비빔밥"), SENTENCE_0.index("비빔밥") + 3, "FOOD"),
    ]
    start = SENTENCE_1.index("ラーメン")
    assert [(s["start"], s["end"], s["text"], s["label"]) for s in spans["s1"]] == [
        (2, 4, "東京", "PLACE"), (start, start + 4, "ラーメン", "FOOD"),
    ]

    topics = widget(page, "topics")
    focus(topics)
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    replies = widget(page, "replies")
    replies.locator("textarea").fill("Thank you, we are glad it went well!")
    page.keyboard.press("Control+Enter")
    assert stored(store_url, "topics")["m00"] == ["delivery", "product"]
    assert stored(store_url, "replies")["m00"] == "Thank you, we are glad it went well!"
    console.assert_no_errors()


def test_two_turn_dialog(open_family, console) -> None:
    page, store_url = open_family("chatbot_qa")
    dialogs = widget(page, "dialogs")
    next_task(dialogs, "q0")
    question = dialogs.locator("textarea").first
    question.wait_for()
    assert question.evaluate("(el) => el === document.activeElement")
    page.keyboard.type("Where do I buy a ticket to Narita?")
    page.keyboard.press("Tab")
    page.keyboard.type("At the ticket machines by the east exit, or with an IC card.")
    page.keyboard.press("Alt+n")
    page.keyboard.type("Is there a discount for children?")
    page.keyboard.press("Control+Enter")  # the second answer is missing: refused in the page
    assert "Turn 2: write the expected answer" in dialogs.locator(".cnb-status").inner_text()
    page.keyboard.press("Tab")
    page.keyboard.type("Yes, children under 12 pay half.")
    page.keyboard.press("Control+Enter")
    next_task(dialogs, "q1")
    assert stored(store_url, "dialogs")["q0"] == {
        "turns": [
            {"question": "Where do I buy a ticket to Narita?", "answer": "At the ticket machines by the east exit, or with an IC card."},
            {"question": "Is there a discount for children?", "answer": "Yes, children under 12 pay half."},
        ]
    }
    console.assert_no_errors()
