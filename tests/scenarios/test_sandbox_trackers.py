"""The sandbox's issue tracker, driven through the page's JSON API as the page drives it:
Create issue on a card files it in the sandbox's tracker, closing it there sends the bot the
signed webhook, the reviewer sees the note and sends the customer the update."""

from __future__ import annotations

from bot.sandbox.server import CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT
from bot.slack import ids
from tests.scenarios.test_sandbox import Json, Page, buttons, messages, page

__all__ = ["page"]


async def click(page: Page, message: Json, action_id: str, user: str = REVIEWER.id) -> None:
    button = buttons(message)[action_id]
    await page.post(
        "action",
        {
            "user": user,
            "channel": message["channel"],
            "message_ts": message["ts"],
            "action_id": action_id,
            "block_id": button["block_id"],
            "value": button["value"],
        },
    )


async def test_create_issue_close_it_and_tell_the_customer(page: Page) -> None:
    sent = await page.post(
        "message",
        {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "the label printer page crashes 😬"},
    )
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    assert (await page.state())["issues"] == []
    await click(page, card, ids.ACTION_CREATE_ISSUE)
    issues = await page.until(lambda s: s["issues"])
    assert issues[0]["number"] == 1 and issues[0]["state"] == "open"
    assert await page.until(lambda s: "#1" in str(messages(s, ESCALATIONS.id)[0]["blocks"])), (
        "the card links the issue"
    )

    await page.post("close-issue", {"number": 1})
    note = await page.until(
        lambda s: next(
            (m for m in messages(s, ESCALATIONS.id) if m["thread_ts"] == card["ts"]), None
        )
    )
    assert "was closed" in note["text"]
    assert (await page.state())["issues"][0]["state"] == "closed"
    await page.post("close-issue", {"number": 1}, status=400)  # closed already: said so

    await click(page, note, ids.ACTION_ISSUE_TELL)
    told = await page.until(
        lambda s: [
            m
            for m in messages(s, SUPPORT.id)
            if m["thread_ts"] == sent["ts"] and "issue" in (m["text"] or "")
        ]
    )
    assert "fixed" in told[0]["text"]
