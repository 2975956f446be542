"""`nguoitot run|worker|sender` as processes of their own, on the test's database, against a fake server in the
test's process: for what only a real process shows (SIGKILL, SIGTERM, several workers)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[1]
_numbers = itertools.count(1)
# How long a new bot process may take to be ready: importing aiogram's types alone takes 3-8 s of CPU, and
# up to a minute on a loaded 2-core machine with three processes starting together.
START_SECONDS = 180
START_AT = datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))  # as tests/conftest.py's frozen clock


class BotProcess:
    def __init__(self, settings, server: FakeTelegramServer, folder: Path, command: str = "run", **env: str) -> None:
        self.server = server
        self.command = command
        self.folder = folder
        self.log_path = folder / f"{command}-{next(_numbers)}.log"
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
                    "DATABASE_URL": settings.database_url, "DATABASE_SCHEMA": settings.database_schema,
                    "MEDIA_DIR": str(settings.media_dir), "LOG_LEVEL": "INFO", "HTTP_PORT": "0",
                    "ALBUM_WAIT_SECONDS": str(settings.album_wait_seconds), "PYTHONPATH": str(ROOT), **env}
        self.process: subprocess.Popen | None = None

    def spawn(self) -> BotProcess:
        """Start the interpreter and import the bot (a few seconds: aiogram's types), then wait for `start`:
        a test that restarts the bot often keeps the next one ready."""
        if self.process is None:
            self.process = self._spawn()
        return self

    async def start(self, *, wait_for_polling: bool = True) -> BotProcess:
        polls = len(self.server.calls_named("getUpdates"))
        self.spawn()
        self.process.stdin.write(b"go\n")
        self.process.stdin.close()
        if wait_for_polling:
            await self.server.wait_for(lambda: len(self.server.calls_named("getUpdates")) > polls
                                       or self.process.poll() is not None, timeout=START_SECONDS,
                                       what=f"{self.command} to start polling")
            assert self.process.poll() is None, self.log()
        return self

    def _spawn(self) -> subprocess.Popen:
        # The process's clock runs from the in-process tests' instant, not today's date: on a reminder
        # morning (14 days before a quarter's deadline, say) reminders would join the replies a test counts.
        ready = (f"import sys, tests.shifted_clock; tests.shifted_clock.install({START_AT.isoformat()!r}); "
                 f"import bot.cli; sys.stdin.readline(); sys.exit(bot.cli.main([{self.command!r}]))")
        with open(self.log_path, "ab") as log:  # Popen returns at once: the process is awaited on the fake
            return subprocess.Popen([sys.executable, "-c", ready], env=self.env, cwd=self.folder,
                                    stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing said goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        if self.process is not None and self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()

    async def terminate(self, within: float = 30.0) -> int:
        """SIGTERM, and the exit code once it has stopped (at most `within` seconds later)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, within)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


_FORK_SERVER = f"""
import os, sys, threading
import tests.shifted_clock
tests.shifted_clock.install({START_AT.isoformat()!r})  # see BotProcess._spawn
import bot.cli  # imported once, here: every bot is a fork of this process

def reap():
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            threading.Event().wait(0.05)
            continue
        print("exit", pid, os.waitstatus_to_exitcode(status), flush=True)

threading.Thread(target=reap, daemon=True).start()
print("ready 0", flush=True)
for line in sys.stdin:
    command, log = line.rstrip("\\n").split(" ", 1)
    pid = os.fork()
    if pid == 0:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        code = 1
        try:
            code = bot.cli.main([command])
        finally:
            os._exit(code)
    print("pid", pid, flush=True)
"""


class ForkServer:
    """Starts bot processes in a fraction of a second: one interpreter imports the bot (a few seconds of
    aiogram's types) and forks a process for each start. For a test that restarts the bot twenty times."""

    def __init__(self, settings, server: FakeTelegramServer, folder: Path, *, ready_call: str = "getUpdates",
                 **env: str) -> None:
        self.template = BotProcess(settings, server, folder, **env)
        self.server = server
        self.ready_call = ready_call  # the call a started bot makes once it receives (getUpdates; setWebhook)
        self._process: asyncio.subprocess.Process | None = None
        self._pids: asyncio.Queue[int] = asyncio.Queue()
        self._ready: asyncio.Future[None] | None = None
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._reader: asyncio.Task | None = None

    async def open(self) -> ForkServer:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _FORK_SERVER, env=self.template.env, cwd=self.template.folder,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        # Importing the bot (aiogram's types) takes seconds, many more on a loaded machine: wait for it once.
        await asyncio.wait_for(asyncio.shield(self._ready), START_SECONDS)
        return self

    async def start(self) -> ForkedBot:
        """A new bot process, once the fake server has seen it poll."""
        polls = len(self.server.calls_named(self.ready_call))
        log = self.template.folder / f"run-{next(_numbers)}.log"
        self._process.stdin.write(f"run {log}\n".encode())
        await self._process.stdin.drain()
        pid = await asyncio.wait_for(self._pids.get(), 30)
        self._exits[pid] = asyncio.get_running_loop().create_future()
        bot = ForkedBot(pid, log, self._exits[pid])
        await self.server.wait_for(lambda: len(self.server.calls_named(self.ready_call)) > polls or bot.exited,
                                   timeout=START_SECONDS, what=f"a forked bot to call {self.ready_call}")
        assert not bot.exited, bot.log()
        return bot

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        while line := await self._process.stdout.readline():
            word, pid, *rest = line.decode().split()
            if word == "ready":
                self._ready.set_result(None)
            elif word == "pid":
                await self._pids.put(int(pid))
            elif int(pid) in self._exits and not self._exits[int(pid)].done():
                self._exits[int(pid)].set_result(int(rest[0]))


@dataclass
class ForkedBot:
    pid: int
    log_path: Path
    exit_code: asyncio.Future[int]

    @property
    def exited(self) -> bool:
        return self.exit_code.done()

    def kill(self) -> None:
        if not self.exited:
            os.kill(self.pid, signal.SIGKILL)

    async def terminate(self, within: float = 30.0) -> int:
        os.kill(self.pid, signal.SIGTERM)
        return await asyncio.wait_for(asyncio.shield(self.exit_code), within)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
