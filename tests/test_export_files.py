"""The export's files read back as their readers would: the XLSX with openpyxl, the DOCX with python-docx,
the PDF's text and page size with pypdf, the photo ZIP against the media store."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest
from pypdf import PdfReader

from bot.export import dossier
from bot.export.period import DEFAULT_STATUSES, Selection, year
from bot.export.rows import COLUMNS, Visibility, header
from bot.scopes import commune_scope
from common.messages import t
from tests.conftest import COMMUNE_A
from tests.export_seed import CASES, STORY, seed

A4_POINTS = (595.28, 841.89)


EVERYTHING = Visibility.everything()


async def export(app, tmp_path: Path, *, visible: Visibility = EVERYTHING, part_limit: int = 50_000_000,
                 statuses=DEFAULT_STATUSES) -> dossier.ExportResult:
    spec = dossier.ExportSpec(commune_scope(COMMUNE_A), Selection(year(2026, app.settings.zone), tuple(statuses)), visible,
                              part_limit, tmp_path / "out")
    seen = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    total = await dossier.count(app.db, spec)
    result = await dossier.build(app.db, app.media.backend.path, spec, app.settings.zone,
                                 app.core.clock.now().date(), progress, total, batch=2)
    assert seen[-1] == (total, total) and len(seen) > 1  # told after each page
    return result


def named(result: dossier.ExportResult, prefix: str, suffix: str) -> Path:
    [path] = [p for p in result.files if p.name.startswith(prefix) and p.name.endswith(suffix)]
    return path


EXPECTED = [c for c in CASES if c[3] == COMMUNE_A and c[2] in ("approved", "commended")]


async def test_the_spreadsheet_holds_every_answer_and_the_first_photo(app, tmp_path):
    world = await seed(app)
    result = await export(app, tmp_path)
    assert result.cases == len(EXPECTED) == 4
    book = openpyxl.load_workbook(named(result, "ho-so-", ".xlsx"))
    sheet = book[t("export.sheet")]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [header(c) for c in COLUMNS]
    by_name = {row[1]: dict(zip([c.key for c in COLUMNS], row, strict=True)) for row in rows[1:]}
    assert set(by_name) == {c[0] for c in EXPECTED}  # diacritics intact, other communes and statuses left out
    lanh = by_name["Nguyễn Thị Lành"]
    assert (lanh["code"], lanh["kind"], lanh["birth_year"], lanh["ethnicity"], lanh["position"]) == (
        world.codes["Nguyễn Thị Lành"], "cá nhân", 1975, "Tày", "Nông dân")
    assert (lanh["description"], lanh["when"], lanh["phone"], lanh["consent"]) == (STORY, "01/11/2026", "0912345678",
                                                                                    "Có")
    assert (lanh["status"], lanh["reviewer"], lanh["unit"], lanh["photo_count"]) == ("xã đã duyệt", "Thư ký Hoàn Kiếm",
                                                                                     "Thôn Đông", 2)
    assert lanh["approved"].startswith("13/11/2026") and lanh["field"] == "Đời sống xã hội"
    muoi = by_name["Lò Văn Mười"]
    assert (muoi["commendation"], muoi["decision"], muoi["decision_date"]) == (
        "Giấy khen của Chủ tịch UBND phường", "12/QĐ-UBND", "15/11/2026")
    group = by_name["Chi hội Phụ nữ thôn Đông"]
    assert (group["rep_name"], group["rep_role"], group["birth_year"]) == ("Bà Vi Thị Sáu", "Chi hội trưởng", None)
    assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(COLUMNS)).column_letter}5"
    anchors = sorted(image.anchor._from.row for image in sheet._images)
    assert anchors == [1, 2, 3, 4]  # a thumbnail in each case's row (0-based: below the header)
    assert all(image.anchor._from.col == len(COLUMNS) - 1 for image in sheet._images)


async def test_ethnicity_and_phone_are_left_out_for_a_role_that_may_not_see_them(app, tmp_path):
    await seed(app)
    result = await export(app, tmp_path, visible=Visibility(ethnicity=False, phone=False))
    rows = list(openpyxl.load_workbook(named(result, "ho-so-", ".xlsx")).active.iter_rows(values_only=True))
    keys = [c.key for c in COLUMNS]
    assert {row[keys.index("ethnicity")] for row in rows[1:]} == {None}
    assert {row[keys.index("phone")] for row in rows[1:]} == {None}
    listed = docx.Document(named(result, "danh-sach", ".docx")).tables[1]
    text = "\n".join(row.cells[3].text for row in listed.rows)
    assert "Tày" not in text and "Thái" not in text


async def test_the_report_and_the_list_propose_only_approved_cases_whatever_the_spreadsheet_covers(app, tmp_path):
    world = await seed(app)
    every = ("submitted", "returned", "resubmitted", "approved", "rejected", "commended", "withdrawn")
    result = await export(app, tmp_path, statuses=every)
    listed = "\n".join(cell.text for row in docx.Document(named(result, "danh-sach", ".docx")).tables[1].rows
                       for cell in row.cells)
    spreadsheet = {row[0] for row in openpyxl.load_workbook(named(result, "ho-so-", ".xlsx")).active.iter_rows(
        min_row=2, values_only=True)}
    proposed = {world.codes[c[0]] for c in EXPECTED}
    assert proposed < spreadsheet  # the spreadsheet has the cases not approved too
    assert {code for code in spreadsheet if code in listed} == proposed


async def test_the_photo_archive_matches_the_media_store(app, tmp_path):
    world = await seed(app)
    result = await export(app, tmp_path)
    archive = zipfile.ZipFile(named(result, "anh-ho-so-", ".zip"))
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert len(manifest) == 8
    for line in manifest:
        code, sha = line[t("export.manifest.case")], line[t("export.manifest.sha256")]
        data = archive.read(line[t("export.manifest.file")])
        stored = app.media.backend.path(sha).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha == hashlib.sha256(stored).hexdigest()
        assert sha in world.photos[code] and line[t("export.manifest.file")].startswith(code + "/")
        assert int(line[t("export.manifest.size")]) == len(stored)
        assert line[t("export.manifest.dimensions")] == "160x120"
    assert {line[t("export.manifest.taken")] for line in manifest} == {"2026:11:01 08:30:00", ""}


async def test_a_missing_photo_is_listed_and_a_big_archive_is_split_under_the_limit(app, tmp_path):
    world = await seed(app)
    gone = world.photos[world.codes["Lò Văn Mười"]][1]
    app.media.backend.path(gone).unlink()
    size = max(app.media.backend.path(s).stat().st_size for shas in world.photos.values() for s in shas
               if app.media.backend.path(s).exists())
    limit = 2 * size + 1200  # about two photos a part
    result = await export(app, tmp_path, part_limit=limit)
    assert [(m.code, m.sha256) for m in result.missing] == [(world.codes["Lò Văn Mười"], gone)]
    parts = sorted(p for p in result.files if p.suffix == ".zip")
    assert len(parts) >= 3 and all(p.stat().st_size <= limit for p in parts)
    names = [n for p in parts for n in zipfile.ZipFile(p).namelist() if n != "manifest.csv"]
    assert len(names) == 7 and len(set(names)) == 7


async def test_the_word_documents_are_grouped_lists_and_administrative_headers(app, tmp_path):
    await seed(app)
    result = await export(app, tmp_path)
    listing = docx.Document(named(result, "danh-sach", ".docx"))
    section = listing.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (297, 210)  # A4, landscape
    assert round(section.left_margin.mm) == 30 and listing.styles["Normal"].font.name == "Times New Roman"
    header_cells = [p.text for cell in listing.tables[0].rows[0].cells for p in cell.paragraphs]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in header_cells and "Độc lập - Tự do - Hạnh phúc" in header_cells
    assert "UBND PHƯỜNG HOÀN KIẾM" in header_cells
    titles = [p.text for p in listing.paragraphs if p.text]
    assert titles[:2] == ["DANH SÁCH", "Đề nghị khen thưởng gương người tốt, việc tốt năm 2026"]
    rows = [[c.text for c in row.cells] for row in listing.tables[1].rows]
    assert rows[0][:4] == ["STT", "Họ và tên (tên tập thể)", "Năm sinh", "Dân tộc"]
    shape = [(r[0], r[1]) if r[0] != r[1] else r[0] for r in rows[1:]]
    assert shape == ["I. TẬP THỂ", ("1", "Chi hội Phụ nữ thôn Đông"),
                     "II. CÁ NHÂN", ("1", "Nguyễn Thị Lành"), ("2", "Lò Văn Mười"),
                     "III. HỘ GIA ĐÌNH", ("1", "Hộ ông Đặng Văn Ước")]
    assert rows[4][2:4] == ["1975", "Tày"] and rows[5][6] == "Giấy khen của Chủ tịch UBND phường"
    proposal = docx.Document(named(result, "to-trinh", ".docx"))
    text = "\n".join(p.text for p in proposal.paragraphs)
    assert "TỜ TRÌNH" in text and "4 gương người tốt, việc tốt năm 2026, gồm: 1 tập thể, 2 cá nhân và 1 hộ" in text
    closing = [p.text for cell in proposal.tables[-1].rows[0].cells for p in cell.paragraphs]
    assert "Nơi nhận:" in closing and "- Như trên;" in closing and "TM. HỘI ĐỒNG THI ĐUA - KHEN THƯỞNG" in closing
    summaries = docx.Document(named(result, "tom-tat", ".docx"))
    assert sum(p.text == "BẢN TÓM TẮT THÀNH TÍCH" for p in summaries.paragraphs) == 4
    assert "Năm sinh: 1975" in [p.text for p in summaries.paragraphs]
    awards = docx.Document(named(result, "giay-khen", ".docx"))
    names = [p.text for p in awards.paragraphs if p.text in {c[0] for c in CASES}]
    assert names == ["Chi hội Phụ nữ thôn Đông", "Lò Văn Mười"]  # commended cases only


@pytest.mark.parametrize("name, pages", [("danh-sach", None), ("tom-tat", 4), ("to-trinh", 1),
                                         ("giay-khen", 2)])
async def test_the_pdfs_are_a4_with_exact_vietnamese_names(app, tmp_path, name, pages):
    await seed(app)
    result = await export(app, tmp_path)
    reader = PdfReader(named(result, name, ".pdf"))
    assert len(reader.pages) == pages or pages is None  # a page per case; the list as long as it needs
    size = tuple(sorted(float(x) for x in reader.pages[0].mediabox[2:]))
    assert size == pytest.approx(A4_POINTS, abs=0.5)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    if name != "to-trinh":
        assert "Lò Văn Mười" in text
    if name in ("danh-sach", "tom-tat"):
        assert "Nguyễn Thị Lành" in text and "Hộ ông Đặng Văn Ước" in text and "Trần Thị Ửng" not in text
    fonts = {f["/BaseFont"] for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert all("LiberationSerif" in f or "DejaVuSerif" in f for f in fonts)
