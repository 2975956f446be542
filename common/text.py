"""Text folding for matching what users type.

Cadres often type Vietnamese without diacritics ("ca nhan" for "cá nhân"), in any case and with
stray punctuation, and Zalo offers no buttons, so every comparison of typed text against a
label goes through these functions.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache

_NON_ALNUM = re.compile(r"[\W_]+")


def strip_diacritics(s: str) -> str:
    """Remove Vietnamese tone and vowel marks; đ/Đ become d/D (they do not decompose in Unicode)."""
    s = unicodedata.normalize("NFC", s).replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", s)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Every typed answer is compared with every label of a step: cached, the labels are folded once.
@lru_cache(maxsize=8192)
def fold(s: str) -> str:
    """Canonical form for comparing typed text: no diacritics, lower case, single spaces.

    Every run of characters that is not a letter or digit becomes one space, so punctuation and
    spacing differences ("H'Mông", "h mong", "H-Mong") compare equal.
    """
    s = strip_diacritics(s).lower()
    return _NON_ALNUM.sub(" ", s).strip()


@lru_cache(maxsize=8192)
def compact(s: str) -> str:
    """`fold` without spaces, so that "ca nhan" and "canhan" (and "Ê Đê", "Ede") compare equal."""
    return fold(s).replace(" ", "")


def split_text(text: str, limit: int) -> list[str]:
    """Split long text at line breaks (then spaces) so nothing is ever cut off; not before an indented line,
    which belongs with the one above it (a file's name and its link)."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = limit
        while (cut := text.rfind("\n", 0, cut)) > 0 and text[cut + 1:cut + 2] == " ":
            pass
        if cut <= 0:
            cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    chunks.append(text)
    return chunks


_NUMBERS = re.compile(r"\d+")


def natural_key(s: str) -> tuple:
    """Sorts names as people read them: "Thôn 2" before "Thôn 10", ignoring case and diacritics."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", fold(s)))


def looks_alike(a: str, b: str) -> bool:
    """Two names of villages that are most likely the same place typed twice ("Tổ dân phố 7" and "Tổ dân
    phố số 7"): the same numbers, and the words alike but for "số" and small typos. Different numbers are
    different places ("Thôn 1", "Thôn 11")."""
    fa, fb = fold(a), fold(b)
    if fa == fb or _NUMBERS.findall(fa) != _NUMBERS.findall(fb):
        return fa == fb
    words_a, words_b = (" ".join(w for w in _NUMBERS.sub(" ", f).split() if w != "so") for f in (fa, fb))
    return words_a == words_b or difflib.SequenceMatcher(None, words_a, words_b).ratio() >= 0.9
