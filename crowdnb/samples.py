"""Sample tasks for first steps and tests: real photos shipped with scikit-image, short texts.

Nothing is downloaded: the photos come from the installed `scikit-image` package (install the
``notebook`` extra), the texts are written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

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
    from skimage import data

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
