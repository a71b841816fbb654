"""The other buttons of a review card: claim, redraft, answer the bot, save, hand back, resolve."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack.interactions import ReviewOutcome, unknown_card
from handlers.actions.notify import decide_from_click, open_form_from_click


async def handle_claim(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await decide_from_click(client, body, services.handoffs.claim, "claim")


async def handle_redraft(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await open_form_from_click(client, body, services.redrafter.redraft_form, "redraft")


async def handle_answer_question(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await open_form_from_click(client, body, services.redrafter.answer_form, "answer")


async def handle_save_article(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await open_form_from_click(
        client,
        body,
        services.commands.save_article_form,
        "save article",
        opened=services.commands.article_form_opened,
    )


async def handle_why(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await open_form_from_click(client, body, services.commands.why_form, "why")


async def _on_ticket(
    services: Services, escalation_id: int, action: Any, *, user_id: str, user_team: str | None
) -> ReviewOutcome:
    ticket_id = await services.handoffs.ticket_of_escalation(escalation_id)
    if ticket_id is None:
        return unknown_card()
    outcome: ReviewOutcome = await action(ticket_id, user_id=user_id, user_team=user_team)
    return outcome


async def handle_handback(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    async def hand_back(
        escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        return await _on_ticket(
            services,
            escalation_id,
            services.handoffs.hand_back,
            user_id=user_id,
            user_team=user_team,
        )

    await decide_from_click(client, body, hand_back, "hand back")


async def handle_resolve(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    async def resolve(escalation_id: int, *, user_id: str, user_team: str | None) -> ReviewOutcome:
        return await _on_ticket(
            services, escalation_id, services.handoffs.resolve, user_id=user_id, user_team=user_team
        )

    await decide_from_click(client, body, resolve, "resolve")
