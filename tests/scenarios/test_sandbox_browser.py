"""The sandbox page in a real browser (Debian's Chromium, headless, driven by Playwright): ask as
the customer, see the card as the reviewer, click Edit, submit, and see the reply in the
customer's thread. ``SANDBOX_SCREENSHOTS=docs/screenshots`` keeps a screenshot of each pane."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.server import ADMIN, CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT, Sandbox
from tests.utils.browser import CHROMIUM, customer_asks, running_sandbox, sandbox_page


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    async with running_sandbox(tmp_path) as running:
        yield running


async def test_the_whole_loop_in_a_browser(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    box, sandbox_url = sandbox
    assert Path(CHROMIUM).exists(), (
        "Chromium is needed for the browser test: `make install` installs Debian's chromium"
    )

    shots = Path(os.environ.get("SANDBOX_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    async with sandbox_page(sandbox_url) as page:
        # The customer asks in the shared channel.
        await customer_asks(
            page,
            "Hi team! I printed a label by mistake yesterday for order #55123, can I still"
            " void it and get my money back?",
        )
        await page.wait_for_selector("text=passed it to the team", timeout=15_000)
        await page.screenshot(path=str(shots / "customer.png"))

        # The reviewer sees the card and edits the draft.
        await page.select_option("#who", REVIEWER.id)
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        edit = page.locator("button[data-action-id=escalation_edit]")
        await edit.wait_for(timeout=15_000)
        await page.screenshot(path=str(shots / "escalation-card.png"))

        # The App Home tab renders the review queue from its Block Kit.
        await page.click("[data-pane=home]")
        await page.wait_for_selector("text=Waiting for review (1)", timeout=15_000)
        await page.screenshot(path=str(shots / "app-home.png"))
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        await edit.click()
        form = page.locator(".modal")
        await form.wait_for(timeout=15_000)
        reply = "Open the order, click the label and choose Void label (within 14 days)."
        await form.locator("textarea").fill(reply)
        await page.screenshot(path=str(shots / "edit-modal.png"))
        await form.locator("button[type=submit]").click()
        await form.wait_for(state="detached", timeout=15_000)
        await page.wait_for_selector("text=Edited reply sent", timeout=15_000)

        # The customer sees the reviewer's words in their thread.
        await page.select_option("#who", CUSTOMER.id)
        await page.click(f"[data-pane={SUPPORT.id}]")
        answer = page.locator(".replies .message", has_text="choose Void label (within 14")
        await answer.wait_for(timeout=15_000)
        await page.screenshot(path=str(shots / "customer-answered.png"))

        # The admin changes a setting in the settings form (every kind of input in it is
        # read back from the page: selects, multi-selects, a number, text, checkboxes).
        await page.select_option("#who", ADMIN.id)
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        composer = page.locator(".pane > .composer .composer-input")
        await composer.fill("/support config")
        await composer.press("Enter")
        form = page.locator(".modal")
        await form.wait_for(timeout=15_000)
        await form.locator("input[type=number]").fill("0.85")
        await page.screenshot(path=str(shots / "settings.png"))
        await form.locator("button[type=submit]").click()
        await form.wait_for(state="detached", timeout=15_000)
        assert box.runtime is not None and box.runtime.services is not None
        config = box.runtime.services.config
        for _ in range(100):
            if (await config.refresh()).threshold == 0.85:
                break
            await page.wait_for_timeout(50)
        assert config.current.threshold == 0.85
        assert config.current.reviewers == {REVIEWER.id}  # the rest kept as it was
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "app-home.png",
        "customer-answered.png",
        "customer.png",
        "edit-modal.png",
        "escalation-card.png",
        "settings.png",
    ]


async def test_every_block_kind_the_page_renders(sandbox: tuple[Sandbox, str]) -> None:
    """Block Kit the bot may send, rendered from the message's blocks: header, section with
    fields and an accessory, context with an image, divider, actions, an image block (as a
    link), and Slack's mrkdwn (bold at word boundaries only, links, mentions)."""
    from playwright.async_api import async_playwright

    box, url = sandbox
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Weekly digest"}},
        {
            "type": "section",
            "block_id": "s1",
            "text": {
                "type": "mrkdwn",
                "text": "*Bold* and OPENAI_API_KEY and <https://x.test|a link> for <@UDANA>",
            },
            "fields": [
                {"type": "mrkdwn", "text": "*Asked*\n12"},
                {"type": "plain_text", "text": "Answered 9"},
            ],
            "accessory": {
                "type": "button",
                "action_id": "acc",
                "value": "1",
                "text": {"type": "plain_text", "text": "Open"},
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "chart"},
                {"type": "mrkdwn", "text": "small print"},
            ],
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "a1",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "style": "danger",
                    "value": "2",
                    "text": {"type": "plain_text", "text": "Do it"},
                }
            ],
        },
        {"type": "image", "image_url": "https://x.test/big.png", "alt_text": "the big picture"},
    ]
    box.slack.add_message(
        ESCALATIONS.id, None, "digest", box.slack.bot_user_id, blocks=blocks, bot_id="BBOT"
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(url)
            await page.wait_for_selector("#who")
            await page.select_option("#who", REVIEWER.id)
            await page.click(f"[data-pane={ESCALATIONS.id}]")
            await page.wait_for_selector(".bk-header:text('Weekly digest')")
            section = page.locator(".bk-section")
            assert await section.locator("b").first.inner_text() == "Bold"
            assert "OPENAI_API_KEY" in await section.inner_text()  # no stray italics
            assert await section.locator("a[href='https://x.test']").inner_text() == "a link"
            assert "@Dana Kim" in await section.locator(".mention").inner_text()
            assert await page.locator(".bk-fields > div").count() == 2
            assert await page.locator("button[data-action-id=acc]").inner_text() == "Open"
            assert "chart" in await page.locator(".bk-context a").inner_text()
            assert await page.locator(".bk-divider").count() >= 1
            assert "danger" in (
                await page.locator("button[data-action-id=go]").get_attribute("class") or ""
            )
            link = page.locator(".bk-image a")
            assert await link.get_attribute("href") == "https://x.test/big.png"
            assert "the big picture" in await link.inner_text()
        finally:
            await browser.close()


async def test_a_reaction_added_on_the_page_claims_the_ticket(
    sandbox: tuple[Sandbox, str],
) -> None:
    box, sandbox_url = sandbox

    async with sandbox_page(sandbox_url) as page:
        await customer_asks(page, "my tracking page is blank since this morning, can someone look")
        await page.wait_for_selector("text=passed it to the team", timeout=15_000)

        # The reviewer reacts :eyes: on Dana's message from the page's emoji picker.
        await page.select_option("#who", REVIEWER.id)
        await page.click(f"[data-pane={SUPPORT.id}]")
        root = page.locator(".thread > .message").first
        await root.locator(".react-picker").select_option("eyes")
        await root.locator("[data-reaction=eyes]").wait_for(timeout=15_000)
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        await page.wait_for_selector("text=Claimed by", timeout=15_000)
        assert box.runtime is not None and box.runtime.db is not None
        rows = await box.runtime.db.fetchall("SELECT owner_user_id FROM tickets")
        assert [r["owner_user_id"] for r in rows] == [REVIEWER.id]


async def test_a_customer_attaches_a_file_in_the_browser(sandbox: tuple[Sandbox, str]) -> None:
    _box, sandbox_url = sandbox
    from playwright.async_api import FilePayload

    async with sandbox_page(sandbox_url) as page:
        await page.select_option("#who", CUSTOMER.id)
        await page.click(f"[data-pane={SUPPORT.id}]")
        await page.set_input_files(
            f"[data-attach='channel-{SUPPORT.id}']",
            files=[
                FilePayload(
                    name="label-error.log",
                    mimeType="text/plain",
                    buffer=b"ERROR void failed for order 55123\n",
                )
            ],
        )
        await page.wait_for_selector(".attached >> text=label-error.log", timeout=15_000)
        composer = page.locator(".pane > .composer .composer-input")
        await composer.fill("cant void this label, log attached")
        await composer.press("Enter")
        # The message shows its file, and the card lists it for the reviewer.
        await page.wait_for_selector(".message .file >> text=label-error.log", timeout=15_000)
        await page.select_option("#who", REVIEWER.id)
        await page.click(f"[data-pane={ESCALATIONS.id}]")
        await page.wait_for_selector("text=1 file not read", timeout=15_000)
        await page.wait_for_selector("text=label-error.log", timeout=15_000)
