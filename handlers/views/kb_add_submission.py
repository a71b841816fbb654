"""Submitting the "Add an article" modal of ``/support kb add``."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids

log = logging.getLogger(__name__)

FIELDS = {"title": ids.BLOCK_KB_TITLE, "body": ids.BLOCK_KB_BODY, "url": ids.BLOCK_KB_URL}


def _value(body: dict[str, Any], block_id: str, action_id: str) -> str:
    values = (((body.get("view") or {}).get("state") or {}).get("values") or {}).get(block_id)
    value = ((values or {}).get(action_id) or {}).get("value")
    return value if isinstance(value, str) else ""


async def handle_kb_add_submission(services: Services, body: dict[str, Any], ack: AsyncAck) -> None:
    user = body.get("user") or {}
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str):
        await ack(response_action="errors", errors={ids.BLOCK_KB_TITLE: "Who are you?"})
        return
    try:
        result = await services.commands.add_article(
            user_id=user_id,
            title=_value(body, ids.BLOCK_KB_TITLE, ids.ACTION_KB_TITLE),
            body=_value(body, ids.BLOCK_KB_BODY, ids.ACTION_KB_BODY),
            url=_value(body, ids.BLOCK_KB_URL, ids.ACTION_KB_URL),
            fields=FIELDS,
        )
    except Exception:
        log.exception("adding an article failed")
        await ack(
            response_action="errors",
            errors={ids.BLOCK_KB_TITLE: "Something went wrong; nothing was saved. Try again."},
        )
        return
    if result.errors:
        await ack(response_action="errors", errors=result.errors)
        return
    await ack(response_action="update", view=result.view)
