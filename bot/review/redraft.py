"""New drafts on a waiting card: "Redraft with feedback", and "Answer the bot's question".

A request marks the escalation as being worked on (no decision can be taken on a draft that is
about to be replaced) and queues a ``redraft`` job, in one transaction. The job writes the new
draft outside any transaction (the LLM is slow), then puts it on the card, appends it to the
card's history of drafts and makes the card decidable again; with "compose and send" it is sent
at once, as approved by the teammate who answered.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_card_sync
from bot.llm.model import LlmFailure, usage_fields
from bot.review.desk import ReviewDesk, already_decided, busy_notice
from bot.settings.environment import Settings
from bot.settings.logs import current_ticket
from bot.slack.blocks.modals import FEEDBACK_MAX, answer_question_modal, redraft_modal
from bot.slack.interactions import ReviewOutcome, unknown_card
from bot.slack.people import People
from bot.tickets.schemas import Draft
from bot.tickets.workflow import Workflow
from persistence.db import Tx
from persistence.records import Escalation, Job
from persistence.repos import Repositories

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 3000


class Redrafter:
    def __init__(
        self,
        settings: Settings,
        repos: Repositories,
        people: People,
        workflow: Workflow,
        review: ReviewDesk,
    ) -> None:
        self.settings = settings
        self.repos = repos
        self.people = people
        self.workflow = workflow
        self.review = review

    def can_redraft(self) -> bool:
        return self.settings.llm_enabled and self.settings.review_max_redrafts > 0

    async def redrafts_left(self, escalation_id: int) -> int:
        drafts = await self.repos.escalations.drafts(escalation_id)
        used = sum(1 for d in drafts if d.origin == "redraft")
        return max(0, self.settings.review_max_redrafts - used)

    async def _refuse(self, user_id: str) -> ReviewOutcome | None:
        if await self.people.can_review(user_id):
            return None
        return ReviewOutcome(done=False, notice=self.people.refusal())

    async def _waiting(self, escalation_id: int) -> tuple[Escalation | None, ReviewOutcome | None]:
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return None, unknown_card()
        if escalation.state != "pending":
            return None, ReviewOutcome(done=False, notice=already_decided(escalation))
        if escalation.work is not None:
            return None, ReviewOutcome(done=False, notice=busy_notice(escalation))
        return escalation, None

    # -- the forms ------------------------------------------------------------------------

    async def redraft_form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        refusal = await self._refuse(user_id)
        if refusal:
            return None, refusal
        if not self.can_redraft():
            return None, ReviewOutcome(
                done=False, notice="Redrafting needs an LLM (OPENAI_API_KEY); use Edit instead."
            )
        escalation, problem = await self._waiting(escalation_id)
        if escalation is None:
            return None, problem
        left = await self.redrafts_left(escalation_id)
        if left <= 0:
            return None, ReviewOutcome(
                done=False,
                notice=f"This card has had {self.settings.review_max_redrafts} redrafts, the"
                " most allowed; use Edit to write the reply.",
            )
        view = redraft_modal(
            escalation_id=escalation_id, draft=escalation.draft_text or "", left=left - 1
        )
        return view, None

    async def answer_form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        refusal = await self._refuse(user_id)
        if refusal:
            return None, refusal
        escalation, problem = await self._waiting(escalation_id)
        if escalation is None:
            return None, problem
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        assert ticket is not None
        question = str((ticket.draft or {}).get("missing_information") or "")
        if not question:
            return None, ReviewOutcome(done=False, notice="The bot has no open question here.")
        customer, _, _ = await self.workflow._card_question(ticket)
        view = answer_question_modal(
            escalation_id=escalation_id, question=question, customer_question=customer
        )
        return view, None

    # -- the submissions ----------------------------------------------------------------------

    async def request_redraft(
        self, escalation_id: int, *, user_id: str, user_team: str | None, feedback: str
    ) -> ReviewOutcome:
        refusal = await self._refuse(user_id)
        if refusal:
            return refusal
        feedback = feedback.strip()
        if not feedback:
            return ReviewOutcome(done=False, notice="Say what the bot should change.")
        if len(feedback) > FEEDBACK_MAX:
            return ReviewOutcome(
                done=False, notice=f"Keep the feedback under {FEEDBACK_MAX} characters."
            )
        if not self.can_redraft():
            return ReviewOutcome(done=False, notice="Redrafting needs an LLM; use Edit instead.")
        if await self.redrafts_left(escalation_id) <= 0:
            return ReviewOutcome(
                done=False, notice="No redrafts left on this card; use Edit to write the reply."
            )
        repos = self.repos
        async with repos.db.transaction() as tx:
            problem = await self._start(tx, escalation_id, "redraft", user_id)
            if problem is not None:
                return problem
            await repos.escalations.set_feedback(tx, escalation_id=escalation_id, feedback=feedback)
            await self._queue(tx, escalation_id, user_id, {"feedback": feedback})
        return ReviewOutcome(done=True)

    async def answer_question(
        self,
        escalation_id: int,
        *,
        user_id: str,
        user_team: str | None,
        answer: str,
        send_now: bool,
    ) -> ReviewOutcome:
        refusal = await self._refuse(user_id)
        if refusal:
            return refusal
        answer = answer.strip()
        if not answer:
            return ReviewOutcome(done=False, notice="Write the answer to the bot's question.")
        if len(answer) > MAX_ANSWER_CHARS:
            return ReviewOutcome(
                done=False, notice=f"Keep the answer under {MAX_ANSWER_CHARS} characters."
            )
        repos = self.repos
        async with repos.db.transaction() as tx:
            problem = await self._start(tx, escalation_id, "compose", user_id)
            if problem is not None:
                return problem
            escalation = await repos.escalations.get(escalation_id, tx)
            assert escalation is not None
            ticket = await repos.tickets.get(escalation.ticket_id, tx)
            assert ticket is not None
            question = str((ticket.draft or {}).get("missing_information") or "(no question)")
            note = await repos.tickets.add_note(
                tx, ticket_id=ticket.id, question=question, answer=answer, user_id=user_id
            )
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="question_answered",
                actor=user_id,
                detail={"escalation_id": escalation_id, "note_id": note.id, "send": send_now},
            )
            await self._queue(tx, escalation_id, user_id, {"note_id": note.id, "send": send_now})
        return ReviewOutcome(done=True)

    async def _start(
        self, tx: Tx, escalation_id: int, work: str, user_id: str
    ) -> ReviewOutcome | None:
        started = await self.repos.escalations.start_work(
            tx, escalation_id=escalation_id, work=work, by=user_id
        )
        if started:
            return None
        current = await self.repos.escalations.get(escalation_id, tx)
        if current is None:
            return unknown_card()
        if current.state != "pending":
            return ReviewOutcome(done=False, notice=already_decided(current))
        return ReviewOutcome(done=False, notice=busy_notice(current))

    async def _queue(self, tx: Tx, escalation_id: int, user_id: str, extra: dict[str, Any]) -> None:
        request = uuid.uuid4().hex
        escalation = await self.repos.escalations.get(escalation_id, tx)
        assert escalation is not None
        if extra.get("feedback"):
            await self.repos.trail.record(
                tx,
                ticket_id=escalation.ticket_id,
                step="redraft_requested",
                actor=user_id,
                detail={"escalation_id": escalation_id, "feedback": extra["feedback"][:500]},
            )
        queued = await self.repos.jobs.enqueue(
            tx,
            kind=jobkinds.REDRAFT,
            dedupe_key=jobkinds.redraft_key(escalation_id, request),
            payload={"escalation_id": escalation_id, "by": user_id, **extra},
        )
        assert queued, "a fresh key is always new"
        await queue_card_sync(
            self.repos.jobs, tx, escalation_id=escalation_id, reason=f"work:{request}"
        )

    # -- the job ------------------------------------------------------------------------------

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            await self.run(job.payload)

        async def failed(job: Job, error: str) -> None:
            await self.failed(job.payload, error)

        return [JobKind(jobkinds.REDRAFT, run, failed=failed)]

    async def run(self, payload: dict[str, Any]) -> None:
        escalation_id = int(payload["escalation_id"])
        by = str(payload["by"])
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None or escalation.state != "pending" or escalation.work is None:
            return  # decided meanwhile (e.g. taken over in the thread), or already finished
        current_ticket.set(escalation.ticket_id)
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        assert ticket is not None
        feedback = payload.get("feedback")
        error: str | None = None
        draft: Draft | None = None
        usage = None
        try:
            draft, usage = await self.workflow.revise(
                ticket, previous=escalation.draft_text, feedback=feedback
            )
        except LlmFailure as failure:
            error, usage = failure.reason, failure.usage
        origin = "redraft" if feedback else "team"
        send_now = bool(payload.get("send")) and draft is not None
        repos = self.repos
        async with repos.db.transaction() as tx:
            if draft is not None:
                finished = await repos.escalations.finish_work(
                    tx, escalation_id=escalation_id, draft_text=draft.text
                )
            else:
                finished = await repos.escalations.finish_work(
                    tx,
                    escalation_id=escalation_id,
                    draft_text=escalation.draft_text,
                    reason=f"{escalation.reason} (A new draft failed: {error})",
                )
            if not finished:
                return
            if draft is not None:
                await repos.escalations.add_draft(
                    tx,
                    escalation_id=escalation_id,
                    text=draft.text,
                    sources=[s.model_dump() for s in draft.sources],
                    origin=origin,
                    requested_by=by,
                )
                await repos.tickets.update_draft(tx, ticket_id=ticket.id, draft=draft.model_dump())
            extra = usage_fields(usage)
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="redrafted" if draft is not None else "redraft_failed",
                actor="bot",
                detail={"escalation_id": escalation_id, "origin": origin, "error": error},
                **extra,
            )
            await queue_card_sync(
                repos.jobs, tx, escalation_id=escalation_id, reason=f"drafted:{time.time():.6f}"
            )
            if send_now:
                # In the same transaction as the draft: a crash cannot leave it unsent.
                outcome = await self.review.decide_in(
                    tx, escalation_id, "approved", user_id=by, edited_text=None
                )
                if not outcome.done:
                    log.info("compose-and-send on %s: %s", escalation_id, outcome.notice)

    async def failed(self, payload: dict[str, Any], error: str) -> None:
        """A redraft job given up for good: the card is decidable again, with the reason."""
        escalation_id = int(payload["escalation_id"])
        async with self.repos.db.transaction() as tx:
            escalation = await self.repos.escalations.get(escalation_id, tx)
            if escalation is None:
                return
            finished = await self.repos.escalations.finish_work(
                tx,
                escalation_id=escalation_id,
                draft_text=escalation.draft_text,
                reason=f"{escalation.reason} (A new draft failed: {error[:300]})",
            )
            if not finished:
                return
            await self.repos.trail.record(
                tx,
                ticket_id=escalation.ticket_id,
                step="redraft_failed",
                actor="bot",
                detail={"escalation_id": escalation_id, "error": error[:500]},
            )
            await queue_card_sync(
                self.repos.jobs, tx, escalation_id=escalation_id, reason=f"failed:{time.time():.6f}"
            )
