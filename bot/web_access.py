"""Who is signed in to the web chat: sign-in by code, signed session cookies, CSRF tokens, rate limits.

A browser signs in with an invitation code (a new person, or a new role), or with a code that names a person
who already exists (`person_codes`: the demo's codes now; the one-time link codes of /lienket, which let a
person registered on Telegram or Zalo open the same conversation in a browser, are to be accepted there
too). The cookie holds a random token and its HMAC; the database keeps only the token's SHA-256, with the
session's expiry and revocation. CSRF tokens are HMACs of the browser's token: nothing more to store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handlers import onboarding, registry
from bot.handlers.linking import looks_like_link_code
from bot.request import Request
from common.clock import Clock
from common.events import Inbound, InboundKind, Reply, reply_to_json
from common.messages import t
from common.settings import Settings
from storage import repo, web
from storage.db import Database
from storage.web import SignedIn

SECRET_NAME = "web_session"
TOKEN_BYTES = 32
MIN_NAME = 2
# A code that signs in a person who already exists: their id, or None when the code is not one of these.
PersonCode = Callable[[AsyncSession, str, datetime], Awaitable[int | None]]


class Refused(Exception):
    """The code (or the name) was not accepted; `text` says why, in the person's words."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the signed token, for the session cookie
    csrf: str
    person: SignedIn


class WebAccess:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.lifetime = timedelta(days=settings.web_session_days)
        # THE SEAM for codes that name an existing person: the demo registers its codes here, and the
        # Zalo issue's /lienket link codes go here too (a resolver that claims the one-time code).
        self.person_codes: list[PersonCode] = []
        self._key = settings.web_session_secret.encode() if settings.web_session_secret else b""

    async def prepare(self) -> None:
        """The signing key: configured, or made once and kept in the database for every process. Sessions
        that expired are forgotten here, at each start."""
        async with self.db.session() as session:
            await web.forget_expired_sessions(session, self.clock.now())
            if not self._key:
                self._key = (await web.app_secret(session, SECRET_NAME, secrets.token_urlsafe(48))).encode()

    # ---- tokens
    def new_token(self) -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)

    def signed(self, token: str, purpose: str) -> str:
        return f"{token}.{self._mac(purpose, token)}"

    def unsigned(self, cookie: str | None, purpose: str) -> str | None:
        """The token of a cookie whose signature is ours (constant time), else None."""
        token, _, mac = (cookie or "").rpartition(".")
        if not token or not hmac.compare_digest(mac.encode(), self._mac(purpose, token).encode()):
            return None
        return token

    def csrf_for(self, token: str) -> str:
        return self._mac("csrf", token)

    def csrf_ok(self, token: str | None, given: str | None) -> bool:
        return bool(token and given) and hmac.compare_digest(given.encode(), self.csrf_for(token).encode())

    def _mac(self, purpose: str, token: str) -> str:
        assert self._key, "WebAccess.prepare() first"
        digest = hmac.new(self._key, f"{purpose}:{token}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # ---- sessions
    async def who(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        async with self.db.reading() as reading:
            return await web.signed_in(reading, _hash(token), self.clock.now())

    async def sign_out(self, token: str) -> None:
        async with self.db.session() as session:
            await web.revoke_session(session, _hash(token), self.clock.now())

    async def sign_in(self, code: str, name: str) -> NewSession:
        """Open a session for the person the code names, or a new person it invites. Raises Refused."""
        code, name = code.strip(), " ".join(name.split())
        if not code:
            raise Refused(t("web.signin.no_code"))
        now = self.clock.now()
        token = self.new_token()
        async with self.db.session() as session:
            person_id = await self._existing_person(session, code, now)
            if person_id is not None:
                account = await self._welcomed_back(session, person_id, now)
            else:
                account = await self._invited(session, code, name, now)
            await web.open_session(session, _hash(token), account.id, now, now + self.lifetime)
        person = await self.who(token)
        if person is None:  # a person without any role (all revoked) may not sign in with an old code
            raise Refused(t("access.unregistered"))
        return NewSession(self.signed(token, "session"), self.csrf_for(token), person)

    async def _existing_person(self, session: AsyncSession, code: str, now: datetime) -> int | None:
        for resolve in self.person_codes:
            person_id = await resolve(session, code, now)
            if person_id is not None:
                return person_id
        return None

    async def _welcomed_back(self, session: AsyncSession, person_id: int, now: datetime):
        """The person's web account (made on their first sign-in), greeted with their menus."""
        account = await web.web_account_of(session, person_id) or await web.add_web_account(
            session, person_id, _new_chat_id())
        found = await repo.identity(session, web.CHANNEL, account.external_id)
        if found is not None and found[2]:
            _, person, memberships, _ = found
            reply = Reply(t("welcome.back", name=person.name, hint=onboarding.hint(memberships)),
                          menu=registry.main_menu(memberships),
                          commands=registry.commands_for(memberships))
            await web.add_message(session, account.chat_id, reply_to_json(reply), now)
        return account

    async def _invited(self, session: AsyncSession, code: str, name: str, now: datetime):
        """Redeem an invitation as the chat does (bot/handlers/onboarding.py), for a new web account. What is
        wrong with the code is said before what is missing from the name: a name will not mend a bad code."""
        if looks_like_link_code(code):  # a link code not taken above: unknown, used or expired
            raise Refused(t("web.signin.link_refused"))
        if len(name) < MIN_NAME:  # asked for only when the code would do (redeem looks it up otherwise)
            invite, problem = await onboarding.usable_invite(session, code, now)
            raise Refused(problem if invite is None else t("web.signin.no_name"))
        chat_id = _new_chat_id()
        event = Inbound(channel=web.CHANNEL, user_id=chat_id, chat_id=chat_id, kind=InboundKind.COMMAND,
                        command="start", args=code, display_name=name[:100])
        request = Request(event=event, session=session, now=now, settings=self.settings)
        replies = await onboarding.redeem(request, code)
        if request.person is None or not request.memberships:
            raise Refused(replies[0].text if replies else t("invite.unknown"))
        account = await web.web_account_of(session, request.person.id)
        for reply in replies:  # the welcome, with the person's menus, is the chat's first message
            drawn = Reply(reply.text, menu=registry.main_menu(request.memberships),
                          commands=registry.commands_for(request.memberships))
            await web.add_message(session, account.chat_id, reply_to_json(drawn), now)
        return account


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_chat_id() -> str:
    return "w" + secrets.token_hex(12)


class RateLimit:
    """At most `per_minute` events per key in any minute (a token bucket refilled continuously). In memory,
    per process: it slows guessing and floods down; single-use codes of 59 bits are what makes guessing futile."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.capacity = float(max(per_minute, 1))
        self.rate = self.capacity / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= self.max_keys:  # forget the full buckets: they allow as a new key would
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.capacity}
        self._buckets[key] = (tokens - cost, now)
        return True
