"""Opening an escalation: the holding reply, the card, the first draft on record, and the timers.

Shared by the workflow (a round that needs a human), its fail-safe, and the customer's own
"Talk to a person". All of it happens in the caller's transaction, so it happens entirely or not.
"""

from __future__ import annotations

import time

from bot.jobs import kinds as jobkinds
from bot.jobs.queueing import queue_card_sync, queue_timer
from bot.settings.environment import Settings
from bot.settings.live import ConfigSnapshot
from bot.slack.blocks.answers import holding_message
from bot.slack.blocks.common import OutgoingMessage
from bot.slack.blocks.locales import Locale
from bot.slack.outbox import queue_thread_post
from bot.tickets.languages import locale_for
from persistence.db import Tx
from persistence.records import Escalation, Ticket
from persistence.repos import Repositories


async def open_escalation(
    repos: Repositories,
    settings: Settings,
    config: ConfigSnapshot,
    tx: Tx,
    ticket: Ticket,
    reason: str,
    *,
    round: int | None = None,
    draft: dict[str, object] | None = None,
    actor: str = "bot",
) -> Escalation:
    round = ticket.round if round is None else round
    draft = ticket.draft if draft is None else draft
    draft_text = draft.get("text") if draft else None
    escalation = await repos.escalations.create(
        tx,
        ticket_id=ticket.id,
        round=round,
        reason=reason,
        draft_text=draft_text if isinstance(draft_text, str) else None,
        card_channel=config.escalation_channel,
    )
    if draft_text:
        sources = draft.get("sources") if draft else None
        await repos.escalations.add_draft(
            tx,
            escalation_id=escalation.id,
            text=str(draft_text),
            sources=list(sources) if isinstance(sources, list) else [],
            origin=str((draft or {}).get("origin") or "llm"),
        )
    await queue_thread_post(
        repos.jobs,
        tx,
        key=jobkinds.holding_key(ticket.id, round),
        ticket=ticket,
        message=_holding(config, await locale_for(repos, ticket.language, tx)),
        purpose="holding",
    )
    await queue_card_sync(repos.jobs, tx, escalation_id=escalation.id, reason="open")
    await schedule_review_timers(repos, settings, config, tx, escalation.id)
    await repos.trail.record(
        tx,
        ticket_id=ticket.id,
        step="escalated",
        actor=actor,
        detail={"escalation_id": escalation.id, "reason": reason},
    )
    return escalation


def _holding(config: ConfigSnapshot, locale: Locale) -> OutgoingMessage:
    hours = config.hours
    now = time.time()
    if hours is None or hours.is_open(now):
        return holding_message(locale=locale)
    return holding_message(back_at=hours.next_open(now), hours=hours.describe(), locale=locale)


async def schedule_review_timers(
    repos: Repositories, settings: Settings, config: ConfigSnapshot, tx: Tx, escalation_id: int
) -> None:
    """The first reminder and the customer-facing timeout, as rows that fire once."""
    if settings.review_reminders_max > 0:
        await queue_timer(
            repos.jobs,
            tx,
            kind=jobkinds.REMIND,
            key=jobkinds.reminder_key(escalation_id, 1),
            delay=config.review_reminder,
            payload={"escalation_id": escalation_id, "n": 1},
        )
    await queue_timer(
        repos.jobs,
        tx,
        kind=jobkinds.REVIEW_TIMEOUT,
        key=jobkinds.timeout_key(escalation_id),
        delay=config.review_timeout,
        payload={"escalation_id": escalation_id},
    )
