"""Customer satisfaction: "How did we do?" in the customer's thread with five score buttons,
the same message once a rating is recorded (with "Add a comment"), and the comment's form.

The message in the thread is seen by everyone in the channel: once rated it says only that a
rating was recorded, never the score or the comment (the rater hears those privately). All of it
is in the ticket's language (``locale``, the texts of ``bot/slack/blocks/locales.py``); the
score buttons are digits with emoji in every language.
"""

from __future__ import annotations

import json
from typing import Any

from bot.slack import ids
from bot.slack.blocks.common import Block, OutgoingMessage, button, context, plain, section
from bot.slack.blocks.locales import ENGLISH_LOCALE, Locale
from bot.slack.limits import INPUT_LABEL_MAX, MODAL_BUTTON_MAX, MODAL_TITLE_MAX, PLACEHOLDER_MAX
from bot.slack.text import truncate_escaped

# What a customer may write in the comment (the form's max_length; longer is refused).
CSAT_COMMENT_MAX = 1000
SCORES = (1, 2, 3, 4, 5)
SCORE_LABELS = {1: "1 😞", 2: "2 🙁", 3: "3 😐", 4: "4 🙂", 5: "5 😄"}
SURVEY_BLOCK = "csat_survey"


def score_value(ticket_id: int, score: int) -> str:
    """A score button's value: ``ticket_id:score``."""
    return f"{ticket_id}:{score}"


def survey_message(
    ticket_id: int, *, rated: bool = False, locale: Locale = ENGLISH_LOCALE
) -> OutgoingMessage:
    """The survey in the customer's thread; ``rated``: as it stands once a rating is recorded
    (the buttons stay so the rater can change their score, and a comment can be added)."""
    elements = [
        button(ids.home_action(ids.ACTION_CSAT_RATE, score), SCORE_LABELS[score], v)
        for score, v in ((s, score_value(ticket_id, s)) for s in SCORES)
    ]
    question = locale["csat_question"]
    blocks: list[Block] = [
        section(question),
        {"type": "actions", "block_id": SURVEY_BLOCK, "elements": elements},
    ]
    text = question.replace("*", "")
    if rated:
        recorded = locale["csat_recorded"]
        blocks.append(context(recorded))
        blocks.append(
            {
                "type": "actions",
                "block_id": "csat_comment_button",
                "elements": [
                    button(ids.ACTION_CSAT_COMMENT, locale["csat_add_comment"], str(ticket_id)),
                ],
            }
        )
        text = f"{text} {recorded}"
    return OutgoingMessage(text=text, blocks=blocks)


def comment_modal(*, ticket_id: int, score: int, locale: Locale = ENGLISH_LOCALE) -> dict[str, Any]:
    """The optional comment on a rating; submitted, it becomes ``comment_thanks_view``."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_CSAT_COMMENT,
        "private_metadata": json.dumps({"ticket_id": ticket_id}),
        "title": plain(locale["csat_form_title"], MODAL_TITLE_MAX),
        "submit": plain(locale["csat_form_send"], MODAL_BUTTON_MAX),
        "close": plain(locale["csat_form_cancel"], MODAL_BUTTON_MAX),
        "blocks": [
            context(locale["csat_form_intro"].format(score=score)),
            {
                "type": "input",
                "block_id": ids.BLOCK_CSAT_COMMENT,
                "label": plain(locale["csat_form_label"], INPUT_LABEL_MAX),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_CSAT_COMMENT_TEXT,
                    "multiline": True,
                    "max_length": CSAT_COMMENT_MAX,
                    "placeholder": plain(locale["csat_form_placeholder"], PLACEHOLDER_MAX),
                },
            },
        ],
    }


def comment_thanks_view(locale: Locale = ENGLISH_LOCALE) -> dict[str, Any]:
    """What the form becomes once the comment is recorded."""
    return {
        "type": "modal",
        "title": plain(locale["csat_form_title"], MODAL_TITLE_MAX),
        "close": plain(locale["csat_form_close"], MODAL_BUTTON_MAX),
        "blocks": [section(locale["csat_comment_thanks"])],
    }


def rating_line(*, score: int, rated_by: str | None, comment: str | None) -> str:
    """A ticket's rating for the team (``/support trace``, the card's Why?): the score, who gave
    it, and their comment, escaped."""
    who = f" from <@{rated_by}>" if rated_by else ""
    words = f": “{truncate_escaped(comment, 500)}”" if comment else ""
    return f"⭐ Satisfaction: {score}/5{who}{words}"
