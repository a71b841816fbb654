"""Submitting the Edit modal: the text is sent verbatim, or the modal shows why not."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.interactions import BadInteraction, EditSubmission

log = logging.getLogger(__name__)


async def handle_edit_submission(services: Services, body: dict[str, Any], ack: AsyncAck) -> None:
    try:
        submission = EditSubmission.from_body(
            body, block_id=ids.BLOCK_EDIT_TEXT, action_id=ids.ACTION_EDIT_TEXT
        )
    except BadInteraction as exc:
        log.warning("rejecting an edit submission: %s", exc)
        await ack(
            response_action="errors",
            errors={ids.BLOCK_EDIT_TEXT: "This form is out of date; open Edit on the card again."},
        )
        return
    try:
        outcome = await services.review.submit_edit(
            submission.escalation_id,
            user_id=submission.user_id,
            user_team=submission.user_team,
            text=submission.text,
            field=ids.BLOCK_EDIT_TEXT,
        )
    except Exception:
        log.exception("recording an edit failed")
        await ack(
            response_action="errors",
            errors={ids.BLOCK_EDIT_TEXT: "Something went wrong; nothing was sent. Try again."},
        )
        return
    if outcome.field_errors:
        await ack(response_action="errors", errors=outcome.field_errors)
        return
    await ack()
