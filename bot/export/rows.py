"""One case as the export shows it: every answer, its review and commendation, in a fixed column order.

Ethnicity and phone are personal data (Decree 13/2023): they are filled in only for roles that may see
them (`Visibility`), and left blank otherwise, so a file never carries what its reader may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from common.messages import t
from storage.exports import ExportRow
from storage.models import Role

PERSONAL = ("ethnicity", "phone")


@dataclass(frozen=True)
class Visibility:
    ethnicity: bool
    phone: bool

    @classmethod
    def everything(cls) -> Visibility:
        return cls(True, True)

    @classmethod
    def for_roles(cls, roles: set[str]) -> Visibility:
        """Secretaries compile the dossier and call nominees back: both. Officials (commune or province)
        see ethnicity, which the list sent up must show, but not phone numbers."""
        return cls(ethnicity=bool(roles & {Role.SECRETARY, Role.OFFICIAL, Role.ADMIN}),
                   phone=bool(roles & {Role.SECRETARY, Role.ADMIN}))

    def shows(self, key: str) -> bool:
        return getattr(self, key) if key in PERSONAL else True


@dataclass(frozen=True)
class Column:
    key: str
    width: int  # characters, in the spreadsheet


COLUMNS: tuple[Column, ...] = tuple(Column(key, width) for key, width in (
    ("code", 15), ("name", 24), ("kind", 11), ("birth_year", 8), ("ethnicity", 9), ("position", 18),
    ("rep_name", 20), ("rep_role", 16), ("address", 28), ("unit", 18), ("field", 22), ("movement", 26),
    ("description", 60), ("when", 14), ("phone", 13), ("consent", 10), ("status", 16), ("submitted", 16),
    ("approved", 16), ("reviewer", 18), ("reason", 30), ("commendation", 26), ("decision", 14),
    ("decision_date", 12), ("nominator", 18), ("photo_count", 6), ("photo", 12),
))


def header(column: Column) -> str:
    return t(f"export.col.{column.key}")


def _day(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else ""


def _text(value: Any) -> str:
    if value is None or value == "_unknown":
        return ""
    if isinstance(value, dict):
        return str(value.get("label", ""))
    return str(value)


def values(row: ExportRow, zone: tzinfo, visible: Visibility) -> dict[str, Any]:
    """Column key → the value of one case (str or int; "" where there is nothing or it is hidden)."""
    case, answers = row.case, row.case.answers
    commendation = case.commendation or {}
    found: dict[str, Any] = {
        "code": case.code, "name": case.name, "kind": t(f"kind.{case.kind}"),
        "birth_year": answers.get("birth_year") or "", "ethnicity": _text(answers.get("ethnicity")),
        "position": _text(answers.get("position")), "rep_name": _text(answers.get("rep_name")),
        "rep_role": _text(answers.get("rep_role")), "address": _text(answers.get("address")),
        "unit": row.unit_name, "field": case.field, "movement": _text(case.movement),
        "description": _text(answers.get("description")), "when": _text(answers.get("when")),
        "phone": _text(answers.get("phone")),
        "consent": t(f"nom.consent.{answers['consent']}") if answers.get("consent") else "",
        "status": t(f"status.{case.status}"), "submitted": _day(case.submitted_at, zone),
        "approved": _day(row.approved_at, zone), "reviewer": row.reviewer, "reason": case.reason,
        "commendation": commendation.get("form", ""), "decision": commendation.get("decision", ""),
        "decision_date": commendation.get("date", ""), "nominator": row.nominator,
        "photo_count": len(row.photos), "photo": "",
    }
    for key in PERSONAL:
        if not visible.shows(key):
            found[key] = ""
    return found
