"""The sandbox page in a real browser with a customer who writes German (offline, as the
sandbox runs): the German holding reply, the card's language line, and an English edit that
waits on the card until the reviewer sends it as written."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.server import CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT, Sandbox
from bot.slack.blocks.locales import STRINGS
from tests.scenarios.test_sandbox_browser import sandbox
from tests.utils.browser import CHROMIUM, customer_asks, sandbox_page

__all__ = ["sandbox"]  # the fixture, from the sandbox's browser test

REPLY = "Open the order, click the label and choose Void label (within 14 days)."


async def test_a_german_customer_in_a_browser(sandbox: tuple[Sandbox, str]) -> None:
    _box, sandbox_url = sandbox
    assert Path(CHROMIUM).exists(), "Chromium is needed: `make install` installs it"

    async with sandbox_page(sandbox_url) as page:
        await customer_asks(
            page,
            "Hallo! Ich habe gestern aus Versehen ein Etikett für Bestellung #55123 gedruckt."
            " Kann ich es noch stornieren und bekomme ich mein Geld zurück?",
        )
        await page.wait_for_selector(f"text={STRINGS['de']['holding'][:40]}", timeout=15_000)

        await page.select_option("#who", REVIEWER.id)
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        await page.wait_for_selector("text=Language: German", timeout=15_000)
        await page.locator("button[data-action-id=escalation_edit]").click()
        form = page.locator(".modal")
        await form.wait_for(timeout=15_000)
        await form.locator("text=The customer writes German").wait_for(timeout=5_000)
        await form.locator("textarea").fill(REPLY)
        await form.locator("button[type=submit]").click()
        await form.wait_for(state="detached", timeout=15_000)
        await page.wait_for_selector("text=could not be translated into German", timeout=15_000)
        await page.locator("button[data-action-id^=escalation_send_as_written]").click()
        await page.wait_for_selector("text=Edited reply sent", timeout=15_000)

        await page.select_option("#who", CUSTOMER.id)
        await page.click(f"[data-pane={SUPPORT.id}]")
        answer = page.locator(".replies .message", has_text="choose Void label (within 14")
        await answer.wait_for(timeout=15_000)
