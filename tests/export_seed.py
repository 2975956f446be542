"""Seeded cases for the export tests: every kind, several statuses, two communes, photos in the media store
(one with a date taken in its EXIF), reviews and a commendation."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from common.text import fold
from storage import repo
from storage.models import Case, CaseEvent, Role
from tests.conftest import COMMUNE_A, COMMUNE_B, add_member

STORY = "Ông Nguyễn Văn Bảy đã hiến 300 m² đất để làm đường bê tông liên thôn, vận động bà con góp công."


def jpeg(color: str, size: tuple[int, int] = (160, 120), taken: str = "") -> bytes:
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[36867] = taken  # DateTimeOriginal
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


# Chat ids (numbers, as on Telegram): secretaries of Hoàn Kiếm (Hà Nội) and Bến Thành (Hồ Chí Minh), an official
# of Hoàn Kiếm, an official of Hà Nội, a cadre of Hoàn Kiếm.
SECRETARY_A, SECRETARY_B, OFFICIAL_A, PROVINCE_A, CADRE_A = "9001", "9002", "9003", "9004", "9005"


@dataclass
class Seeded:
    secretary_a: int
    secretary_b: int
    official_a: int
    province_a: int
    cadre_a: int
    codes: dict[str, str] = field(default_factory=dict)  # name → code
    photos: dict[str, list[str]] = field(default_factory=dict)  # code → sha256 in order


CASES = (  # name, kind, status, commune, ethnicity, birth year
    ("Nguyễn Thị Lành", "ca_nhan", "approved", COMMUNE_A, "Tày", 1975),
    ("Chi hội Phụ nữ thôn Đông", "tap_the", "commended", COMMUNE_A, None, None),
    ("Hộ ông Đặng Văn Ước", "ho_gia_dinh", "approved", COMMUNE_A, None, None),
    ("Lò Văn Mười", "ca_nhan", "commended", COMMUNE_A, "Thái", 1962),
    ("Trần Thị Ửng", "ca_nhan", "submitted", COMMUNE_A, "Kinh", 1990),
    ("Phạm Văn Quyết", "ca_nhan", "rejected", COMMUNE_A, "Kinh", 1980),
    ("Huỳnh Thị Bến", "ca_nhan", "approved", COMMUNE_B, "Khmer", 1970),
)


async def seed(app, when: datetime | None = None) -> Seeded:
    world = Seeded(
        secretary_a=await add_member(app, SECRETARY_A, role=Role.SECRETARY, village=None, name="Thư ký Hoàn Kiếm"),
        secretary_b=await add_member(app, SECRETARY_B, role=Role.SECRETARY, commune=COMMUNE_B, village=None),
        official_a=await add_member(app, OFFICIAL_A, role=Role.OFFICIAL, village=None),
        province_a=await add_member(app, PROVINCE_A, role=Role.OFFICIAL, village=None, province="01"),
        cadre_a=await add_member(app, CADRE_A, name="Cán bộ Đông"),
    )
    when = when or app.core.clock.now() - timedelta(days=10)
    colors = ["red", "green", "blue", "orange", "purple", "gray", "pink", "brown", "navy", "olive", "teal",
              "maroon", "gold", "white"]
    async with app.db.session() as session:
        units = {code: await repo.ensure_unit(session, code, "village", "Thôn Đông") for code in (COMMUNE_A, COMMUNE_B)}
        for index, (name, kind, status, commune, ethnicity, born) in enumerate(CASES):
            shas = []
            for n in range(2):
                data = jpeg(colors[(2 * index + n) % len(colors)], taken="2026:11:01 08:30:00" if n == 0 else "")
                info = await app.core.media.save(data)
                await repo.record_media(session, [info.row()], when)
                shas.append(info.sha256)
            answers = {"kind": kind, "name": name, "address": "Thôn Đông, " + ("Hoàn Kiếm" if commune == COMMUNE_A
                                                                               else "Bến Thành"),
                       "field": "Đời sống xã hội", "movement": "Người tốt, việc tốt", "description": STORY,
                       "when": {"start": "2026-11-01", "precision": "day", "label": "01/11/2026"},
                       "phone": "0912345678", "consent": "yes", "photo_count": 2}
            if kind == "ca_nhan":
                answers |= {"birth_year": born, "ethnicity": ethnicity, "position": "Nông dân"}
            else:
                answers |= {"rep_name": "Bà Vi Thị Sáu", "rep_role": "Chi hội trưởng"}
            code = f"NT-2026-{index + 1:05d}"
            commendation = {"form": "Giấy khen của Chủ tịch UBND phường", "decision": "12/QĐ-UBND",
                            "date": "15/11/2026"} if status == "commended" else {}
            case = Case(code=code, commune_code=commune, unit_id=units[commune].id, nominator_id=world.cadre_a,
                        status=status, kind=kind, name=name, name_key=fold(name), field=answers["field"],
                        movement=answers["movement"], answers=answers, submitted_at=when + timedelta(hours=index),
                        updated_at=when, commendation=commendation,
                        reason="Chưa đủ minh chứng" if status == "rejected" else "")
            await repo.add_case(session, case, shas, world.cadre_a)
            reviewer = world.secretary_a if commune == COMMUNE_A else world.secretary_b
            if status in ("approved", "commended", "rejected"):
                session.add(CaseEvent(case_id=case.id, actor_id=reviewer, at=when + timedelta(days=1),
                                      from_status="submitted", to_status="rejected" if status == "rejected"
                                      else "approved"))
            world.codes[name] = code
            world.photos[code] = shas
    return world


def files_left(folder: Path) -> list[Path]:
    """What an export left on the server (nothing, once delivered)."""
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
