"""Sample tasks for first steps and tests: real photos shipped with scikit-image, short texts.

Nothing is downloaded: the photos come from the installed `scikit-image` package (install the
``notebook`` extra), the texts are written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from crowdnb.errors import require

PHOTO_CLASSES = ["person", "animal", "object", "texture", "space"]

# scikit-image sample photo -> what it shows (used as the known answer)
_PHOTOS = {
    "astronaut": "person",
    "camera": "person",
    "chelsea": "animal",
    "cat": "animal",
    "coffee": "object",
    "rocket": "object",
    "clock": "object",
    "coins": "object",
    "brick": "texture",
    "grass": "texture",
    "gravel": "texture",
    "moon": "space",
    "hubble_deep_field": "space",
}

MESSAGE_CLASSES = ["praise", "complaint", "question"]

_MESSAGES = [
    ("The courier was early and the box was perfectly packed. Thank you!", "praise"),
    ("My order arrived with a cracked screen.", "complaint"),
    ("Can I change the delivery address after checkout?", "question"),
    ("Best customer service I have had in years.", "praise"),
    ("I was charged twice for the same subscription.", "complaint"),
    ("Do you ship to Okinawa?", "question"),
    ("The app is fast and the new dark mode looks great.", "praise"),
    ("Nobody answered the support line for forty minutes.", "complaint"),
    ("How long does a refund usually take?", "question"),
    ("Setup took two minutes, everything just worked.", "praise"),
    ("The jacket shrank after the first wash.", "complaint"),
    ("Is the blue model still going to be restocked?", "question"),
    ("Thanks for replacing the broken charger so quickly.", "praise"),
    ("The tracking number you sent does not exist.", "complaint"),
    ("Which size should I pick if I am between M and L?", "question"),
    ("Lovely staff at the Shibuya store, very patient with us.", "praise"),
    ("The instructions were missing from the package.", "complaint"),
    ("Can I pay with a bank transfer?", "question"),
    ("Great value for money, I already ordered a second one.", "praise"),
    ("My discount code was rejected at checkout.", "complaint"),
    ("What is the warranty period for the headphones?", "question"),
    ("The recipe kit was fresh and the portions generous.", "praise"),
    ("Delivery was a week late and nobody told me.", "complaint"),
    ("Do you offer gift wrapping?", "question"),
    ("Your chatbot actually solved my problem, impressive.", "praise"),
    ("The battery dies after two hours.", "complaint"),
    ("Can I return an item bought on sale?", "question"),
    ("Clear invoice, quick payment, no surprises.", "praise"),
    ("The seat I booked was given to someone else.", "complaint"),
    ("Is there a student discount?", "question"),
    ("The hotel room was spotless and quiet.", "praise"),
    ("I cannot log in since the last update.", "complaint"),
    ("Where can I download last month's statement?", "question"),
    ("Five stars, the translation was accurate and on time.", "praise"),
    ("The package was left in the rain and everything is wet.", "complaint"),
    ("Does the price include tax?", "question"),
]


# Short texts for span labeling (places and dishes), in several scripts.
_SENTENCES = [
    "서울역 앞에서 비빔밥을 먹었어요 🍚",
    "🍜 東京駅の近くでラーメンを食べた",
    "We had pho in Hanoi and tacos in Mexico City.",
    "大阪のたこ焼きは最高です",
    "부산 해운대에서 회를 먹었다",
    "Croissants in Paris, pasta in Rome 🇮🇹",
]

# Instructions for chatbot Q&A writing: the worker writes what a user would ask and the answer
# the bot should give.
_INSTRUCTIONS = [
    "You are the help desk of a train station. Write a question a traveller asks and the answer the station bot should give.",
    "You are a bank's chatbot. Write a question about a lost card and the correct answer (block the card first).",
    "You are a recipe assistant. Write a question about replacing eggs in a cake and a helpful answer.",
    "You are an airline's assistant. Write a question about baggage allowance and a precise answer (one 23 kg bag in economy).",
]


def sample_sentences() -> pd.DataFrame:
    """Short sentences in Korean, Japanese, English and French (with emoji): ``id``, ``text``."""
    return pd.DataFrame([{"id": f"s{i}", "text": t} for i, t in enumerate(_SENTENCES)])


def sample_instructions() -> pd.DataFrame:
    """Chatbot-dialog writing instructions: ``id``, ``text``."""
    return pd.DataFrame([{"id": f"q{i}", "text": t} for i, t in enumerate(_INSTRUCTIONS)])


def sample_photos(folder: str | Path) -> pd.DataFrame:
    """Write scikit-image's sample photos as JPEG files into `folder` and return one row per
    photo: ``id``, ``image`` (the file path), ``answer`` (what it shows, one of
    `PHOTO_CLASSES`)."""
    data = require("skimage.data", feature="the sample photos", extra="notebook")

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, answer in _PHOTOS.items():
        path = target / f"{name}.jpg"
        if not path.exists():
            pixels = np.asarray(getattr(data, name)())
            Image.fromarray(pixels).convert("RGB").save(path, format="JPEG", quality=90)
        rows.append({"id": name, "image": str(path), "answer": answer})
    return pd.DataFrame(rows)


def sample_messages() -> pd.DataFrame:
    """Short customer messages: ``id``, ``text``, ``answer`` (one of `MESSAGE_CLASSES`)."""
    return pd.DataFrame(
        [{"id": f"m{i:02d}", "text": text, "answer": answer} for i, (text, answer) in enumerate(_MESSAGES)]
    )


DEMO_PROJECT = "demo-messages"
DEMO_WORKERS = {"manager": "demo-manager", "worker": "demo-worker", "inspector": "demo-inspector"}

DEMO_MESSAGE = """\
This is a DEMO: no crowd server was given, so a small one runs inside this notebook, on a
temporary store that is thrown away when the kernel stops. To work on a real server, set
CROWDNB_SERVER (its address) and CROWDNB_TOKEN (your token) before starting Jupyter or Voila,
and CROWDNB_PROJECT (the project's name; without it, your first project).

데모입니다: 크라우드 서버가 지정되지 않아 이 노트북 안에서 작은 서버가 임시 저장소로 실행됩니다
(커널이 종료되면 사라집니다). 실제 서버에서 작업하려면 Jupyter 또는 Voila를 시작하기 전에
CROWDNB_SERVER(서버 주소)와 CROWDNB_TOKEN(본인 토큰)을, 필요하면 CROWDNB_PROJECT(프로젝트 이름,
없으면 첫 번째 프로젝트)도 설정하세요."""


class DemoServer:
    """A crowd server for trying the worker and inspector notebooks without one: a temporary
    SQLite store, a manager, a worker and an inspector, and a project of sample messages, served
    by uvicorn in a background thread on 127.0.0.1. Made by `demo_server`."""

    def __init__(self, folder: Path, url: str, tokens: dict[str, str], server: Any, thread: Any) -> None:
        self.folder = folder
        self.url = url
        self.tokens = tokens
        self.project = DEMO_PROJECT
        self.message = DEMO_MESSAGE
        self._server = server
        self._thread = thread

    def __repr__(self) -> str:
        return f"DemoServer({self.url!r}, project={self.project!r})"

    def connect(self, role: str = "worker") -> Any:
        """An `HttpStore` for the demo's `role` (manager, worker or inspector), its outbox kept
        in the demo's temporary folder."""
        from crowdnb.client import connect

        return connect(self.url, self.tokens[role], outbox=self.folder / f"outbox-{role}.sqlite")

    def stop(self) -> None:
        """Stop serving (the temporary store is removed when the process ends)."""
        self._server.should_exit = True
        self._thread.join(timeout=10)


_demo: DemoServer | None = None


def demo_server() -> DemoServer:
    """Start (once per process; later calls return the same one) a demo crowd server.

    Its project `DEMO_PROJECT` holds the `sample_messages` as text-class tasks with a price of
    one point; every label waits for the inspector, and a few labels by another worker are
    already waiting, so the inspector's page has work at once. Needs the ``server`` extra.
    """
    global _demo
    if _demo is not None and _demo._thread.is_alive():
        return _demo
    import atexit
    import shutil
    import socket
    import tempfile
    import threading
    import time
    import uuid

    from crowdnb.errors import MissingExtra
    from crowdnb.project import Project
    from crowdnb.session import StoreSource
    from crowdnb.store import SqlStore

    try:
        import uvicorn

        from crowdnb.server import create_app
    except ModuleNotFoundError as exc:
        raise MissingExtra("the demo server", "server", exc.name or "uvicorn") from None

    folder = Path(tempfile.mkdtemp(prefix="crowdnb-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    media = folder / "media"  # the only folder images are served from: the store and the outboxes stay outside it
    media.mkdir()
    store = SqlStore(folder / "demo.sqlite")
    tokens = {role: store.issue_token(name, role) for role, name in DEMO_WORKERS.items()}
    project = Project.create(DEMO_PROJECT, kind="text-class", classes=MESSAGE_CLASSES, store=store, price=1, review_rate=1.0)
    project.add_tasks(sample_messages().drop(columns="answer"))
    for name in ("demo-worker-2", *DEMO_WORKERS.values()):
        if name != DEMO_WORKERS["manager"]:
            store.worker_id(name)
            project.add_member(name)
    earlier = StoreSource(store, project.info, store.worker_id("demo-worker-2"))
    answers = dict(zip(sample_messages()["id"], sample_messages()["answer"]))
    for item in earlier.fetch(3, []):
        earlier.submit(item.task_id, answers[item.external_id], str(uuid.uuid4()), 2500)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(store, media), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="crowdnb-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the demo server did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    _demo = DemoServer(folder, f"http://127.0.0.1:{port}", tokens, server, thread)
    return _demo
