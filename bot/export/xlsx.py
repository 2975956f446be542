"""The XLSX of an export: one row per case, written row by row (XlsxWriter's constant_memory mode keeps
one row in memory), a status column, frozen header, filters, and the case's first photo as a thumbnail
in its row (a small JPEG made here, so the workbook never holds the originals)."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter
from PIL import Image

from bot.export.rows import COLUMNS, Visibility, header, values
from common.messages import t
from storage.exports import ExportRow

THUMB_PX = 72
ROW_PT = 58  # tall enough for the thumbnail
PHOTO_COLUMN = next(i for i, c in enumerate(COLUMNS) if c.key == "photo")


class CaseSheet:
    def __init__(self, path: Path, work: Path, zone, visible: Visibility) -> None:
        self.path, self.work, self.zone, self.visible = path, work, zone, visible
        (work / "thumbs").mkdir(parents=True, exist_ok=True)
        self.book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(work),
                                                    "strings_to_numbers": False, "strings_to_formulas": False})
        self.sheet = self.book.add_worksheet(t("export.sheet"))
        self.wrap = self.book.add_format({"text_wrap": True, "valign": "top"})
        bold = self.book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                     "border": 1})
        for index, column in enumerate(COLUMNS):
            self.sheet.set_column(index, index, column.width, self.wrap)
            self.sheet.write_string(0, index, header(column), bold)
        self.sheet.freeze_panes(1, 2)  # the header and the code and name stay in view
        self.row = 1

    def add(self, row: ExportRow, first_photo: Path | None) -> None:
        self.sheet.set_row(self.row, ROW_PT)
        found = values(row, self.zone, self.visible)
        for index, column in enumerate(COLUMNS):
            value = found[column.key]
            if isinstance(value, int):
                self.sheet.write_number(self.row, index, value)
            elif value:
                self.sheet.write_string(self.row, index, value, self.wrap)
        if first_photo is not None and (thumb := self._thumbnail(first_photo, row.photos[0].sha256)):
            self.sheet.insert_image(self.row, PHOTO_COLUMN, str(thumb), {"x_offset": 2, "y_offset": 2,
                                                                        "object_position": 1})
        self.row += 1

    def _thumbnail(self, original: Path, sha256: str) -> Path | None:
        target = self.work / "thumbs" / f"{sha256}.jpg"
        if target.exists():
            return target
        try:
            with Image.open(original) as image:
                image.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a fraction of the size
                image = image.convert("RGB")
                image.thumbnail((THUMB_PX, THUMB_PX))
                image.save(target, "JPEG", quality=80)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        return target

    def close(self) -> Path:
        self.sheet.autofilter(0, 0, max(self.row - 1, 1), len(COLUMNS) - 1)
        self.book.close()
        return self.path
