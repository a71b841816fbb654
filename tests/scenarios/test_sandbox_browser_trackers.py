"""The sandbox's issue tracker in a real browser: the reviewer files an issue from the card, closes
it in the page's "Issue tracker" list, and sends the customer the drafted update."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.sandbox.server import CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT, Sandbox, serve
from bot.slack import ids

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "sandbox").mkdir()
    box = Sandbox(tmp_path / "sandbox")
    await box.start()
    runner: web.AppRunner = await serve(box, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()
        await box.stop()


async def test_file_close_and_tell_in_a_browser(sandbox: str) -> None:
    assert Path(CHROMIUM).exists(), "Chromium is needed for the browser test"
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 760})
            await page.goto(sandbox)
            await page.wait_for_selector("#who")
            await page.select_option("#who", CUSTOMER.id)
            await page.click(f"[data-pane={SUPPORT.id}]")
            composer = page.locator(".pane > .composer .composer-input")
            await composer.fill("the label printer page crashes every time 😬")
            await composer.press("Enter")
            await page.wait_for_selector("text=passed it to the team", timeout=15_000)

            await page.select_option("#who", REVIEWER.id)
            await page.click(f"[data-pane={ESCALATIONS.id}]")
            create = page.locator(f"button[data-action-id={ids.ACTION_CREATE_ISSUE}]")
            await create.wait_for(timeout=15_000)
            await page.wait_for_selector("text=No issues yet")
            await create.click()
            close = page.locator("[data-issue='1'] .nav-close")
            await close.wait_for(timeout=15_000)
            await page.wait_for_selector("text=· open", timeout=15_000)  # the card links it
            await close.click()
            await page.wait_for_selector("[data-issue='1'] .nav-closed", timeout=15_000)
            send = page.locator(f"button[data-action-id={ids.ACTION_ISSUE_TELL}]")
            await send.wait_for(timeout=15_000)
            await send.click()

            await page.select_option("#who", CUSTOMER.id)
            await page.click(f"[data-pane={SUPPORT.id}]")
            update = page.locator(".replies .message", has_text="closed as fixed")
            await update.wait_for(timeout=15_000)
        finally:
            await browser.close()
