"""A commune's own list of movements (phong trào), set from the command line, is what its cadres choose from."""

from __future__ import annotations

from common.messages import t
from tests.cli import run_cli_async
from tests.test_nomination import cadre_chat, state_of

OWN = ["Xây dựng nông thôn mới kiểu mẫu", "Ngày Chủ nhật xanh", "Xây dựng nông thôn mới kiểu mẫu"]


async def movement_step(app, user: str):
    chat = await cadre_chat(app, user)
    for text in ("/decu", "ca nhan", "Nguyen Van An", "1968", "kinh", "khong co", "1", "nong nghiep"):
        replies = await chat.say(text)
    assert replies[-1].text.startswith(t("nom.movement.prompt"))
    return chat, [c.label for c in replies[-1].choices]


async def test_a_commune_sets_its_own_movements_and_goes_back_to_the_default(
        app, settings, monkeypatch, capsys, tmp_path, in_empty_folder):
    listed = tmp_path / "phong-trao.txt"
    listed.write_text("\n".join(OWN) + "\n\n", encoding="utf-8")
    status, out, err = await run_cli_async(["movements", "set", "--commune", "00070", str(listed)],
                                           settings, monkeypatch, capsys)
    assert status == 0, err
    assert "2 phong trào" in out  # the repeated line counts once

    chat, labels = await movement_step(app, "801")
    assert labels[:2] == OWN[:2] and len(labels) == 3  # and "Không rõ"
    await chat.say("chu nhat xanh")
    assert (await state_of(app, "801"))["answers"]["movement"] == "Ngày Chủ nhật xanh"

    status, out, _ = await run_cli_async(["movements", "list", "--commune", "Phường Hoàn Kiếm"],
                                         settings, monkeypatch, capsys)
    assert out.splitlines() == ["1. Xây dựng nông thôn mới kiểu mẫu", "2. Ngày Chủ nhật xanh"]

    status, out, _ = await run_cli_async(["movements", "set", "--commune", "00070", "--default"],
                                         settings, monkeypatch, capsys)
    assert status == 0
    status, out, _ = await run_cli_async(["movements", "list", "--commune", "00070"], settings, monkeypatch, capsys)
    assert "danh sách mặc định" in out and "Người tốt, việc tốt" in out and "Ngày Chủ nhật xanh" not in out
