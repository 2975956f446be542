"""Documents drawn as PDF with fpdf2 (pure Python, no office suite). The font is Liberation Serif, metric-
compatible with Times New Roman, when the machine has it (`make install` puts it there); otherwise
DejaVu Serif, which matplotlib ships. Both draw every Vietnamese letter."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout
from fpdf.fonts import FontFace

from bot.export.layout import (
    INDENT_MM,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    Block,
    Centered,
    Columns,
    Document,
    Group,
    Line,
    PageBreak,
    Para,
    Space,
    Table,
)

FAMILY = "serif"
LIBERATION = Path("/usr/share/fonts/truetype/liberation2")
STYLES = {"": "Regular", "B": "Bold", "I": "Italic", "BI": "BoldItalic"}
DEJAVU = {"": "DejaVuSerif", "B": "DejaVuSerif-Bold", "I": "DejaVuSerif-Italic", "BI": "DejaVuSerif-BoldItalic"}
LINE_FACTOR = 0.45  # mm of line height per point of font size (about 1.3 lines)


@lru_cache(maxsize=1)
def font_files() -> dict[str, Path]:
    """Style → TTF file: Liberation Serif when installed, else matplotlib's DejaVu Serif."""
    liberation = {style: LIBERATION / f"LiberationSerif-{name}.ttf" for style, name in STYLES.items()}
    if all(path.is_file() for path in liberation.values()):
        return liberation
    import matplotlib  # only for the path of its fonts: not imported where Liberation Serif is installed

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return {style: ttf / f"{name}.ttf" for style, name in DEJAVU.items()}


def render(doc: Document, path: Path) -> Path:
    pdf = FPDF(orientation="L" if doc.landscape else "P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
    pdf.set_auto_page_break(True, margin=MARGIN_BOTTOM)
    for style, file in font_files().items():
        pdf.add_font(FAMILY, style, str(file))
    pdf.set_title(doc.name)
    pdf.set_creator("nguoitot")
    _page(pdf, doc)
    for block in doc.blocks:
        _draw(pdf, doc, block)
    pdf.output(str(path))
    return path


def _page(pdf: FPDF, doc: Document) -> None:
    pdf.add_page()
    if doc.border:
        pdf.set_line_width(1.2)
        pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
        pdf.set_line_width(0.3)
        pdf.rect(12.5, 12.5, pdf.w - 25, pdf.h - 25)
        pdf.set_line_width(0.2)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)  # a combining mark would be drawn apart from its letter


def _style(line: Line | Para) -> str:
    return ("B" if line.bold else "") + ("I" if line.italic else "")


def _draw(pdf: FPDF, doc: Document, block: Block) -> None:
    if isinstance(block, PageBreak):
        _page(pdf, doc)
    elif isinstance(block, Space):
        pdf.ln(block.mm)
    elif isinstance(block, Centered):
        for line in block.lines:
            _line(pdf, line, pdf.l_margin, pdf.epw, Align.C)
    elif isinstance(block, Para):
        _para(pdf, block)
    elif isinstance(block, Columns):
        _columns(pdf, block)
    elif isinstance(block, Table):
        _table(pdf, block)


def _line(pdf: FPDF, line: Line, x: float, width: float, align: Align) -> None:
    pdf.set_font(FAMILY, _style(line), line.size)
    pdf.set_x(x)
    height = line.size * LINE_FACTOR
    pdf.multi_cell(width, height, _nfc(line.text) or " ", align=align, new_x="LMARGIN", new_y="NEXT")
    if line.underline and line.text:  # ND30: the motto underlined by a line as long as the text
        text_width = min(pdf.get_string_width(_nfc(line.text)), width)
        left = x + (width - text_width) / 2 if align == Align.C else x
        pdf.set_line_width(0.3)
        pdf.line(left, pdf.get_y() + 0.3, left + text_width, pdf.get_y() + 0.3)
        pdf.ln(1.5)


def _para(pdf: FPDF, para: Para) -> None:
    pdf.set_font(FAMILY, _style(para), para.size)
    text = _nfc(para.text)
    if para.indent:  # first-line indent of 1.27 cm, as no-break spaces that justification does not stretch
        text = "\u00a0" * max(1, round(INDENT_MM / pdf.get_string_width("\u00a0"))) + text
    pdf.multi_cell(0, para.size * LINE_FACTOR, text, align=Align.J, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.2)


def _columns(pdf: FPDF, block: Columns) -> None:
    needed = max(sum(line.size * LINE_FACTOR for line in side) for side in (block.left, block.right))
    if pdf.get_y() + needed > pdf.h - pdf.b_margin:  # the two sides must start on the same page
        pdf.add_page()
    top = pdf.get_y()
    left_width = pdf.epw * block.left_share
    for line in block.left:
        _line(pdf, line, pdf.l_margin, left_width, Align.L if block.left_align == "L" else Align.C)
    bottom = pdf.get_y()
    pdf.set_y(top)
    for line in block.right:
        _line(pdf, line, pdf.l_margin + left_width, pdf.epw - left_width, Align.C)
    pdf.set_y(max(bottom, pdf.get_y()))


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(FAMILY, "", block.size)
    total = sum(block.widths)
    widths = tuple(pdf.epw * w / total for w in block.widths)
    with pdf.table(col_widths=widths, width=pdf.epw, line_height=block.size * LINE_FACTOR, text_align="LEFT",
                   v_align="TOP", borders_layout=TableBordersLayout.ALL, padding=1, repeat_headings=1,
                   headings_style=FontFace(emphasis="BOLD")) as table:
        heading = table.row()
        for text in block.headers:
            heading.cell(_nfc(text), align=Align.C)
        for row in block.rows:
            cells = table.row()
            if isinstance(row, Group):
                cells.cell(_nfc(row.text), colspan=len(block.headers), style=FontFace(emphasis="BOLD"))
                continue
            for text in row:
                cells.cell(_nfc(text))
