"""Sending a message on the bot's own initiative (reminders, notifications), channel-agnostic.

A channel's `Delivery` sends one reply to one chat and says how it went by raising one of these.
"""

from __future__ import annotations

from typing import Protocol

from common.events import Reply


class RetryLater(Exception):
    """The channel asks us to slow down (Telegram 429): wait `seconds`, for every chat."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Unreachable(Exception):
    """The person blocked the bot or deleted the chat (Telegram 403): stop trying."""


class TransientFailure(Exception):
    """A 5xx, a timeout, a dropped connection: try again later with backoff.

    `undelivered`: the channel said it did not take the message (a 5xx answer). After a timeout or a
    dropped connection it may have, so that attempt still counts against the channel's rate.
    """

    def __init__(self, message: str, *, undelivered: bool = False) -> None:
        super().__init__(message)
        self.undelivered = undelivered


class Rejected(Exception):
    """The channel refuses this message as it is (Telegram 400): sending it again cannot help."""


class Delivery(Protocol):
    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        """`once`: a key naming this reply for good (an inbox row and the reply's place, an outbox row). A channel
        that can tell it sent it already (the web chat, which sends by writing to the database) sends it once;
        the others send what they are given (after a crash between a send and its record, again)."""
