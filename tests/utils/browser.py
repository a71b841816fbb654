"""The sandbox page in a real browser (Debian's Chromium, headless, driven by Playwright): what
the browser tests share."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.sandbox.server import CUSTOMER, SUPPORT, Sandbox, serve

if TYPE_CHECKING:
    from playwright.async_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@asynccontextmanager
async def running_sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    """A sandbox in ``tmp_path`` served on 127.0.0.1, and its page's URL."""
    (tmp_path / "sandbox").mkdir()
    box = Sandbox(tmp_path / "sandbox")
    await box.start()
    runner: web.AppRunner = await serve(box, "127.0.0.1", 0)
    try:
        yield box, f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()
        await box.stop()


@asynccontextmanager
async def sandbox_page(url: str) -> AsyncIterator[Page]:
    """The sandbox page open in headless Chromium, its role picker loaded."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 760})
            await page.goto(url)
            await page.wait_for_selector("#who")
            yield page
        finally:
            await browser.close()


async def customer_asks(page: Page, text: str) -> None:
    """Dana writes ``text`` in the shared support channel."""
    await page.select_option("#who", CUSTOMER.id)
    await page.click(f"[data-pane={SUPPORT.id}]")
    composer = page.locator(".pane > .composer .composer-input")
    await composer.fill(text)
    await composer.press("Enter")
