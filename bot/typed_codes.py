"""Codes a person types from paper or from another screen (invitations, /lienket): on phones that capitalise
the first letter and insert spaces, so case, spaces and dashes do not count, and no 0/O, 1/I/L to confuse."""

from __future__ import annotations

import re

TYPED_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def normal_code(text: str) -> str:
    return re.sub(r"[\s\-_.]", "", text).upper()
