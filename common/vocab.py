"""Fixed vocabularies: ethnic groups, fields, default movements and kinds of nominee.

These are data labels, not reply text. Fields and ethnic groups are fixed nationally; movements
differ between communes, so `DEFAULT_MOVEMENTS` is only the seed list a commune starts from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EthnicGroup:
    """One officially recognised ethnic group.

    `name` is the spelling of the General Statistics Office list (what gets stored); `aliases`
    are other spellings people type, matched ignoring diacritics, case and punctuation.
    Pejorative exonyms (e.g. "Mèo", "Mán") are deliberately not aliases.
    """

    name: str
    aliases: tuple[str, ...] = ()


def _g(name: str, *aliases: str) -> EthnicGroup:
    return EthnicGroup(name, tuple(aliases))


# The 54 groups in the GSO order (Decision 121-TCTK/PPCĐ, 1979), which is roughly by population.
ETHNIC_GROUPS: tuple[EthnicGroup, ...] = (
    _g("Kinh", "Việt"),
    _g("Tày"),
    _g("Thái", "Thái Đen", "Thái Trắng"),
    _g("Mường"),
    _g("Khmer", "Khơ-me", "Khơ me", "Khmer Krom"),
    _g("Hoa", "Hán"),
    _g("Nùng"),
    _g("Mông", "H'Mông", "Hmông", "Hmong"),
    _g("Dao"),
    _g("Gia Rai", "Jrai", "Jarai", "Gia-rai"),
    _g("Ê Đê", "Ede", "Rhade", "Ê-đê"),
    _g("Ba Na", "Bahnar", "Ba-na"),
    _g("Xơ Đăng", "Xê Đăng", "Sedang", "Xơ-đăng"),
    _g("Sán Chay", "Cao Lan", "Sán Chỉ"),
    _g("Cơ Ho", "K'Ho", "Koho", "Kơ Ho"),
    _g("Chăm", "Chàm", "Cham"),
    _g("Sán Dìu", "Sán Déo"),
    _g("Hrê", "H're"),
    _g("Ra Glai", "Raglai", "Ra-glai"),
    _g("Mnông", "M'Nông", "Mơ Nông"),
    _g("Thổ"),
    _g("Xtiêng", "X'Tiêng", "Stiêng"),
    _g("Khơ Mú", "Khmu", "Kmhmu", "Khơ-mú"),
    _g("Bru Vân Kiều", "Bru-Vân Kiều", "Vân Kiều", "Bru"),
    _g("Cơ Tu", "Katu", "Ca Tu"),
    _g("Giáy", "Nhắng"),
    _g("Tà Ôi", "Tà-ôi", "Pa Cô", "Pacoh"),
    _g("Mạ"),
    _g("Giẻ Triêng", "Gié Triêng", "Giẻ-Triêng"),
    _g("Co", "Cor"),
    _g("Chơ Ro", "Châu Ro"),
    _g("Xinh Mun", "Puộc"),
    _g("Hà Nhì"),
    _g("Chu Ru", "Chu-ru"),
    _g("Lào"),
    _g("La Chí"),
    _g("Kháng"),
    _g("Phù Lá"),
    _g("La Hủ"),
    _g("La Ha"),
    _g("Pà Thẻn", "Pà Hưng"),
    _g("Lự", "Lữ"),
    _g("Ngái"),
    _g("Chứt", "Rục", "Sách"),
    _g("Lô Lô"),
    _g("Mảng", "Mảng Ư"),
    _g("Cơ Lao"),
    _g("Bố Y", "Chủng Chá"),
    _g("Cống"),
    _g("Si La"),
    _g("Pu Péo", "Ka Pèo"),
    _g("Brâu", "Brao"),
    _g("Ơ Đu", "Tày Hạt"),
    _g("Rơ Măm"),
)

# The eight most populous groups, offered as buttons; anything else is typed.
COMMON_ETHNIC_GROUPS: tuple[str, ...] = ("Kinh", "Tày", "Thái", "Mường", "Khmer", "Hoa", "Nùng", "Mông")

# Fields (lĩnh vực) of a model, seed 000 section V.2, in the plan's order.
FIELDS: tuple[str, ...] = (
    "Xây dựng Đảng, chính quyền, đoàn thể",
    "Quốc phòng, an ninh",
    "Công thương, xây dựng, giao thông vận tải",
    "Nông nghiệp",
    "Tài chính, ngân hàng",
    "Y tế",
    "Giáo dục và đào tạo",
    "Khoa học và công nghệ",
    "Văn hóa, nghệ thuật, thể dục thể thao",
    "Đối ngoại",
    "Thông tin và truyền thông",
    "Cải cách hành chính",
    "An sinh xã hội",
    "Đời sống xã hội",
)

# Typical movements (phong trào) from seed 004; each commune edits its own list.
DEFAULT_MOVEMENTS: tuple[str, ...] = (
    "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
    "Chung sức xây dựng nông thôn mới",
    "Toàn dân đoàn kết xây dựng đời sống văn hóa",
    "Vì người nghèo – không để ai bị bỏ lại phía sau",
    "Toàn dân bảo vệ an ninh Tổ quốc",
    "Cán bộ, công chức, viên chức thi đua thực hiện văn hóa công sở",
    "Chống rác thải nhựa",
    "Dạy tốt – học tốt",
    "Lao động giỏi – lao động sáng tạo",
    "Nông dân thi đua sản xuất kinh doanh giỏi",
    "Cựu chiến binh gương mẫu",
    "Phụ nữ tích cực học tập, lao động sáng tạo, xây dựng gia đình hạnh phúc",
    "Thanh niên xung kích, tình nguyện",
    "Người tốt, việc tốt",
)

# Kinds of nominee (đối tượng): (machine key, label).
CASE_KINDS: tuple[tuple[str, str], ...] = (
    ("ca_nhan", "Cá nhân"),
    ("tap_the", "Tập thể"),
    ("ho_gia_dinh", "Hộ gia đình"),
)
