"""Submitting the edited message for a customer whose issue closed: sent verbatim, or the modal
shows why not."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.interactions import dict_at, metadata_id

log = logging.getLogger(__name__)


async def handle_issue_message_submission(
    services: Services, body: dict[str, Any], ack: AsyncAck
) -> None:
    user = body.get("user") or {}
    view = body.get("view") or {}
    user_id = user.get("id") if isinstance(user, dict) else None
    issue_id = metadata_id(view, "issue_id") if isinstance(view, dict) else None
    if not isinstance(user_id, str) or issue_id is None:
        log.warning("rejecting an issue message submission without its user or issue")
        await ack(
            response_action="errors",
            errors={ids.BLOCK_ISSUE_MESSAGE: "This form is out of date; open it again."},
        )
        return
    value = dict_at(view, "state", "values", ids.BLOCK_ISSUE_MESSAGE, ids.ACTION_ISSUE_MESSAGE)
    text = value.get("value")
    try:
        outcome = await services.issues.submit_edit(
            issue_id,
            user_id=user_id,
            text=text if isinstance(text, str) else "",
            field=ids.BLOCK_ISSUE_MESSAGE,
        )
    except Exception:
        log.exception("sending an edited closed-issue message failed")
        await ack(
            response_action="errors",
            errors={ids.BLOCK_ISSUE_MESSAGE: "Something went wrong; nothing was sent. Try again."},
        )
        return
    if outcome.field_errors:
        await ack(response_action="errors", errors=outcome.field_errors)
        return
    await ack()
