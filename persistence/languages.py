"""Languages: the model's translations of a ticket's texts (for its review card) and of the
bot's own texts into a language the built-in table lacks, each made once and kept."""

from __future__ import annotations

import hashlib
import json

from persistence.db import Database, Tx, now


def text_hash(text: str) -> str:
    """The key a text's translation is stored under (its exact words)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class LanguageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def translation(self, ticket_id: int, source: str, target: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT text FROM translations WHERE ticket_id = ? AND source_hash = ? AND target = ?",
            (ticket_id, text_hash(source), target),
        )
        return None if row is None else str(row["text"])

    async def save_translation(self, ticket_id: int, source: str, target: str, text: str) -> None:
        # Not durable: a translation lost to a power cut is made again.
        async with self.db.transaction(durable=False) as tx:
            await tx.execute(
                "INSERT INTO translations(ticket_id, source_hash, target, text, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(ticket_id, source_hash, target) DO NOTHING",
                (ticket_id, text_hash(source), target, text, now()),
            )

    async def ui_texts(self, language: str, tx: Tx | None = None) -> dict[str, str] | None:
        sql, params = "SELECT texts FROM ui_translations WHERE language = ?", (language,)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params))
        if row is None:
            return None
        texts = json.loads(row["texts"])
        return {str(k): str(v) for k, v in texts.items()} if isinstance(texts, dict) else None

    async def save_ui_texts(
        self, language: str, texts: dict[str, str], model: str, *, replace: bool = False
    ) -> None:
        """Keep the first translation of a language; ``replace``: this one takes its place (a
        new translation of a set that has since gained texts)."""
        conflict = (
            "DO UPDATE SET texts = excluded.texts, model = excluded.model,"
            " created_at = excluded.created_at"
            if replace
            else "DO NOTHING"
        )
        async with self.db.transaction(durable=False) as tx:
            await tx.execute(
                "INSERT INTO ui_translations(language, texts, model, created_at)"
                f" VALUES (?, ?, ?, ?) ON CONFLICT(language) {conflict}",
                (language, json.dumps(texts, ensure_ascii=False), model, now()),
            )
