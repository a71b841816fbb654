"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.runtime.services import Services
from bot.slack import ids
from handlers.views import card_forms
from handlers.views.config_submission import handle_config_submission
from handlers.views.csat_comment import handle_csat_comment_submission
from handlers.views.edit_submission import handle_edit_submission
from handlers.views.issue_message import handle_issue_message_submission
from handlers.views.kb_add_submission import handle_kb_add_submission


def register(app: AsyncApp, services: Services) -> None:
    async def edit_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_edit_submission(services, body, ack)

    async def kb_add_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_kb_add_submission(services, body, ack)

    async def redraft_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await card_forms.handle_redraft_submission(services, body, ack)

    async def answer_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await card_forms.handle_answer_submission(services, body, ack)

    async def save_article_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await card_forms.handle_save_article_submission(services, body, ack)

    async def config_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_config_submission(services, body, ack)

    async def csat_comment_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_csat_comment_submission(services, body, ack)

    async def issue_message_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_issue_message_submission(services, body, ack)

    app.view(ids.VIEW_CONFIG)(config_submission)
    app.view(ids.VIEW_CSAT_COMMENT)(csat_comment_submission)
    app.view(ids.VIEW_ISSUE_MESSAGE)(issue_message_submission)
    app.view(ids.VIEW_EDIT)(edit_submission)
    app.view(ids.VIEW_KB_ADD)(kb_add_submission)
    app.view(ids.VIEW_REDRAFT)(redraft_submission)
    app.view(ids.VIEW_ANSWER_QUESTION)(answer_submission)
    app.view(ids.VIEW_SAVE_ARTICLE)(save_article_submission)
