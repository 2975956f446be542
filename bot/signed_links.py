"""The signature both kinds of link carry (bot/media_links.py, bot/export_links.py): `?e=<expiry>&s=<signature>`,
an HMAC of what the link names and its expiry, under a secret only the bot knows."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: bytes, subject: str, expires: int) -> str:
    return hmac.new(secret, f"{subject}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def is_signed(secret: bytes, subject: str, expires: str, given: str, now: float) -> bool:
    """The link's expiry (as given: digits, not past) and signature (compared in constant time) are ours."""
    if not (expires.isdigit() and len(expires) <= 12) or int(expires) < now:
        return False
    return hmac.compare_digest(given.encode(), signature(secret, subject, int(expires)).encode())
