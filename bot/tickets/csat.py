"""Customer satisfaction (CSAT): "How did we do?" once a ticket is resolved, its rating and
optional comment.

Asking: in a channel that opted in (``/support csat on #channel``), the first time a ticket is
resolved (by a reviewer, a teammate, the customer's "Helpful", or auto-close) the survey is
queued through the outbox in the resolution's own transaction, so it is posted exactly once.
A reopened and re-resolved ticket is not asked again, nor one whose text was purged, nor a
customer whose Slack account is deactivated (looked up before the resolution's transaction).

Rating: only the ticket's customer, or someone from the customer's own organisation (a Slack
Connect channel: the click's ``user.team_id`` is the ticket's ``customer_team_id``, not this
workspace), and never someone on the support staff lists. One rating per ticket: the person who
rated may change their score (the latest click counts) and add or replace a comment; anyone
else allowed hears it was already rated. The thread's message then says a rating was recorded,
never the score or the comment.

Language: the survey, its form and what a rater or their colleague is told are in the ticket's
language (``locale_for``, as the resolved note and the Helpful replies); the refusal our own
staff hear (``NOT_YOURS``) and a click on a survey that no longer exists stay English.

Whose answer the customer got (``answered_by``): the last answer from our side in the thread
when the survey is asked: the bot's own (sent automatically, or approved as drafted: role
``bot``) is ``ai``; a person's (an edited reply, a teammate writing in the thread) is ``human``;
no answer at all is ``none``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.settings.live import LiveConfig
from bot.slack import ids
from bot.slack.blocks.csat import (
    CSAT_COMMENT_MAX,
    comment_modal,
    comment_thanks_view,
    survey_message,
)
from bot.slack.blocks.locales import ENGLISH_LOCALE, Locale
from bot.slack.interactions import FormResult
from bot.slack.outbox import SlackOutbox, queue_thread_post
from bot.slack.people import People
from bot.tickets.languages import locale_for
from bot.tickets.status import ANSWER_PURPOSES
from persistence.csat import AnsweredBy, CsatRating
from persistence.db import Tx
from persistence.records import Job, Ticket, Turn
from persistence.repos import Repositories

log = logging.getLogger(__name__)

NOT_YOURS = (
    "Only the person who asked, or someone from their team, can rate this conversation."
    " Nothing was recorded."
)
UNKNOWN_SURVEY = "I can't find this survey any more, so nothing was recorded."


def answered_by(turns: list[Turn]) -> AnsweredBy:
    """Whose answer the customer got: the last answer from our side in the thread."""
    for turn in reversed(turns):
        if turn.role == "staff":
            return "human"
        if turn.role == "bot" and (turn.purpose in ANSWER_PURPOSES or turn.purpose is None):
            return "ai"
    return "none"


@dataclass(eq=False)
class Csat:
    config: LiveConfig
    repos: Repositories
    people: People
    outbox: SlackOutbox | None = None

    # -- asking (inside the resolution's transaction) ---------------------------------------

    async def customer_gone(self, ticket_id: int) -> bool:
        """Before a resolution's transaction (a Slack look-up must not hold the database): True
        when the ticket's channel asks and Slack says the customer's account is deactivated
        (``users.info``; when Slack will not say, they are asked as usual)."""
        ticket = await self.repos.tickets.get(ticket_id)
        if ticket is None or ticket.channel_id not in self.config.current.csat_channels:
            return False
        profile = await self.people.profile(ticket.customer_user_id)
        return profile is not None and profile.inactive

    async def ask(self, tx: Tx, ticket: Ticket, *, customer_gone: bool = False) -> bool:
        """Queue "How did we do?" in the ticket's thread, when its channel opted in, it was
        never asked and the customer is still there; True when queued."""
        if ticket.channel_id not in self.config.current.csat_channels:
            return False
        repos = self.repos
        if await repos.csat.get(ticket.id, tx) is not None:
            return False  # asked when first resolved: once per ticket
        if customer_gone:
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="csat_skipped",
                actor="bot",
                detail={"reason": "the customer's Slack account is deactivated"},
            )
            return False
        source = answered_by(await repos.tickets.turns(ticket.id, tx))
        if not await repos.csat.ask(
            tx, ticket_id=ticket.id, channel_id=ticket.channel_id, answered_by=source
        ):
            return False
        await queue_thread_post(
            repos.jobs,
            tx,
            key=jobkinds.csat_survey_key(ticket.id),
            ticket=ticket,
            message=survey_message(ticket.id, locale=await locale_for(repos, ticket.language, tx)),
            purpose="csat_survey",
        )
        await repos.trail.record(
            tx,
            ticket_id=ticket.id,
            step="csat_asked",
            actor="bot",
            detail={"answered_by": source},
        )
        return True

    # -- who may rate -------------------------------------------------------------------------

    def may_rate(self, ticket: Ticket, *, user_id: str, user_team: str | None) -> bool:
        """The ticket's customer (whoever opened it: a workspace guest too, as
        ``People.author_role`` counts guests as customers), or a colleague of theirs from their
        own organisation: never this workspace's people, who are the support side, nor anyone
        on the staff lists."""
        if user_id == ticket.customer_user_id:
            return True
        if self.people.is_listed_staff(user_id):
            return False
        team = ticket.customer_team_id
        return bool(team and user_team == team and team != self.people.workspace.team_id)

    # -- a score --------------------------------------------------------------------------------

    async def rate(
        self,
        ticket_id: int,
        score: int,
        *,
        user_id: str,
        user_team: str | None,
    ) -> str:
        """Record a score; what to tell the person who clicked (privately)."""
        repos = self.repos
        async with repos.db.transaction() as tx:
            ticket = await repos.tickets.get(ticket_id, tx)
            rating = await repos.csat.get(ticket_id, tx)
            if ticket is None or rating is None:
                log.info("csat: a click on an unknown survey (ticket %s)", ticket_id)
                return UNKNOWN_SURVEY
            if not self.may_rate(ticket, user_id=user_id, user_team=user_team):
                log.info("csat: %s may not rate ticket %s; nothing recorded", user_id, ticket_id)
                return NOT_YOURS
            locale = await locale_for(repos, ticket.language, tx)
            if rating.rated_by is not None and rating.rated_by != user_id:
                return locale["csat_team_rated"]
            if rating.score == score:
                return locale["csat_same"].format(score=score)
            await repos.csat.rate(tx, ticket_id=ticket_id, score=score, user_id=user_id)
            await repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="csat_rated",
                actor=user_id,
                detail={
                    "score": score,
                    "previous_score": rating.score,
                    "comment_length": len(rating.comment or ""),
                    "answered_by": rating.answered_by,
                },
            )
            if rating.score is None:
                await repos.jobs.enqueue(
                    tx,
                    kind=jobkinds.CSAT_UPDATE,
                    dedupe_key=jobkinds.csat_update_key(ticket_id),
                    payload={"ticket_id": ticket_id},
                )
        log.info("csat: ticket %s rated %s by %s", ticket_id, score, user_id)
        if rating.score is None:
            return locale["csat_thanks"].format(score=score)
        return locale["csat_changed"].format(score=score)

    # -- the comment ----------------------------------------------------------------------------

    async def _rater_check(
        self, ticket_id: int, *, user_id: str, user_team: str | None, tx: Tx | None = None
    ) -> tuple[CsatRating | None, str | None, Locale]:
        """The rating the clicker may comment on, or why not; and the ticket's texts."""
        ticket = await self.repos.tickets.get(ticket_id, tx)
        rating = await self.repos.csat.get(ticket_id, tx)
        if ticket is None or rating is None:
            return None, UNKNOWN_SURVEY, ENGLISH_LOCALE
        if not self.may_rate(ticket, user_id=user_id, user_team=user_team):
            return None, NOT_YOURS, ENGLISH_LOCALE
        locale = await locale_for(self.repos, ticket.language, tx)
        if rating.score is None:
            return None, locale["csat_score_first"], locale
        if rating.rated_by != user_id:
            return None, locale["csat_not_rater"], locale
        return rating, None, locale

    async def comment_form(
        self, ticket_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The comment's form, or why not."""
        rating, refusal, locale = await self._rater_check(
            ticket_id, user_id=user_id, user_team=user_team
        )
        if rating is None or rating.score is None:
            return None, refusal
        return comment_modal(ticket_id=ticket_id, score=rating.score, locale=locale), None

    async def comment(
        self, ticket_id: int, *, user_id: str, user_team: str | None, text: str
    ) -> FormResult:
        """Record the comment (replacing an earlier one), or say what is wrong on the form (who
        may comment first, then what was written)."""
        field = ids.BLOCK_CSAT_COMMENT
        comment = text.strip()
        repos = self.repos
        async with repos.db.transaction() as tx:
            rating, refusal, locale = await self._rater_check(
                ticket_id, user_id=user_id, user_team=user_team, tx=tx
            )
            if rating is None:
                return FormResult(errors={field: refusal or UNKNOWN_SURVEY})
            if not comment:
                return FormResult(errors={field: locale["csat_comment_empty"]})
            if len(comment) > CSAT_COMMENT_MAX:
                too_long = locale["csat_comment_long"]
                return FormResult(
                    errors={field: too_long.format(max=CSAT_COMMENT_MAX, length=len(comment))}
                )
            await repos.csat.set_comment(tx, ticket_id=ticket_id, comment=comment)
            await repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="csat_commented",
                actor=user_id,
                detail={
                    "score": rating.score,
                    "comment_length": len(comment),
                    "replaced": rating.comment is not None,
                },
            )
        log.info("csat: ticket %s comment of %d characters", ticket_id, len(comment))
        return FormResult(view=comment_thanks_view(locale))

    # -- the survey message shows a rating was recorded ----------------------------------------

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            await self.show_rated(int(job.payload["ticket_id"]))

        async def failed(job: Job, error: str) -> None:
            log.warning("csat: the survey of ticket %s was not updated: %s", job.payload, error)
            async with self.repos.db.transaction() as tx:
                await self.repos.trail.record(
                    tx,
                    ticket_id=int(job.payload["ticket_id"]),
                    step="csat_survey_not_updated",
                    actor="bot",
                    detail={"error": error[:300]},
                )

        return [JobKind(jobkinds.CSAT_UPDATE, run, failed=failed)]

    async def show_rated(self, ticket_id: int) -> None:
        """The survey as posted (the outbox recorded its ts), not whatever message a click
        names."""
        ticket = await self.repos.tickets.get(ticket_id)
        turns = await self.repos.tickets.turns(ticket_id) if ticket is not None else []
        posted = [t.slack_ts for t in turns if t.purpose == "csat_survey" and t.slack_ts]
        if ticket is None or not posted or self.outbox is None:
            log.info("csat: no survey message to update for ticket %s", ticket_id)
            return
        locale = await locale_for(self.repos, ticket.language)
        message = survey_message(ticket_id, rated=True, locale=locale)
        await self.outbox.call(
            "chat.update",
            channel=ticket.channel_id,
            ts=posted[-1],
            text=message.text,
            blocks=message.blocks,
        )
