"""Builds the Bolt ``AsyncApp`` and registers the handlers on it."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import register_handlers


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
        logger=logging.getLogger("slack_bolt"),
    )
    register_handlers(app, services)
    return app
