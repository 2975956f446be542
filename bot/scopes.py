"""The places a secretary or official looks at: their commune, or every commune of their province. A person
may hold both (a commune's secretary who is also a province official): /thongke and /xuat then ask which."""

from __future__ import annotations

from dataclasses import dataclass

from bot import casework
from common.messages import t
from storage.communes import CommuneNotFound, find_commune, find_province
from storage.models import Membership, Role


@dataclass(frozen=True)
class Scope:
    kind: str  # "commune" or "province"
    code: str
    name: str  # "Phường Hoàn Kiếm", "Thành phố Hà Nội"
    province: str
    communes: tuple[str, ...]

    @property
    def key(self) -> str:
        """Short and button-safe: "c00070", "p01"."""
        return ("c" if self.kind == "commune" else "p") + self.code

    @property
    def is_province(self) -> bool:
        return self.kind == "province"

    def label(self) -> str:
        """As a button offers it: "Phường Hoàn Kiếm", "Toàn tỉnh: Thành phố Hà Nội"."""
        return t("export.scope.province" if self.is_province else "export.scope.commune", name=self.name)


def commune_scope(code: str) -> Scope:
    commune = find_commune(code)
    return Scope("commune", commune.code, commune.name, commune.province_name, (commune.code,))


def province_scope(code: str) -> Scope:
    _, name = find_province(code)
    return Scope("province", code, name, name, tuple(sorted(casework.province_communes(code))))


def scopes_of(memberships: list[Membership]) -> list[Scope]:
    """Communes first (secretary or commune official), then provinces (province official)."""
    communes = [m.commune_code for m in memberships
                if m.role in (Role.SECRETARY, Role.OFFICIAL) and m.commune_code]
    provinces = [m.province_code for m in memberships if m.role == Role.OFFICIAL and m.province_code]
    return [commune_scope(c) for c in dict.fromkeys(communes)] + [province_scope(p) for p in dict.fromkeys(provinces)]


def scope_for(memberships: list[Membership], key: str) -> Scope | None:
    """The scope a key names if this person may see it: their own, or a commune of their province."""
    own = scopes_of(memberships)
    found = next((s for s in own if s.key == key), None)
    if found is not None or not key.startswith("c"):
        return found
    try:
        commune = commune_scope(key[1:])
    except CommuneNotFound:
        return None
    return commune if any(s.is_province and commune.code in s.communes for s in own) else None


def roles_in(memberships: list[Membership], scope: Scope) -> set[str]:
    """The roles a person holds over this scope (a province official over each of its communes too)."""
    roles = set()
    for m in memberships:
        if scope.kind == "commune" and m.commune_code == scope.code:
            roles.add(m.role)
        elif m.role == Role.OFFICIAL and m.province_code and (
                m.province_code == scope.code if scope.is_province else scope.code in province_scope_codes(m)):
            roles.add(m.role)
    return roles


def province_scope_codes(membership: Membership) -> set[str]:
    return casework.province_communes(membership.province_code or "")
