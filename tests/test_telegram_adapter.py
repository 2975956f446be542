"""The Telegram adapter's own rules: drawing replies and splitting long text."""

from __future__ import annotations

from bot.channels.telegram import markup, split_text
from common.events import Choice, Reply


def test_split_text_keeps_every_character_and_respects_the_limit():
    text = "\n".join(f"Dòng số {i}: " + "chữ " * (i % 40) for i in range(400))
    parts = split_text(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    unbroken = "x" * 9000
    assert split_text(unbroken, 4096) == ["x" * 4096, "x" * 4096, "x" * 808]


def test_a_file_s_name_and_its_link_stay_in_one_message():
    links = "\n".join(f"• ho-so-{i}.xlsx\n  https://xa.example/tai-ve/{'a' * 80}/{i}" for i in range(30))
    parts = split_text("📦 Hồ sơ quý IV/2026:\n" + links, 2000)
    assert len(parts) > 1 and all(not p.startswith("https") for p in parts)


def test_choices_become_inline_buttons_in_rows_and_the_menu_a_keyboard():
    reply = Reply("?", (Choice("Cá nhân", "kind:ca_nhan"), Choice("Tập thể", "kind:tap_the"),
                        Choice("Hộ gia đình", "kind:ho_gia_dinh")), columns=2)
    keyboard = markup(reply).inline_keyboard
    assert [[b.text for b in row] for row in keyboard] == [["Cá nhân", "Tập thể"], ["Hộ gia đình"]]
    assert keyboard[1][0].callback_data == "kind:ho_gia_dinh"
    assert markup(Reply("x")) is None
    assert markup(Reply("x", menu=())).remove_keyboard is True
    assert [b.text for b in markup(Reply("x", menu=("A", "B", "C"))).keyboard[1]] == ["C"]


def test_photos_for_reviewers_fit_the_bot_api_limits():
    import io

    from PIL import Image

    from storage.media import preview
    from tests.chat import image_bytes

    small = image_bytes("red", size=(800, 600))
    assert preview(small) == small  # a phone photo goes as it is
    for size in ((6000, 4000), (12000, 300)):  # a huge original; a panorama beyond the 20:1 ratio
        data = image_bytes("blue", size=size, fmt="PNG")
        with Image.open(io.BytesIO(preview(data))) as shown:
            assert shown.format == "JPEG" and max(shown.size) <= 2560
            assert max(shown.size) <= 20 * min(shown.size) and sum(shown.size) <= 10000
