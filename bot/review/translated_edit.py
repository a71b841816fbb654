"""A reviewer's edit for a customer who writes another language: translated, shown, then sent.

When a ticket's language is not English and a reviewer submits an Edit that is not in it (an
English edit, say), the desk does not send it (``ReviewDesk.submit_edit``): it keeps the text on
the escalation (``hold_edit``) and, with a model, queues ``translate_edit``; the card says the
edit is being translated and cannot be decided meanwhile. The job puts the translation on the
card (``finish_edit_translation``) with **Send in German** (the translation), **Send as
written** and **Discard edit**. Without a model, or when the model fails, the card says the
text cannot be translated, and offers Send as written, or Edit to write it in the customer's
language.

Sending is the desk's "edited" decision (one conditional update: a second click, or another
reviewer's, is told who decided, and nothing more is sent). Each send button's action id ends
in a checksum of the text it sends, so a click on a card that showed an earlier edit or
translation sends nothing and asks to look again. The held edit, the job and the decision are
all rows in the database: a restart at any point resumes where it stood.

``translate_card`` translates a card's question and draft into English for reviewers
(``bot/review/cards.py`` queues it for texts it has no translation of).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_card_sync
from bot.llm.language import ENGLISH, is_english, language_name
from bot.llm.model import LlmFailure
from bot.review.cards import TRANSLATION_FAILED
from bot.review.desk import ReviewDesk, already_decided, busy_notice
from bot.slack import ids
from bot.slack.interactions import ReviewOutcome, unknown_card
from bot.tickets.languages import Languages
from persistence.languages import text_hash
from persistence.records import Job
from persistence.repos import Repositories

log = logging.getLogger(__name__)

Which = Literal["translation", "written"]
CHANGED = (
    "The edit on the card changed since you looked at it; nothing was sent. Check the card and"
    " click again."
)


class TranslatedEdits:
    def __init__(self, repos: Repositories, desk: ReviewDesk, languages: Languages) -> None:
        self.repos = repos
        self.desk = desk
        self.languages = languages

    def jobs(self) -> list[JobKind]:
        return [
            JobKind(jobkinds.TRANSLATE_EDIT, self._translate_edit, failed=self._edit_failed),
            JobKind(jobkinds.TRANSLATE_CARD, self._translate_card),
        ]

    # -- the reviewer's buttons ------------------------------------------------------------

    async def send(
        self,
        escalation_id: int,
        *,
        user_id: str,
        user_team: str | None,
        which: Which,
        checksum: int | None,
    ) -> ReviewOutcome:
        """Send the held edit's translation, or its text as written: once, and only the text
        the clicked card showed."""
        refusal = await self.desk.refusal(user_id)
        if refusal:
            return refusal
        repos = self.repos
        async with repos.db.transaction(urgent=True) as tx:
            escalation = await repos.escalations.get(escalation_id, tx)
            if escalation is None:
                return unknown_card()
            if escalation.state != "pending":
                return ReviewOutcome(done=False, notice=already_decided(escalation))
            if escalation.work is not None:
                return ReviewOutcome(done=False, notice=busy_notice(escalation))
            text = escalation.edit_translation if which == "translation" else escalation.edit_text
            if text is None or checksum is None or ids.text_checksum(text) != checksum:
                return ReviewOutcome(done=False, notice=CHANGED)
            outcome = await self.desk.decide_in(
                tx, escalation_id, "edited", user_id=user_id, edited_text=text
            )
            if outcome.done:
                await repos.trail.record(
                    tx,
                    ticket_id=escalation.ticket_id,
                    step="edit_sent_translated"
                    if which == "translation"
                    else "edit_sent_as_written",
                    actor=user_id,
                    detail={"escalation_id": escalation_id, "written_by": escalation.edit_by},
                )
        return outcome

    async def discard(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        refusal = await self.desk.refusal(user_id)
        if refusal:
            return refusal
        repos = self.repos
        async with repos.db.transaction(urgent=True) as tx:
            escalation = await repos.escalations.get(escalation_id, tx)
            if escalation is None:
                return unknown_card()
            if not await repos.escalations.discard_edit(tx, escalation_id=escalation_id):
                if escalation.state != "pending":
                    return ReviewOutcome(done=False, notice=already_decided(escalation))
                if escalation.work is not None:
                    return ReviewOutcome(done=False, notice=busy_notice(escalation))
                return ReviewOutcome(done=False, notice="There is no edit waiting on this card.")
            await queue_card_sync(
                repos.jobs,
                tx,
                escalation_id=escalation_id,
                reason=f"edit-discarded:{escalation.version}",
            )
            await repos.trail.record(
                tx,
                ticket_id=escalation.ticket_id,
                step="edit_discarded",
                actor=user_id,
                detail={"escalation_id": escalation_id},
            )
        return ReviewOutcome(done=True)

    # -- jobs ------------------------------------------------------------------------------

    async def _translate_edit(self, job: Job) -> dict[str, Any]:
        escalation_id = int(job.payload["escalation_id"])
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None or escalation.work != "translate" or escalation.edit_text is None:
            return {"skipped": "the card moved on"}
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        assert ticket is not None
        target = ticket.language or ENGLISH
        text = escalation.edit_text
        written_in = await self.languages.detector.detect_async(text)
        translation: str | None = None
        problem: str | None = None
        if written_in == target:
            translation = text  # already in the customer's language: shown as it will go out
        else:
            try:
                translation = await self.languages.translate(
                    text, source=written_in or ENGLISH, target=target
                )
            except LlmFailure as failure:
                problem = failure.reason
        await self._finish(escalation_id, ticket.id, text, translation, problem, target)
        return {"translated": translation is not None, "error": problem}

    async def _edit_failed(self, job: Job, error: str) -> None:
        escalation_id = int(job.payload["escalation_id"])
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None or escalation.edit_text is None:
            return
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        target = (ticket.language if ticket else None) or ENGLISH
        await self._finish(
            escalation_id, escalation.ticket_id, escalation.edit_text, None, error, target
        )

    async def _finish(
        self,
        escalation_id: int,
        ticket_id: int,
        text: str,
        translation: str | None,
        problem: str | None,
        target: str,
    ) -> None:
        repos = self.repos
        if translation is not None and translation != text:
            # The card of the sent reply shows the reviewer's own words as its English.
            await repos.languages.save_translation(ticket_id, translation, ENGLISH, text)
        async with repos.db.transaction() as tx:
            if not await repos.escalations.finish_edit_translation(
                tx,
                escalation_id=escalation_id,
                text=text,
                translation=translation,
                problem=problem,
            ):
                return
            fresh = await repos.escalations.get(escalation_id, tx)
            assert fresh is not None
            await queue_card_sync(
                repos.jobs, tx, escalation_id=escalation_id, reason=f"edit:v{fresh.version}"
            )
            await repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="edit_translated" if translation is not None else "edit_not_translated",
                actor="bot",
                detail={
                    "escalation_id": escalation_id,
                    "language": target,
                    **({"error": problem} if problem else {}),
                },
            )

    async def _translate_card(self, job: Job) -> dict[str, Any]:
        escalation_id = int(job.payload["escalation_id"])
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return {"skipped": "no such card"}
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        if ticket is None or is_english(ticket.language):
            return {"skipped": "the customer writes English"}
        source = ticket.language or ENGLISH
        failed: list[tuple[str, str]] = []
        for text in job.payload.get("texts") or []:
            try:
                await self.languages.to_english(ticket.id, str(text), source)
            except LlmFailure as failure:
                failed.append((text_hash(str(text)), failure.reason))
        async with self.repos.db.transaction() as tx:
            for key, reason in failed:
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step=TRANSLATION_FAILED,
                    actor="bot",
                    detail={"escalation_id": escalation_id, "text": key, "error": reason},
                )
            await queue_card_sync(
                self.repos.jobs, tx, escalation_id=escalation_id, reason=f"translated:{job.id}"
            )
        return {"language": language_name(source), "failed": len(failed)}
