"""The knowledge base as the command line opens it: the configured database and retriever."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.kb.base import KnowledgeBase
from bot.settings.environment import Settings
from persistence.connect import database_for
from persistence.knowledge import KnowledgeRepository


@asynccontextmanager
async def open_knowledge(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    from bot.runtime.runtime import knowledge_base

    db = database_for(settings)
    await db.open()
    kb = knowledge_base(settings, KnowledgeRepository(db))
    try:
        yield kb
    finally:
        await kb.retriever.close()
        await db.close()
