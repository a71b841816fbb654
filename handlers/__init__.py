"""Slack surfaces. Each handler acks, parses into a typed value, calls one ``bot/`` service."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers import actions, commands, events, shortcuts, views


def register_handlers(app: AsyncApp, services: Services) -> None:
    events.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    commands.register(app, services)
    shortcuts.register(app, services)
