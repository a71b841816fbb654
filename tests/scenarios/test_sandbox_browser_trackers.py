"""The sandbox's issue tracker in a real browser: the reviewer files an issue from the card, closes
it in the page's "Issue tracker" list, and sends the customer the drafted update."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.server import CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT
from bot.slack import ids
from tests.utils.browser import CHROMIUM, customer_asks, running_sandbox, sandbox_page


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[str]:
    async with running_sandbox(tmp_path) as (_, url):
        yield url


async def test_file_close_and_tell_in_a_browser(sandbox: str) -> None:
    assert Path(CHROMIUM).exists(), "Chromium is needed for the browser test"

    async with sandbox_page(sandbox) as page:
        await customer_asks(page, "the label printer page crashes every time 😬")
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
