"""The public page of approved cases (/cong-khai/<commune>): only approved or commended cases whose nominee
consented, as HTML, Atom and JSON; never the phone, the birth year or the ethnicity; photos resized."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import aiohttp
from PIL import Image

from common.messages import t
from common.text import fold
from storage import repo
from storage.models import Case, Role
from tests.conftest import COMMUNE_A, COMMUNE_B, add_member

PHONE, BIRTH, ETHNICITY = "0987654321", 1957, "Sán Dìu"
# name, status, consent, commune
CASES = (
    ("Nguyễn Công Khai", "approved", "yes", COMMUNE_A),
    ("Trần Được Khen", "commended", "yes", COMMUNE_A),
    ("Lê Không Đồng Ý", "approved", "no", COMMUNE_A),
    ("Phạm Chưa Hỏi", "commended", "not_asked", COMMUNE_A),
    ("Vũ Chưa Duyệt", "submitted", "yes", COMMUNE_A),
    ("Đỗ Bị Từ Chối", "rejected", "yes", COMMUNE_A),
    ("Hồ Xã Khác", "approved", "yes", COMMUNE_B),
)
SHOWN = {"Nguyễn Công Khai", "Trần Được Khen"}


def photo(colour: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # any EXIF: the web copy drops it (with any GPS position)
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif)
    return out.getvalue()


async def seed(app) -> dict[str, str]:
    """The cases above, each with its own photo; returns name → the photo's SHA-256."""
    cadre = await add_member(app, "pub-1")
    await add_member(app, "pub-b", commune=COMMUNE_B)
    now = app.core.clock.now()
    shas = {}
    async with app.db.session() as session:
        for index, (name, status, consent, commune) in enumerate(CASES):
            info = await app.core.media.save(photo(["red", "green", "blue", "gray", "pink", "navy", "gold"][index],
                                                   (2400, 1800) if index == 0 else (200, 150)))
            await repo.record_media(session, [info.row()], now)
            unit = await repo.ensure_unit(session, commune, "village", "Thôn Đông")
            answers = {"kind": "ca_nhan", "name": name, "birth_year": BIRTH, "ethnicity": ETHNICITY,
                       "position": "Nông dân", "address": "Thôn Đông", "field": "Y tế",
                       "movement": "Người tốt, việc tốt", "description": f"{name} đã giúp đỡ bà con rất nhiều.",
                       "when": {"start": "2026-10-01", "precision": "month", "label": "tháng 10/2026"},
                       "phone": PHONE, "consent": consent, "photo_count": 1}
            await repo.add_case(session, Case(
                code=f"NT-2026-{index + 1:05d}", commune_code=commune, unit_id=unit.id, nominator_id=cadre,
                status=status, kind="ca_nhan", name=name, name_key=fold(name), field="Y tế",
                movement="Người tốt, việc tốt", answers=answers, submitted_at=now - timedelta(days=9),
                updated_at=now - timedelta(days=index)), [info.sha256], cadre)
            shas[name] = info.sha256
    return shas


async def test_only_approved_and_consented_cases_appear_and_nothing_private(app, web_service):
    shas = await seed(app)
    base = web_service.base_url
    async with aiohttp.ClientSession() as portal:
        async with portal.get(f"{base}/cong-khai/{COMMUNE_A}") as answer:
            assert answer.status == 200
            page = await answer.text()
        async with portal.get(f"{base}/cong-khai/{COMMUNE_A}.json") as answer:
            assert answer.headers["Access-Control-Allow-Origin"] == "*"  # a portal may fetch it from its own page
            data = await answer.json()
            raw_json = await answer.text()
        async with portal.get(f"{base}/cong-khai/{COMMUNE_A}.atom") as answer:
            assert answer.content_type == "application/atom+xml"
            atom = await answer.text()
        photos = {}
        for name, sha in shas.items():
            async with portal.get(f"{base}/cong-khai/anh/{sha}.jpg") as answer:
                photos[name] = (answer.status, await answer.read())
        async with portal.get(f"{base}/cong-khai/99999") as answer:
            assert answer.status == 404

    assert {c["name"] for c in data["cases"]} == SHOWN
    entries = ET.fromstring(atom).findall("{http://www.w3.org/2005/Atom}entry")
    assert {e.findtext("{http://www.w3.org/2005/Atom}title") for e in entries} == SHOWN
    for name, *_ in CASES:
        for document in (page, raw_json, atom):
            assert (name in document) == (name in SHOWN), (name, document[:80])
    for private in (PHONE, "912", str(BIRTH), ETHNICITY, "Nông dân"):
        for document in (page, raw_json, atom):
            assert private not in document
    [first] = [c for c in data["cases"] if c["name"] == "Nguyễn Công Khai"]
    assert (first["unit"], first["field"], first["movement"], first["when"]) == (
        "Thôn Đông", "Y tế", "Người tốt, việc tốt", "tháng 10/2026")
    assert first["photos"] == [f"{base}/cong-khai/anh/{shas['Nguyễn Công Khai']}.jpg"]

    assert {name for name, (status, _) in photos.items() if status == 200} == SHOWN | {"Hồ Xã Khác"}
    with Image.open(io.BytesIO(photos["Nguyễn Công Khai"][1])) as web_copy:
        assert max(web_copy.size) == 1024 and not web_copy.getexif()  # resized, EXIF gone


async def test_the_public_page_may_be_framed_only_where_configured(app, web_service):
    async with aiohttp.ClientSession() as portal:
        async with portal.get(f"{web_service.base_url}/cong-khai/{COMMUNE_A}") as answer:
            csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "script-src" not in csp and "default-src 'none'" in csp


def test_frame_ancestors_setting_becomes_csp_sources():
    from bot.channels.web import _sources

    assert _sources("self https://hoankiem.hanoi.gov.vn") == "'self' https://hoankiem.hanoi.gov.vn"
    assert _sources("'none'") == "'none'" and _sources("") == "'none'"


async def test_a_new_commune_without_cases_says_so(app, web_service):
    await add_member(app, "pub-2", role=Role.SECRETARY, village=None)
    async with aiohttp.ClientSession() as portal:
        async with portal.get(f"{web_service.base_url}/cong-khai/{COMMUNE_A}") as answer:
            assert answer.status == 200 and t("public.none") in await answer.text()
