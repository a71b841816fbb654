"""Deliveries the outbox gave up on: said in plain words, found on a ticket's trail, and tried
again when a reviewer presses "Try again".

A delivery gives up when Slack refuses it for good (``not_in_channel``), when its attempts run out
(minutes of 5xx), or when the bot cannot check whether an interrupted attempt already posted it
(the thread look-up fails): then it does not post blindly. Each give-up is a ``delivery_failed``
step on the trail naming the delivery's chain (the first job's key); "Try again" queues the next
job of the chain (``{key}:retry:{n}``) and records ``delivery_retried``. A delivery whose latest
step is ``delivery_failed`` is *undelivered*: its card (or a plain message in the escalation
channel, when there is no card) says so, and so does the ticket's status.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.queueing import queue_card_sync
from bot.slack.blocks.card import delivery_failed_notice
from bot.slack.interactions import ReviewOutcome
from bot.slack.outbox import LOOKUP_FAILED
from bot.slack.people import People, Workspace
from bot.slack.text import message_link
from persistence.jobs import RETRY_MARK, chain_root
from persistence.records import Job, TrailEvent
from persistence.repos import Repositories

log = logging.getLogger(__name__)

# What a failed delivery was, by its purpose, in the words a card uses.
PURPOSE_WORDS = {
    "answer": "The bot's answer",
    "reply": "The approved reply",
    "holding": "The holding reply",
    "still_on_it": "The “still on it” message",
    "resolved_note": "The resolved note",
    "reminder": "A reminder",
    "card": "The review card",
}
# Slack's errors in the words of someone who has to fix them.
_PLAIN = {
    "not_in_channel": "the bot is not a member of the channel (invite it with /invite)",
    "channel_not_found": "the channel does not exist, or the bot cannot see it",
    "is_archived": "the channel is archived",
    "missing_scope": "the bot's token lacks a permission (scope) Slack needs for this",
    "not_allowed_token_type": "Slack does not allow the bot's kind of token to do this",
    "invalid_auth": "Slack no longer accepts the bot's token",
    "not_authed": "Slack no longer accepts the bot's token",
    "token_revoked": "the bot's token was revoked",
    "account_inactive": "the bot's Slack account is deactivated",
    "restricted_action": "the workspace does not let the bot post there",
    "msg_too_long": "the message is longer than Slack allows",
    "invalid_blocks": "Slack rejected the message's layout",
    "no_text": "the message was empty",
    "thread_not_found": "the customer's thread was deleted",
    "message_not_found": "the message was deleted",
    "cant_update_message": "Slack would not let the bot change the message",
    "ratelimited": "Slack kept answering “too many requests”",
    "too_many_messages": "too many messages in the thread to check them in one look",
}
# Errors after which the card (or its thread) is gone: no reminder can reach it any more.
CARD_GONE_ERRORS = frozenset(
    {"message_not_found", "thread_not_found", "channel_not_found", "is_archived", "not_in_channel"}
)
_CODE = re.compile(r"Slack (?:refused|error)(?: conversations\.\w+)?:? ([a-z_0-9]+)")


def error_code(error: str) -> str:
    """Slack's error name in an outbox error ("Slack refused: not_in_channel" -> not_in_channel),
    or "" when there is none (a timeout, say)."""
    found = _CODE.findall(error)
    return found[-1] if found else ""


def plain_reason(error: str) -> str:
    """Why a delivery failed, for the people who see the card."""
    code = error_code(error)
    if code.startswith("http_5") or re.fullmatch(r"5\d\d", code or "-"):
        words = "Slack kept failing (server errors)"
    elif "Slack rate limit" in error:
        words = _PLAIN["ratelimited"]
    elif "Slack unreachable" in error:
        words = "Slack could not be reached"
    else:
        words = _PLAIN.get(code, f"Slack answered “{code}”" if code else "Slack kept failing")
    attempts = re.match(r"gave up after (\d+) attempts", error)
    if attempts:
        words += f", {attempts.group(1)} attempts"
    if LOOKUP_FAILED in error:
        words = (
            f"the bot could not check whether an interrupted attempt already posted it ({words});"
            " it did not post again. Look in the thread before trying again"
        )
    return words


@dataclass(frozen=True)
class Undelivered:
    """A delivery given up on and not tried again since."""

    job_id: int  # the first job of its chain: the "Try again" button's value
    root: str
    purpose: str
    reason: str
    at: float


def undelivered(events: list[TrailEvent], *, since: float = 0.0) -> list[Undelivered]:
    """The deliveries of a ticket whose latest say is "failed" (from its trail, oldest first)."""
    latest: dict[str, TrailEvent] = {}
    for e in events:
        if e.step in ("delivery_failed", "delivery_retried") and e.detail.get("root_job_id"):
            latest[str(e.detail.get("root"))] = e
    out = []
    for root, e in latest.items():
        if e.step != "delivery_failed" or e.created_at < since:
            continue
        if e.detail.get("purpose") == "failure_notice":
            continue
        out.append(
            Undelivered(
                job_id=int(e.detail["root_job_id"]),
                root=root,
                purpose=str(e.detail.get("purpose") or ""),
                reason=str(e.detail.get("reason") or "Slack refused it"),
                at=e.created_at,
            )
        )
    return sorted(out, key=lambda u: u.at)


def describe(item: Undelivered) -> str:
    return PURPOSE_WORDS.get(item.purpose, "A message")


_ESCALATION_KEY = re.compile(r"^escalation:(\d+):")


def _escalation_of(job: Job) -> int | None:
    """The escalation a delivery is about: its payload's, or its key's (replies, reminders)."""
    value = job.payload.get("escalation_id")
    if isinstance(value, int):
        return value
    found = _ESCALATION_KEY.match(job.dedupe_key)
    return int(found.group(1)) if found else None


class DeliveryFailures:
    """The ``failed`` of the deliveries (``slack_post``, ``sync_card``): a delivery given up for
    good is said on the card, or in the escalation channel."""

    def __init__(self, repos: Repositories, workspace: Workspace, escalation_channel: str) -> None:
        self.repos = repos
        self.workspace = workspace
        self.escalation_channel = escalation_channel

    async def failed(self, job: Job, error: str) -> None:
        """A delivery given up for good: on the ticket's trail, and in front of people.

        A message for a ticket with a posted card marks the card "not delivered" (with why and a
        "Try again" button); without a card (an auto-answer, or the card itself could not be
        posted) a plain message in the escalation channel says it. If that notice cannot be
        posted either, the error log and the failure counters are what is left."""
        p = job.payload
        purpose = str(p.get("purpose") or ("card" if job.kind == jobkinds.SYNC_CARD else job.kind))
        root = chain_root(job.dedupe_key)
        chain = await self.repos.jobs.chain(root)
        escalation_id = _escalation_of(job)
        escalation = (
            await self.repos.escalations.get(escalation_id) if escalation_id is not None else None
        )
        ticket_id = p.get("ticket_id") or p.get("about_ticket")
        if not isinstance(ticket_id, int) and escalation is not None:
            ticket_id = escalation.ticket_id
        if isinstance(ticket_id, int) and escalation is None and job.kind == jobkinds.SLACK_POST:
            escalation = await self.repos.escalations.latest_for_ticket(ticket_id)
        ticket = ticket_id if isinstance(ticket_id, int) else None
        code = error_code(error)
        opening = job.kind == jobkinds.SYNC_CARD and (root.endswith(":open") or bool(p.get("open")))
        card_posted = escalation is not None and escalation.card_ts is not None
        detail: dict[str, Any] = {
            "job": job.dedupe_key,
            "root": root,
            "root_job_id": chain[0].id if chain else job.id,
            "purpose": purpose,
            "error": error[:500],
            "reason": plain_reason(error),
        }
        if escalation is not None:
            detail["escalation_id"] = escalation.id
        if purpose == "failure_notice":
            detail.pop("root_job_id")  # nothing to try again: the notice was the last resort
            log.error(
                "ticket #%s: a delivery failed and the notice about it could not be posted in"
                " %s either: %s",
                ticket,
                p.get("channel"),
                error,
            )
        elif job.kind == jobkinds.SYNC_CARD and not opening:
            # An update: the card shows an older state. If the card is gone, reminders stop.
            detail.pop("root_job_id")
            if card_posted and code in CARD_GONE_ERRORS:
                await self._card_gone(ticket, escalation_id, code)
        elif purpose == "reminder":
            detail.pop("root_job_id")  # a reminder is not worth a notice; it stops the others
            if code in CARD_GONE_ERRORS:
                await self._card_gone(ticket, escalation_id, code)
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx, ticket_id=ticket, step="delivery_failed", actor="bot", detail=detail
            )
            if "root_job_id" not in detail:
                return
            if card_posted and not opening and escalation is not None:
                await queue_card_sync(
                    self.repos.jobs, tx, escalation_id=escalation.id, reason=f"failed:{job.id}"
                )
                return
            what = PURPOSE_WORDS.get(purpose, "A message")
            notice = delivery_failed_notice(
                ticket_id=ticket,
                what=what,
                reason=str(detail["reason"]),
                job_id=int(detail["root_job_id"]),
                link=await self._ticket_link(ticket),
            )
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.SLACK_POST,
                dedupe_key=f"{job.dedupe_key}:failed-notice",
                payload={
                    "channel": self.escalation_channel,
                    "text": notice.text,
                    "blocks": notice.blocks,
                    "purpose": "failure_notice",
                    "about_ticket": ticket,
                },
            )

    async def _card_gone(self, ticket_id: int | None, escalation_id: int | None, code: str) -> None:
        """The card (or its thread) is gone from Slack: reminders stop (see ``Reminders``)."""
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="card_gone",
                actor="bot",
                detail={"escalation_id": escalation_id, "error": code},
            )

    async def _ticket_link(self, ticket_id: int | None) -> str | None:
        if ticket_id is None:
            return None
        ticket = await self.repos.tickets.get(ticket_id)
        if ticket is None:
            return None
        return message_link(self.workspace.url, ticket.channel_id, ticket.thread_ts)


class DeliveryRetries:
    """The "Try again" button: the next job of a failed delivery's chain, once per click."""

    def __init__(self, repos: Repositories, people: People) -> None:
        self.repos = repos
        self.people = people

    async def retry(self, job_id: int, *, user_id: str, user_team: str | None) -> ReviewOutcome:
        if not await self.people.can_review(user_id):
            log.info("refused a delivery retry by %s", user_id)
            return ReviewOutcome(done=False, notice=self.people.refusal())
        repos = self.repos
        first = await repos.jobs.get(job_id)
        if first is None or first.kind not in (jobkinds.SLACK_POST, jobkinds.SYNC_CARD):
            return ReviewOutcome(done=False, notice="That delivery is not known to the bot.")
        root = chain_root(first.dedupe_key)
        ticket_id, escalation_id = await self._about(first.payload)
        async with repos.db.transaction(urgent=True) as tx:
            chain = await repos.jobs.chain(root, tx)
            last = chain[-1] if chain else first
            if last.state != "dead":
                return ReviewOutcome(
                    done=False,
                    notice="That message is already being sent again"
                    if last.state in ("pending", "running")
                    else "That message was delivered; nothing more was sent.",
                )
            n = sum(1 for j in chain if RETRY_MARK in j.dedupe_key) + 1
            payload: dict[str, Any] = dict(last.payload)
            if last.kind == jobkinds.SYNC_CARD and root.endswith(":open"):
                payload["open"] = True  # a retried card post, not an update
            key = f"{root}{RETRY_MARK}{n}"
            if not await repos.jobs.enqueue(tx, kind=last.kind, dedupe_key=key, payload=payload):
                return ReviewOutcome(done=False, notice="That message is already being sent again")
            await repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="delivery_retried",
                actor=user_id,
                detail={"root": root, "root_job_id": first.id, "job": key},
            )
            if escalation_id is not None:
                await queue_card_sync(
                    repos.jobs, tx, escalation_id=escalation_id, reason=f"retry:{key}"
                )
        return ReviewOutcome(done=True)

    async def _about(self, payload: dict[str, Any]) -> tuple[int | None, int | None]:
        """(ticket, escalation whose card shows it) of a delivery's payload."""
        repos = self.repos
        if "escalation_id" in payload:
            escalation = await repos.escalations.get(int(payload["escalation_id"]))
            if escalation is None:
                return None, None
            card = escalation.id if escalation.card_ts is not None else None
            return escalation.ticket_id, card
        ticket_id = payload.get("ticket_id") or payload.get("about_ticket")
        if not isinstance(ticket_id, int):
            return None, None
        latest = await repos.escalations.latest_for_ticket(ticket_id)
        if latest is None or latest.card_ts is None:
            return ticket_id, None
        return ticket_id, latest.id
