"""A migrated database (a fresh SQLite file, or a fresh PostgreSQL database) for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistence.connect import database_from_url
from persistence.db import Database
from tests.utils.databases import database_url


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = database_from_url(database_url(tmp_path))
    await database.open()
    yield database
    await database.close()
