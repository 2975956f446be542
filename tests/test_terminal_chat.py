"""`nguoitot run` with no token: it says what to set and opens the terminal chat on SQLite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from bot.channels.terminal import TerminalDelivery, render
from common.events import Choice, Reply
from common.messages import t
from tests.chat import image_bytes

ROOT = Path(__file__).resolve().parents[1]


def test_choices_are_drawn_as_a_numbered_list():
    reply = Reply("Bạn đề cử ai?", (Choice("Cá nhân", "kind:ca_nhan"), Choice("Tập thể", "kind:tap_the")))
    assert render(reply) == "Bạn đề cử ai?\n  1. Cá nhân\n  2. Tập thể"


def test_a_list_of_cases_is_numbered_once_not_listed_twice():
    reply = Reply("Chờ duyệt: 2\n• NT-1 – An – đã gửi (01/12)\n• NT-2 – Bình – đã gửi (02/12)",
                  (Choice("NT-1 – An", "rv:open:1"), Choice("NT-2 – Bình", "rv:open:2"), Choice("Trang sau", "rv:page:2")),
                  choices_listed=True)
    assert render(reply) == ("Chờ duyệt: 2\n1. NT-1 – An – đã gửi (01/12)\n2. NT-2 – Bình – đã gửi (02/12)\n"
                             "  3. Trang sau")


async def test_what_the_bot_sends_on_its_own_is_printed_in_the_terminal_chat():
    printed = []
    await TerminalDelivery(printed.append).deliver("demo-cadre", Reply("Hồ sơ cần bổ sung", (Choice("Sửa", "fix:1"),)))
    assert printed == [t("terminal.notice") + "\nHồ sơ cần bổ sung\n  1. Sửa"]


def test_run_without_a_token_starts_the_demo_chat(tmp_path):
    code = f"NT-{date.today().year}-00005"  # the demo runs on the system clock; its ward has four cases already
    photo = tmp_path / "viec-tot.jpg"
    photo.write_bytes(image_bytes())
    typed = ["/decu", "2", "Hoi Phu nu to 1", "bo qua", "1", "13", "khong ro",
             "Hội đã quyên góp được 20 triệu đồng giúp hai hộ nghèo sửa nhà.", "tuan truoc", str(photo), "xong",
             "bo qua", "3", "gui", f"/rut {code}", "1", "/thoat"]  # withdrawn by typing the menu's number
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "MEDIA_", "HTTP_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["HTTP_PORT"] = "0"  # any free port: 8080 may be taken on a shared machine
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], input="\n".join(typed) + "\n", text=True,
                            capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TELEGRAM_BOT_TOKEN và ZALO_BOT_TOKEN chưa được đặt" in result.stdout
    assert re.search(r"http://127\.0\.0\.1:\d+/chat\n", result.stdout)  # the web chat, beside the terminal
    assert re.search(r"thư ký Hội đồng Thi đua\s+demo-secretary-[0-9a-f]{6}\n", result.stdout)
    assert "INFO" not in result.stdout and "INFO" not in result.stderr  # logs go to a file, not into the chat
    assert "HTTP on http://127.0.0.1:" in (tmp_path / "data" / "nguoitot.log").read_text()
    assert "Bạn đề cử ai?\n  1. Cá nhân\n  2. Tập thể\n  3. Hộ gia đình" in result.stdout
    assert "Đã nhận 1 ảnh (tổng 1/10)" in result.stdout
    assert f"Đã gửi hồ sơ {code}" in result.stdout
    assert f"Rút hồ sơ {code} (Hoi Phu nu to 1)? Hồ sơ sẽ không được xét nữa.\n  1. Rút hồ sơ" in result.stdout
    assert f"Đã rút hồ sơ {code}." in result.stdout
    assert (tmp_path / "data" / "nguoitot.db").exists()  # the embedded default, under ./data/
    assert list((tmp_path / "data" / "media").rglob("*"))  # the photo, content-addressed


def test_a_bot_with_only_a_zalo_token_logs_as_a_service_not_into_the_demo_s_file(settings):
    from argparse import Namespace

    from bot.cli import _is_demo

    run = Namespace(command="run")
    assert _is_demo(run, settings.model_copy(update={"telegram_bot_token": "", "zalo_bot_token": ""}))
    assert not _is_demo(run, settings.model_copy(update={"telegram_bot_token": "", "zalo_bot_token": "z"}))
