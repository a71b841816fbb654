"""Intake: accept a message durably (before Slack is acknowledged), then file it on a ticket.

``accept`` only writes a job keyed by the message, so the handler can acknowledge within Slack's
3 seconds with the message already safe. ``handle`` runs in the worker and decides, in one
transaction, whether the message opens a ticket, continues one, or is ignored (with a reason).
"""

from __future__ import annotations

import logging
import time

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_advance, queue_card_sync
from bot.jobs.worker import complete_running_job
from bot.slack.events import Ignored, InboundMessage
from bot.slack.people import People
from bot.tickets.handoffs import Handoffs
from bot.tickets.policy import has_words
from bot.tickets.query import greeting_only, is_pleasantry
from bot.tickets.rounds import start_next_round
from persistence.records import IN_PROGRESS_STATES, Job
from persistence.repos import Repositories

log = logging.getLogger(__name__)

# A reply whose thread is not a ticket yet is looked at again for this long: Slack redelivers a
# question whose event failed within minutes, possibly after the reply.
ORPHAN_WINDOW_SECONDS = 10 * 60
ORPHAN_RETRY_SECONDS = 20.0


def _age(ts: str) -> float:
    try:
        return time.time() - float(ts)
    except ValueError:
        return float("inf")


class Intake:
    def __init__(self, repos: Repositories, people: People, handoffs: Handoffs) -> None:
        self.repos = repos
        self.people = people
        self.handoffs = handoffs

    async def accept(self, message: InboundMessage) -> bool:
        # Urgent: Slack waits for this commit (it is acknowledged only once the job is stored).
        # Not serial: one idempotent insert, safe beside other replicas' transactions.
        async with self.repos.db.transaction(urgent=True, serial=False) as tx:
            new = await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.INBOUND_MESSAGE,
                dedupe_key=message.dedupe_key,
                payload=message.to_payload(),
            )
        if not new:
            log.info("duplicate delivery of %s dropped", message.dedupe_key)
        return new

    async def in_channel_switched_off(self, message: InboundMessage) -> InboundMessage | Ignored:
        """In a channel switched off the bot reads only the threads of tickets a teammate opened
        there by hand (``:ticket:``), so the customer's follow-ups reach the card. One indexed
        read before the acknowledgement; everything else there is ignored without a job."""
        if message.is_root or message.thread_ts is None:
            return Ignored(f"channel {message.channel_id} is switched off")
        ticket = await self.repos.tickets.find_by_thread(message.channel_id, message.thread_ts)
        if ticket is None or ticket.opened_by is None:
            return Ignored(
                f"channel {message.channel_id} is switched off and the thread is not a ticket"
            )
        return message

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            waits = job.payload.get("orphan_waits")
            await self.handle(
                InboundMessage.from_payload(job.payload),
                orphan_waits=waits if isinstance(waits, int) else 0,
            )

        async def failed(job: Job, error: str) -> None:
            await self.failed(job.payload, error)

        return [JobKind(jobkinds.INBOUND_MESSAGE, run, failed=failed)]

    async def handle(self, message: InboundMessage, *, orphan_waits: int = 0) -> None:
        role = await self.people.author_role(
            user_id=message.user_id,
            user_team=message.user_team,
            shared_channel=message.shared_channel,
        )
        repos = self.repos
        # A question opens a ticket (or is ignored) and queues only internal jobs: no fsync, as
        # its inbound job, durable since the acknowledgement, is done only after this commit,
        # so a power cut that takes this takes that too, and the message is filed again. A
        # reply may queue a card update, which reaches Slack: durable.
        async with repos.db.transaction(durable=not message.is_root) as tx:
            await complete_running_job(repos.jobs, tx)  # whichever way it is filed

            async def ignore(reason: str) -> None:
                log.info("ignoring message %s: %s", message.dedupe_key, reason)
                await repos.trail.ignore(
                    tx,
                    channel_id=message.channel_id,
                    ts=message.ts,
                    user_id=message.user_id,
                    reason=reason,
                )

            if message.is_root:
                if role == "staff":
                    await ignore("a staff member's own post, not a customer question")
                    return
                if not has_words(message.text) and not message.files:
                    await ignore("no words to answer (empty or emoji only)")
                    return
                if (
                    not message.files
                    and is_pleasantry(message.text)
                    and not greeting_only(message.text)
                ):
                    # "thanks!" on its own: nothing to answer (a greeting is asked what it needs).
                    await ignore("thanks or an acknowledgement, not a question")
                    return
                ticket, created = await repos.tickets.open(
                    tx,
                    channel_id=message.channel_id,
                    thread_ts=message.ts,
                    customer_user_id=message.user_id,
                    customer_team_id=message.user_team,
                )
                if not created:
                    return
                first = await repos.tickets.add_turn(
                    tx,
                    ticket_id=ticket.id,
                    role="customer",
                    user_id=message.user_id,
                    text=message.text,
                    slack_ts=message.ts,
                )
                detail: dict[str, object] = {"channel": message.channel_id, "ts": message.ts}
                if first is not None and message.files:
                    # Read (downloaded, within limits) by the round, not here: see attachments.py.
                    await repos.attachments.add(
                        tx, ticket_id=ticket.id, turn_id=first.id, files=message.files
                    )
                    detail["files"] = len(message.files)
                await repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step="received",
                    actor=message.user_id,
                    detail=detail,
                )
                await queue_advance(repos.jobs, tx, ticket_id=ticket.id, round=ticket.round)
                # Replies that arrived before their question join the ticket now.
                await repos.jobs.wake_waiting_replies(
                    tx, channel_id=message.channel_id, thread_ts=message.ts
                )
                return

            assert message.thread_ts is not None
            found = await repos.tickets.find_by_thread(message.channel_id, message.thread_ts, tx)
            if found is None:
                if _age(message.ts) < ORPHAN_WINDOW_SECONDS:
                    # Its question may still be on the way (Slack redelivers a failed event
                    # minutes later): look again shortly rather than drop the reply.
                    await repos.jobs.enqueue(
                        tx,
                        kind=jobkinds.INBOUND_MESSAGE,
                        dedupe_key=f"{message.dedupe_key}:orphan:{orphan_waits + 1}",
                        payload={**message.to_payload(), "orphan_waits": orphan_waits + 1},
                        delay=ORPHAN_RETRY_SECONDS,
                    )
                    log.info("reply %s waits for its thread's question", message.dedupe_key)
                    return
                await ignore("a reply in a thread that is not a support ticket")
                return
            ticket = found
            turn = await repos.tickets.add_turn(
                tx,
                ticket_id=ticket.id,
                role=role,
                user_id=message.user_id,
                text=message.text,
                slack_ts=message.ts,
            )
            if turn is None:
                return
            if role == "staff":
                await repos.trail.record(
                    tx, ticket_id=ticket.id, step="staff_replied", actor=message.user_id
                )
                # A teammate answering in the thread takes the conversation over.
                await self.handoffs.take_over(tx, ticket, message.user_id)
                await self.handoffs.schedule_auto_close(tx, ticket.id, turn)
                return
            if message.files:
                await repos.attachments.add(
                    tx, ticket_id=ticket.id, turn_id=turn.id, files=message.files
                )
            unanswerable = _nothing_to_answer(message.text, ticket.state, bool(message.files))
            if unanswerable is not None:
                await repos.trail.record(
                    tx,
                    ticket_id=ticket.id,
                    step="follow_up_ignored",
                    actor=message.user_id,
                    detail={"reason": unanswerable},
                )
                return
            step = "follow_up"
            detail = {"turn_id": turn.id, "state": ticket.state}
            if message.files:
                detail["files"] = len(message.files)
            if ticket.state in IN_PROGRESS_STATES:
                # The running round picks it up when it finishes (see Workflow._finish_round).
                detail["handling"] = "queued behind the running round"
            elif ticket.state == "awaiting_review":
                escalation = await repos.escalations.pending_for_ticket(tx, ticket.id)
                if escalation is not None:
                    await queue_card_sync(
                        repos.jobs, tx, escalation_id=escalation.id, reason=f"turn:{turn.id}"
                    )
                    detail["handling"] = "shown on the review card"
            elif ticket.state in ("answered", "replied"):
                moved = await start_next_round(repos, tx, ticket)
                assert moved, "ticket changed inside a write transaction"
                detail["handling"] = f"new round {ticket.round + 1}"
            elif ticket.state == "resolved":
                moved = await start_next_round(
                    repos, tx, ticket, resolved_by=None, resolved_at=None
                )
                assert moved, "ticket changed inside a write transaction"
                step = "reopened"
                detail["handling"] = f"reopened: new round {ticket.round + 1}"
            else:
                owner = ticket.human_owner or ticket.owner_user_id
                detail["handling"] = (
                    f"left to <@{owner}>, who has the thread"
                    if owner
                    else "left to a human (the escalation was rejected)"
                )
                latest_card = await repos.escalations.latest_for_ticket(ticket.id, tx)
                if latest_card is not None:
                    # The card shows the follow-up, so whoever has the thread sees it there too.
                    await queue_card_sync(
                        repos.jobs, tx, escalation_id=latest_card.id, reason=f"turn:{turn.id}"
                    )
            await repos.trail.record(
                tx, ticket_id=ticket.id, step=step, actor=message.user_id, detail=detail
            )

    async def failed(self, payload: dict[str, object], error: str) -> None:
        """A message that could not be filed after every retry: say so where people look (the
        ignored-messages log, with the reason), rather than let it vanish."""
        message = InboundMessage.from_payload(dict(payload))
        log.error("message %s could not be processed: %s", message.dedupe_key, error)
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.ignore(
                tx,
                channel_id=message.channel_id,
                ts=message.ts,
                user_id=message.user_id,
                reason=f"processing failed after retries: {error[:300]}",
            )


def _nothing_to_answer(text: str, state: str, files: bool = False) -> str | None:
    """Why a follow-up needs no round, or None. "Thanks, that worked!" after an answer wakes no
    reviewer, and a resolved ticket stays resolved; a message with files always has something
    to look at."""
    if files:
        return None
    if not has_words(text):
        return "no words to answer (empty or emoji only)"
    if state in ("answered", "replied", "resolved") and is_pleasantry(text):
        return "thanks or an acknowledgement: nothing to answer"
    return None
