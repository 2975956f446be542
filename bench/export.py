"""The export at scale: N cases with 3 photos each (small real JPEGs, every one different), then the time to
make each file and the peak memory of the process that makes it, at 1,000 and 10,000 cases; and the time
to draw /thongke's charts. Prints figures; this is not a test.

    python bench/export.py [--sizes 1000,10000] [--keep DIR]

Each file is made in a fresh process (so its peak RSS is its own): the XLSX alone, the photo ZIP alone,
the documents (tờ trình, danh sách, tóm tắt, giấy khen; DOCX and PDF), and the whole export as /xuat makes
it. The XLSX and the ZIP are streamed, page by page: their memory must not grow with the number of
cases. The documents are built whole (python-docx and fpdf2 keep a document in memory), so theirs does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 10, 9, 0, tzinfo=ZONE)
COMMUNE = "00070"
PARTS = ("xlsx", "zip", "documents", "all")
KINDS = ("ca_nhan", "ca_nhan", "tap_the", "ho_gia_dinh")
STORY = ("Bà con trong thôn cho biết ông đã nhiều năm lặng lẽ sửa đường, dựng cầu tre cho học sinh qua suối, "
         "vận động các hộ hiến đất làm đường bê tông, giúp đỡ người nghèo và người già neo đơn. ")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--keep", help="seed into this folder and keep it (reused when it is there)")
    parser.add_argument("--parts", default=",".join(PARTS), help="which files to make, of " + ", ".join(PARTS))
    parser.add_argument("--measure", choices=PARTS, help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    return parser.parse_args()


def settings_for(folder: Path):
    from common.settings import Settings

    return Settings(_env_file=None, database_url=f"sqlite:///{folder / 'bench.db'}", media_dir=folder / "media",
                    exports_dir=folder / "exports")


def photo(rng: random.Random) -> bytes:
    """A small real JPEG that no other case shares: 160×120 with a noisy corner."""
    import io

    from PIL import Image

    image = Image.new("RGB", (160, 120), tuple(rng.randrange(256) for _ in range(3)))
    image.paste(Image.frombytes("RGB", (32, 24), rng.randbytes(32 * 24 * 3)), (8, 8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


async def seed(folder: Path, count: int) -> None:
    from bot.app import build_app
    from common.text import fold
    from storage import repo
    from storage.communes import find_commune
    from storage.models import Case, CaseEvent, CasePhoto, Media

    app = await build_app(settings_for(folder))
    rng = random.Random(count)
    try:
        async with app.db.session() as session:
            commune = await repo.ensure_commune(session, find_commune(COMMUNE))
            units = [await repo.ensure_unit(session, commune.code, "village", f"Thôn {n}") for n in range(1, 21)]
            person = await repo.create_person(session, "Thư ký", NOW, "telegram", "1", "1")
        for start in range(0, count, 500):
            async with app.db.session() as session:
                for index in range(start, min(start + 500, count)):
                    shas = []
                    for _ in range(3):
                        info = await app.media.save(photo(rng))
                        session.add(Media(sha256=info.sha256, size=info.size, width=info.width, height=info.height,
                                          mime_type=info.mime_type, created_at=NOW))
                        shas.append(info.sha256)
                    kind = KINDS[index % 4]
                    name = f"Nguyễn Văn Thành {index}" if kind == "ca_nhan" else f"Chi hội Phụ nữ số {index}"
                    answers = {"kind": kind, "name": name, "address": "Thôn Đông, Hoàn Kiếm", "field": "Đời sống xã hội",
                               "movement": "Người tốt, việc tốt", "description": STORY * 3, "phone": "0912345678",
                               "when": {"label": "11/2026"}, "consent": "yes", "birth_year": 1970,
                               "ethnicity": "Kinh", "position": "Nông dân"}
                    status = "commended" if index % 10 == 0 else "approved"
                    case = Case(code=f"NT-2026-{index + 1:05d}", commune_code=COMMUNE, unit_id=units[index % 20].id,
                                nominator_id=person.id, status=status, kind=kind, name=name, name_key=fold(name),
                                field=answers["field"], movement=answers["movement"], answers=answers,
                                submitted_at=NOW - timedelta(days=30, minutes=index), updated_at=NOW,
                                commendation={"form": "Giấy khen", "decision": "1/QĐ", "date": "01/12/2026"}
                                if status == "commended" else {})
                    session.add(case)
                    await session.flush()
                    session.add_all(CasePhoto(case_id=case.id, sha256=s, position=i) for i, s in enumerate(shas))
                    session.add(CaseEvent(case_id=case.id, actor_id=person.id, at=NOW - timedelta(days=20),
                                          from_status="submitted", to_status="approved"))
    finally:
        await app.close()


async def measure(part: str, folder: Path) -> dict:
    """Make one part of the export; its time and this process's peak RSS."""
    from bot.app import build_app
    from bot.export import documents, docx, dossier, pdf
    from bot.export.archive import PhotoArchive
    from bot.export.period import Selection, year
    from bot.export.rows import Visibility, values
    from bot.export.templates import load
    from bot.export.xlsx import CaseSheet
    from bot.scopes import commune_scope
    from storage import exports

    app = await build_app(settings_for(folder), migrate=False)
    out = folder / "exports" / part
    out.mkdir(parents=True, exist_ok=True)
    spec = dossier.ExportSpec(commune_scope(COMMUNE), Selection(year(2026, ZONE), ("approved", "commended")),
                              Visibility.everything(), 50 * 1024 * 1024, out)
    path_of = app.media.backend.path
    rows_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    total = await dossier.count(app.db, spec)
    if part == "all":
        async def progress(done: int, of: int) -> None:
            pass

        await dossier.build(app.db, path_of, spec, ZONE, NOW.date(), progress, total)
    else:
        sheet = CaseSheet(out / "ho-so.xlsx", out / ".work", ZONE, spec.visible) if part == "xlsx" else None
        archive = PhotoArchive(out, "anh", spec.part_limit, path_of) if part == "zip" else None
        entries = []
        after = 0
        while True:
            async with app.db.session() as session:
                rows = await exports.rows_after(session, spec.query(), after, dossier.BATCH)
            if not rows:
                break
            after = rows[-1].case.id
            for row in rows:
                if sheet:
                    sheet.add(row, path_of(row.photos[0].sha256))
                if archive:
                    archive.add(row)
                if part == "documents":
                    entries.append({**values(row, ZONE, spec.visible), "kind_key": row.case.kind,
                                    "status_key": row.case.status})
        if sheet:
            sheet.close()
        if archive:
            archive.close()
        if part == "documents":
            issuer = documents.Issuer("Phường Hoàn Kiếm", "Thành phố Hà Nội", "năm 2026", NOW.date())
            templates = load()
            timing = {}
            commended = [e for e in entries if e["status_key"] == "commended"]
            for build, chosen in ((documents.to_trinh, entries), (documents.danh_sach, entries),
                                  (documents.tom_tat, entries), (documents.giay_khen, commended)):
                doc = build(templates, issuer, chosen)
                for name, render in (("docx", docx.render), ("pdf", pdf.render)):
                    begun = time.perf_counter()
                    render(doc, out / f"{doc.name}.{name}")
                    timing[f"{doc.name}.{name}"] = round(time.perf_counter() - begun, 2)
            await app.close()
            return {"seconds": round(time.perf_counter() - started, 2), "rss_mb": _rss_mb(), "cases": total,
                    "files": timing, "rss_before_mb": rows_before / 1024}
    seconds = time.perf_counter() - started
    await app.close()
    sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    return {"seconds": round(seconds, 2), "rss_mb": _rss_mb(), "cases": total, "bytes": sum(sizes.values())}


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def charts() -> dict:
    from bot.chart_drawing import Bar, ChartSpec
    from bot.charts import ChartRenderer
    from storage.media import FolderBackend, MediaStore

    with tempfile.TemporaryDirectory() as media:
        renderer = ChartRenderer(MediaStore(FolderBackend(Path(media))))
        started = time.perf_counter()
        await renderer.warm()
        warm = time.perf_counter() - started
        commune = ChartSpec("Phường Hoàn Kiếm – hồ sơ năm 2026 theo thôn, đơn vị", "Hạn quý IV/2026: 20/12/2026",
                            tuple(Bar(f"Thôn {n}", n % 3, n % 2) for n in range(21)), 2, "Chỉ tiêu", "Đã duyệt",
                            "Chưa duyệt", "Số hồ sơ")
        province = ChartSpec("Thành phố Hà Nội – tiến độ chỉ tiêu năm 2026", "120/126 xã chưa đạt",
                             tuple(Bar(f"Xã Ứng Hòa {n}", n // 10) for n in range(30)), 2, "Chỉ tiêu", "Đã duyệt",
                             "", "Số hồ sơ", "Chưa đạt")
        timings = {}
        for name, spec in (("commune", commune), ("province", province)):
            runs = []
            for _ in range(5):
                begun = time.perf_counter()
                await renderer.draw(spec)
                runs.append(time.perf_counter() - begun)
            timings[name] = sorted(runs)[len(runs) // 2]
        renderer.close()
    return {"start_worker_s": round(warm, 2), **{k: round(v * 1000) for k, v in timings.items()}}


def child(part: str, folder: Path) -> dict:
    found = subprocess.run([sys.executable, __file__, "--measure", part, "--folder", str(folder)], check=True,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(found.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, Path(args.folder)))))
        return
    print(f"export benchmark, {datetime.now():%d %b %Y %H:%M}; a fresh process per file (peak RSS is its own)")
    for size in (int(s) for s in args.sizes.split(",")):
        base = Path(args.keep) / str(size) if args.keep else Path(tempfile.mkdtemp(prefix=f"nt-export-{size}-"))
        if not (base / "bench.db").exists():
            base.mkdir(parents=True, exist_ok=True)
            begun = time.perf_counter()
            asyncio.run(seed(base, size))
            print(f"\n{size} cases, {3 * size} photos seeded in {time.perf_counter() - begun:.0f} s ({base})")
        else:
            print(f"\n{size} cases, {3 * size} photos (seeded before, {base})")
        for part in args.parts.split(","):
            found = child(part, base)
            extra = f", {found['bytes'] / 1e6:.1f} MB written" if "bytes" in found else ""
            print(f"  {part:<10} {found['seconds']:>7.2f} s   peak RSS {found['rss_mb']:>6.1f} MB{extra}")
            for name, seconds in found.get("files", {}).items():
                print(f"      {name:<28} {seconds:>6.2f} s")
        if not args.keep:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    found = asyncio.run(charts())
    print(f"\ncharts: worker start {found['start_worker_s']} s (once, at start-up); commune {found['commune']} ms, "
          f"province (30 communes) {found['province']} ms, median of 5, drawn in the worker and stored")


if __name__ == "__main__":
    main()
