"""Attached files: recorded once per turn and position, described later, their outcome stored,
and purged with the ticket's text."""

from __future__ import annotations

from persistence.attachments import AttachmentRepository
from persistence.db import Database
from persistence.retention import PURGED, RetentionRepository
from persistence.tickets import TicketRepository

SHOT = {
    "id": "F1",
    "name": "error.png",
    "mimetype": "image/png",
    "filetype": "png",
    "size": 1234,
    "url_private_download": "https://files.slack.com/files-pri/T1-F1/download/error.png",
    "permalink": "https://acme.slack.com/files/U1/F1/error.png",
}
STUB = {"id": "F2", "file_access": "check_file_info", "mode": "file_access"}


async def _ticket_with_turn(db: Database) -> tuple[int, int]:
    tickets = TicketRepository(db)
    async with db.transaction() as tx:
        ticket, _ = await tickets.open(
            tx,
            channel_id="C1",
            thread_ts="1700000000.000100",
            customer_user_id="U1",
            customer_team_id="T1",
        )
        turn = await tickets.add_turn(
            tx,
            ticket_id=ticket.id,
            role="customer",
            user_id="U1",
            text="see attached",
            slack_ts="1700000000.000100",
        )
    assert turn is not None
    return ticket.id, turn.id


async def test_files_are_recorded_once_in_order_and_their_outcome_is_kept(db: Database) -> None:
    ticket_id, turn_id = await _ticket_with_turn(db)
    repo = AttachmentRepository(db)
    async with db.transaction() as tx:
        assert await repo.add(tx, ticket_id=ticket_id, turn_id=turn_id, files=[SHOT, STUB]) == 2
        # A redelivered message records nothing twice.
        assert await repo.add(tx, ticket_id=ticket_id, turn_id=turn_id, files=[SHOT, STUB]) == 0
    shot, stub = await repo.for_ticket(ticket_id)
    assert (shot.position, shot.name, shot.size, shot.status) == (0, "error.png", 1234, "pending")
    assert shot.url == SHOT["url_private_download"] and shot.permalink == SHOT["permalink"]
    assert (stub.name, stub.file_access, stub.url) == ("", "check_file_info", None)

    async with db.transaction() as tx:
        await repo.update_file(
            tx,
            stub.id,
            {
                **SHOT,
                "id": "F2",
                "name": "partner.log",
                "mimetype": "text/plain",
                "file_access": "visible",
            },
        )
        await repo.set_outcome(
            tx, shot.id, kind="image", status="not_read", reason="no model is configured"
        )
        await repo.set_outcome(tx, stub.id, kind="text", status="read", reason=None, text="ERROR")
    shot, stub = await repo.for_ticket(ticket_id)
    assert (shot.kind, shot.status, shot.reason) == ("image", "not_read", "no model is configured")
    assert (stub.name, stub.mimetype, stub.file_access) == ("partner.log", "text/plain", "visible")
    assert (stub.status, stub.text) == ("read", "ERROR") and stub.read_at is not None


async def test_retention_purges_what_a_file_said_and_its_name_keeping_its_kind(
    db: Database,
) -> None:
    ticket_id, turn_id = await _ticket_with_turn(db)
    repo = AttachmentRepository(db)
    async with db.transaction() as tx:
        await repo.add(tx, ticket_id=ticket_id, turn_id=turn_id, files=[SHOT])
        (shot,) = await repo.for_ticket(ticket_id, tx)
        await repo.set_outcome(tx, shot.id, kind="text", status="read", reason=None, text="key 42")
        await tx.execute(
            "UPDATE tickets SET state = 'resolved', resolved_at = 1 WHERE id = ?", (ticket_id,)
        )
    assert await RetentionRepository(db).purge_resolved_before(2.0) == 1
    (purged,) = await repo.for_ticket(ticket_id)
    assert (purged.name, purged.text, purged.permalink, purged.url) == (PURGED, None, None, None)
    assert (purged.kind, purged.status, purged.size) == ("text", "read", 1234)
