"""What must hold when things go wrong: redelivered updates, two workers on one database,
an unexpected error in the middle of a message."""

from __future__ import annotations

import asyncio
import logging

from bot.app import build_app
from bot.conversation import ConversationService
from bot.flows import nomination
from bot.flows.engine import StepKind
from common.events import Inbound, InboundKind
from common.messages import t
from storage import repo
from tests.chat import Chat, image_bytes
from tests.conftest import add_member
from tests.test_nomination import answer_until_photos, state_of


async def test_a_redelivered_update_is_not_answered_twice(app):
    await add_member(app, "801")
    chat = Chat(app.core, "801")
    await chat.say("/decu")

    def event(text: str, sequence: int) -> Inbound:
        return Inbound(channel="telegram", user_id="801", chat_id="801", kind=InboundKind.TEXT, text=text,
                       sequence=sequence)

    assert (await app.core.handle(event("ca nhan", 41), chat.fetch))[0].text == t("nom.name.prompt.ca_nhan")
    assert await app.core.handle(event("ca nhan", 41), chat.fetch) == []  # same update again: ignored
    await app.core.handle(event("Nguyen Van An", 42), chat.fetch)
    state = await state_of(app, "801")
    assert state["answers"] == {"kind": "ca_nhan", "name": "Nguyen Van An"} and state["step"] == "birth_year"


async def test_two_workers_on_one_database_share_the_conversation(app, settings, clock, caplog, monkeypatch):
    other = await build_app(settings, clock=clock, migrate=False)  # a second process, as far as state goes
    try:
        await add_member(app, "802")
        first, second = Chat(app.core, "802"), Chat(other.core, "802")
        await first.say("/decu")
        await second.say("ca nhan")
        await first.say("Nguyen Van An")
        assert (await state_of(app, "802"))["answers"]["name"] == "Nguyen Van An"
        # Both workers receive a photo for the same draft at the same moment: both are kept.
        for text in ("1968", "kinh", "khong co", "1", "4", "khong ro",
                     "Ông An đã cứu hai em nhỏ bị đuối nước ở sông Hồng.", "hom nay"):
            await second.say(text)
        # Each worker has read the draft before either writes anything.
        arrived, both_have_read = [], asyncio.Event()
        handle = ConversationService.handle

        async def handle_together(self, request, conversation, inp):
            if inp.photos is not None and len(arrived) < 2:  # the first try of each
                arrived.append(1)
                if len(arrived) >= 2:
                    both_have_read.set()
                await asyncio.wait_for(both_have_read.wait(), 5)
            return await handle(self, request, conversation, inp)

        monkeypatch.setattr(ConversationService, "handle", handle_together)
        with caplog.at_level(logging.INFO, logger="bot.core"):
            await asyncio.gather(first.photos(image_bytes("red")), second.photos(image_bytes("blue")))
        assert "changed meanwhile; handling again" in caplog.text  # the conflict happened and was retried
        photos = (await state_of(app, "802"))["answers"]["photos"]
        assert len(photos) == 2
    finally:
        await other.close()


async def test_an_unexpected_error_keeps_the_draft_and_says_so(app, monkeypatch):
    await add_member(app, "803")
    chat = Chat(app.core, "803")
    await answer_until_photos(chat)
    before = await state_of(app, "803")

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(repo, "record_media", broken)
    replies = await chat.photos(image_bytes())
    assert [r.text for r in replies] == [t("error.unexpected")]
    assert await state_of(app, "803") == before
    monkeypatch.undo()
    replies = await chat.photos(image_bytes())
    assert replies[0].text.startswith(t("photos.received", added=1, total=1))


def test_every_button_fits_telegram_callback_data():
    longest = max(
        [f"{step.id}:{option.key}" for step in nomination.NOMINATION.steps
         if not callable(step.options) for option in step.options]
        + [f"summary:edit.{step.id}" for step in nomination.NOMINATION.steps if step.kind is not StepKind.SUMMARY]
        + [f"movement:m{10**9}", "draft:continue", "cancel:yes"],
        key=lambda value: len(value.encode()),
    )
    assert len(longest.encode()) <= 64, longest
