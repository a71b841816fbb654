"""The issue tracker's buttons: "Create issue" on a review card, and, when the issue closed,
the note's Send to the customer, Edit and send, and Don't send (their value: the issue's id)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from handlers.actions.notify import decide_from_click, open_form_from_click


async def handle_create_issue(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await decide_from_click(client, body, services.issues.request, "create issue")


async def handle_issue_tell(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await decide_from_click(client, body, services.issues.tell, "tell the customer")


async def handle_issue_dismiss(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await decide_from_click(client, body, services.issues.dismiss, "don't tell the customer")


async def handle_issue_edit(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await open_form_from_click(client, body, services.issues.edit_form, "edit the message")
