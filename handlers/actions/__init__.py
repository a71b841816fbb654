"""Button clicks: on review cards, and under AI answers in customers' threads."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.interactions import id_number
from handlers.actions import desk
from handlers.actions.answer_feedback import handle_answer_button
from handlers.actions.approve import handle_approve
from handlers.actions.csat import handle_csat_comment, handle_csat_rate
from handlers.actions.edit import handle_edit
from handlers.actions.issues import (
    handle_create_issue,
    handle_issue_dismiss,
    handle_issue_edit,
    handle_issue_tell,
)
from handlers.actions.reject import handle_reject
from handlers.actions.retry import handle_retry_delivery
from handlers.actions.translated_edit import (
    handle_discard_edit,
    handle_send_as_written,
    handle_send_translation,
)
from handlers.actions.verified import handle_verified_approve, handle_verified_discard

log = logging.getLogger(__name__)

Handler = Callable[[Services, dict[str, Any], AsyncWebClient], Awaitable[None]]


async def _helpful(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await handle_answer_button(services, body, client, wants_person=False)


async def _talk(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await handle_answer_button(services, body, client, wants_person=True)


HANDLERS: dict[str, Handler] = {
    ids.ACTION_APPROVE: handle_approve,
    ids.ACTION_EDIT: handle_edit,
    ids.ACTION_REJECT: handle_reject,
    ids.ACTION_CLAIM: desk.handle_claim,
    ids.ACTION_REDRAFT: desk.handle_redraft,
    ids.ACTION_ANSWER_QUESTION: desk.handle_answer_question,
    ids.ACTION_SAVE_ARTICLE: desk.handle_save_article,
    ids.ACTION_HANDBACK: desk.handle_handback,
    ids.ACTION_RESOLVE: desk.handle_resolve,
    ids.ACTION_WHY: desk.handle_why,
    ids.ACTION_RETRY_DELIVERY: handle_retry_delivery,
    ids.ACTION_HELPFUL: _helpful,
    ids.ACTION_TALK_TO_PERSON: _talk,
    ids.ACTION_VERIFIED_APPROVE: handle_verified_approve,
    ids.ACTION_VERIFIED_DISCARD: handle_verified_discard,
    ids.ACTION_CSAT_RATE: handle_csat_rate,
    ids.ACTION_CSAT_COMMENT: handle_csat_comment,
    ids.ACTION_CREATE_ISSUE: handle_create_issue,
    ids.ACTION_ISSUE_TELL: handle_issue_tell,
    ids.ACTION_ISSUE_EDIT: handle_issue_edit,
    ids.ACTION_ISSUE_DISMISS: handle_issue_dismiss,
    ids.ACTION_SEND_TRANSLATION: handle_send_translation,
    ids.ACTION_SEND_AS_WRITTEN: handle_send_as_written,
    ids.ACTION_DISCARD_EDIT: handle_discard_edit,
}


def _from_home(body: dict[str, Any]) -> str | None:
    """The user when the click came from the App Home tab, which then needs re-rendering (who
    they are is looked up by id when rendering it, not taken from the payload)."""
    view = body.get("view")
    user = body.get("user")
    if not isinstance(view, dict) or view.get("type") != "home" or not isinstance(user, dict):
        return None
    user_id = user.get("id")
    return user_id if isinstance(user_id, str) and user_id else None


def _page(body: dict[str, Any]) -> int:
    actions = body.get("actions") or []
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get("value") if isinstance(first, dict) else None
    page = id_number(value)
    if page is None:
        log.info("home page click without a page number (%r); showing the first", value)
        return 0
    return min(page, 10_000)


def register(app: AsyncApp, services: Services) -> None:
    def listener(handler: Handler) -> Callable[..., Awaitable[None]]:
        async def run(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await handler(services, body, client)
            home = _from_home(body)
            if home is not None:
                await services.home.publish(home)

        return run

    async def page(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        home = _from_home(body)
        if home is None:
            log.info("ignoring a home page click that did not come from the Home tab")
            return
        await services.home.publish(home, page=_page(body))

    for action_id, handler in HANDLERS.items():
        app.action(re.compile(ids.action_pattern(action_id)))(listener(handler))
    app.action(re.compile(ids.action_pattern(ids.ACTION_HOME_PAGE)))(page)
