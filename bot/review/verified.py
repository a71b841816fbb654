"""Verified answers: a reply the team sent, proposed to the admins as a general question and
answer for every customer.

- Two kinds of reply are proposed, each by ``PROPOSE_VERIFIED`` queued in the transaction that
  settles it:
  - a review card's decision that sends a reply (approved, or edited, with its text;
    ``ReviewDesk``), one proposal per card;
  - a thread resolved (by a teammate, or auto-closed) when its last word is a teammate's own
    reply (``Handoffs``; ``closing_teammate_reply``), one proposal per thread.
- The job generalises the question and the reply exactly as "Save as article" does
  (``ArticleDesk.generalise_reply``: the model's version checked by the rules of
  ``bot/tickets/redact.py``, or the rules alone offline), and stores the proposal. A
  generalisation that leaves nothing (only placeholders) is skipped and logged.
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
from bot.tickets.status import closing_teammate_reply
from persistence.records import Job, Ticket
from persistence.repos import Repositories
from persistence.retention import PURGED, RETENTION_ACTOR
from persistence.verified import VerifiedAnswer, card_origin, thread_origin

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
            if "escalation_id" in job.payload:
                await self.propose(int(job.payload["escalation_id"]))
            else:
                await self.propose_from_thread(int(job.payload["ticket_id"]))

        return [JobKind(jobkinds.PROPOSE_VERIFIED, propose)]

    # -- proposing -------------------------------------------------------------------------

    async def propose(self, escalation_id: int) -> VerifiedAnswer | None:
        """The job for a card: its sent reply, generalised, stored as a proposal (once)."""
        repos = self.repos
        existing = await repos.verified.for_origin(card_origin(escalation_id))
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
        return await self._propose(
            ticket, text, origin=card_origin(escalation_id), escalation_id=escalation_id
        )

    async def propose_from_thread(self, ticket_id: int) -> VerifiedAnswer | None:
        """The job for a resolved thread: the teammate's reply that closed it, generalised,
        stored as a proposal (once)."""
        repos = self.repos
        existing = await repos.verified.for_origin(thread_origin(ticket_id))
        if existing is not None:
            return existing
        ticket = await repos.tickets.get(ticket_id)
        if ticket is None:
            log.info("no verified answer for ticket %s: it is not known", ticket_id)
            return None
        current_ticket.set(ticket.id)
        reply = closing_teammate_reply(await repos.tickets.turns(ticket.id))
        if reply is None or reply == PURGED:
            log.info("no verified answer for ticket %s: no teammate's reply closed it", ticket_id)
            return None
        return await self._propose(ticket, reply, origin=thread_origin(ticket_id))

    async def _propose(
        self, ticket: Ticket, reply: str, *, origin: str, escalation_id: int | None = None
    ) -> VerifiedAnswer | None:
        general = await self.articles.generalise_reply(ticket, reply, escalation_id=escalation_id)
        title, body = general.title.strip(), general.body.strip()
        if not (leaves_something(title) and leaves_something(body)):
            log.info(
                "no verified answer from %s: generalising (%s) left nothing", origin, general.how
            )
            return None
        proposal, created = await self.repos.verified.propose(
            origin=origin,
            escalation_id=escalation_id,
            ticket_id=ticket.id,
            title=title,
            body=body,
        )
        if created:
            async with self.repos.db.transaction() as tx:
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step="verified_proposed",
                    actor="bot",
                    detail={
                        "escalation_id": escalation_id,
                        "origin": origin,
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
                    "origin": proposal.origin,
                    "verified_id": proposal.id,
                    **extra,
                },
            )
