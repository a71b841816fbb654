"""Running ``support-bot`` as a real separate process, for crash and start-up tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bot.sandbox.standin import SlackStandIn
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import database_url
from tests.utils.harness import (
    BOT_TOKEN,
    ESCALATION,
    LLM_KEY,
    OTHER_REVIEWER,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
)

SUPPORT_BOT = str(Path(sys.executable).with_name("support-bot"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    if os.environ.get("PYTHONPATH"):
        # Which code runs (a worktree's, say), not configuration: the child runs the same.
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def bot_env(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI | None, port: int
) -> dict[str, str]:
    env = base_env(tmp_path)
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": database_url(tmp_path),
            "SUPPORT_CHANNELS": SUPPORT,
            "ESCALATION_CHANNEL": ESCALATION,
            "SUPPORT_REVIEWERS": f"{REVIEWER},{OTHER_REVIEWER}",
            "LLM_TIMEOUT": "5",
            "LLM_MAX_RETRIES": "1",
            "JOB_RETRY_BASE_SECONDS": "0.1",
        }
    )
    if llm is not None:
        env["OPENAI_API_KEY"] = LLM_KEY
        env["OPENAI_BASE_URL"] = llm.url
    return env


class BotProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / "bot.log"

    async def start(self, port: int, timeout: float = 20.0) -> None:
        self.spawn()
        await self.wait_listening(port, timeout)

    def spawn(self) -> None:
        """Start ``support-bot start`` without waiting for it to listen."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [SUPPORT_BOT, "start"], env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def wait_listening(self, port: int, timeout: float = 20.0) -> None:
        """Wait until the spawned process accepts connections on ``port``."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited with {self.proc.returncode}: {self.output()}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise AssertionError(f"bot did not start listening: {self.output()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
