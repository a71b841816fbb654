"""Submitting ``/support config``: all settings saved, or field errors on the form."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids

log = logging.getLogger(__name__)


async def handle_config_submission(services: Services, body: dict[str, Any], ack: AsyncAck) -> None:
    user = body.get("user") or {}
    view = body.get("view") or {}
    user_id = user.get("id") if isinstance(user, dict) else None
    values = ((view.get("state") or {}).get("values") or {}) if isinstance(view, dict) else {}
    if not isinstance(user_id, str) or not isinstance(values, dict):
        await ack(
            response_action="errors",
            errors={
                ids.BLOCK_CFG_ESCALATION: "This form is out of date; run /support config again."
            },
        )
        return
    try:
        try:
            version = int(json.loads(view.get("private_metadata") or "{}").get("version"))
        except (TypeError, ValueError):
            version = None
        result = await services.commands.admin.submit_form(
            user_id=user_id, values=values, version=version
        )
    except Exception:
        log.exception("saving the settings form failed")
        await ack(
            response_action="errors",
            errors={
                ids.BLOCK_CFG_ESCALATION: "Something went wrong; nothing was saved. Try again."
            },
        )
        return
    if result.errors:
        await ack(response_action="errors", errors=result.errors)
        return
    await ack()
