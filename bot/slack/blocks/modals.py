"""The modals a reviewer or admin fills in: Edit, Redraft, Answer the bot, and the article
form of ``/support kb add`` and "Save as article" with its interim and closing views.

Each returns a ``views.open`` / ``views.update`` payload within Slack's limits; what a person
types in an input is submitted as typed.
"""

from __future__ import annotations

import json
from typing import Any

from bot.slack import ids
from bot.slack.blocks.common import Block, context, mrkdwn, plain, section
from bot.slack.limits import (
    INPUT_LABEL_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    OPTION_TEXT_MAX,
    PLACEHOLDER_MAX,
    PLAIN_INPUT_MAX,
)
from bot.slack.text import escape, truncate, truncate_escaped

# Our caps on what a person may type (Slack allows up to PLAIN_INPUT_MAX in any input).
ARTICLE_TITLE_MAX = 150  # an article's title (saved_articles.py cuts generated ones to it)
FEEDBACK_MAX = 2000  # a reviewer's feedback on a draft (redraft.py refuses longer)


def edit_modal(
    *,
    escalation_id: int,
    draft: str,
    question: str,
    language: str | None = None,
    question_english: str | None = None,
) -> dict[str, Any]:
    """The Edit modal: the draft in a multi-line input; what is submitted is sent verbatim.
    ``language``: the customer's, when not English (an edit in another language is translated
    and shown on the card before it is sent), with the question in English if known."""
    note = (
        [
            *(
                [context("🇬🇧 *In English:* " + truncate_escaped(question_english, 1500))]
                if question_english
                else []
            ),
            context(
                f"The customer writes {language}. Write the reply in {language}, or in English:"
                f" the bot then translates it, and the card shows the {language} text for you to"
                " send."
            ),
        ]
        if language
        else []
    )
    return {
        "type": "modal",
        "callback_id": ids.VIEW_EDIT,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": plain("Edit reply", MODAL_TITLE_MAX),
        "submit": plain("Send reply", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            {
                "type": "context",
                "elements": [mrkdwn("*Question:* " + truncate_escaped(question, 1500))],
            },
            *note,
            {
                "type": "input",
                "block_id": ids.BLOCK_EDIT_TEXT,
                "label": plain("Reply to send in the customer's thread", INPUT_LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_EDIT_TEXT,
                    "multiline": True,
                    "max_length": PLAIN_INPUT_MAX,
                    **({"initial_value": draft[:PLAIN_INPUT_MAX]} if draft else {}),
                },
            },
        ],
    }


SHOWN_TO_EVERY_CUSTOMER = (
    ":warning: *Every customer will see this article.* The bot answers anyone's question from"
    " it and names its title under its answers. Leave out names, companies, account, order and"
    " invoice numbers, amounts, card numbers, e-mail addresses, phone numbers and links to a"
    " customer's Slack workspace."
)


def kb_add_modal(
    *,
    title: str = "",
    body: str = "",
    callback_id: str = ids.VIEW_KB_ADD,
    private_metadata: str = "",
    note: str = "",
) -> dict[str, Any]:
    """The article form: empty for ``/support kb add``, pre-filled for "Save as article" (with
    ``note`` saying how the pre-filled text was generalised). Both say who will read it."""

    def field(block_id: str, label: str, element: dict[str, Any], optional: bool) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": plain(label, INPUT_LABEL_MAX),
            "element": element,
        }

    title_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_KB_TITLE,
        "max_length": ARTICLE_TITLE_MAX,
    }
    if title.strip():
        title_input["initial_value"] = title.strip()[:ARTICLE_TITLE_MAX]
    body_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_KB_BODY,
        "multiline": True,
        "max_length": PLAIN_INPUT_MAX,
    }
    if body.strip():
        body_input["initial_value"] = body.strip()[:PLAIN_INPUT_MAX]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(
            "Add an article" if callback_id == ids.VIEW_KB_ADD else "Save as article",
            MODAL_TITLE_MAX,
        ),
        "submit": plain("Add" if callback_id == ids.VIEW_KB_ADD else "Save", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            context(SHOWN_TO_EVERY_CUSTOMER),
            *([context(note)] if note else []),
            field(ids.BLOCK_KB_TITLE, "Title", title_input, False),
            field(
                ids.BLOCK_KB_BODY,
                "Text (Markdown headings split it into sections)",
                body_input,
                False,
            ),
            field(
                ids.BLOCK_KB_URL,
                "Link to the article (optional)",
                {"type": "url_text_input", "action_id": ids.ACTION_KB_URL},
                True,
            ),
        ],
    }
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def article_preparing_modal(*, private_metadata: str) -> dict[str, Any]:
    """What "Save as article" shows while the model writes the general version: the form
    replaces it (``views.update``) within seconds."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_SAVE_ARTICLE,
        "private_metadata": private_metadata,
        "title": plain("Save as article", MODAL_TITLE_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            section(
                ":hourglass_flowing_sand: Writing a general version of this reply, without this"
                " customer's names, numbers and links… The form appears here in a few seconds."
            ),
            context(SHOWN_TO_EVERY_CUSTOMER),
        ],
    }


def article_unavailable_view(text: str) -> dict[str, Any]:
    """Replaces a "Save as article" form that can no longer be filled (the card changed)."""
    return {
        "type": "modal",
        "title": plain("Save as article", MODAL_TITLE_MAX),
        "close": plain("Close", MODAL_BUTTON_MAX),
        "blocks": [section(escape(text))],
    }


def redraft_modal(*, escalation_id: int, draft: str, left: int) -> dict[str, Any]:
    """Reject with feedback: what is wrong with the draft; the bot writes a new one."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_REDRAFT,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": plain("Redraft", MODAL_TITLE_MAX),
        "submit": plain("Redraft", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            context("*Current draft:* " + truncate(draft, 2800)),
            {
                "type": "input",
                "block_id": ids.BLOCK_FEEDBACK,
                "label": plain("What should the bot change?", INPUT_LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_FEEDBACK,
                    "multiline": True,
                    "max_length": FEEDBACK_MAX,
                    "placeholder": plain(
                        "e.g. Mention that exports are limited to 10,000 rows", PLACEHOLDER_MAX
                    ),
                },
            },
            context(f"The new draft replaces this one on the card. Redrafts left: {left}."),
        ],
    }


ANSWER_MODE_REVIEW = "review"
ANSWER_MODE_SEND = "send"


def answer_question_modal(
    *, escalation_id: int, question: str, customer_question: str
) -> dict[str, Any]:
    """Ask the developer: the bot's one open question, answered by a teammate."""

    def option(value: str, text: str) -> Block:
        return {"text": plain(text, OPTION_TEXT_MAX), "value": value}

    review = option(ANSWER_MODE_REVIEW, "Compose a reply for my approval")
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ANSWER_QUESTION,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": plain("Answer the bot", MODAL_TITLE_MAX),
        "submit": plain("Compose reply", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            context("*Customer:* " + truncate_escaped(customer_question, 1500)),
            section("*The bot asks:* " + truncate_escaped(question, 1500)),
            {
                "type": "input",
                "block_id": ids.BLOCK_ANSWER,
                "label": plain("Your answer (the bot writes the reply from it)", INPUT_LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_ANSWER,
                    "multiline": True,
                    "max_length": PLAIN_INPUT_MAX,
                },
            },
            {
                "type": "input",
                "block_id": ids.BLOCK_ANSWER_MODE,
                "label": plain("Then", INPUT_LABEL_MAX),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.ACTION_ANSWER_MODE,
                    "initial_option": review,
                    "options": [review, option(ANSWER_MODE_SEND, "Compose and send at once")],
                },
            },
        ],
    }


def kb_added_view(*, article_id: int, title: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Article added", MODAL_TITLE_MAX),
        "close": plain("Done", MODAL_BUTTON_MAX),
        "blocks": [
            section(
                f"Added article #{article_id}, *{truncate_escaped(title, 200)}*. The bot uses it"
                " from the next question on."
            )
        ],
    }
