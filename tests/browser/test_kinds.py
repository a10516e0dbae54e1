"""Every task kind in a real JupyterLab and in Voila: the family notebooks, driven by mouse and
keyboard, then the store is read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from harness import env_cell_source
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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
    """Select `part` of the widget's text with a mouse drag over its characters.

    The text is scrolled into view and measured just before the drag; if the page's layout moved
    under the mouse (Voila lays out the cells below while images load above), the selection does
    not show and the drag is made again, as a person would.
    """
    text = root.locator(".cnb-spantext")
    pending = text.locator(".cnb-pending").first
    for _ in range(4):
        text.scroll_into_view_if_needed()
        rect = text.evaluate(
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
        assert rect is not None, f"{part!r} is not in the widget's text"
        drag(page, (rect["left"] + 1, rect["y"]), (rect["right"] - 1, rect["y"]))
        try:  # as a person does, wait until the selection shows before pressing its class key
            pending.wait_for(state="visible", timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"dragging over {part!r} selected nothing; the text shows {text.inner_text()!r}")


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


def open_cells(lab, page, tmp_path: Path, name: str, cells: list[str]) -> str:
    """Run `cells` as a notebook in JupyterLab with a fresh store; returns the store URL."""
    store_url = f"sqlite:///{tmp_path / (name + '.sqlite')}"
    file_name = f"{name}_{tmp_path.name}.ipynb"
    lab.write_notebook(file_name, cells, env={"CROWDNB_STORE": store_url, "CROWDNB_WORKER": "tester"})
    lab.open_notebook(page, file_name)
    lab.run_all(page)
    return store_url


def status_of(root) -> str:
    return root.locator(".cnb-status").inner_text()


def shoot(page, root, tmp_path: Path, name: str) -> None:
    """A screenshot of one widget, kept next to the test's files for a person to look at."""
    root.screenshot(path=str(tmp_path / f"{name}.png"))


EMOJI = "😀"
REFUSE_ONCE = '''
class RefuseOnce:
    """Refuses the first label, as a server can after the page has moved on."""

    def __init__(self, inner):
        self.inner, self.refused = inner, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit(self, task_id, label, annotation_id, duration_ms):
        if not self.refused:
            self.refused = True
            raise ValueError("label: refused by the test source")
        self.inner.submit(task_id, label, annotation_id, duration_ms)


retry = crowdnb.Project.create("retry", kind="free-text", exist_ok=True)
retry.add_tasks(pd.DataFrame({"id": ["r0", "r1"], "text": ["First text.", "Second text."]}), on_duplicate="skip")
retry_widget = retry.annotate()
retry_widget._source = RefuseOnce(retry_widget._source)
retry_widget
'''


def test_text_limits_count_code_points_and_a_refused_label_comes_back(lab, page, console, tmp_path: Path) -> None:
    store_url = open_cells(lab, page, tmp_path, "limits", [
        "import crowdnb\nimport pandas as pd",
        'notes = crowdnb.Project.create("notes", kind="free-text", min_chars=4, max_chars=10, exist_ok=True)\n'
        'notes.add_tasks(pd.DataFrame({"id": ["n0", "n1"], "text": ["Describe a cat.", "Describe a dog."]}), on_duplicate="skip")\n'
        "notes.annotate()",
        REFUSE_ONCE,
    ])
    notes = widget(page, "notes")
    next_task(notes, "n0")
    area = notes.locator("textarea")
    area.click()
    page.keyboard.press("Control+Enter")
    assert "Write at least 4 characters (0 so far)" in status_of(notes)
    page.keyboard.type("ab")  # the message follows the typing ...
    assert "(2 so far)" in status_of(notes)
    page.keyboard.type("cd")  # ... and goes once the text is long enough
    assert "Write at least" not in status_of(notes)
    area.fill("")
    page.keyboard.type(EMOJI * 3)  # three code points, six UTF-16 units: the store says too short
    page.keyboard.press("Control+Enter")
    assert "Write at least 4 characters (3 so far)" in status_of(notes)
    assert notes.get_attribute("data-task-id") == "n0"
    page.keyboard.type(EMOJI * 8)  # eleven typed, ten kept: the limit counts code points
    assert area.evaluate("(el) => Array.from(el.value).length") == 10
    counter = notes.locator(".cnb-counter")
    assert counter.inner_text().startswith("10 / 10 · limit reached") and "cnb-limit" in counter.get_attribute("class")
    shoot(page, notes, tmp_path, "freetext-limit")
    page.keyboard.press("Control+Enter")
    next_task(notes, "n1")
    assert stored(store_url, "notes")["n0"] == EMOJI * 10

    retry = widget(page, "retry")
    next_task(retry, "r0")
    retry.locator("textarea").fill("My first answer")
    page.keyboard.press("Control+Enter")
    # the page moves on at once; the kernel refuses; the item comes back with its text
    deadline = time.monotonic() + 10
    while "refused by the test source" not in status_of(retry) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert retry.get_attribute("data-task-id") == "r0"
    assert "task r0" in status_of(retry) and "shown again" in status_of(retry)
    assert retry.locator("textarea").input_value() == "My first answer"
    shoot(page, retry, tmp_path, "refused")
    retry.locator("textarea").fill("My first answer, again")
    page.keyboard.press("Control+Enter")
    next_task(retry, "r1")
    assert stored(store_url, "retry")["r0"] == "My first answer, again"
    assert "refused" not in status_of(retry)
    console.assert_no_errors()


IMAGE_CELLS = [
    "import crowdnb\nfrom crowdnb.samples import sample_photos\n"
    'photos = sample_photos("sample-photos").set_index("id")\n'
    "def pick(*names):\n    return photos.loc[list(names)].reset_index().drop(columns='answer')",
    'kinds = crowdnb.Project.create("photos", kind="image-class", classes=["person", "animal", "object"], exist_ok=True)\n'
    'kinds.add_tasks(pick("astronaut", "rocket", "coffee", "chelsea"), on_duplicate="skip")\nkinds.annotate()',
    'empty = crowdnb.Project.create("empty", kind="bbox", classes=["person", "vehicle", "object"], exist_ok=True)\n'
    'empty.add_tasks(pick("coffee", "rocket"), on_duplicate="skip")\nempty.annotate()',
    'texts = crowdnb.Project.create("texts", kind="ocr", exist_ok=True)\n'
    'texts.add_tasks(pick("rocket"), on_duplicate="skip")\ntexts.annotate()',
    'face = crowdnb.Project.create("face", kind="keypoints", preset="face", exist_ok=True)\n'
    'face.add_tasks(pick("astronaut"), on_duplicate="skip")\nface.annotate()',
]


def chosen(root) -> list[str]:
    return [t.split("\n")[-1] for t in root.locator(".cnb-tools > .cnb-classes .cnb-class.cnb-chosen").all_inner_texts()]


def test_image_views_keep_their_layout_and_ask_before_storing_nothing(lab, page, console, tmp_path: Path) -> None:
    store_url = open_cells(lab, page, tmp_path, "images", IMAGE_CELLS)

    # image-class: one stage height for every image, so the buttons stay where they are
    photos = widget(page, "photos")
    next_task(photos, "astronaut")
    focus(photos)
    page.keyboard.press("?")
    help_text = photos.locator(".cnb-help").inner_text()
    assert "zoom" in help_text and "+ − 0" in help_text and "Space+drag" in help_text
    page.keyboard.press("Escape")
    tops = []
    for task, following in [("astronaut", "rocket"), ("rocket", "coffee"), ("coffee", "chelsea")]:
        next_task(photos, task)
        # Measured from the widget's top: JupyterLab may scroll the notebook between images.
        top = photos.locator(".cnb-class").first.bounding_box()["y"] - photos.bounding_box()["y"]
        tops.append((top, photos.locator(".cnb-canvas").bounding_box()["height"]))
        if task == "rocket":
            shoot(page, photos, tmp_path, "image-class-portrait")
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        next_task(photos, following)
    assert max(t for t, _ in tops) - min(t for t, _ in tops) < 1, tops
    assert len({round(hgt) for _, hgt in tops}) == 1, tops

    # boxes: the class bar marks the class of the next box; Enter on no boxes asks once
    empty = widget(page, "empty")
    next_task(empty, "coffee")
    focus(empty)
    assert chosen(empty) == ["person"]
    page.keyboard.press("2")
    assert chosen(empty) == ["vehicle"]
    page.keyboard.press("Enter")
    assert "No boxes drawn — press Enter again to submit" in status_of(empty)
    assert empty.get_attribute("data-task-id") == "coffee"
    shoot(page, empty, tmp_path, "boxes-empty")
    page.keyboard.press("?")
    assert "asks once" in empty.locator(".cnb-help").inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    next_task(empty, "rocket")
    assert stored(store_url, "empty")["coffee"] == []
    drag(page, on_image(empty, 0.2, 0.2), on_image(empty, 0.6, 0.5))
    assert chosen(empty) == ["vehicle"]
    page.keyboard.press("3")
    assert chosen(empty) == ["object"]
    page.keyboard.press("Enter")
    assert [b["label"] for b in stored(store_url, "empty", 2)["rocket"]] == ["object"]

    # OCR: "Type the text of region 1." goes as soon as region 1 has text
    texts = widget(page, "texts")
    next_task(texts, "rocket")
    drag(page, on_image(texts, 0.1, 0.1), on_image(texts, 0.5, 0.3))
    texts.locator(".cnb-regions input").wait_for()
    page.keyboard.press("Control+Enter")
    assert "Type the text of region 1." in status_of(texts)
    page.keyboard.type("SATURN V")
    assert "Type the text" not in status_of(texts)
    page.keyboard.press("Control+Enter")
    assert stored(store_url, "texts")["rocket"][0]["text"] == "SATURN V"

    # keypoints: names neither overlap nor leave the image; the face preset explains left/right
    face = widget(page, "face")
    next_task(face, "astronaut")
    assert face.locator(".cnb-diagram").is_visible()
    assert "their left eye is on the right of the image" in face.inner_text()
    for i in range(9):  # a tight cluster near the right edge
        page.mouse.click(*on_image(face, 0.86 + 0.015 * (i % 3), 0.45 + 0.02 * (i // 3)))
    assert face.locator(".cnb-next").get_attribute("data-next") == ""
    canvas = face.locator(".cnb-canvas").bounding_box()
    tags = [face.locator("text.cnb-tag").nth(i).bounding_box() for i in range(face.locator("text.cnb-tag").count())]
    assert len(tags) == 9
    for t in tags:
        assert canvas["x"] - 0.5 <= t["x"] and t["x"] + t["width"] <= canvas["x"] + canvas["width"] + 0.5, (t, canvas)
    for i, a in enumerate(tags):
        for b in tags[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
                     or a["y"] + a["height"] <= b["y"] + 0.5 or b["y"] + b["height"] <= a["y"] + 0.5)
            assert apart, (a, b)
    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole widget, legend included
    face.scroll_into_view_if_needed()
    shoot(page, face, tmp_path, "keypoints")
    focus(face)
    page.keyboard.press("Enter")
    assert len(stored(store_url, "face")["astronaut"]) == 9
    console.assert_no_errors()
