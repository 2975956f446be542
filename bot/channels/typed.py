"""Replies for channels without buttons (Zalo, the terminal): the choices become a numbered list, which the
person answers by typing a number or the words (bot/menus.py, and the conversations' own matching)."""

from __future__ import annotations

from common.events import Reply
from common.messages import t


def typed_text(reply: Reply, indent: str = "") -> str:
    """The reply's text, then how to use an invite code (no deep links: the code itself is sent to the bot),
    then its links (each label, then its address on a line of its own), then its choices, numbered."""
    text, numbered = _numbered_in_text(reply) if reply.choices_listed else (reply.text, 0)
    lines = [text]
    if reply.invite:
        lines.append(t("invite.send_code", code=reply.invite))
    lines += link_lines(reply, indent)
    lines += [f"{indent}{i}. {c.label}" for i, c in enumerate(reply.choices[numbered:], start=numbered + 1)]
    return "\n".join(lines)


def _numbered_in_text(reply: Reply) -> tuple[str, int]:
    """The text with its first "• " lines numbered as the choices they are; how many were."""
    lines, numbered = reply.text.split("\n"), 0
    for index, line in enumerate(lines):
        if line.startswith("• ") and numbered < len(reply.choices):
            numbered += 1
            lines[index] = f"{numbered}. {line[2:]}"
    return "\n".join(lines), numbered


def link_lines(reply: Reply, indent: str = "") -> list[str]:
    """A reply's links as text: the channel (Zalo, Telegram) or the terminal makes the addresses openable."""
    lines = []
    for label, url in reply.links:
        lines += [f"{indent}• {label}", f"{indent}  {url}"]
    return lines
