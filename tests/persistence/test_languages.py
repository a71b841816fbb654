"""Languages in the database: a ticket's language, translations kept once, the bot's texts per
language, and an edit held on a card until it is sent, translated or as written."""

from __future__ import annotations

from persistence.db import Database
from persistence.escalations import EscalationRepository
from persistence.languages import LanguageRepository
from persistence.retention import PURGED, RetentionRepository
from persistence.tickets import TicketRepository


async def _ticket_and_escalation(db: Database) -> tuple[int, int]:
    tickets = TicketRepository(db)
    async with db.transaction() as tx:
        ticket, _ = await tickets.open(
            tx,
            channel_id="C1",
            thread_ts="1700000000.000100",
            customer_user_id="U1",
            customer_team_id=None,
        )
        moved = await tickets.move(tx, ticket, "awaiting_review", language="de")
        assert moved is not None and moved.language == "de"
        escalation = await EscalationRepository(db).create(
            tx, ticket_id=ticket.id, round=0, reason="r", draft_text="Entwurf"
        )
    return ticket.id, escalation.id


async def test_the_tickets_language_is_stored(db: Database) -> None:
    ticket_id, _ = await _ticket_and_escalation(db)
    ticket = await TicketRepository(db).get(ticket_id)
    assert ticket is not None and ticket.language == "de"


async def test_a_translation_is_kept_once_per_text_and_target(db: Database) -> None:
    ticket_id, _ = await _ticket_and_escalation(db)
    repo = LanguageRepository(db)
    assert await repo.translation(ticket_id, "Hallo", "en") is None
    await repo.save_translation(ticket_id, "Hallo", "en", "Hello")
    await repo.save_translation(ticket_id, "Hallo", "en", "Hi")  # a second one changes nothing
    assert await repo.translation(ticket_id, "Hallo", "en") == "Hello"
    assert await repo.translation(ticket_id, "Hallo!", "en") is None
    assert await repo.ui_texts("it") is None
    await repo.save_ui_texts("it", {"holding": "Grazie!"}, "gpt")
    await repo.save_ui_texts("it", {"holding": "Ciao"}, "gpt")
    assert await repo.ui_texts("it") == {"holding": "Grazie!"}
    # A translation of a set that has since gained texts takes the older one's place.
    await repo.save_ui_texts("it", {"holding": "Ciao", "helpful": "Utile"}, "gpt-2", replace=True)
    assert await repo.ui_texts("it") == {"holding": "Ciao", "helpful": "Utile"}
    row = await db.fetchone("SELECT model FROM ui_translations WHERE language = 'it'")
    assert row is not None and row["model"] == "gpt-2"


async def test_an_edit_is_held_translated_and_discarded_only_while_the_card_waits(
    db: Database,
) -> None:
    _, escalation_id = await _ticket_and_escalation(db)
    repo = EscalationRepository(db)
    async with db.transaction() as tx:
        assert await repo.hold_edit(
            tx, escalation_id=escalation_id, text="Refunded.", by="UREV", translating=True
        )
        # Busy while it is translated: no second hold, no discard, no decision.
        assert not await repo.hold_edit(
            tx, escalation_id=escalation_id, text="Other", by="UREV", translating=True
        )
        assert not await repo.discard_edit(tx, escalation_id=escalation_id)
        assert not await repo.decide(
            tx, escalation_id=escalation_id, new_state="edited", decided_by="U", final_text="x"
        )
        # Only the translation of the held text lands.
        assert not await repo.finish_edit_translation(
            tx, escalation_id=escalation_id, text="Other", translation="Andere", problem=None
        )
        assert await repo.finish_edit_translation(
            tx,
            escalation_id=escalation_id,
            text="Refunded.",
            translation="Erstattet.",
            problem=None,
        )
    held = await repo.get(escalation_id)
    assert held is not None and held.work is None
    assert (held.edit_text, held.edit_by, held.edit_translation) == (
        "Refunded.",
        "UREV",
        "Erstattet.",
    )
    async with db.transaction() as tx:
        assert await repo.discard_edit(tx, escalation_id=escalation_id)
        assert not await repo.discard_edit(tx, escalation_id=escalation_id)
        # Offline: held with the reason it cannot be translated, decidable at once.
        assert await repo.hold_edit(
            tx,
            escalation_id=escalation_id,
            text="Refunded.",
            by="UREV",
            translating=False,
            problem="no LLM",
        )
    offline = await repo.get(escalation_id)
    assert offline is not None and offline.work is None and offline.edit_problem == "no LLM"


async def test_retention_purges_translations_and_a_held_edit(db: Database) -> None:
    ticket_id, escalation_id = await _ticket_and_escalation(db)
    await LanguageRepository(db).save_translation(ticket_id, "Hallo", "en", "Hello")
    async with db.transaction() as tx:
        await EscalationRepository(db).hold_edit(
            tx, escalation_id=escalation_id, text="Secret", by="U", translating=False, problem="x"
        )
        await tx.execute(
            "UPDATE tickets SET state = 'resolved', resolved_at = 1 WHERE id = ?", (ticket_id,)
        )
    assert await RetentionRepository(db).purge_resolved_before(10) == 1
    assert await LanguageRepository(db).translation(ticket_id, "Hallo", "en") is None
    escalation = await EscalationRepository(db).get(escalation_id)
    assert escalation is not None
    assert (escalation.edit_text, escalation.edit_translation) == (None, None)
    assert escalation.draft_text == PURGED
