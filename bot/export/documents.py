"""The four documents of the dossier, built from templates and the cases' values:
the tờ trình, the danh sách đề nghị khen thưởng (grouped tập thể, cá nhân, hộ gia đình), a bản tóm tắt
thành tích per case and a giấy khen draft per commended case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.export.layout import Centered, Columns, Document, Group, Line, PageBreak, Para, Space, Table
from bot.export.templates import fill, fill_line
from common.text import fold

KINDS = ("tap_the", "ca_nhan", "ho_gia_dinh")  # the list's order of groups
PLACE_PREFIXES = ("xa ", "phuong ", "dac khu ", "thi tran ", "thanh pho ", "tinh ")


@dataclass(frozen=True)
class Issuer:
    """Who issues the dossier (a commune, or a province for a province's export) and when."""

    name: str  # "Phường Hoàn Kiếm"
    province: str
    period: str  # "quý IV/2026"
    today: date

    def values(self, counts: dict[str, int]) -> dict[str, Any]:
        return {"commune": self.name, "commune_upper": self.name.upper(), "province": self.province,
                "province_upper": self.province.upper(), "place": place_name(self.name), "day": f"{self.today:%d}",
                "month": f"{self.today:%m}", "year": self.today.year, "period": self.period,
                "count": sum(counts.values()), **{f"count_{k}": counts.get(k, 0) for k in KINDS}}


def place_name(name: str) -> str:
    """The place in "Hoàn Kiếm, ngày …": the unit's name without "Xã", "Phường", "Đặc khu"…"""
    folded = fold(name) + " "
    for prefix in PLACE_PREFIXES:
        if folded.startswith(prefix):
            return name[len(prefix):].strip() or name
    return name


def counts_of(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for entry in entries:
        counts[entry["kind_key"]] = counts.get(entry["kind_key"], 0) + 1
    return counts


def _header(common: dict, values: dict, number: str, place_date: str) -> Columns:
    return Columns(
        left=(Line(fill(common["issuer_above"], values), size=12), Line(fill(common["issuer"], values), bold=True,
                                                                        size=12),
              Line(fill(number, values), size=13) if number else Line("")),
        right=(Line(fill(common["national_name"], values), bold=True, size=12),
               Line(fill(common["motto"], values), bold=True, underline=True, size=13.5),
               Line(fill(place_date, values), italic=True, size=13)),
        left_share=0.44)


def _closing(common: dict, values: dict, recipients: list[str]) -> Columns:
    left = (Line(fill(common["recipients_title"], values), bold=True, italic=True, size=12),
            *(Line("- " + fill(r, values), size=11) for r in recipients)) if recipients else (Line(""),)
    right = (Line(fill(common["signer_role"], values), bold=True), Line(fill(common["signer_title"], values), bold=True),
             Line(""), Line(""), Line(""), Line(fill(common["signer_name"], values), bold=True))
    return Columns(left, right, left_share=0.45, left_align="L")


def to_trinh(templates: dict, issuer: Issuer, entries: list[dict[str, Any]]) -> Document:
    common, own = templates["chung"], templates["to_trinh"]
    values = issuer.values(counts_of(entries))
    doc = Document("to-trinh")
    doc.blocks += [_header(common, values, own["number"], own["place_date"]), Space(6),
                   Centered((Line(fill(own["title"], values), bold=True, size=14),
                             Line(fill(own["subtitle"], values), bold=True, size=14))), Space(4),
                   Centered((Line(fill(own["addressee"], values)),)), Space(3)]
    doc.blocks += [Para(fill(text, values)) for text in own["body"]]
    doc.blocks += [Space(4), _closing(common, values, own["recipients"])]
    return doc


def danh_sach(templates: dict, issuer: Issuer, entries: list[dict[str, Any]]) -> Document:
    common, own = templates["chung"], templates["danh_sach"]
    values = issuer.values(counts_of(entries))
    columns = own["columns"]
    rows: list[tuple[str, ...] | Group] = []
    numbers = iter(own["group_numbers"])
    for kind in KINDS:
        members = [e for e in entries if e["kind_key"] == kind]
        if not members:
            continue
        rows.append(Group(f"{next(numbers, '')}. {own['groups'][kind]}"))
        for number, entry in enumerate(members, start=1):
            cell = _list_cells(own, values, entry, number)
            rows.append(tuple(cell[c["key"]] for c in columns))
    doc = Document("danh-sach-de-nghi", landscape=True)
    doc.blocks += [_header(common, values, "", common["place_date"]), Space(4),
                   Centered((Line(fill(own["title"], values), bold=True, size=14),
                             Line(fill(own["subtitle"], values), bold=True, size=14),
                             Line(fill(own["attachment"], values), italic=True, size=12))), Space(3),
                   Table(tuple(c["title"] for c in columns), tuple(float(c["width"]) for c in columns), tuple(rows)),
                   Space(2), Para(fill(own["total"], values), italic=True, indent=False, size=12), Space(4),
                   _closing(common, values, [])]
    return doc


def _list_cells(own: dict, values: dict, entry: dict[str, Any], number: int) -> dict[str, str]:
    summary = entry["description"]
    limit = int(own.get("summary_chars", 300))
    if len(summary) > limit:
        summary = summary[:limit].rsplit(" ", 1)[0] + "…"
    # The address names the commune too: a province's list has villages of the same name in several communes.
    where = ", ".join(x for x in (entry["position"], entry["address"] or entry["unit"]) if x)
    return {"stt": str(number), "name": entry["name"], "birth_year": str(entry["birth_year"] or ""),
            "ethnicity": entry["ethnicity"], "position_or_address": where, "summary": summary,
            "form": entry["commendation"] or fill(own["proposed_form"], values), "notes": entry["code"]}


def tom_tat(templates: dict, issuer: Issuer, entries: list[dict[str, Any]]) -> Document:
    common, own = templates["chung"], templates["tom_tat"]
    base = issuer.values(counts_of(entries))
    doc = Document("tom-tat-thanh-tich")
    for index, entry in enumerate(entries):
        values = {**base, **entry, "representative": ", ".join(x for x in (entry["rep_name"], entry["rep_role"]) if x)}
        if index:
            doc.blocks.append(PageBreak())
        doc.blocks += [_header(common, values, "", common["place_date"]), Space(6),
                       Centered((Line(fill(own["title"], values), bold=True, size=14),
                                 Line(fill(own["subtitle"], values), bold=True, size=13))), Space(4)]
        for section in own["sections"]:
            doc.blocks.append(Para(fill(section["heading"], values), bold=True, indent=False))
            doc.blocks += [Para(line) for line in (fill_line(x, values) for x in section["lines"]) if line]
        doc.blocks += [Space(3), Para(fill(own["closing"], values), italic=True, size=12)]
    return doc


def giay_khen(templates: dict, issuer: Issuer, entries: list[dict[str, Any]]) -> Document:
    common, own = templates["chung"], templates["giay_khen"]
    base = issuer.values(counts_of(entries))
    doc = Document("giay-khen", landscape=True, border=True)
    for index, entry in enumerate(entries):
        achievement = entry["description"]
        limit = int(own.get("achievement_chars", 400))
        if len(achievement) > limit:
            achievement = achievement[:limit].rsplit(" ", 1)[0] + "…"
        where = ", ".join(x for x in (entry["position"], entry["unit"] or entry["address"]) if x)
        values = {**base, **entry, "achievement": achievement, "position_or_address": where}
        if index:
            doc.blocks.append(PageBreak())
        doc.blocks += [
            Centered((Line(fill(common["national_name"], values), bold=True, size=14),
                      Line(fill(common["motto"], values), bold=True, underline=True, size=14))), Space(6),
            Centered((Line(fill(own["signer_title_line"], values), bold=True, size=15), Line(""),
                      Line(fill(own["award"], values), bold=True, size=15),
                      Line(fill(own["form"], values), bold=True, size=26),
                      Line(fill(own["recipient"], values), bold=True, size=18),
                      Line(fill(own["recipient_detail"], values), italic=True, size=14))), Space(3),
            Para(fill(own["achievement"], values), indent=False, size=14), Space(6),
            Columns(left=(Line(fill(own["decision"], values), size=12), Line(fill(own["decision_date"], values),
                                                                              size=12),
                          Line(fill(own["register"], values), size=12)),
                    right=(Line(fill(own["place_date"], values), italic=True),
                           Line(fill(own["signer_title"], values), bold=True), Line(""), Line(""), Line(""),
                           Line(fill(common["signer_name"], values), bold=True)),
                    left_share=0.45, left_align="L"),
        ]
    return doc
