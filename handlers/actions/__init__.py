"""Button clicks: on review cards, and under AI answers in customers' threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.services import Services
from handlers.actions import desk
from handlers.actions.answer_feedback import handle_answer_button
from handlers.actions.approve import handle_approve
from handlers.actions.edit import handle_edit
from handlers.actions.reject import handle_reject

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
    ids.ACTION_HELPFUL: _helpful,
    ids.ACTION_TALK_TO_PERSON: _talk,
}


def register(app: AsyncApp, services: Services) -> None:
    def listener(handler: Handler) -> Callable[..., Awaitable[None]]:
        async def run(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await handler(services, body, client)

        return run

    for action_id, handler in HANDLERS.items():
        app.action(action_id)(listener(handler))
