"""Documents drawn as Word files with python-docx, in Times New Roman (the block kinds of layout.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.shared import Mm, Pt
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from bot.export.layout import (
    BODY_PT,
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

FONT = "Times New Roman"
A4 = (Mm(210), Mm(297))


def render(doc: Document, path: Path) -> Path:
    document = docx.Document()
    _page_setup(document, doc.landscape)
    _default_font(document)
    # Found once: python-docx finds the section (its width, where the body ends) by searching the whole body.
    word = _Word(document, document.element.body.sectPr, _usable_width(document))
    for block in doc.blocks:
        _draw(word, block)
    document.core_properties.title = doc.name
    document.save(str(path))
    return path


@dataclass(frozen=True)
class _Word:
    document: Any
    end: Any  # the body's section properties, its last child: new blocks go just before them
    width: int  # the usable width of a page


def _page_setup(word, landscape: bool) -> None:
    section = word.sections[0]
    width, height = A4
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (height, width) if landscape else (width, height)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP), Mm(MARGIN_BOTTOM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT), Mm(MARGIN_RIGHT)


def _default_font(word) -> None:
    style = word.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(BODY_PT)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):  # every script, so Word keeps the font
        fonts.set(qn(attribute), FONT)
    style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.space_before = Pt(0)


def _usable_width(word) -> int:
    section = word.sections[0]
    return section.page_width - section.left_margin - section.right_margin


def _paragraph(word: _Word) -> Paragraph:
    """A new paragraph at the end of the body. python-docx's own add_paragraph and add_table search the
    whole body for its end each time: quadratic in a 1,000-page file."""
    element = OxmlElement("w:p")
    word.end.addprevious(element)
    return Paragraph(element, word.document._body)


def _new_table(word: _Word, rows: int, cols: int) -> DocxTable:
    element = CT_Tbl.new_tbl(rows, cols, word.width)
    word.end.addprevious(element)
    return DocxTable(element, word.document._body)


def _draw(word: _Word, block: Block) -> None:
    if isinstance(block, PageBreak):
        _paragraph(word).add_run().add_break(WD_BREAK.PAGE)
    elif isinstance(block, Space):
        _paragraph(word).paragraph_format.space_after = Pt(block.mm * 2.83 / 2)
    elif isinstance(block, Centered):
        for line in block.lines:
            _line(_paragraph(word), line, WD_ALIGN_PARAGRAPH.CENTER)
    elif isinstance(block, Para):
        _para(word, block)
    elif isinstance(block, Columns):
        _columns(word, block)
    elif isinstance(block, Table):
        _table(word, block)


def _line(paragraph, line: Line, align) -> None:
    paragraph.alignment = align
    _run(paragraph, line.text, line.size, bold=line.bold, italic=line.italic, underline=line.underline)


def _run(paragraph, text: str, size: float, *, bold: bool = False, italic: bool = False,
         underline: bool = False) -> None:
    run = paragraph.add_run(text)
    if bold:  # only what is on: each property set is an element added to the run
        run.bold = True
    if italic:
        run.italic = True
    if underline:
        run.underline = True
    run.font.size = Pt(size)


def _para(word: _Word, para: Para) -> None:
    paragraph = _paragraph(word)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    paragraph.paragraph_format.space_after = Pt(6)
    if para.indent:
        paragraph.paragraph_format.first_line_indent = Mm(INDENT_MM)
    _run(paragraph, para.text, para.size, bold=para.bold, italic=para.italic)


def _columns(word: _Word, block: Columns) -> None:
    """Two borderless cells side by side, as administrative documents lay out their header and signature."""
    table = _new_table(word, 1, 2)
    table.autofit = False
    width = word.width
    sides = ((block.left, int(width * block.left_share), block.left_align),
             (block.right, width - int(width * block.left_share), "C"))
    for cell, (lines, cell_width, align) in zip(table.rows[0].cells, sides, strict=True):
        cell.width = cell_width
        cell.paragraphs[0].text = ""
        for index, line in enumerate(lines):
            paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
            _line(paragraph, line, WD_ALIGN_PARAGRAPH.LEFT if align == "L" else WD_ALIGN_PARAGRAPH.CENTER)


def _table(word: _Word, block: Table) -> None:
    table = _new_table(word, 1, len(block.headers))
    table.style = word.document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    total, width = sum(block.widths), word.width
    widths = [int(width * w / total) for w in block.widths]
    for cell, text, cell_width in zip(table.rows[0].cells, block.headers, widths, strict=True):
        _cell(cell, text, block.size, cell_width, bold=True, centred=True)
    _repeat_as_heading(table.rows[0])
    for row in block.rows:
        cells = table.add_row().cells
        if isinstance(row, Group):
            merged = cells[0].merge(cells[-1])
            _cell(merged, row.text, block.size, width, bold=True)
            continue
        for cell, text, cell_width in zip(cells, row, widths, strict=True):
            _cell(cell, text, block.size, cell_width)


def _cell(cell, text: str, size: float, width: int, *, bold: bool = False, centred: bool = False) -> None:
    cell.width = width
    paragraph = cell.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if centred else WD_ALIGN_PARAGRAPH.LEFT
    _run(paragraph, text, size, bold=bold)


def _repeat_as_heading(row) -> None:
    """The header row repeats on every page of a long list."""
    properties = row._tr.get_or_add_trPr()
    header = properties.makeelement(qn("w:tblHeader"), {qn("w:val"): "true"})
    properties.append(header)
