"""The database the settings name, with the settings' timeouts and pool size."""

from __future__ import annotations

from bot.settings.environment import Settings
from persistence.connect import database_from_url
from persistence.db import Database


def database_for(settings: Settings) -> Database:
    """Not yet opened."""
    return database_from_url(
        settings.database_url,
        busy_timeout_ms=int(settings.database_busy_timeout * 1000),
        pool_size=settings.database_pool_size,
    )
