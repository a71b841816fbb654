"""Timers on a waiting card: reminders in the card's thread, and the customer's "still on it".

Both are jobs that become available later (see ``queue_timer``): rows in the database that
survive restarts and fire once. When one fires it checks that the card still waits; a decision
taken meanwhile makes it a no-op, so nothing has to cancel it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_timer
from bot.jobs.trail import JobTrail
from bot.llm.language import is_english
from bot.settings.durations import format_duration
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.settings.logs import current_ticket
from bot.slack.blocks.answers import still_on_it_message
from bot.slack.blocks.card import reminder_message
from bot.slack.outbox import queue_card_thread_post, queue_thread_post
from bot.slack.people import People
from bot.tickets.languages import locale_for
from persistence.records import Job
from persistence.repos import Repositories

# Reminders back off: the n-th comes REVIEW_REMINDER * BACKOFF**(n-1) after the one before.
BACKOFF = 2.0
CARD_WAIT_SECONDS = 60.0


@dataclass(eq=False)
class Reminders:
    """Nudges on a card nobody acts on, and the customer's "still on it" message."""

    settings: Settings
    config: LiveConfig
    repos: Repositories
    people: People

    def jobs(self) -> list[JobKind]:
        async def remind(job: Job) -> None:
            await self.remind(job.payload)

        async def timeout(job: Job) -> None:
            await self.timeout(job.payload)

        gave_up = JobTrail(self.repos).gave_up
        return [
            JobKind(jobkinds.REMIND, remind, failed=gave_up),
            JobKind(jobkinds.REVIEW_TIMEOUT, timeout, failed=gave_up),
        ]

    async def remind(self, payload: dict[str, Any]) -> None:
        escalation_id, n = int(payload["escalation_id"]), int(payload["n"])
        repos = self.repos
        escalation = await repos.escalations.get(escalation_id)
        if escalation is None or escalation.state != "pending":
            return
        current_ticket.set(escalation.ticket_id)
        ticket = await repos.tickets.get(escalation.ticket_id)
        if ticket is None or ticket.state == "resolved":
            return
        gone = await self._card_gone(
            escalation_id, ticket.id, posted=escalation.card_ts is not None
        )
        if gone is not None:
            async with repos.db.transaction() as tx:
                await repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step="reminders_stopped",
                    actor="bot",
                    detail={"escalation_id": escalation_id, "n": n, "why": gone},
                )
            return
        if escalation.card_ts is None or escalation.card_channel is None:
            # The card is not in Slack yet (an outage): ask again in a minute, as a new timer,
            # so a long outage does not use up this job's attempts.
            async with repos.db.transaction() as tx:
                await queue_timer(
                    repos.jobs,
                    tx,
                    kind=jobkinds.REMIND,
                    key=f"{jobkinds.reminder_key(escalation_id, n)}:wait:{int(time.time())}",
                    delay=CARD_WAIT_SECONDS,
                    payload={"escalation_id": escalation_id, "n": n},
                )
            return
        config = await self.config.refresh()
        now = time.time()
        if config.hours is not None and not config.hours.is_open(now):
            # Reminders wait for support hours: the same reminder, again at the next opening.
            opens = config.hours.next_open(now)
            async with repos.db.transaction() as tx:
                await queue_timer(
                    repos.jobs,
                    tx,
                    kind=jobkinds.REMIND,
                    key=f"{jobkinds.reminder_key(escalation_id, n)}:at:{int(opens)}",
                    delay=max(0.0, opens - now),
                    payload={"escalation_id": escalation_id, "n": n},
                )
            return
        groups: list[str] = []
        if ticket.owner_user_id:
            mentions = [ticket.owner_user_id]
        else:
            mentions = sorted(config.reviewers)
            groups = sorted(config.reviewer_groups)
        age = format_duration(max(60, round((time.time() - escalation.created_at) / 60) * 60))
        message = reminder_message(mentions=mentions, age=age, ticket_id=ticket.id, groups=groups)
        async with repos.db.transaction() as tx:
            await queue_card_thread_post(
                repos.jobs,
                tx,
                key=jobkinds.reminder_post_key(escalation_id, n),
                channel=escalation.card_channel,
                thread_ts=escalation.card_ts,
                text=message.text,
            )
            await repos.escalations.count_reminder(tx, escalation_id)
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="reminded",
                actor="bot",
                detail={"escalation_id": escalation_id, "n": n, "mentions": mentions},
            )
            if n < self.settings.review_reminders_max:
                await queue_timer(
                    repos.jobs,
                    tx,
                    kind=jobkinds.REMIND,
                    key=jobkinds.reminder_key(escalation_id, n + 1),
                    delay=config.review_reminder * BACKOFF**n,
                    payload={"escalation_id": escalation_id, "n": n + 1},
                )

    async def _card_gone(self, escalation_id: int, ticket_id: int, *, posted: bool) -> str | None:
        """Why no reminder can reach the card any more, or None: it could not be posted (its
        delivery was given up on and not tried again), or it was deleted (the outbox saw Slack
        answer message_not_found and the like)."""
        if not posted:
            chain = await self.repos.jobs.chain(jobkinds.card_key(escalation_id, "open"))
            if chain and chain[-1].state == "dead":
                return "the card could not be posted"
            return None
        for event in await self.repos.trail.for_ticket(ticket_id):
            if event.step == "card_gone" and event.detail.get("escalation_id") == escalation_id:
                return f"the card is gone ({event.detail.get('error')})"
        return None

    async def timeout(self, payload: dict[str, Any]) -> None:
        """Once per card: the customer hears the team is still on it; the ticket stays open."""
        escalation_id = int(payload["escalation_id"])
        repos = self.repos
        async with repos.db.transaction() as tx:
            escalation = await repos.escalations.get(escalation_id, tx)
            if escalation is None or escalation.state != "pending":
                return
            ticket = await repos.tickets.get(escalation.ticket_id, tx)
            if ticket is None or ticket.state == "resolved":
                return
            await queue_thread_post(
                repos.jobs,
                tx,
                key=jobkinds.still_on_it_key(escalation_id),
                ticket=ticket,
                message=still_on_it_message(
                    self.settings.still_on_it_message
                    if is_english(ticket.language)
                    else (await locale_for(repos, ticket.language, tx))["still_on_it"]
                ),
                purpose="still_on_it",
            )
            await repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="review_timed_out",
                actor="bot",
                detail={"escalation_id": escalation_id},
            )
