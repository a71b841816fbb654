"""Issues filed from review cards: the note in the card's thread when one closed, with the
message offered to the customer (Send, Edit and send, Don't send), and its edit form."""

from __future__ import annotations

import json
from typing import Any

from bot.slack import ids
from bot.slack.blocks.common import Block, OutgoingMessage, button, context, plain, section
from bot.slack.limits import (
    INPUT_LABEL_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    PLAIN_INPUT_MAX,
)
from bot.slack.text import escape, truncate_escaped


def issue_link(key: str, url: str) -> str:
    """``<url|key>`` with nothing in either that could end the link early."""
    safe_url = "".join(c for c in url if c not in "<>| \n")
    return (
        f"<{safe_url}|{escape(key)}>"
        if safe_url.startswith(("http://", "https://"))
        else escape(key)
    )


def issue_closed_message(
    *,
    issue_row_id: int,
    ticket_id: int,
    tracker: str,
    key: str,
    url: str,
    resolution: str,
    mentions: list[str],
    groups: list[str],
    draft: str,
    how: str,
) -> OutgoingMessage:
    """In the card's thread: whoever owns the ticket (or the reviewers) hears the issue closed,
    and gets the drafted message for the customer to send, edit or leave unsent."""
    who = " ".join([*(f"<@{u}>" for u in mentions[:20]), *(f"<!subteam^{g}>" for g in groups)])
    lead = f"{who} " if who else ""
    line = (
        f"{lead}🎫 {escape(tracker)} issue {issue_link(key, url)} for ticket #{ticket_id} was"
        f" closed ({truncate_escaped(resolution, 80)}). Tell the customer?"
    )
    value = str(issue_row_id)
    blocks: list[Block] = [
        section(line),
        section("*Message for the customer*\n" + truncate_escaped(draft, 2800)),
        context(f"Drafted by {how}. Nothing is sent until a reviewer sends it."),
        {
            "type": "actions",
            "block_id": "issue_closed",
            "elements": [
                button(ids.ACTION_ISSUE_TELL, "Send to the customer", value, "primary"),
                button(ids.ACTION_ISSUE_EDIT, "Edit and send", value),
                button(ids.ACTION_ISSUE_DISMISS, "Don't send", value),
            ],
        },
    ]
    text = f"{lead}{tracker} issue {key} for ticket #{ticket_id} was closed. Tell the customer?"
    return OutgoingMessage(text=text, blocks=blocks)


def issue_message_modal(*, issue_row_id: int, text: str) -> dict[str, Any]:
    """Edit the message offered to the customer; what is submitted is sent verbatim."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ISSUE_MESSAGE,
        "private_metadata": json.dumps({"issue_id": issue_row_id}),
        "title": plain("Tell the customer", MODAL_TITLE_MAX),
        "submit": plain("Send", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.BLOCK_ISSUE_MESSAGE,
                "label": plain("Message to send in the customer's thread", INPUT_LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_ISSUE_MESSAGE,
                    "multiline": True,
                    "max_length": PLAIN_INPUT_MAX,
                    **({"initial_value": text[:PLAIN_INPUT_MAX]} if text else {}),
                },
            }
        ],
    }
