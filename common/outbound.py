"""Talking to one chat on the bot's own initiative, outside a request: a background job (an export) posts a
progress message, edits it as it works, shows that it is uploading, and sends its files.

A channel adapter implements `Outbound`; the composition root hands it to the job runner, with how to link
to the files where the channel sends no documents. Unlike
`Delivery` (the outbox: one reply, at least once, with retries) these calls are immediate and best-effort.
"""

from __future__ import annotations

from typing import Protocol

from common.events import Reply


class Outbound(Protocol):
    file_limit: int  # the largest file, in bytes, the channel sends as a document (0: it sends none)
    can_edit: bool  # whether `edit` changes a message posted before (else a job posts anew, sparingly)

    async def post(self, chat_id: str, text: str) -> str:
        """Send a text; returns the channel's handle of that message, to edit it later."""

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        """Replace the text of a message posted before (nothing happens if it is the same)."""

    async def busy(self, chat_id: str) -> None:
        """Show that files are on their way (Telegram's "sending a file…" status)."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Send a reply, its documents (files under EXPORTS_DIR) or its links included. Raises OSError-like
        errors as is."""
