"""A document as a few kinds of blocks, drawn the same way as DOCX and as PDF (Nghị định 30/2020/NĐ-CP:
A4, margins 20/20/30/15 mm, Times New Roman or a metric-compatible font, 13 pt body, justified, first line
indented). The words come from templates (bot/export/templates.py); the layout is here, once."""

from __future__ import annotations

from dataclasses import dataclass, field

MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 20, 20, 30, 15  # mm
BODY_PT = 13
INDENT_MM = 12.7


@dataclass(frozen=True)
class Line:
    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False
    size: float = BODY_PT


@dataclass(frozen=True)
class Centered:
    """Centred lines: a title, the national header of a giấy khen."""

    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Columns:
    """Two centred columns side by side: the document header, the signature with "Nơi nhận"."""

    left: tuple[Line, ...]
    right: tuple[Line, ...]
    left_share: float = 0.42
    left_align: str = "C"  # "L" for "Nơi nhận"


@dataclass(frozen=True)
class Para:
    text: str
    bold: bool = False
    italic: bool = False
    indent: bool = True
    size: float = BODY_PT


@dataclass(frozen=True)
class Group:
    """A row of a table that names the group of the rows below it (I. TẬP THỂ)."""

    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    widths: tuple[float, ...]  # shares of the width
    rows: tuple[tuple[str, ...] | Group, ...]
    size: float = 11


@dataclass(frozen=True)
class Space:
    mm: float


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Centered | Columns | Para | Table | Space | PageBreak


@dataclass
class Document:
    name: str  # file name without extension
    landscape: bool = False
    border: bool = False  # a frame around each page (giấy khen)
    blocks: list[Block] = field(default_factory=list)
