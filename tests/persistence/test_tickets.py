"""Tickets, turns and escalations: idempotent creation and conditional state changes."""

from __future__ import annotations

import pytest

from persistence.db import Database
from persistence.escalations import EscalationRepository
from persistence.records import Ticket
from persistence.tickets import TicketRepository
from tests.utils.databases import INTEGRITY_ERRORS

CHANNEL = "C0SUPPORT"
THREAD = "1700000000.000100"


async def _open(
    tickets: TicketRepository, thread_ts: str = THREAD, *, channel: str = CHANNEL, user: str = "U1"
) -> tuple[Ticket, bool]:
    async with tickets.db.transaction() as tx:
        return await tickets.open(
            tx,
            channel_id=channel,
            thread_ts=thread_ts,
            customer_user_id=user,
            customer_team_id="TCUST",
        )


async def test_open_creates_a_received_ticket(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, created = await _open(tickets)
    assert created is True
    assert ticket.state == "received"
    assert ticket.version == 0
    assert ticket.round == 1
    assert (ticket.channel_id, ticket.thread_ts) == (CHANNEL, THREAD)
    assert ticket.customer_user_id == "U1"
    assert ticket.customer_team_id == "TCUST"
    assert ticket.classification is None
    assert await tickets.get(ticket.id) == ticket
    assert await tickets.find_by_thread(CHANNEL, THREAD) == ticket


async def test_open_is_idempotent_per_channel_and_thread(db: Database) -> None:
    tickets = TicketRepository(db)
    first, created = await _open(tickets)
    again, created_again = await _open(tickets, user="USOMEONE_ELSE")
    assert created is True
    assert created_again is False
    assert again.id == first.id
    assert again.customer_user_id == "U1"  # the existing ticket, unchanged
    other_thread, c1 = await _open(tickets, "1700000000.000200")
    other_channel, c2 = await _open(tickets, channel="C0OTHER")
    assert c1 and c2
    assert len({first.id, other_thread.id, other_channel.id}) == 3
    assert len(await tickets.all()) == 3


async def test_transition_moves_state_bumps_version_and_stores_fields(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    classification = {"category": "simple_faq", "confidence": 0.9, "keywords": ["é"]}
    async with db.transaction() as tx:
        moved = await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="received",
            expected_version=0,
            new_state="classified",
            classification=classification,
            processed_turn_id=3,
        )
    assert moved is True
    after = await tickets.get(ticket.id)
    assert after is not None
    assert after.state == "classified"
    assert after.version == 1
    assert after.classification == classification
    assert after.processed_turn_id == 3
    assert after.updated_at >= ticket.updated_at
    assert await tickets.count_by_state() == {"classified": 1}


async def test_transition_with_a_stale_version_changes_nothing(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        assert await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="received",
            expected_version=0,
            new_state="received",
            draft={"text": "v1"},
        )
    before = await tickets.get(ticket.id)
    async with db.transaction() as tx:
        stale = await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="received",
            expected_version=0,  # someone already moved it to version 1
            new_state="classified",
            draft={"text": "lost update"},
        )
    assert stale is False
    assert await tickets.get(ticket.id) == before


async def test_transition_from_the_wrong_state_changes_nothing(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        moved = await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="drafted",
            expected_version=0,
            new_state="answered",
        )
    assert moved is False
    assert await tickets.get(ticket.id) == ticket


async def test_transition_can_clear_a_json_column(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="received",
            expected_version=0,
            new_state="drafted",
            draft={"text": "x"},
        )
        await tickets.transition(
            tx,
            ticket_id=ticket.id,
            expected_state="drafted",
            expected_version=1,
            new_state="received",
            draft=None,
            round=2,
        )
    after = await tickets.get(ticket.id)
    assert after is not None
    assert (after.state, after.version, after.round, after.draft) == ("received", 2, 2, None)


async def test_move_returns_the_ticket_exactly_as_a_read_would(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    classification = {"category": "faq", "keywords": ("csv", "export"), "scores": {1: 0.5}}
    async with db.transaction() as tx:
        moved = await tickets.move(
            tx, ticket, "classified", classification=classification, processed_turn_id=3
        )
    assert moved is not None
    assert moved == await tickets.get(ticket.id)  # tuples as lists, int keys as strings
    assert moved.classification == {
        "category": "faq",
        "keywords": ["csv", "export"],
        "scores": {"1": 0.5},
    }
    assert (moved.state, moved.version, moved.processed_turn_id) == ("classified", 1, 3)
    # From the stale copy nothing moves, and the stored ticket stays as it was.
    async with db.transaction() as tx:
        assert await tickets.move(tx, ticket, "retrieved", retrieval={"hits": []}) is None
    assert await tickets.get(ticket.id) == moved


async def test_transition_refuses_unknown_columns(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    with pytest.raises(ValueError, match="unknown ticket column 'state; DROP'"):
        async with db.transaction() as tx:
            await tickets.transition(
                tx,
                ticket_id=ticket.id,
                expected_state="received",
                expected_version=0,
                new_state="classified",
                **{"state; DROP": 1},
            )
    assert await tickets.get(ticket.id) == ticket


async def test_add_turn_ignores_a_second_turn_with_the_same_slack_ts(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        first = await tickets.add_turn(
            tx, ticket_id=ticket.id, role="customer", user_id="U1", text="hi", slack_ts="1.1"
        )
        duplicate = await tickets.add_turn(
            tx,
            ticket_id=ticket.id,
            role="customer",
            user_id="U1",
            text="hi again",
            slack_ts="1.1",
        )
    assert first is not None
    assert (first.role, first.text, first.slack_ts) == ("customer", "hi", "1.1")
    assert duplicate is None
    turns = await tickets.turns(ticket.id)
    assert [t.text for t in turns] == ["hi"]


async def test_turns_without_slack_ts_are_all_kept_and_ts_is_per_ticket(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    other, _ = await _open(tickets, "2.0")
    async with db.transaction() as tx:
        for text in ("a", "b"):
            turn = await tickets.add_turn(
                tx, ticket_id=ticket.id, role="bot", user_id=None, text=text, slack_ts=None
            )
            assert turn is not None
        in_other = await tickets.add_turn(
            tx, ticket_id=other.id, role="staff", user_id="U9", text="c", slack_ts="1.1"
        )
        again = await tickets.add_turn(
            tx, ticket_id=ticket.id, role="staff", user_id="U9", text="d", slack_ts="1.1"
        )
        assert in_other is not None and again is not None
        latest = await tickets.latest_customer_turn_id(tx, ticket.id)
    assert [t.text for t in await tickets.turns(ticket.id)] == ["a", "b", "d"]
    assert latest == 0


async def test_latest_customer_turn_id(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        c1 = await tickets.add_turn(
            tx, ticket_id=ticket.id, role="customer", user_id="U1", text="q1", slack_ts="1"
        )
        await tickets.add_turn(
            tx, ticket_id=ticket.id, role="bot", user_id=None, text="a", slack_ts="2"
        )
        assert c1 is not None
        assert await tickets.latest_customer_turn_id(tx, ticket.id) == c1.id


async def test_turn_role_is_checked_by_the_schema(db: Database) -> None:
    tickets = TicketRepository(db)
    ticket, _ = await _open(tickets)
    with pytest.raises(INTEGRITY_ERRORS):
        async with db.transaction() as tx:
            await tickets.add_turn(
                tx,
                ticket_id=ticket.id,
                role="robot",  # type: ignore[arg-type]
                user_id=None,
                text="x",
                slack_ts=None,
            )


# --- escalations -----------------------------------------------------------------------------


async def _escalate(db: Database, round: int = 1) -> tuple[EscalationRepository, int]:
    tickets = TicketRepository(db)
    escalations = EscalationRepository(db)
    ticket, _ = await _open(tickets)
    async with db.transaction() as tx:
        escalation = await escalations.create(
            tx, ticket_id=ticket.id, round=round, reason="Low confidence.", draft_text="Draft"
        )
    return escalations, escalation.id


async def test_create_is_idempotent_per_ticket_and_round(db: Database) -> None:
    escalations, escalation_id = await _escalate(db)
    _, again_id = await _escalate(db)
    assert again_id == escalation_id
    escalation = await escalations.get(escalation_id)
    assert escalation is not None
    assert (escalation.state, escalation.reason, escalation.draft_text) == (
        "pending",
        "Low confidence.",
        "Draft",
    )
    assert await escalations.count_pending() == 1


async def test_decide_succeeds_once_and_the_second_decider_gets_false(db: Database) -> None:
    escalations, escalation_id = await _escalate(db)
    async with db.transaction() as tx:
        first = await escalations.decide(
            tx,
            escalation_id=escalation_id,
            new_state="approved",
            decided_by="UALICE",
            final_text="Draft",
        )
    async with db.transaction() as tx:
        second = await escalations.decide(
            tx,
            escalation_id=escalation_id,
            new_state="rejected",
            decided_by="UBOB",
            final_text=None,
        )
    assert first is True
    assert second is False
    decided = await escalations.get(escalation_id)
    assert decided is not None
    assert decided.state == "approved"
    assert decided.decided_by == "UALICE"
    assert decided.final_text == "Draft"
    assert decided.decided_at is not None
    assert decided.version == 1
    assert await escalations.count_pending() == 0


async def test_pending_for_ticket_and_set_card(db: Database) -> None:
    escalations, escalation_id = await _escalate(db)
    escalation = await escalations.get(escalation_id)
    assert escalation is not None
    async with db.transaction() as tx:
        pending = await escalations.pending_for_ticket(tx, escalation.ticket_id)
        assert pending is not None and pending.id == escalation_id
        await escalations.set_card(tx, escalation_id=escalation_id, channel="C0ESC", ts="9.9")
        await escalations.decide(
            tx,
            escalation_id=escalation_id,
            new_state="edited",
            decided_by="U1",
            final_text="Edited",
        )
        assert await escalations.pending_for_ticket(tx, escalation.ticket_id) is None
    [stored] = await escalations.for_ticket(escalation.ticket_id)
    assert (stored.card_channel, stored.card_ts, stored.state) == ("C0ESC", "9.9", "edited")
