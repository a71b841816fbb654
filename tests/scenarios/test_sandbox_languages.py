"""The sandbox with a customer who writes German (offline, as the sandbox runs without a key):
the holding reply in German, the card in the reviewer's language with the customer's words, and
an English edit shown as "cannot be translated" until the reviewer sends it as written."""

from __future__ import annotations

from bot.sandbox.server import CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT
from bot.slack.blocks.locales import STRINGS
from tests.scenarios.test_sandbox import Page, buttons, messages, page

__all__ = ["page"]  # the fixture, from the sandbox's own tests

QUESTION = (
    "Hallo! Ich habe gestern aus Versehen ein Etikett für Bestellung #55123 gedruckt. Kann ich es"
    " noch stornieren und bekomme ich mein Geld zurück?"
)
EDIT = "Open the order, click the label and choose Void label (within 14 days)."


async def test_a_german_customer_in_the_sandbox(page: Page) -> None:
    sent = await page.post(
        "message", {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": QUESTION}
    )
    holding = await page.until(
        lambda s: [m for m in messages(s, SUPPORT.id) if m["thread_ts"] == sent["ts"]]
    )
    assert holding[0]["text"] == STRINGS["de"]["holding"]
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    shown = str(card["blocks"])
    assert "Language: German" in shown and "Bestellung #55123" in shown
    assert "English translation unavailable" in shown

    edit = buttons(card)["escalation_edit"]
    await page.post(
        "action",
        {
            "user": REVIEWER.id,
            "channel": ESCALATIONS.id,
            "message_ts": card["ts"],
            "action_id": edit["action_id"],
            "block_id": edit["block_id"],
            "value": edit["value"],
        },
    )
    modal = await page.until(lambda s: s["modals"].get(REVIEWER.id))
    field = next(b for b in modal["view"]["blocks"] if b["type"] == "input")
    await page.post(
        "submit",
        {
            "user": REVIEWER.id,
            "view_id": modal["view"]["id"],
            "values": {
                field["block_id"]: {
                    field["element"]["action_id"]: {"type": "plain_text_input", "value": EDIT}
                }
            },
        },
    )
    held = await page.until(
        lambda s: next(
            (
                m
                for m in messages(s, ESCALATIONS.id)
                if "could not be translated into German" in str(m["blocks"])
            ),
            None,
        )
    )
    state = await page.state()
    assert not [m for m in messages(state, SUPPORT.id) if m["text"] == EDIT]  # not sent yet
    send = next(v for k, v in buttons(held).items() if k.startswith("escalation_send_as_written"))
    await page.post(
        "action",
        {
            "user": REVIEWER.id,
            "channel": ESCALATIONS.id,
            "message_ts": held["ts"],
            "action_id": send["action_id"],
            "block_id": send["block_id"],
            "value": send["value"],
        },
    )
    reply = await page.until(lambda s: [m for m in messages(s, SUPPORT.id) if m["text"] == EDIT])
    assert len(reply) == 1 and reply[0]["thread_ts"] == sent["ts"]
