"""The public page of a commune's approved cases, `/cong-khai/<commune code>`, for its web portal: HTML, an Atom
feed and JSON. A case appears only when it was approved or commended AND its nominee consented to
publicity (storage/web.py); it shows the name, village, field, movement, the write-up and the photos, resized
for the web, and never the phone, the birth year or the ethnicity (they are not even read)."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape as xml_escape

from aiohttp import web

from bot.http import Route
from common.clock import Clock
from common.messages import t
from common.settings import Settings
from storage import web as store
from storage.db import Database
from storage.media import MediaStore, resized_jpeg
from storage.web import PublicCase

PHOTO_SIDE = 1024
CACHE = "public, max-age=300"
STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;color:#1c1c1c;background:#f6f6f6}
header{background:#b3261e;color:#fff;padding:.8rem 1rem}header h1{margin:0;font-size:1.2rem}
header p{margin:.2rem 0 0;opacity:.9}main{max-width:48rem;margin:0 auto;padding:.5rem}
article{background:#fff;border-radius:10px;padding:.8rem 1rem;margin:.8rem 0;box-shadow:0 1px 2px #0002}
article h2{margin:.1rem 0 .3rem;font-size:1.1rem}dl{display:grid;grid-template-columns:max-content 1fr;
gap:.1rem .6rem;margin:.3rem 0;font-size:.95rem}dt{color:#555}dd{margin:0}
.story{white-space:pre-wrap}.photos{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:6px}
.photos img{width:100%;height:140px;object-fit:cover;border-radius:6px}footer{text-align:center;font-size:.85rem;
color:#555;padding:1rem}a{color:#8a1c14}
""".strip()


class PublicPage:
    def __init__(self, db: Database, media: MediaStore, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.media = media
        self.clock = clock
        self.settings = settings

    def routes(self) -> list[Route]:
        return [Route("GET", r"/cong-khai/{code:\d{5}}", self.page),
                Route("GET", r"/cong-khai/{code:\d{5}}.json", self.json),
                Route("GET", r"/cong-khai/{code:\d{5}}.atom", self.atom),
                Route("GET", "/cong-khai/style.css", self.style),
                Route("GET", r"/cong-khai/anh/{sha:[0-9a-f]{64}}.jpg", self.photo)]

    async def _cases(self, request: web.Request) -> tuple[str, list[PublicCase]]:
        code = request.match_info["code"]
        async with self.db.session() as session:
            commune = await store.commune(session, code)
            if commune is None:
                raise web.HTTPNotFound(text=t("public.unknown", code=code))
            return f"{commune.name}, {commune.province_name}", await store.public_cases(session, code)

    async def page(self, request: web.Request) -> web.Response:
        name, cases = await self._cases(request)
        code = request.match_info["code"]
        articles = "\n".join(_article(case) for case in cases) or f"<p>{html.escape(t('public.none'))}</p>"
        body = f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(t("public.title", commune=name))}</title><link rel="stylesheet" href="/cong-khai/style.css">
<link rel="alternate" type="application/atom+xml" href="/cong-khai/{code}.atom"></head><body>
<header><h1>{html.escape(t("public.title", commune=name))}</h1><p>{html.escape(t("public.intro"))}</p></header>
<main>{articles}</main>
<footer><a href="/cong-khai/{code}.atom">Atom</a> · <a href="/cong-khai/{code}.json">JSON</a></footer>
</body></html>"""
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": CACHE})

    async def json(self, request: web.Request) -> web.Response:
        name, cases = await self._cases(request)
        base = _base_url(request, self.settings)
        return web.json_response({
            "commune": {"code": request.match_info["code"], "name": name},
            "cases": [{"code": c.code, "name": c.name, "kind": t(f"kind.{c.kind}"), "unit": c.unit, "field": c.field,
                       "movement": c.movement, "description": c.description, "when": c.when,
                       "status": t(f"status.{c.status}"), "updated": c.updated_at.isoformat(),
                       "photos": [f"{base}/cong-khai/anh/{sha}.jpg" for sha in c.photos]} for c in cases]},
            headers={"Cache-Control": CACHE, "Access-Control-Allow-Origin": "*"},
            dumps=lambda value: json.dumps(value, ensure_ascii=False))

    async def atom(self, request: web.Request) -> web.Response:
        name, cases = await self._cases(request)
        base, code = _base_url(request, self.settings), request.match_info["code"]
        page = f"{base}/cong-khai/{code}"
        updated = max((c.updated_at for c in cases), default=datetime(2025, 7, 1, tzinfo=UTC))
        entries = "".join(_entry(case, page, base) for case in cases)
        feed = (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{xml_escape(t('public.title', commune=name))}</title><id>{xml_escape(page)}</id>"
                f'<link rel="alternate" href="{xml_escape(page)}"/><link rel="self" href="{xml_escape(page)}.atom"/>'
                f"<updated>{_stamp(updated)}</updated>{entries}</feed>")
        return web.Response(text=feed, content_type="application/atom+xml",
                            headers={"Cache-Control": CACHE, "Access-Control-Allow-Origin": "*"})

    async def style(self, request: web.Request) -> web.Response:
        return web.Response(text=STYLE, content_type="text/css", headers={"Cache-Control": CACHE})

    async def photo(self, request: web.Request) -> web.Response:
        """Only a photo of a publishable case; resized (and its EXIF, with any GPS position, dropped)."""
        sha = request.match_info["sha"]
        async with self.db.session() as session:
            public = await store.photo_is_public(session, sha)
        if not public:
            raise web.HTTPNotFound()
        try:
            data = await self.media.load(sha)
        except OSError:
            raise web.HTTPNotFound() from None
        body = await asyncio.to_thread(resized_jpeg, data, PHOTO_SIDE)
        return web.Response(body=body, content_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


def _article(case: PublicCase) -> str:
    rows = [(t("public.unit"), case.unit), (t("public.kind"), t(f"kind.{case.kind}")), (t("public.field"), case.field),
            (t("public.movement"), case.movement), (t("public.when"), case.when),
            (t("public.status"), t(f"status.{case.status}"))]
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows if v)
    photos = "".join(f'<a href="/cong-khai/anh/{sha}.jpg"><img src="/cong-khai/anh/{sha}.jpg" alt="" loading="lazy"></a>'
                     for sha in case.photos)
    return (f'<article id="{html.escape(case.code)}"><h2>{html.escape(case.name)}</h2><dl>{facts}</dl>'
            f'<p class="story">{html.escape(case.description)}</p><div class="photos">{photos}</div></article>')


def _entry(case: PublicCase, page: str, base: str) -> str:
    photos = "".join(f'<link rel="enclosure" type="image/jpeg" href="{base}/cong-khai/anh/{sha}.jpg"/>'
                     for sha in case.photos)
    summary = " · ".join(x for x in (case.unit, case.field, case.movement, case.when) if x)
    return (f"<entry><title>{xml_escape(case.name)}</title><id>{xml_escape(page)}#{xml_escape(case.code)}</id>"
            f'<link rel="alternate" href="{xml_escape(page)}#{xml_escape(case.code)}"/>{photos}'
            f"<updated>{_stamp(case.updated_at)}</updated><summary>{xml_escape(summary)}</summary>"
            f'<content type="text">{xml_escape(case.description)}</content></entry>')


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _base_url(request: web.Request, settings: Settings) -> str:
    scheme = request.scheme
    host = request.host
    if settings.web_trust_forwarded:
        scheme = request.headers.get("X-Forwarded-Proto", scheme)
        host = request.headers.get("X-Forwarded-Host", host)
    return f"{scheme}://{host}"
