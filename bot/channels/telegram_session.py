"""aiogram's aiohttp session, made cheaper for what a chat bot sends most: short texts with buttons.

Two measured costs of aiogram's own session, for each reply (bench/flow_throughput.py, py-spy):
- A call is sent as a urlencoded form, with each complex field (a keyboard) JSON-encoded first and
  then percent-encoded byte by byte in Python: Vietnamese text and a 14-button keyboard cost about
  180 µs. Sent as one JSON body, which the Bot API accepts for any call without files, about 50 µs.
- The answer is validated into a full `Message`, keyboard included (about 100 µs), though we never
  read what sendMessage and its kin return. Those answers are checked for `ok` only; an error still
  goes through aiogram's own checks, so its exceptions (retry after, forbidden…) are unchanged.

Calls that upload files keep aiogram's multipart form. getUpdates' answer is kept as the JSON Telegram sent:
the updates are stored raw (the inbox) and parsed into aiogram's types only when handled.
"""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods.base import Response, TelegramMethod
from aiohttp import BytesPayload, FormData

# Calls whose result the bot never reads: a successful answer needs no parsing into types.
RESULTS_UNREAD = frozenset({
    methods.SendMessage, methods.SendPhoto, methods.SendMediaGroup, methods.AnswerCallbackQuery,
    methods.SetMyCommands, methods.DeleteMyCommands,
})
_UNREAD = Response[Any](ok=True, result=None)
_OK = 200


class LeanSession(AiohttpSession):
    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData | BytesPayload:
        files: dict[str, Any] = {}
        fields = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if value is not None and value != "":  # what aiogram's form leaves out
                fields[key] = value
        if files:
            return super().build_form_data(bot, method)
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        return BytesPayload(body, content_type="application/json")

    def check_response(self, bot: Bot, method: TelegramMethod[Any], status_code: int,
                       content: str) -> Response[Any]:
        if status_code == _OK and type(method) in RESULTS_UNREAD and self._says_ok(content):
            return _UNREAD
        if status_code == _OK and type(method) is methods.GetUpdates:
            answer = self._answer(content)
            if answer is not None and isinstance(answer.get("result"), list):
                return Response[Any].model_construct(ok=True, result=answer["result"])  # raw dicts
        return super().check_response(bot, method, status_code, content)

    def _answer(self, content: str) -> dict[str, Any] | None:
        try:
            answer = self.json_loads(content)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) and answer.get("ok") is True else None

    def _says_ok(self, content: str) -> bool:
        return self._answer(content) is not None
