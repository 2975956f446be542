"""Every example of the README's administration block runs as shown, on the demo ward, without a traceback;
and the rough edges a newcomer met on the command line are gone."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from bot.demo import ensure_demo
from common.messages import t
from tests.cli import run_cli_async

ROOT = Path(__file__).resolve().parents[1]
# What may end otherwise than 0, and what it must say then.
EXPECTED = {("remind", "run"): (2, "TELEGRAM_BOT_TOKEN và ZALO_BOT_TOKEN chưa được đặt")}


def write(name: str, text: str, encoding: str = "utf-8") -> None:
    Path(name).write_bytes(text.encode(encoding))


def files_in(folder: str) -> list[Path]:
    return list(Path(folder).iterdir())


def readme_examples() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Administration", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True)[1:] for line in block.splitlines() if line.startswith("nguoitot ")]


async def test_every_readme_example_runs(app, settings, monkeypatch, capsys, in_empty_folder, tmp_path):
    await ensure_demo(app.db, app.media, app.core.clock.now())  # the demo ward (00070) and its cases
    write("villages.csv", "xa,thon\n00070,Tổ dân phố số 2\n00070,Tổ dân phố số 10\n")
    write("phong-trao.txt", "Người tốt, việc tốt\nChung sức xây dựng nông thôn mới\n")
    examples = readme_examples()
    assert len(examples) >= 20
    for args in examples:
        if args[0] == "chat":  # what the person types in the terminal chat
            monkeypatch.setattr("sys.stdin", io.StringIO("/choduyet\n" if "secretary" in args else "/hoso\n"))
        code, out, err = await run_cli_async(args, settings, monkeypatch, capsys)
        status, says = EXPECTED.get(tuple(args[:2]), (0, ""))
        assert code == status, (args, out, err)
        assert "Traceback" not in out + err and says in out + err, (args, out, err)
        if args[:2] == ["units", "list"]:  # numbers sorted as people read them
            names = [line.split("\t")[2] for line in out.splitlines()]
            assert names.index("Tổ dân phố số 2") < names.index("Tổ dân phố số 7") < names.index("Tổ dân phố số 10")
        if args[0] == "chat":
            assert (t("review.pending_title", total=1, page=1, pages=1) if "secretary" in args
                    else t("cases.title", count=4)) in out
        if args[:2] == ["case", "show"]:
            assert "Nguyễn Thị Hạnh" in out and "phone: 0912345678" in out
    assert files_in("ho-so")  # the exports wrote their files


@pytest.mark.parametrize("args, says", [
    (["units", "list", "--commune", "Tân Hòa"], "trùng ở nhiều nơi"),
    (["people", "list", "--commune", "Xã Không Có Thật"], "Không tìm thấy xã/phường/tỉnh"),
    (["movements", "list", "--commune", "99999"], "Không tìm thấy"),
    (["units", "import", "khong-co.csv"], "Không có tệp khong-co.csv"),
    (["case", "show", "NT-2026-09999"], "Không có hồ sơ NT-2026-09999"),
    (["deadline", "add", "--commune", "00070", "--date", "2020-01-01", "--title", "Cũ"], "đã qua"),
    (["invite", "--role", "cadre", "--commune", "00070"], "Cán bộ cần --village"),
])
async def test_mistakes_are_said_in_vietnamese_never_a_traceback(args, says, settings, monkeypatch, capsys,
                                                                 in_empty_folder):
    code, out, err = await run_cli_async(args, settings, monkeypatch, capsys)
    assert code == 2 and says in err and "Traceback" not in out + err


async def test_an_excel_csv_in_utf16_with_semicolons_and_the_files_own_line_numbers(settings, monkeypatch, capsys,
                                                                                   in_empty_folder):
    rows = "Xã;Thôn\r\n00070;Tổ dân phố số 4\r\n\r\n00070;Tổ dân phố 4\r\nKhông Có Xã;Thôn A\r\n00070\r\n"
    write("thon.csv", rows, "utf-16")  # what Excel's "Unicode Text" writes, with a BOM
    code, out, err = await run_cli_async(["units", "import", "thon.csv"], settings, monkeypatch, capsys)
    assert code == 1 and "Đã thêm 1 thôn mới" in out
    assert [line.split(":")[0].strip() for line in err.splitlines()] == ["dòng 4", "dòng 5", "dòng 6"]
    assert "gần giống thôn đã có \"Tổ dân phố số 4\"" in err
    write("rong.csv", "chỉ một cột\nkhông có dấu phẩy\n")
    code, out, err = await run_cli_async(["units", "import", "rong.csv"], settings, monkeypatch, capsys)
    assert code == 1 and "không có dòng nào đúng định dạng" in err  # not "Đã thêm 0 thôn mới" with 0


async def test_a_village_close_to_an_existing_one_is_asked_about(settings, monkeypatch, capsys, in_empty_folder):
    base = ["invite", "--role", "cadre", "--commune", "00070"]
    assert (await run_cli_async(base + ["--village", "Tổ dân phố số 7"], settings, monkeypatch, capsys))[0] == 0
    code, _, err = await run_cli_async(base + ["--village", "Tổ dân phố 7"], settings, monkeypatch, capsys)
    assert code == 2 and '--village "Tổ dân phố số 7"' in err
    assert (await run_cli_async(base + ["--village", "Tổ dân phố 7", "--new-village"], settings, monkeypatch,
                                capsys))[0] == 0
    code, out, _ = await run_cli_async(["units", "list", "--commune", "00070"], settings, monkeypatch, capsys)
    assert "Tổ dân phố 7" in out and "Tổ dân phố số 7" in out


def test_help_is_vietnamese_and_the_version_is_known(monkeypatch, capsys):
    from bot import cli

    for args in (["--help"], ["units", "import", "--help"], ["invite", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(args)
        shown = capsys.readouterr().out
        assert shown.startswith("cách dùng: nguoitot") and "show this help" not in shown
        assert "tùy chọn" in shown
    with pytest.raises(SystemExit):
        cli.main(["units", "import", "--help"])
    assert "00070,Tổ dân phố số 1" in capsys.readouterr().out  # the format, with an example
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert re.fullmatch(r"nguoitot \d+\.\d+\.\d+\n", capsys.readouterr().out)


async def test_remind_preview_says_why_it_shows_nothing(settings, monkeypatch, capsys, in_empty_folder, app):
    code, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-13T08:00"], settings, monkeypatch,
                                       capsys)
    assert code == 0 and "Chưa có ai đăng ký" in out
    await ensure_demo(app.db, None, app.core.clock.now())
    code, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-11-01T08:00"], settings, monkeypatch,
                                       capsys)
    assert code == 0 and "REMINDER_HOUR" in out  # nothing before the first offset: it says when reminders go
    code, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-13T08:00"], settings, monkeypatch,
                                       capsys)
    assert "deadline" in out and "nhắc bù" not in out  # on time
    code, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-13T10:30"], settings, monkeypatch,
                                       capsys)
    assert "deadline" in out and "nhắc bù" in out  # 08:00 passed while the bot was down: sent late, and said


async def test_in_chat_a_village_close_to_an_existing_one_is_asked_about_and_lists_sort_numbers(app):
    from storage.models import Role
    from tests.chat import Chat
    from tests.conftest import add_member

    await add_member(app, "s-7", role=Role.SECRETARY, village=None)
    secretary = Chat(app.core, "s-7")
    for name in ("Tổ dân phố số 10", "Tổ dân phố số 7", "Tổ dân phố số 2"):
        assert (await secretary.say(f"/donvi them thon {name}"))[0].text == t("units.added", name=name)
    [asked] = await secretary.say("/donvi them thon Tổ dân phố 7")
    assert asked.text == t("units.alike", name="Tổ dân phố số 7", typed="Tổ dân phố 7",
                           again="/donvi them thon Tổ dân phố 7 !")
    assert (await secretary.say("/donvi them thon Tổ dân phố 7 !"))[0].text == t("units.added", name="Tổ dân phố 7")
    listing = (await secretary.say("/donvi"))[0].text
    order = [listing.index(f"Tổ dân phố số {n} ") for n in (2, 7, 10)]
    assert order == sorted(order)
