"""The words of the dossier's documents, from TOML files a province can replace: a file in TEMPLATES_DIR
wins over the built-in one of the same name (bot/export/templates/)."""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Any

BUILT_IN = Path(__file__).resolve().parent / "templates"
NAMES = ("chung", "to_trinh", "danh_sach", "tom_tat", "giay_khen")


def load(templates_dir: str = "") -> dict[str, dict[str, Any]]:
    """Every template by name, each from TEMPLATES_DIR when it has that file."""
    own = Path(templates_dir) if templates_dir else None
    found = {}
    for name in NAMES:
        path = own / f"{name}.toml" if own and (own / f"{name}.toml").is_file() else BUILT_IN / f"{name}.toml"
        found[name] = tomllib.loads(path.read_text(encoding="utf-8"))
    return found


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""  # a placeholder the data lacks (a province's template may name more) stays empty


def fill(template: str, values: dict[str, Any]) -> str:
    return string.Formatter().vformat(template, (), _Blank(values))


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fill_line(template: str, values: dict[str, Any]) -> str | None:
    """The filled line, or None when it names placeholders and every one of them is empty."""
    names = placeholders(template)
    if names and not any(str(values.get(name, "") or "").strip() for name in names):
        return None
    return fill(template, values)
