"""The demo commune and cadre that `nguoitot chat` talks as, created once on the embedded database."""

from __future__ import annotations

from datetime import datetime

from bot.channels.terminal import CHANNEL, DEMO_USER
from storage import repo
from storage.communes import find_commune
from storage.db import Database
from storage.models import Membership, Role

DEMO_COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội: any real commune would do
DEMO_VILLAGE = "Tổ dân phố số 1 (demo)"


async def ensure_demo_cadre(db: Database, now: datetime) -> None:
    async with db.session() as session:
        if await repo.account_of(session, CHANNEL, DEMO_USER) is not None:
            return
        commune = await repo.ensure_commune(session, find_commune(DEMO_COMMUNE))
        unit = await repo.ensure_unit(session, commune.code, "village", DEMO_VILLAGE)
        person = await repo.create_person(session, "Cán bộ demo", now, CHANNEL, DEMO_USER, DEMO_USER)
        session.add(Membership(person_id=person.id, role=Role.CADRE, commune_code=commune.code, unit_id=unit.id,
                               created_at=now))
