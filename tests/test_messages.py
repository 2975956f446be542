"""The message catalogue: every key the code names exists, and texts fit the smallest channel."""

from __future__ import annotations

import re
from pathlib import Path

from bot.messages import VI

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"""["']((?:[a-z_]+)\.[a-z_.]+)["']""")


def test_every_catalogue_key_named_in_the_code_exists():
    named = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name != "messages.py":
            named |= {k for k in KEY.findall(path.read_text()) if k.split(".")[0] in {x.split(".")[0] for x in VI}}
    missing = sorted(k for k in named if k not in VI and not k.endswith("."))
    assert missing == []


def test_texts_fit_zalo_and_are_vietnamese():
    assert all(len(text) <= 2000 for text in VI.values())  # Zalo's limit, the smaller of the two channels
    assert all(text.strip() == text for text in VI.values())
