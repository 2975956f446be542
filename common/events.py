"""The one inbound event type and the one reply type every channel adapter speaks.

Adapters (Telegram, terminal, later Zalo) turn their updates into `Inbound` and draw `Reply`.
Nothing here knows about a channel: choices are data, drawn as buttons or as a numbered list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class InboundKind(StrEnum):
    TEXT = "text"  # typed text (also a reply-keyboard button, which sends its label)
    COMMAND = "command"  # "/decu args"
    CHOICE = "choice"  # an inline button pressed: `choice` holds the Choice.value
    MEDIA = "media"  # one photo/image file, or a whole album at once
    EDITED = "edited"  # a message edited after it was sent: never changes an answer
    UNSUPPORTED = "unsupported"  # sticker, voice, location, contact, video…
    BLOCKED = "blocked"  # the person blocked the bot: reminders stop at once
    UNBLOCKED = "unblocked"  # and unblocked it: they may reach them again


@dataclass(frozen=True)
class MediaRef:
    """A photo or file the user sent, as the channel names it; fetched on demand."""

    file_id: str
    kind: str  # "photo" (compressed by the channel) or "document" (original file)
    file_size: int | None = None
    mime_type: str | None = None
    file_name: str | None = None


# Channels that shrink a photo unless it is sent as a file: only there is a cadre told to send one as a file
# (Zalo delivers no files to a bot; the web chat and the terminal take the original file anyway).
SHRINKS_PHOTOS = frozenset({"telegram"})


@dataclass(frozen=True)
class Inbound:
    channel: str  # "telegram", "terminal", "zalo"
    user_id: str  # the channel's id of the person, as text (Zalo ids are strings)
    chat_id: str
    kind: InboundKind
    text: str = ""  # text, or a media caption
    command: str = ""  # without the slash, lower case: "decu"
    args: str = ""  # what follows the command
    choice: str = ""  # Choice.value of a pressed button
    media: tuple[MediaRef, ...] = ()
    unsupported: str = ""  # what it was: "sticker", "voice", "location", …
    display_name: str = ""
    # The channel's increasing number for this update (Telegram's update_id), when it has one.
    # Channels deliver at least once; a conversation ignores a number it has already handled.
    sequence: int | None = None


@dataclass(frozen=True)
class Choice:
    label: str
    value: str  # comes back as Inbound.choice; short, so it fits Telegram's 64-byte callback data


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1  # how many buttons per row where the channel draws buttons
    # The persistent main menu: None leaves it as it is, () removes it, labels set it.
    menu: tuple[str, ...] | None = None
    photos: tuple[str, ...] = ()  # SHA-256 of stored photos, shown before the text (an album if several)
    # This person's command menu, as (command, description): set by the channel where it has one.
    commands: tuple[tuple[str, str], ...] | None = None
    # Asked for by a handler, drawn by the core from the person's roles (bot/handlers/registry.py):
    # their main menu as `menu`, their command menu as `commands`.
    # A single-use invite code: the channel adds how to use it (a deep link on Telegram; the code to
    # send to the bot elsewhere). The core only knows the code.
    invite: str = ""
    # Files to send as documents, by path (under EXPORTS_DIR): sent after the text; plain data, so a reply
    # can be kept as JSON.
    documents: tuple[str, ...] = ()
    # Files offered as download links, as (label, URL): drawn after the text, as links where the channel has
    # them (the web chat), else as lines of text. The URL may be relative to the bot's own HTTP app (the web
    # chat) or, in the terminal chat, a path on the server.
    links: tuple[tuple[str, str], ...] = ()
    # The text's "• " lines are the first choices, in order (a list of cases): a channel that numbers choices
    # numbers those lines instead of listing the same cases twice.
    choices_listed: bool = False
    with_main_menu: bool = False
    with_commands: bool = False


def remembered_menu(choices: tuple[Choice, ...], at: datetime) -> dict[str, Any]:
    """Choices as a chat remembers them (`Account.menu`), so that a typed number or label answers them later
    on a channel without buttons (bot/menus.py)."""
    return {"at": at.isoformat(), "choices": [[c.label, c.value] for c in choices]}


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """A reply as plain JSON, only the fields that differ from their defaults: replies are stored before
    they are sent (the inbox, the outbox), so a crash between the two loses none."""
    # Straight from the instance's attributes (dataclasses.fields() at each call was most of the cost; the
    # planner makes one per village on a reminder morning).
    return {name: _plain(value) for name, value in reply.__dict__.items() if value != _REPLY_DEFAULTS[name]}


def reply_from_json(data: Mapping[str, Any]) -> Reply:
    values = {name: _frozen(value) for name, value in data.items() if name in _REPLY_FIELDS}
    if "choices" in values:
        values["choices"] = tuple(Choice(label, value) for label, value in values["choices"])
    return Reply(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, Choice):
        return [value.label, value.value]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


_REPLY_FIELDS = frozenset(spec.name for spec in fields(Reply))
_REPLY_DEFAULTS = {spec.name: spec.default for spec in fields(Reply)}


# Adapters hand the core a way to fetch the bytes behind a MediaRef.
Fetch = Callable[[MediaRef], Awaitable[bytes]]
