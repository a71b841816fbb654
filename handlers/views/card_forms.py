"""Submitting the forms opened from a review card: redraft feedback, the answer to the bot's
question, and "Save as article". Errors show on the form's fields, never as a traceback."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.blocks.modals import ANSWER_MODE_SEND
from bot.slack.interactions import BadInteraction, FormSubmission, ReviewOutcome

log = logging.getLogger(__name__)

OUT_OF_DATE = "This form is out of date; open it again from the card."
FAILED = "Something went wrong; nothing changed. Try again."


async def _parse(body: dict[str, Any], ack: AsyncAck, field: str) -> FormSubmission | None:
    try:
        return FormSubmission.from_body(body)
    except BadInteraction as exc:
        log.warning("rejecting a card form: %s", exc)
        await ack(response_action="errors", errors={field: OUT_OF_DATE})
        return None


async def _finish(ack: AsyncAck, outcome: ReviewOutcome, field: str) -> None:
    if not outcome.done:
        await ack(response_action="errors", errors={field: outcome.notice or FAILED})
        return
    await ack()


async def handle_redraft_submission(
    services: Services, body: dict[str, Any], ack: AsyncAck
) -> None:
    field = ids.BLOCK_FEEDBACK
    form = await _parse(body, ack, field)
    if form is None:
        return
    try:
        outcome = await services.redrafter.request_redraft(
            form.escalation_id,
            user_id=form.user_id,
            user_team=form.user_team,
            feedback=form.text(ids.BLOCK_FEEDBACK, ids.ACTION_FEEDBACK),
        )
    except Exception:
        log.exception("requesting a redraft failed")
        outcome = ReviewOutcome(done=False, notice=FAILED)
    await _finish(ack, outcome, field)


async def handle_answer_submission(services: Services, body: dict[str, Any], ack: AsyncAck) -> None:
    field = ids.BLOCK_ANSWER
    form = await _parse(body, ack, field)
    if form is None:
        return
    mode = form.selected(ids.BLOCK_ANSWER_MODE, ids.ACTION_ANSWER_MODE)
    try:
        outcome = await services.redrafter.answer_question(
            form.escalation_id,
            user_id=form.user_id,
            user_team=form.user_team,
            answer=form.text(ids.BLOCK_ANSWER, ids.ACTION_ANSWER),
            send_now=mode == ANSWER_MODE_SEND,
        )
    except Exception:
        log.exception("recording an answer to the bot's question failed")
        outcome = ReviewOutcome(done=False, notice=FAILED)
    await _finish(ack, outcome, field)


SAVE_FIELDS = {"title": ids.BLOCK_KB_TITLE, "body": ids.BLOCK_KB_BODY, "url": ids.BLOCK_KB_URL}


async def handle_save_article_submission(
    services: Services, body: dict[str, Any], ack: AsyncAck
) -> None:
    field = ids.BLOCK_KB_TITLE
    form = await _parse(body, ack, field)
    if form is None:
        return
    try:
        result = await services.commands.save_article(
            form.escalation_id,
            user_id=form.user_id,
            user_team=form.user_team,
            title=form.text(ids.BLOCK_KB_TITLE, ids.ACTION_KB_TITLE),
            body=form.text(ids.BLOCK_KB_BODY, ids.ACTION_KB_BODY),
            url=form.text(ids.BLOCK_KB_URL, ids.ACTION_KB_URL),
            fields=SAVE_FIELDS,
        )
    except Exception:
        log.exception("saving a reply as an article failed")
        await ack(response_action="errors", errors={field: FAILED})
        return
    if result.errors:
        await ack(response_action="errors", errors=result.errors)
        return
    await ack(response_action="update", view=result.view)
