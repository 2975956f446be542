"""Driving the web chat in a real browser: Playwright for Python with Debian's Chromium (never a browser
Playwright downloads). `make test` installs Chromium where it can (scripts/test); without it these tests
fail saying what to install, they are never skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]
PHONE = {"width": 360, "height": 740}
WAIT_MS = 20_000  # the machine is shared: a reply may take a few seconds under load


def chromium_path() -> str:
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is missing: install Debian's package (apt-get install chromium), or run `make test` "
                    "as root, which installs it")
    return found


class ChatPage:
    """One person's web chat in one browser context."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def sign_in(self, code: str, name: str = "") -> None:
        await self.page.goto(self.base_url + "/chat")
        await self.page.fill("#code", code)
        await self.page.fill("#name", name)
        await self.page.click("#signin-form button[type=submit]")
        await self.page.locator("#chat").wait_for(state="visible", timeout=WAIT_MS)

    def last_bot(self):
        return self.page.locator("#messages li.bot").last

    async def bot_says(self, text: str) -> None:
        """Wait until a message of the bot contains `text`."""
        await self.page.locator("#messages li.bot", has_text=text).last.wait_for(timeout=WAIT_MS)

    async def say(self, text: str, then: str = "") -> None:
        before = await self.page.locator("#messages li.bot").count()
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")
        await self._answered(before, then)

    async def tap(self, label: str, then: str = "") -> None:
        before = await self.page.locator("#messages li.bot").count()
        await self.page.locator("#messages li.bot .choices button", has_text=label).last.click()
        await self._answered(before, then)

    async def menu(self, label: str, then: str = "") -> None:
        before = await self.page.locator("#messages li.bot").count()
        await self.page.locator("#menu button", has_text=label).click()
        await self._answered(before, then)

    async def _answered(self, before: int, then: str) -> None:
        await self.page.locator("#messages li.bot").nth(before).wait_for(timeout=WAIT_MS)
        if then:
            await self.bot_says(then)
