"""The official communes (xã, phường, đặc khu) and provinces since 1/7/2025, from `vietnam-provinces`.

Lookup is by official code or by name, ignoring case and diacritics; "Tân Hòa, Tuyên Quang"
narrows a name by its province.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from vietnam_provinces import Province, Ward

from common.messages import t
from common.text import fold

_PREFIXES = ("xa ", "phuong ", "dac khu ", "thi tran ")
_PROVINCE_PREFIXES = ("tinh ", "thanh pho ", "tp ")


@dataclass(frozen=True)
class OfficialCommune:
    code: str
    name: str
    province_code: str
    province_name: str

    @property
    def label(self) -> str:
        return t("commune.label", name=self.name, province=self.province_name, code=self.code)


class CommuneNotFound(LookupError):
    pass


class AmbiguousCommune(LookupError):
    def __init__(self, candidates: list[OfficialCommune]) -> None:
        super().__init__(f"{len(candidates)} communes match")
        self.candidates = candidates


def _strip_prefix(key: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


@cache
def _provinces() -> dict[str, str]:
    return {f"{p.code.value:02d}": p.name for p in Province.iter_all()}


@cache
def all_communes() -> tuple[OfficialCommune, ...]:
    provinces = _provinces()
    communes = []
    for ward in Ward.iter_all():
        province_code = f"{ward.province_code.value:02d}"
        communes.append(
            OfficialCommune(f"{ward.code.value:05d}", ward.name, province_code, provinces[province_code])
        )
    return tuple(communes)


@cache
def _by_code() -> dict[str, OfficialCommune]:
    return {c.code: c for c in all_communes()}


def find_province(text: str) -> tuple[str, str]:
    """(code, name) of a province given by code or name."""
    wanted = text.strip()
    if wanted.isdigit() and f"{int(wanted):02d}" in _provinces():
        code = f"{int(wanted):02d}"
        return code, _provinces()[code]
    key = _strip_prefix(fold(wanted), _PROVINCE_PREFIXES)
    for code, name in _provinces().items():
        if _strip_prefix(fold(name), _PROVINCE_PREFIXES) == key:
            return code, name
    raise CommuneNotFound(text)


def find_commune(text: str) -> OfficialCommune:
    """One commune by its code ("70", "00070") or its name ("Hoàn Kiếm", "phuong hoan kiem, ha noi")."""
    wanted = text.strip()
    if wanted.isdigit():
        found = _by_code().get(f"{int(wanted):05d}")
        if found is None:
            raise CommuneNotFound(text)
        return found
    name_part, _, province_part = wanted.partition(",")
    key = fold(name_part)
    bare = _strip_prefix(key, _PREFIXES)
    matches = [c for c in all_communes() if fold(c.name) == key or _strip_prefix(fold(c.name), _PREFIXES) == bare]
    if province_part.strip():
        province_code, _ = find_province(province_part)
        matches = [c for c in matches if c.province_code == province_code]
    if not matches:
        raise CommuneNotFound(text)
    if len(matches) > 1:
        raise AmbiguousCommune(matches)
    return matches[0]

