"""The fake Zalo Bot API judges calls by the documented contract: a test double that accepted what Zalo refuses
would let the adapter pass for the wrong reasons."""

from __future__ import annotations

import aiohttp

from tests.fakes.zalo_server import FakeZaloServer


async def call(fake: FakeZaloServer, method: str, body) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.url}/bot{fake.token}/{method}", json=body) as answer:
            return answer.status, await answer.json()


async def test_it_refuses_what_zalo_refuses_and_records_every_call():
    fake = FakeZaloServer()
    await fake.start()
    try:
        assert (await call(fake, "sendMessage", {"chat_id": "u1", "text": "Xin chào"}))[0] == 200
        refused = {
            "buttons": ("sendMessage", {"chat_id": "u1", "text": "Chọn", "reply_markup": {"keyboard": []}}),
            "too long": ("sendMessage", {"chat_id": "u1", "text": "x" * 2001}),
            "empty": ("sendMessage", {"chat_id": "u1", "text": ""}),
            "numeric id": ("sendMessage", {"chat_id": 42, "text": "Xin chào"}),
            "no text": ("sendMessage", {"chat_id": "u1"}),
            "a file, not a URL": ("sendPhoto", {"chat_id": "u1", "photo": "anh.jpg"}),
            "unknown method": ("sendDocument", {"chat_id": "u1", "document": "https://x/y.pdf"}),
            "short secret": ("setWebhook", {"url": "https://bot.example/webhook/zalo", "secret_token": "x"}),
        }
        for what, (method, body) in refused.items():
            status, answer = await call(fake, method, body)
            assert status == 400 and answer["ok"] is False and answer["error_code"] == 400, what
        assert len(fake.violations) == len(refused) - 1  # the short secret is an error answer, not a violation
        assert len(fake.calls) == len(refused) + 1 and fake.texts_to("u1") == ["Xin chào"]
    finally:
        await fake.stop()


async def test_get_updates_hands_out_one_update_per_call_then_408():
    fake = FakeZaloServer()
    await fake.start()
    try:
        first, second = fake.send_text("u1", "một"), fake.send_text("u1", "hai")
        assert isinstance(first["message"]["message_id"], str) and first["message"]["date"] > 10**12  # ms
        assert (await call(fake, "getUpdates", {"timeout": 1}))[1]["result"] == first
        assert (await call(fake, "getUpdates", {"timeout": 1}))[1]["result"] == second
        status, answer = await call(fake, "getUpdates", {"timeout": 1})
        assert (status, answer["ok"], answer["error_code"]) == (200, False, 408)
        assert fake.violations == []
    finally:
        await fake.stop()
