"""Verified answers: a reply a reviewer approved or edited, proposed to the admins as a general
question and answer for every customer.

- When a decision sends a reply (approved, or edited, with its text), the same transaction
  queues ``PROPOSE_VERIFIED`` (``ReviewDesk``). Its job generalises the question and the reply
  exactly as "Save as article" does (``ArticleDesk.generalise``: the model's version checked by
  the rules of ``bot/tickets/redact.py``, or the rules alone offline), and stores the proposal,
  one per card. A generalisation that leaves nothing (only placeholders) is skipped and logged.
- The proposals wait in the admins' App Home. Approve (bot admins only, the rule of "Save as
  article": ``may_write_articles``) adds the article with the source ``slack:verified:ID``
  (``bot/kb/provenance.py``: citable, ranked with a small boost, shown as "Verified answer");
  Discard adds nothing. A proposal is decided once: a second click is told who decided it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.kb.base import KnowledgeBase
from bot.kb.provenance import verified_source
from bot.review.saved_articles import WRITERS_ONLY, ArticleDesk, may_write_articles
from bot.settings.logs import current_ticket
from bot.slack.interactions import ReviewOutcome
from bot.slack.people import People
from bot.slack.text import slack_date
from persistence.records import Job
from persistence.repos import Repositories
from persistence.retention import PURGED, RETENTION_ACTOR
from persistence.verified import VerifiedAnswer

log = logging.getLogger(__name__)

UNKNOWN_PROPOSAL = "This verified answer is not known (it may have been removed)."
_PLACEHOLDER = re.compile(r"\[[^\]]*\]")
_PAST = {"approved": "approved", "discarded": "discarded"}


def leaves_something(text: str) -> bool:
    """Whether ``text`` says anything once the rules' placeholders ([name], [amount]…) are
    taken out."""
    return bool(re.search(r"\w", _PLACEHOLDER.sub(" ", text)))


def already_decided(proposal: VerifiedAnswer) -> str:
    if proposal.decided_by == RETENTION_ACTOR:
        return "This verified answer was discarded when its ticket's text was purged (retention)."
    who = f"<@{proposal.decided_by}>" if proposal.decided_by else "someone"
    when = f" {slack_date(proposal.decided_at)}" if proposal.decided_at else ""
    verb = _PAST.get(proposal.state, proposal.state)
    return f"This verified answer was already {verb} by {who}{when}."


class VerifiedAnswers:
    def __init__(
        self,
        repos: Repositories,
        people: People,
        knowledge: KnowledgeBase,
        articles: ArticleDesk,
    ) -> None:
        self.repos = repos
        self.people = people
        self.knowledge = knowledge
        self.articles = articles

    def jobs(self) -> list[JobKind]:
        async def propose(job: Job) -> None:
            await self.propose(int(job.payload["escalation_id"]))

        return [JobKind(jobkinds.PROPOSE_VERIFIED, propose)]

    # -- proposing -------------------------------------------------------------------------

    async def propose(self, escalation_id: int) -> VerifiedAnswer | None:
        """The job: the card's sent reply, generalised, stored as a proposal (once)."""
        repos = self.repos
        existing = await repos.verified.for_escalation(escalation_id)
        if existing is not None:
            return existing
        escalation = await repos.escalations.get(escalation_id)
        ticket = await repos.tickets.get(escalation.ticket_id) if escalation else None
        if escalation is None or ticket is None:
            log.info("no verified answer for escalation %s: it is not known", escalation_id)
            return None
        current_ticket.set(ticket.id)
        text = (escalation.final_text or "").strip()
        if escalation.state not in ("approved", "edited") or not text or text == PURGED:
            log.info(
                "no verified answer for escalation %s: no sent reply (%s)",
                escalation_id,
                escalation.state,
            )
            return None
        general = await self.articles.generalise(ticket, escalation)
        title, body = general.title.strip(), general.body.strip()
        if not (leaves_something(title) and leaves_something(body)):
            log.info(
                "no verified answer for escalation %s: generalising (%s) left nothing",
                escalation_id,
                general.how,
            )
            return None
        proposal, created = await repos.verified.propose(
            escalation_id=escalation_id, ticket_id=ticket.id, title=title, body=body
        )
        if created:
            async with repos.db.transaction() as tx:
                await repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step="verified_proposed",
                    actor="bot",
                    detail={
                        "escalation_id": escalation_id,
                        "verified_id": proposal.id,
                        "how": general.how,
                    },
                )
        return proposal

    # -- deciding ----------------------------------------------------------------------------

    async def pending(self, *, limit: int) -> tuple[list[VerifiedAnswer], int]:
        return await self.repos.verified.pending(limit=limit)

    async def approve(
        self, verified_id: int, *, user_id: str, user_team: str | None = None
    ) -> ReviewOutcome:
        """An admin's Approve: the article, then the proposal marked approved with its id."""
        refusal, proposal = await self._decidable(verified_id, user_id)
        if refusal is not None or proposal is None:
            return refusal or ReviewOutcome(done=False, notice=UNKNOWN_PROPOSAL)
        source = verified_source(proposal.id)
        # Upserted by its source: a second Approve racing this one writes the same article.
        article_id = await self.knowledge.add_article(
            title=proposal.title, body=proposal.body, url=None, author=user_id, source=source
        )
        if not await self.repos.verified.decide(
            proposal.id, state="approved", decided_by=user_id, article_id=article_id
        ):
            current = await self.repos.verified.get(proposal.id)
            if current is not None and current.state == "discarded":
                # Discarded meanwhile: the article written for this click goes again.
                await self.knowledge.remove(article_id)
            return ReviewOutcome(done=False, notice=self._decided_notice(current))
        await self._record(proposal, "verified_approved", user_id, article_id=article_id)
        return ReviewOutcome(done=True)

    async def discard(
        self, verified_id: int, *, user_id: str, user_team: str | None = None
    ) -> ReviewOutcome:
        refusal, proposal = await self._decidable(verified_id, user_id)
        if refusal is not None or proposal is None:
            return refusal or ReviewOutcome(done=False, notice=UNKNOWN_PROPOSAL)
        if not await self.repos.verified.decide(proposal.id, state="discarded", decided_by=user_id):
            current = await self.repos.verified.get(proposal.id)
            return ReviewOutcome(done=False, notice=self._decided_notice(current))
        await self._record(proposal, "verified_discarded", user_id)
        return ReviewOutcome(done=True)

    async def _decidable(
        self, verified_id: int, user_id: str
    ) -> tuple[ReviewOutcome | None, VerifiedAnswer | None]:
        if not await may_write_articles(self.people, user_id):
            log.info("refused a verified answer decision by %s", user_id)
            return ReviewOutcome(done=False, notice=WRITERS_ONLY), None
        proposal = await self.repos.verified.get(verified_id)
        if proposal is None:
            return ReviewOutcome(done=False, notice=UNKNOWN_PROPOSAL), None
        if proposal.state != "proposed":
            return ReviewOutcome(done=False, notice=already_decided(proposal)), None
        return None, proposal

    @staticmethod
    def _decided_notice(current: VerifiedAnswer | None) -> str:
        return already_decided(current) if current is not None else UNKNOWN_PROPOSAL

    async def _record(
        self, proposal: VerifiedAnswer, step: str, user_id: str, **extra: Any
    ) -> None:
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx,
                ticket_id=proposal.ticket_id,
                step=step,
                actor=user_id,
                detail={
                    "escalation_id": proposal.escalation_id,
                    "verified_id": proposal.id,
                    **extra,
                },
            )
