"""Tests of text folding, vocabularies and the parsers of typed answers."""

from __future__ import annotations

from datetime import date

import pytest

from bot.parsing import (
    Invalid,
    Option,
    When,
    format_phone_local,
    is_skip,
    match_ethnicity,
    match_option,
    parse_phone,
    parse_text,
    parse_when,
    parse_year,
)
from common.text import compact, fold
from common.vocab import (
    CASE_KINDS,
    COMMON_ETHNIC_GROUPS,
    DEFAULT_MOVEMENTS,
    ETHNIC_GROUPS,
    FIELDS,
)

TODAY = date(2026, 11, 22)  # a Sunday
JANUARY = date(2026, 1, 10)

KINDS = [Option(key, label) for key, label in CASE_KINDS]
FIELD_OPTIONS = [Option(f"f{i}", label) for i, label in enumerate(FIELDS, 1)]
MOVEMENT_OPTIONS = [Option(f"m{i}", label) for i, label in enumerate(DEFAULT_MOVEMENTS, 1)]


def invalid(func, *args, **kwargs) -> Invalid:
    """Call `func` expecting `Invalid`, and return it for checking code and details."""
    with pytest.raises(Invalid) as info:
        func(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("  Cá Nhân! ", "ca nhan"),
        ("ĐỀ CỬ", "de cu"),
        ("H'Mông", "h mong"),
        ("đường  --  Đông", "duong dong"),
        ("Ơ Đu", "o du"),
        ("Năm 2026", "nam 2026"),
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_treats_decomposed_input_like_composed() -> None:
    decomposed = "Ca\u0301 nha\u0302n"  # what some keyboards send: base letters plus combining marks
    assert fold(decomposed) == "ca nhan"


def test_compact_removes_spaces() -> None:
    assert compact("ca nhan") == compact("canhan") == compact("Cá Nhân") == "canhan"
    assert compact("Ê Đê") == compact("Ede") == "ede"


# --------------------------------------------------------------------------- vocabularies


def test_there_are_54_ethnic_groups_without_duplicates() -> None:
    names = [g.name for g in ETHNIC_GROUPS]
    assert len(names) == 54
    assert len({compact(n) for n in names}) == 54
    assert names[0] == "Kinh"


def test_ethnic_spellings_are_unique_across_groups() -> None:
    owner: dict[str, str] = {}
    for group in ETHNIC_GROUPS:
        for spelling in (group.name, *group.aliases):
            key = compact(spelling)
            assert owner.setdefault(key, group.name) == group.name, f"{spelling!r} also names {owner[key]}"


def test_pejorative_names_are_not_aliases() -> None:
    spellings = {compact(s) for g in ETHNIC_GROUPS for s in (g.name, *g.aliases)}
    assert "meo" not in spellings
    assert "man" not in spellings


def test_common_ethnic_groups_are_official_names() -> None:
    official = {g.name for g in ETHNIC_GROUPS}
    assert len(COMMON_ETHNIC_GROUPS) == 8
    assert set(COMMON_ETHNIC_GROUPS) <= official


def test_fields_and_movements() -> None:
    assert len(FIELDS) == 14 and len(set(FIELDS)) == 14
    assert FIELDS[0] == "Xây dựng Đảng, chính quyền, đoàn thể"
    assert FIELDS[5] == "Y tế"
    assert FIELDS[-1] == "Đời sống xã hội"
    assert len(DEFAULT_MOVEMENTS) == 14 and len(set(DEFAULT_MOVEMENTS)) == 14
    assert DEFAULT_MOVEMENTS[0] == "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"
    assert DEFAULT_MOVEMENTS[-1] == "Người tốt, việc tốt"


def test_case_kinds() -> None:
    assert CASE_KINDS == (("ca_nhan", "Cá nhân"), ("tap_the", "Tập thể"), ("ho_gia_dinh", "Hộ gia đình"))


# --------------------------------------------------------------------------- match_option


@pytest.mark.parametrize("typed", ["1", " 1 ", "1.", "số 1", "so 1", "So1"])
def test_option_by_number(typed: str) -> None:
    assert match_option(typed, KINDS).key == "ca_nhan"


def test_option_numbers_are_one_based() -> None:
    assert match_option("3", KINDS).key == "ho_gia_dinh"
    assert invalid(match_option, "0", KINDS).code == "choice.unknown"
    assert invalid(match_option, "4", KINDS).code == "choice.unknown"


@pytest.mark.parametrize("typed", ["ca nhan", "CÁ NHÂN", "canhan", "Cá nhân", "ca_nhan", "Ca Nhan."])
def test_option_by_label_or_key(typed: str) -> None:
    assert match_option(typed, KINDS).key == "ca_nhan"


def test_option_by_alias() -> None:
    options = [Option("yes", "Có", aliases=("đồng ý", "ok")), Option("no", "Không")]
    assert match_option("dong y", options).key == "yes"
    assert match_option("OK", options).key == "yes"


def test_option_by_prefix_of_at_least_three_characters() -> None:
    assert match_option("tap", KINDS).key == "tap_the"
    assert match_option("Hộ gia", KINDS).key == "ho_gia_dinh"
    assert invalid(match_option, "ta", KINDS).code == "choice.unknown"


def test_option_by_whole_words_inside_label() -> None:
    assert match_option("y te", FIELD_OPTIONS).label == "Y tế"
    assert match_option("ngan hang", FIELD_OPTIONS).label == "Tài chính, ngân hàng"
    assert match_option("NGUOI NGHEO", MOVEMENT_OPTIONS).label.startswith("Vì người nghèo")
    # "ngh" is a word prefix, not a whole word, and begins no label: no match.
    assert invalid(match_option, "ngh", FIELD_OPTIONS).code == "choice.unknown"


def test_option_ambiguous_contains() -> None:
    err = invalid(match_option, "xa hoi", FIELD_OPTIONS)
    assert err.code == "choice.ambiguous"
    assert err.details["matches"] == ["An sinh xã hội", "Đời sống xã hội"]


def test_option_ambiguous_prefix() -> None:
    err = invalid(match_option, "doi", FIELD_OPTIONS)
    assert err.code == "choice.ambiguous"
    assert err.details["matches"] == ["Đối ngoại", "Đời sống xã hội"]


def test_option_exact_beats_prefix() -> None:
    options = [Option("a", "Nông nghiệp công nghệ cao"), Option("b", "Nông nghiệp")]
    assert match_option("nong nghiep", options).key == "b"


def test_option_prefix_beats_contains() -> None:
    # Also inside "Phụ nữ tích cực học tập, lao động sáng tạo…", but only one label starts with it.
    assert match_option("lao dong", MOVEMENT_OPTIONS).label == "Lao động giỏi – lao động sáng tạo"


@pytest.mark.parametrize("typed", ["", "   ", "xyz", "!!!"])
def test_option_unknown(typed: str) -> None:
    assert invalid(match_option, typed, KINDS).code == "choice.unknown"


# --------------------------------------------------------------------------- parse_year


@pytest.mark.parametrize(
    ("typed", "year"), [("1980", 1980), (" 1900 ", 1900), ("2026", 2026), ("năm 1975", 1975)]
)
def test_year(typed: str, year: int) -> None:
    assert parse_year(typed, TODAY) == year


@pytest.mark.parametrize("typed", ["không rõ", "khong ro", "ko ro", "Không biết", "KHONG BIET", "?"])
def test_year_unknown(typed: str) -> None:
    assert parse_year(typed, TODAY) is None


@pytest.mark.parametrize("typed", ["1899", "2027"])
def test_year_out_of_range(typed: str) -> None:
    err = invalid(parse_year, typed, TODAY)
    assert err.code == "year.range"
    assert err.details == {"min": 1900, "max": 2026}


@pytest.mark.parametrize("typed", ["80", "19800", "abc", "", "1980a", "12/1980"])
def test_year_format(typed: str) -> None:
    assert invalid(parse_year, typed, TODAY).code == "year.format"


# --------------------------------------------------------------------------- parse_when


@pytest.mark.parametrize(
    "typed", ["15/10/2026", "15-10-2026", "15.10.2026", "15/10/26", "ngày 15 tháng 10 năm 2026", "2026-10-15"]
)
def test_when_full_date(typed: str) -> None:
    assert parse_when(typed, TODAY) == When(date(2026, 10, 15), "day")


def test_when_single_digit_day_and_month() -> None:
    assert parse_when("5/3/2026", TODAY) == When(date(2026, 3, 5), "day")


def test_when_day_month_this_year() -> None:
    assert parse_when("15/10", TODAY) == When(date(2026, 10, 15), "day")
    assert parse_when("22/11", TODAY) == When(date(2026, 11, 22), "day")


def test_when_day_month_in_future_means_last_year() -> None:
    assert parse_when("15/10", JANUARY) == When(date(2025, 10, 15), "day")
    assert parse_when("23/11", TODAY) == When(date(2025, 11, 23), "day")


def test_when_leap_day_without_year_is_the_last_one() -> None:
    assert parse_when("29/02", date(2025, 1, 10)) == When(date(2024, 2, 29), "day")


@pytest.mark.parametrize(
    "typed", ["10/2026", "tháng 10/2026", "tháng 10 năm 2026", "THANG 10 NAM 2026", "thang 10"]
)
def test_when_month(typed: str) -> None:
    assert parse_when(typed, TODAY) == When(date(2026, 10, 1), "month")


def test_when_month_without_year_in_future_means_last_year() -> None:
    assert parse_when("tháng 10", JANUARY) == When(date(2025, 10, 1), "month")
    assert parse_when("tháng 1", JANUARY) == When(date(2026, 1, 1), "month")


@pytest.mark.parametrize("typed", ["2025", "năm 2025", "nam 2025"])
def test_when_year(typed: str) -> None:
    assert parse_when(typed, TODAY) == When(date(2025, 1, 1), "year")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hôm nay", When(date(2026, 11, 22), "day")),
        ("HOM NAY", When(date(2026, 11, 22), "day")),
        ("hôm qua", When(date(2026, 11, 21), "day")),
        ("hom kia", When(date(2026, 11, 20), "day")),
        ("tuần này", When(date(2026, 11, 16), "week")),
        ("tuan truoc", When(date(2026, 11, 9), "week")),
        ("tháng này", When(date(2026, 11, 1), "month")),
        ("thang truoc", When(date(2026, 10, 1), "month")),
        ("năm nay", When(date(2026, 1, 1), "year")),
        ("năm ngoái", When(date(2025, 1, 1), "year")),
        ("nam truoc", When(date(2025, 1, 1), "year")),
        ("3 ngày trước", When(date(2026, 11, 19), "day")),
        ("3 ngay truoc", When(date(2026, 11, 19), "day")),
        ("cách đây 2 tuần", When(date(2026, 11, 2), "week")),
        ("2 tháng trước", When(date(2026, 9, 1), "month")),
        ("2 năm trước", When(date(2024, 1, 1), "year")),
    ],
)
def test_when_relative(typed: str, expected: When) -> None:
    assert parse_when(typed, TODAY) == expected


def test_when_relative_across_year_boundary() -> None:
    assert parse_when("tháng trước", JANUARY) == When(date(2025, 12, 1), "month")
    assert parse_when("tuần này", JANUARY) == When(date(2026, 1, 5), "week")  # 10/1/2026 is a Saturday
    assert parse_when("tuần trước", date(2026, 1, 1)) == When(date(2025, 12, 22), "week")


def test_when_labels() -> None:
    assert When(date(2026, 10, 15), "day").label() == "15/10/2026"
    assert When(date(2026, 11, 9), "week").label() == "tuần từ 09/11/2026"
    assert When(date(2026, 10, 1), "month").label() == "tháng 10/2026"
    assert When(date(2025, 1, 1), "year").label() == "năm 2025"


def test_when_end_of_period() -> None:
    assert When(date(2026, 11, 9), "week").end == date(2026, 11, 15)
    assert When(date(2024, 2, 1), "month").end == date(2024, 2, 29)
    assert When(date(2025, 1, 1), "year").end == date(2025, 12, 31)
    assert When(date(2026, 10, 15), "day").end == date(2026, 10, 15)


@pytest.mark.parametrize(
    "typed", ["31/02/2026", "29/02/2026", "32/1/2026", "15/13/2026", "13/2026", "thang 13", "29/02"]
)
def test_when_invalid_date(typed: str) -> None:
    assert invalid(parse_when, typed, TODAY).code == "when.invalid_date"


@pytest.mark.parametrize("typed", ["23/11/2026", "1/1/2027", "12/2026", "2027", "15/10/27"])
def test_when_future(typed: str) -> None:
    assert invalid(parse_when, typed, TODAY).code == "when.future"


@pytest.mark.parametrize("typed", ["31/12/1944", "1944", "12/1944", "100 năm trước"])
def test_when_too_old(typed: str) -> None:
    err = invalid(parse_when, typed, TODAY)
    assert err.code == "when.too_old"
    assert err.details == {"min_year": 1945}


def test_when_oldest_accepted() -> None:
    assert parse_when("1/1/1945", TODAY) == When(date(1945, 1, 1), "day")


@pytest.mark.parametrize("typed", ["", "sáng nay", "abc", "3 tháng", "15/10/2026/1", "15/10/123"])
def test_when_format(typed: str) -> None:
    assert invalid(parse_when, typed, TODAY).code == "when.format"


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "typed",
    [
        "0912 345 678",
        "0912.345.678",
        "0912-345-678",
        "+84 912 345 678",
        "84912345678",
        "(+84) 912-345-678",
        "0084912345678",
    ],
)
def test_phone_mobile(typed: str) -> None:
    assert parse_phone(typed) == "+84912345678"


@pytest.mark.parametrize("second", ["3", "5", "7", "8", "9"])
def test_phone_mobile_prefixes(second: str) -> None:
    assert parse_phone(f"0{second}12345678") == f"+84{second}12345678"


def test_phone_landline() -> None:
    assert parse_phone("024 3825 1234") == "+842438251234"
    assert parse_phone("+84 24 3825 1234") == "+842438251234"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "912345678",  # national number without the leading 0
        "0112345678",  # 01x is not a mobile prefix
        "0412345678",
        "09123456789",  # 11 digits, not a landline
        "0212345678",  # 10 digits starting 02
        "0912abc345",
        "0912 345 678 ext 2",
        "+1 202 555 0123",
    ],
)
def test_phone_format(typed: str) -> None:
    assert invalid(parse_phone, typed).code == "phone.format"


def test_format_phone_local() -> None:
    assert format_phone_local("+84912345678") == "0912 345 678"
    assert format_phone_local("+842438251234") == "0243 825 1234"
    assert format_phone_local("not a phone") == "not a phone"


# --------------------------------------------------------------------------- ethnicity


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("kinh", "Kinh"),
        ("KINH", "Kinh"),
        ("Tày", "Tày"),
        ("thai", "Thái"),
        ("hmong", "Mông"),
        ("H'Mông", "Mông"),
        ("e de", "Ê Đê"),
        ("ede", "Ê Đê"),
        ("Rhade", "Ê Đê"),
        ("x'tieng", "Xtiêng"),
        ("stieng", "Xtiêng"),
        ("khơ-me", "Khmer"),
        ("Jrai", "Gia Rai"),
        ("bahnar", "Ba Na"),
        ("van kieu", "Bru Vân Kiều"),
        ("k'ho", "Cơ Ho"),
        ("m'nong", "Mnông"),
        ("raglai", "Ra Glai"),
        ("khmu", "Khơ Mú"),
        ("pa co", "Tà Ôi"),
        ("o du", "Ơ Đu"),
        ("dân tộc Nùng", "Nùng"),
    ],
)
def test_ethnicity(typed: str, name: str) -> None:
    assert match_ethnicity(typed) == name


def test_every_official_name_and_alias_matches_its_group() -> None:
    for group in ETHNIC_GROUPS:
        for spelling in (group.name, *group.aliases):
            assert match_ethnicity(spelling) == group.name


def test_ethnicity_number_refused() -> None:
    assert invalid(match_ethnicity, "1").code == "ethnicity.unknown"


def test_ethnicity_suggestions() -> None:
    err = invalid(match_ethnicity, "muong g")
    assert err.code == "ethnicity.unknown"
    assert err.details["suggestions"][0] == "Mường"
    assert len(invalid(match_ethnicity, "la").details["suggestions"]) == 3
    assert invalid(match_ethnicity, "xyzw").details["suggestions"] == []


# --------------------------------------------------------------------------- free text and skipping


def test_text_collapses_spaces_and_keeps_newlines() -> None:
    assert parse_text("  Cứu   người\tđuối nước  \n\n\n\n  ở  sông  ", min_len=3, max_len=100) == (
        "Cứu người đuối nước\n\nở sông"
    )


def test_text_length_boundaries() -> None:
    assert parse_text("abc", min_len=3, max_len=3) == "abc"
    short = invalid(parse_text, "  a  b ", min_len=4, max_len=10)
    assert (short.code, short.details) == ("text.too_short", {"min": 4, "length": 3})
    long = invalid(parse_text, "abcd", min_len=1, max_len=3)
    assert (long.code, long.details) == ("text.too_long", {"max": 3, "length": 4})


@pytest.mark.parametrize(
    "typed",
    ["bỏ qua", "Bo qua", "không có", "khong co", "ko co", "Không", "khong", "k", "K", "ko", "-", "skip"],
)
def test_skip(typed: str) -> None:
    assert is_skip(typed)


@pytest.mark.parametrize("typed", ["", "có", "Nguyễn Văn A", "khong ro", "0912345678"])
def test_not_skip(typed: str) -> None:
    assert not is_skip(typed)


def test_invalid_keeps_code_and_details() -> None:
    err = Invalid("year.range", min=1900, max=2026)
    assert isinstance(err, ValueError)
    assert err.code == "year.range"
    assert err.details == {"min": 1900, "max": 2026}
