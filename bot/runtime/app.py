"""Builds the Bolt ``AsyncApp`` and registers the handlers on it."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.runtime.services import Services
from handlers import register_handlers


class _SameTokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN "will be unused" whenever a client is given, though the
    client carries that very token: noise in every start's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(services: Services) -> AsyncApp:
    settings = services.settings
    signing_secret = settings.slack_signing_secret
    app = AsyncApp(
        client=services.client,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        # Socket Mode messages are authenticated by the app-level token's connection instead.
        request_verification_enabled=not settings.socket_mode,
        # Listeners finish before Slack gets its acknowledgement: an accepted message is already
        # committed to the job queue when Slack stops retrying it.
        process_before_response=True,
        logger=_bolt_logger(),
    )
    register_handlers(app, services)
    return app


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _SameTokenNotice) for f in logger.filters):
        logger.addFilter(_SameTokenNotice())
    return logger
