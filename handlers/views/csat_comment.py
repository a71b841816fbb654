"""Submitting the comment on a satisfaction rating. Errors show on the form's field."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.interactions import dict_at, metadata_id, team_of

log = logging.getLogger(__name__)

FAILED = "Something went wrong; nothing was recorded. Try again."


async def handle_csat_comment_submission(
    services: Services, body: dict[str, Any], ack: AsyncAck
) -> None:
    field = ids.BLOCK_CSAT_COMMENT
    user = body.get("user")
    view = body.get("view")
    user_id = user.get("id") if isinstance(user, dict) else None
    ticket_id = metadata_id(view, "ticket_id") if isinstance(view, dict) else None
    if not isinstance(user_id, str) or ticket_id is None:
        log.warning("rejecting a comment form without a user or a ticket")
        await ack(
            response_action="errors",
            errors={field: "This form is out of date; nothing was recorded."},
        )
        return
    assert isinstance(user, dict)
    text = dict_at(view, "state", "values", field, ids.ACTION_CSAT_COMMENT_TEXT).get("value")
    try:
        result = await services.csat.comment(
            ticket_id,
            user_id=user_id,
            user_team=team_of(body, user),
            text=text if isinstance(text, str) else "",
        )
    except Exception:
        log.exception("recording a comment failed")
        await ack(response_action="errors", errors={field: FAILED})
        return
    if result.errors:
        await ack(response_action="errors", errors=result.errors)
    elif result.view is not None:
        await ack(response_action="update", view=result.view)
    else:
        await ack()
