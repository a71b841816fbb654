"""Who holds the conversation: the bot, a reviewer, or a teammate writing in the thread.

Takeover (a teammate writes in the customer's thread), hand back, claim, resolve, auto-close,
and the buttons under AI answers ("Talk to a person", "Helpful"). Each is one transaction of
conditional updates, so two people acting at once settle on one outcome.

The customer resolves a ticket by pressing "Helpful" under the latest answer while the ticket
waits on them (the ticket's customer, or someone from their organisation: ``Csat.may_rate``);
anyone else's "Helpful" is only counted as feedback. Every resolution asks "How did we do?" in a
channel that opted in (``bot/tickets/csat.py``), in the same transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_card_sync, queue_timer
from bot.jobs.trail import JobTrail
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.slack.blocks.answers import resolved_note
from bot.slack.interactions import ReviewOutcome, unknown_card
from bot.slack.outbox import queue_thread_post
from bot.slack.people import People
from bot.tickets.csat import Csat
from bot.tickets.escalate import open_escalation
from bot.tickets.languages import locale_for
from bot.tickets.rounds import start_next_round
from bot.tickets.status import closing_teammate_reply, last_word
from persistence.db import Tx
from persistence.records import HUMAN_STATES, IN_PROGRESS_STATES, Job, Ticket, TicketState, Turn
from persistence.repos import Repositories

log = logging.getLogger(__name__)

# States where the customer is waiting on nobody but themselves (auto-close applies).
WAITING_ON_CUSTOMER: tuple[TicketState, ...] = ("answered", "replied", "human", "rejected")
# States where the customer's "Helpful" on the latest answer resolves the ticket.
CUSTOMER_RESOLVES: tuple[TicketState, ...] = ("answered", "replied")
TALK_TO_PERSON_REASON = "The customer pressed “Talk to a person” under the bot's answer."


@dataclass(eq=False)
class Handoffs:
    """Humans and the bot in one thread: take-overs, hand-backs, resolving and auto-close."""

    settings: Settings
    config: LiveConfig
    repos: Repositories
    people: People
    csat: Csat | None = None

    def __post_init__(self) -> None:
        if self.csat is None:
            self.csat = Csat(self.config, self.repos, self.people)

    # -- inside other transactions --------------------------------------------------------

    async def take_over(self, tx: Tx, ticket: Ticket, staff_user: str) -> None:
        """A teammate wrote in the customer's thread: the ticket is theirs, the bot goes quiet,
        and a card still waiting says it was answered there."""
        repos = self.repos
        if ticket.state == "resolved":
            return
        if ticket.state != "human":
            await repos.tickets.move(
                tx,
                ticket,
                "human",
                human_owner=staff_user,
            )
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="taken_over",
                actor=staff_user,
                detail={"from_state": ticket.state},
            )
        pending = await repos.escalations.pending_for_ticket(tx, ticket.id)
        if pending is not None:
            await repos.escalations.close(
                tx, escalation_id=pending.id, new_state="answered_in_thread", by=staff_user
            )
            await queue_card_sync(repos.jobs, tx, escalation_id=pending.id, reason="taken-over")

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            await self.auto_close(int(job.payload["ticket_id"]), int(job.payload["turn_id"]))

        gave_up = JobTrail(self.repos).gave_up
        return [JobKind(jobkinds.AUTO_CLOSE, run, failed=gave_up)]

    async def schedule_auto_close(self, tx: Tx, ticket_id: int, turn: Turn) -> None:
        """After a reply from our side, the ticket resolves itself if the customer stays quiet."""
        await queue_timer(
            self.repos.jobs,
            tx,
            kind=jobkinds.AUTO_CLOSE,
            key=jobkinds.auto_close_key(ticket_id, turn.id),
            delay=self.settings.auto_close_after,
            payload={"ticket_id": ticket_id, "turn_id": turn.id},
        )

    # -- reviewer actions (card buttons, shortcuts, commands) -------------------------------

    async def _refuse(self, user_id: str) -> ReviewOutcome | None:
        if await self.people.can_review(user_id):
            return None
        return ReviewOutcome(done=False, notice=self.people.refusal())

    async def ticket_of_escalation(self, escalation_id: int) -> int | None:
        escalation = await self.repos.escalations.get(escalation_id)
        return None if escalation is None else escalation.ticket_id

    async def claim(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        refusal = await self._refuse(user_id)
        if refusal:
            return refusal
        repos = self.repos
        async with repos.db.transaction() as tx:
            escalation = await repos.escalations.get(escalation_id, tx)
            if escalation is None:
                return unknown_card()
            ticket = await repos.tickets.get(escalation.ticket_id, tx)
            assert ticket is not None
            return await self.claim_in(tx, ticket, user_id=user_id, escalation_id=escalation_id)

    async def claim_in(
        self,
        tx: Tx,
        ticket: Ticket,
        *,
        user_id: str,
        escalation_id: int | None = None,
        via: str | None = None,
    ) -> ReviewOutcome:
        """``user_id`` owns the ticket, inside the caller's transaction (its card, or its latest
        card when ``escalation_id`` is None, shows it). The caller checked they may review."""
        repos = self.repos
        if ticket.owner_user_id == user_id:
            return ReviewOutcome(done=False, notice="You already own this ticket.")
        if escalation_id is None:
            latest = await repos.escalations.latest_for_ticket(ticket.id, tx)
            escalation_id = latest.id if latest is not None else None
        await repos.tickets.set_owner(tx, ticket_id=ticket.id, user_id=user_id)
        detail: dict[str, object] = {
            "escalation_id": escalation_id,
            "previous_owner": ticket.owner_user_id,
        }
        if via is not None:
            detail["via"] = via
        await repos.trail.record(
            tx, ticket_id=ticket.id, step="claimed", actor=user_id, detail=detail
        )
        if escalation_id is not None:
            await repos.escalations.touch(tx, escalation_id)
            await queue_card_sync(
                repos.jobs, tx, escalation_id=escalation_id, reason=f"claim:{user_id}:{_stamp()}"
            )
        return ReviewOutcome(done=True)

    async def hand_back(
        self, ticket_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        """The bot answers in the thread again; a customer message nobody answered gets a round."""
        refusal = await self._refuse(user_id)
        if refusal:
            return refusal
        repos = self.repos
        async with repos.db.transaction() as tx:
            ticket = await repos.tickets.get(ticket_id, tx)
            if ticket is None:
                return ReviewOutcome(done=False, notice=f"There is no ticket #{ticket_id}.")
            if ticket.state not in HUMAN_STATES:
                return ReviewOutcome(
                    done=False,
                    notice=f"Ticket #{ticket.id} is not with a person; the bot already has it.",
                )
            last = last_word(await repos.tickets.turns(ticket.id, tx))
            unanswered = last is not None and last.role == "customer"
            latest_customer = await repos.tickets.latest_customer_turn_id(tx, ticket.id)
            if unanswered and latest_customer > ticket.processed_turn_id:
                await start_next_round(repos, tx, ticket, human_owner=None)
            else:
                await repos.tickets.move(
                    tx,
                    ticket,
                    "replied",
                    human_owner=None,
                    processed_turn_id=max(latest_customer, ticket.processed_turn_id),
                )
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="handed_back",
                actor=user_id,
                detail={"answering_now": unanswered},
            )
            await self._sync_latest_card(tx, ticket.id, f"handback:{_stamp()}")
        return ReviewOutcome(
            done=True,
            notice=f"Ticket #{ticket_id} is back with the bot"
            + (": it is answering the customer's last message now." if unanswered else "."),
        )

    async def resolve(
        self, ticket_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        refusal = await self._refuse(user_id)
        if refusal:
            return refusal
        assert self.csat is not None
        gone = await self.csat.customer_gone(ticket_id)
        async with self.repos.db.transaction() as tx:
            ticket = await self.repos.tickets.get(ticket_id, tx)
            if ticket is None:
                return ReviewOutcome(done=False, notice=f"There is no ticket #{ticket_id}.")
            return await self.resolve_in(tx, ticket, user_id=user_id, customer_gone=gone)

    async def resolve_in(
        self,
        tx: Tx,
        ticket: Ticket,
        *,
        user_id: str,
        via: str | None = None,
        customer_gone: bool = False,
    ) -> ReviewOutcome:
        """Resolve inside the caller's transaction; the caller checked they may review (and
        asked ``Csat.customer_gone`` before the transaction)."""
        if ticket.state == "resolved":
            who = f"<@{ticket.resolved_by}>" if ticket.resolved_by != "bot" else "the bot"
            return ReviewOutcome(
                done=False, notice=f"Ticket #{ticket.id} was already resolved by {who}."
            )
        await self._resolve(tx, ticket, by=user_id, via=via, customer_gone=customer_gone)
        return ReviewOutcome(done=True)

    async def _resolve(
        self,
        tx: Tx,
        ticket: Ticket,
        *,
        by: str,
        via: str | None = None,
        by_customer: bool = False,
        customer_gone: bool = False,
    ) -> None:
        repos = self.repos
        pending = await repos.escalations.pending_for_ticket(tx, ticket.id)
        if pending is not None:
            await repos.escalations.close(tx, escalation_id=pending.id, new_state="resolved", by=by)
        await repos.tickets.move(
            tx,
            ticket,
            "resolved",
            resolved_by=by,
            resolved_at=_now(),
            human_owner=None,
        )
        await queue_thread_post(
            repos.jobs,
            tx,
            key=jobkinds.resolved_note_key(ticket.id, ticket.round),
            ticket=ticket,
            message=resolved_note(
                by_bot=by == "bot",
                by_customer=by_customer,
                locale=await locale_for(repos, ticket.language, tx),
            ),
            purpose="resolved_note",
        )
        await repos.trail.record(
            tx,
            ticket_id=ticket.id,
            step="auto_closed" if by == "bot" else "resolved",
            actor=by,
            detail={"from_state": ticket.state, **({"via": via} if via else {})},
        )
        assert self.csat is not None
        await self.csat.ask(tx, ticket, customer_gone=customer_gone)
        if closing_teammate_reply(await repos.tickets.turns(ticket.id, tx)) is not None:
            # Resolved with a teammate's own reply: propose it, generalised, as a verified
            # answer for everyone (``bot/review/verified.py``).
            await repos.jobs.enqueue(
                tx,
                kind=jobkinds.PROPOSE_VERIFIED,
                dedupe_key=jobkinds.thread_verified_key(ticket.id),
                payload={"ticket_id": ticket.id},
            )
        await self._sync_latest_card(tx, ticket.id, f"resolved:{ticket.round}")

    async def _sync_latest_card(self, tx: Tx, ticket_id: int, reason: str) -> None:
        latest = await self.repos.escalations.latest_for_ticket(ticket_id, tx)
        if latest is not None:
            await self.repos.escalations.touch(tx, latest.id)
            await queue_card_sync(self.repos.jobs, tx, escalation_id=latest.id, reason=reason)

    # -- timers -----------------------------------------------------------------------------

    async def auto_close(self, ticket_id: int, turn_id: int) -> None:
        """Fires once per reply from our side; closes the ticket only if that reply is still the
        last word and nobody is working on it."""
        assert self.csat is not None
        gone = await self.csat.customer_gone(ticket_id)
        async with self.repos.db.transaction() as tx:
            ticket = await self.repos.tickets.get(ticket_id, tx)
            if ticket is None or ticket.state not in WAITING_ON_CUSTOMER:
                return
            last = last_word(await self.repos.tickets.turns(ticket_id, tx))
            if last is None or last.id != turn_id or last.role == "customer":
                return
            await self._resolve(tx, ticket, by="bot", customer_gone=gone)

    # -- buttons under AI answers -------------------------------------------------------------

    async def talk_to_person(self, ticket_id: int, round: int, *, user_id: str) -> str:
        """Immediate escalation, whatever the classification said. Returns what to tell them."""
        repos = self.repos
        async with repos.db.transaction() as tx:
            ticket = await repos.tickets.get(ticket_id, tx)
            if ticket is None:
                return "I could not find this conversation; please write your question again."
            await repos.tickets.add_feedback(
                tx, ticket_id=ticket_id, round=round, user_id=user_id, verdict="wants_person"
            )
            locale = await locale_for(repos, ticket.language, tx)
            if ticket.state in ("awaiting_review", "human"):
                return locale["person_already"]
            if ticket.state in IN_PROGRESS_STATES:
                return locale["person_wait"]
            latest_customer = await repos.tickets.latest_customer_turn_id(tx, ticket.id)
            new_round = ticket.round + 1
            await repos.tickets.move(
                tx,
                ticket,
                "awaiting_review",
                round=new_round,
                processed_turn_id=max(latest_customer, ticket.processed_turn_id),
                decision={"action": "escalate", "reason": TALK_TO_PERSON_REASON},
                human_owner=None,
            )
            fresh = await repos.tickets.get(ticket.id, tx)
            assert fresh is not None
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="wants_person",
                actor=user_id,
                detail={"round": round, "via": "button"},
            )
            await open_escalation(
                repos,
                self.settings,
                self.config.current,
                tx,
                fresh,
                TALK_TO_PERSON_REASON,
                draft={},
                actor=user_id,
            )
        return locale["person_asked"]

    async def helpful(
        self, ticket_id: int, round: int, *, user_id: str, user_team: str | None = None
    ) -> str:
        """Feedback on an answer; from the customer's side, on the latest answer of a ticket
        waiting on them, it also resolves the ticket (the customer resolves it)."""
        async with self.repos.db.transaction() as tx:
            ticket = await self.repos.tickets.get(ticket_id, tx)
            if ticket is None:
                return "Thanks!"
            new = await self.repos.tickets.add_feedback(
                tx, ticket_id=ticket_id, round=round, user_id=user_id, verdict="helpful"
            )
            locale = await locale_for(self.repos, ticket.language, tx)
            if new:
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket_id,
                    step="feedback",
                    actor=user_id,
                    detail={"verdict": "helpful", "round": round},
                )
            assert self.csat is not None
            if (
                round == ticket.round
                and ticket.state in CUSTOMER_RESOLVES
                and self.csat.may_rate(ticket, user_id=user_id, user_team=user_team)
            ):
                await self._resolve(tx, ticket, by=user_id, via="helpful", by_customer=True)
                return locale["thanks_resolved"]
        return locale["thanks_feedback" if new else "feedback_again"]


def _now() -> float:
    return time.time()


def _stamp() -> str:
    """Makes a card-sync key unique, so each of several changes re-renders the card."""
    return f"{time.time():.6f}"


async def resume_paused(repos: Repositories, version: int) -> int:
    """After /support resume: run on every round that stopped at its decision while paused."""
    count = 0
    async with repos.db.transaction() as tx:
        for ticket in await repos.tickets.in_states(tx, ("drafted",)):
            new = await repos.jobs.enqueue(
                tx,
                kind=jobkinds.ADVANCE_TICKET,
                dedupe_key=f"{jobkinds.advance_key(ticket.id, ticket.round)}:resume:{version}",
                payload={"ticket_id": ticket.id, "round": ticket.round},
            )
            count += int(new)
    return count
