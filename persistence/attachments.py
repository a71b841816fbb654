"""Files customers attach to their messages: recorded with the turn, then what became of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persistence.db import Database, Row, Tx, now
from persistence.records import Attachment, AttachmentStatus


def _attachment(row: Row) -> Attachment:
    return Attachment(
        id=row["id"],
        ticket_id=row["ticket_id"],
        turn_id=row["turn_id"],
        position=row["position"],
        file_id=row["file_id"],
        name=row["name"],
        mimetype=row["mimetype"],
        filetype=row["filetype"],
        size=row["size"],
        permalink=row["permalink"],
        url=row["url"],
        file_access=row["file_access"],
        mode=row["mode"],
        kind=row["kind"],
        status=row["status"],
        reason=row["reason"],
        text=row["text"],
        created_at=row["created_at"],
        read_at=row["read_at"],
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class AttachmentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, tx: Tx, *, ticket_id: int, turn_id: int, files: Sequence[dict[str, Any]]
    ) -> int:
        """Record a message's files (as ``bot/slack/events.py`` keeps them), in order; a file
        already recorded for the turn is left as it is. Returns how many were new."""
        added = 0
        for position, file in enumerate(files):
            size = file.get("size")
            cur = await tx.execute(
                "INSERT INTO ticket_attachments(ticket_id, turn_id, position, file_id, name,"
                " mimetype, filetype, size, permalink, url, file_access, mode, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (turn_id, position) DO NOTHING",
                (
                    ticket_id,
                    turn_id,
                    position,
                    str(file["id"]),
                    _text(file.get("name")) or _text(file.get("title")) or "",
                    _text(file.get("mimetype")),
                    _text(file.get("filetype")),
                    size if isinstance(size, int) else None,
                    _text(file.get("permalink")),
                    _text(file.get("url_private_download")) or _text(file.get("url_private")),
                    _text(file.get("file_access")),
                    _text(file.get("mode")),
                    now(),
                ),
            )
            added += cur.rowcount
        return added

    async def for_ticket(self, ticket_id: int, tx: Tx | None = None) -> list[Attachment]:
        sql = "SELECT * FROM ticket_attachments WHERE ticket_id = ? ORDER BY turn_id, position"
        params = (ticket_id,)
        rows = await (
            tx.fetchall(sql, params) if tx else self.db.fetchall(sql, params, inline=True)
        )
        return [_attachment(r) for r in rows]

    async def update_file(self, tx: Tx, attachment_id: int, file: dict[str, Any]) -> None:
        """What ``files.info`` said of a file the message event only named (Slack Connect)."""
        size = file.get("size")
        await tx.execute(
            "UPDATE ticket_attachments SET name = COALESCE(?, name),"
            " mimetype = COALESCE(?, mimetype), filetype = COALESCE(?, filetype),"
            " size = COALESCE(?, size), permalink = COALESCE(?, permalink),"
            " url = COALESCE(?, url), mode = COALESCE(?, mode), file_access = ? WHERE id = ?",
            (
                _text(file.get("name")) or _text(file.get("title")),
                _text(file.get("mimetype")),
                _text(file.get("filetype")),
                size if isinstance(size, int) else None,
                _text(file.get("permalink")),
                _text(file.get("url_private_download")) or _text(file.get("url_private")),
                _text(file.get("mode")),
                _text(file.get("file_access")),
                attachment_id,
            ),
        )

    async def set_outcome(
        self,
        tx: Tx,
        attachment_id: int,
        *,
        kind: str,
        status: AttachmentStatus,
        reason: str | None,
        text: str | None = None,
    ) -> None:
        await tx.execute(
            "UPDATE ticket_attachments SET kind = ?, status = ?, reason = ?, text = ?,"
            " read_at = ? WHERE id = ?",
            (kind, status, reason, text, now(), attachment_id),
        )
