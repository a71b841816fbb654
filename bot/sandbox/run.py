"""``support-bot sandbox``: start the sandbox and keep it running until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from bot.sandbox.server import Sandbox, serve


async def run_sandbox(workdir: Path, host: str, port: int, llm_key: str | None) -> int:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    sandbox = Sandbox(workdir, llm_key=llm_key)
    try:
        await sandbox.start()
        runner = await serve(sandbox, host, port)
    except OSError as exc:
        await sandbox.stop()
        print(f"The sandbox cannot start: {exc}", file=sys.stderr)
        return 2
    mode = "with the real model" if llm_key else "offline (no OPENAI_API_KEY: article passages)"
    bound = runner.addresses[0][1] if runner.addresses else port
    print(
        f"Sandbox running {mode} at http://{host}:{bound}/ (a fresh workspace each run,"
        f" database in {workdir}/; Ctrl-C stops it)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await sandbox.stop()
    return 0
