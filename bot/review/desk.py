"""The review desk: a reviewer's Approve, Edit or Reject on an escalation card.

Every decision is a conditional update on the escalation (``WHERE state = 'pending'``), made in
the same transaction that queues the reply and the card update. Whoever commits first decides;
everyone after is told who did, and nothing more is sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from bot.jobs import kinds as jobkinds
from bot.jobs.queueing import queue_advance, queue_card_sync
from bot.llm.language import ENGLISH, is_english, language_name
from bot.slack.blocks.answers import answer_message, plain_reply
from bot.slack.blocks.modals import edit_modal
from bot.slack.interactions import ReviewOutcome, unknown_card
from bot.slack.outbox import queue_thread_post
from bot.slack.people import People
from bot.slack.text import slack_date
from bot.tickets.languages import NO_MODEL, Languages, locale_for
from bot.tickets.schemas import Draft
from persistence.db import Tx
from persistence.records import Escalation, TicketState
from persistence.repos import Repositories

log = logging.getLogger(__name__)

Verdict = Literal["approved", "edited", "rejected"]
_PAST = {
    "approved": "approved",
    "edited": "edited and sent",
    "rejected": "rejected",
    "answered_in_thread": "answered in the thread",
    "resolved": "resolved",
}


def busy_notice(escalation: Escalation) -> str:
    what = {
        "redraft": "a new draft",
        "translate": "the translation of an edit for the customer",
    }.get(escalation.work or "", "a reply from a teammate's answer")
    who = f" (asked by <@{escalation.work_by}>)" if escalation.work_by else ""
    return f"The bot is writing {what}{who}; it will be on the card in a moment."


def already_decided(escalation: Escalation) -> str:
    who = f"<@{escalation.decided_by}>" if escalation.decided_by else "someone"
    when = slack_date(escalation.decided_at) if escalation.decided_at else ""
    verb = _PAST.get(escalation.state, escalation.state)
    return f"Already {verb} by {who} {when}. Nothing more was sent.".replace("  ", " ")


# How long a submitted edit's language is looked for while Slack waits for the modal's answer;
# past it (the detector's models still loading), the edit is held and translated as if English.
DETECT_IN_ACK_SECONDS = 0.5


class ReviewDesk:
    def __init__(
        self, repos: Repositories, people: People, languages: Languages | None = None
    ) -> None:
        self.repos = repos
        self.people = people
        # Edits for customers who write another language are translated before they are sent
        # (``bot/review/translated_edit.py``).
        self.languages = languages

    async def refusal(self, user_id: str) -> ReviewOutcome | None:
        """Why ``user_id`` may not act on a card (None: they may)."""
        return await self._allowed(user_id)

    async def _allowed(self, user_id: str) -> ReviewOutcome | None:
        if await self.people.can_review(user_id):
            return None
        log.info("refused review action by %s", user_id)
        return ReviewOutcome(done=False, notice=self.people.refusal())

    async def approve(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        refusal = await self._allowed(user_id)
        if refusal:
            return refusal
        return await self._decide(escalation_id, "approved", user_id=user_id, edited_text=None)

    async def reject(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        refusal = await self._allowed(user_id)
        if refusal:
            return refusal
        return await self._decide(escalation_id, "rejected", user_id=user_id, edited_text=None)

    async def edit_form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        """The Edit modal for a pending escalation, or the reason there is none."""
        refusal = await self._allowed(user_id)
        if refusal:
            return None, refusal
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return None, unknown_card()
        if escalation.state != "pending":
            return None, ReviewOutcome(done=False, notice=already_decided(escalation))
        if escalation.work is not None:
            return None, ReviewOutcome(done=False, notice=busy_notice(escalation))
        turns = await self.repos.tickets.turns(escalation.ticket_id)
        question = next((t.text for t in turns if t.role == "customer"), "")
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        foreign = ticket is not None and not is_english(ticket.language)
        view = edit_modal(
            escalation_id=escalation.id,
            draft=escalation.draft_text or "",
            question=question,
            language=language_name(ticket.language) if ticket is not None and foreign else None,
            question_english=(
                await self.repos.languages.translation(ticket.id, question, ENGLISH)
                if ticket is not None and foreign
                else None
            ),
        )
        return view, None

    async def submit_edit(
        self, escalation_id: int, *, user_id: str, user_team: str | None, text: str, field: str
    ) -> ReviewOutcome:
        refusal = await self._allowed(user_id)
        if refusal:
            return ReviewOutcome(done=False, field_errors={field: refusal.notice or ""})
        if not text.strip():
            return ReviewOutcome(done=False, field_errors={field: "Write the reply to send."})
        held = await self._hold_for_translation(escalation_id, user_id=user_id, text=text)
        if held is not None:
            if not held.done and held.notice:
                return ReviewOutcome(done=False, field_errors={field: held.notice})
            return held
        outcome = await self._decide(escalation_id, "edited", user_id=user_id, edited_text=text)
        if not outcome.done and outcome.notice:
            return ReviewOutcome(done=False, field_errors={field: outcome.notice})
        return outcome

    async def _hold_for_translation(
        self, escalation_id: int, *, user_id: str, text: str
    ) -> ReviewOutcome | None:
        """An edit for a customer who writes another language, not written in it: kept on the
        card to be translated (or, offline, to be sent as written once the reviewer has seen
        that it cannot be). None: send it now (an English customer, or an edit written in the
        customer's language)."""
        if self.languages is None:
            return None
        repos = self.repos
        escalation = await repos.escalations.get(escalation_id)
        if escalation is None or escalation.state != "pending":
            return None  # the decision says why
        ticket = await repos.tickets.get(escalation.ticket_id)
        if ticket is None or is_english(ticket.language):
            return None
        try:
            written_in = await asyncio.wait_for(
                self.languages.detector.detect_async(text), DETECT_IN_ACK_SECONDS
            )
        except TimeoutError:
            written_in = None  # held: the translation job looks again
        if written_in == ticket.language:
            return None
        translating = self.languages.model is not None
        async with repos.db.transaction(urgent=True) as tx:
            held = await repos.escalations.hold_edit(
                tx,
                escalation_id=escalation_id,
                text=text,
                by=user_id,
                translating=translating,
                problem=None if translating else NO_MODEL,
            )
            current = await repos.escalations.get(escalation_id, tx)
            assert current is not None
            if not held:
                if current.state == "pending":
                    return ReviewOutcome(done=False, notice=busy_notice(current))
                return ReviewOutcome(done=False, notice=already_decided(current))
            if translating:
                await repos.jobs.enqueue(
                    tx,
                    kind=jobkinds.TRANSLATE_EDIT,
                    dedupe_key=jobkinds.translate_edit_key(escalation_id, current.version),
                    payload={"escalation_id": escalation_id},
                )
            await queue_card_sync(
                repos.jobs, tx, escalation_id=escalation_id, reason=f"edit:v{current.version}"
            )
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="edit_held",
                actor=user_id,
                detail={
                    "escalation_id": escalation_id,
                    "language": ticket.language,
                    "written_in": written_in,
                    "translating": translating,
                },
            )
        return ReviewOutcome(done=True)

    async def _decide(
        self, escalation_id: int, verdict: Verdict, *, user_id: str, edited_text: str | None
    ) -> ReviewOutcome:
        # Urgent: the reviewer's click is acknowledged only once the decision is stored.
        async with self.repos.db.transaction(urgent=True) as tx:
            outcome = await self.decide_in(
                tx, escalation_id, verdict, user_id=user_id, edited_text=edited_text
            )
        return outcome

    async def decide_in(
        self,
        tx: Tx,
        escalation_id: int,
        verdict: Verdict,
        *,
        user_id: str,
        edited_text: str | None,
    ) -> ReviewOutcome:
        """The decision inside the caller's transaction (a composed reply sent at once commits
        with the draft it sends)."""
        repos = self.repos
        escalation = await repos.escalations.get(escalation_id, tx)
        if escalation is None:
            return unknown_card()
        if escalation.state == "pending" and escalation.work is not None:
            return ReviewOutcome(done=False, notice=busy_notice(escalation))
        if verdict == "approved" and not escalation.draft_text:
            return ReviewOutcome(
                done=False, notice="There is no draft to approve; use Edit to write a reply."
            )
        final_text = edited_text if verdict == "edited" else None
        if verdict == "approved":
            final_text = escalation.draft_text
        decided = await repos.escalations.decide(
            tx,
            escalation_id=escalation_id,
            new_state=verdict,
            decided_by=user_id,
            final_text=final_text,
        )
        if not decided:
            current = await repos.escalations.get(escalation_id, tx)
            assert current is not None
            if current.state == "pending":  # a new draft is being written for it
                return ReviewOutcome(done=False, notice=busy_notice(current))
            return ReviewOutcome(done=False, notice=already_decided(current))
        await self._settle_ticket(tx, escalation, verdict, user_id, final_text)
        return ReviewOutcome(done=True)

    async def _settle_ticket(
        self,
        tx: Tx,
        escalation: Escalation,
        verdict: Verdict,
        user_id: str,
        final_text: str | None,
    ) -> None:
        repos = self.repos
        ticket = await repos.tickets.get(escalation.ticket_id, tx)
        assert ticket is not None
        latest = await repos.tickets.latest_customer_turn_id(tx, ticket.id)
        new_state: TicketState = "rejected" if verdict == "rejected" else "replied"
        # The reply covers what the card showed; a message newer than that gets its own round.
        covered = max(escalation.shown_turn_id, ticket.processed_turn_id)
        unseen = latest > covered and verdict != "rejected"
        if ticket.state == "awaiting_review":
            await repos.tickets.transition(
                tx,
                ticket_id=ticket.id,
                expected_state="awaiting_review",
                expected_version=ticket.version,
                new_state=new_state,
                processed_turn_id=covered,
            )
        if verdict == "rejected" and ticket.owner_user_id is None:
            # "Answer it yourself": the ticket is the rejecter's, on the card and in App Home.
            await repos.tickets.set_owner(tx, ticket_id=ticket.id, user_id=user_id)
        if final_text is not None:
            if verdict == "approved":
                draft = Draft.model_validate(ticket.draft) if ticket.draft else None
                message = answer_message(
                    final_text,
                    draft.sources if draft else [],
                    ticket_id=ticket.id,
                    round=ticket.round,
                    locale=await locale_for(repos, ticket.language, tx),
                )
            else:
                message = plain_reply(final_text)
            await queue_thread_post(
                repos.jobs,
                tx,
                key=jobkinds.reply_key(escalation.id),
                ticket=ticket,
                message=message,
                purpose="reply",
                author=user_id if verdict == "edited" else None,
            )
            # The reply is sent: propose it, generalised, as a verified answer for everyone
            # (``bot/review/verified.py``).
            await repos.jobs.enqueue(
                tx,
                kind=jobkinds.PROPOSE_VERIFIED,
                dedupe_key=jobkinds.verified_key(escalation.id),
                payload={"escalation_id": escalation.id},
            )
        if unseen and ticket.state == "awaiting_review":
            fresh = await repos.tickets.get(ticket.id, tx)
            assert fresh is not None
            await repos.tickets.transition(
                tx,
                ticket_id=fresh.id,
                expected_state=fresh.state,
                expected_version=fresh.version,
                new_state="received",
                round=fresh.round + 1,
            )
            await queue_advance(repos.jobs, tx, ticket_id=fresh.id, round=fresh.round + 1)
        await queue_card_sync(repos.jobs, tx, escalation_id=escalation.id, reason="decided")
        await repos.trail.record(
            tx,
            ticket_id=ticket.id,
            step=verdict,
            actor=user_id,
            detail={"escalation_id": escalation.id, "edited": verdict == "edited"},
        )
