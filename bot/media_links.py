"""Short-lived signed links to stored photos, served by the bot's own HTTP app: a channel that sends photos
only by URL (Zalo's sendPhoto) fetches a case's photos from them for a reviewer.

`GET /media/<sha256>.jpg?e=<expiry>&s=<signature>`: the signature is an HMAC of the photo and the expiry
under a secret derived from the bot's token (the same in every process); an expired, forged or altered
link gets 403, a photo gone from the media store 404. Served as a phone-sized preview; originals stay
untouched in the media store.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable

from aiohttp import web
from PIL import Image

from bot.http import Route
from bot.signed_links import is_signed, signature
from storage.media import MediaStore

log = logging.getLogger(__name__)

PATH = "/media/{name}"
LINK_SECONDS = 600  # long enough for the channel to fetch the photo, too short to share the link usefully
_NAME = re.compile(r"([0-9a-f]{64})\.jpg")


class MediaLinks:
    def __init__(self, media: MediaStore, base_url: str, secret: bytes, *, seconds: int = LINK_SECONDS,
                 now: Callable[[], float] = time.time) -> None:
        self.media = media
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.seconds = seconds
        self.now = now

    @classmethod
    def for_token(cls, media: MediaStore, base_url: str, token: str, **kw) -> MediaLinks:
        return cls(media, base_url, hmac.new(token.encode(), b"nguoitot media links", hashlib.sha256).digest(), **kw)

    def url(self, sha256: str) -> str:
        expires = int(self.now()) + self.seconds
        return f"{self.base_url}/media/{sha256}.jpg?e={expires}&s={signature(self.secret, sha256, expires)}"

    def route(self) -> Route:
        return Route("GET", PATH, self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        sha256 = self._signed(request)
        if sha256 is None:
            log.info("media link refused: %s", request.path_qs[:160])
            return web.Response(status=403, text="forbidden")
        try:
            shown = await self.media.preview(sha256)
        except FileNotFoundError:
            return web.Response(status=404, text="not found")
        except (OSError, ValueError, Image.DecompressionBombError):
            log.exception("media link: photo %s cannot be drawn", sha256)
            return web.Response(status=404, text="not found")
        kind = "image/png" if shown.startswith(b"\x89PNG") else "image/jpeg"
        return web.Response(body=shown, content_type=kind, headers={"Cache-Control": "private, no-store"})

    def _signed(self, request: web.Request) -> str | None:
        """The photo a link names, if its signature is ours and it has not expired."""
        found = _NAME.fullmatch(request.match_info["name"])
        if found is None or not is_signed(self.secret, found.group(1), request.query.get("e", ""),
                                          request.query.get("s", ""), self.now()):
            return None
        return found.group(1)
