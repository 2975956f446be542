"""Codes a person types from paper or from another screen (invitations, /lienket): on phones that capitalise
the first letter and insert spaces, so case, spaces and dashes do not count, and no 0/O, 1/I/L to confuse."""

from __future__ import annotations

import re
import secrets

TYPED_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(prefix: str, groups: int) -> str:
    """A random code to type: the prefix, then groups of four characters, dashes between ("LK-7KQ4-X9PD")."""
    return "-".join((prefix, *("".join(secrets.choice(TYPED_ALPHABET) for _ in range(4)) for _ in range(groups))))


def normal_code(text: str) -> str:
    return re.sub(r"[\s\-_.]", "", text).upper()
