"""Delivering the outbox to Slack, once.

Every post carries message metadata naming its outbox key. A delivery that runs a second time
(the process died after Slack took the message but before the job was marked done, or Slack
answered 5xx after posting) first looks in the thread or channel for a message of this bot's
(its ``bot_id`` or user from auth.test) with that key, and only posts if there is none: a
customer's or another app's message carrying the same metadata does not count. That makes "at
least once" delivery land exactly once.

Why only a 429 is retried within a post (``bot/slack/api.py``): a 429 means Slack did nothing,
so an immediate retry is safe; a 5xx or a dropped connection may hide a message that was
posted, so those retries go through the job queue and the look-before-post check above.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import PermanentFailure, RetryLater
from bot.jobs.queueing import queue_card_sync
from bot.jobs.worker import complete_running_job
from bot.ops.logs import current_ticket
from bot.review.deliveries import (
    CARD_GONE_ERRORS,
    LOOKUP_FAILED,
    PURPOSE_WORDS,
    describe,
    error_code,
    plain_reason,
    undelivered,
)
from bot.runtime.repos import Repositories
from bot.slack import ids
from bot.slack.api import call, retry_after_seconds
from bot.slack.blocks import (
    CardContent,
    EarlierDraft,
    NotDelivered,
    delivery_failed_notice,
    escalation_card,
)
from bot.slack.people import Workspace
from bot.slack.text import message_link, slack_date, slack_error
from bot.tickets.schemas import Source
from bot.tickets.status import last_word, ticket_status
from bot.tickets.workflow import split_round
from persistence.db import Tx
from persistence.jobs import chain_root
from persistence.records import Job, Turn

log = logging.getLogger(__name__)

# Posts that answer the customer: after one, the ticket waits on them (and may auto-close).
REPLY_PURPOSES = frozenset({"answer", "reply"})
AfterReply = Callable[[Tx, int, Turn], Awaitable[None]]

# How many messages a retried delivery reads looking for an earlier one. In a customer's thread:
# one small page (conversations.replies allows non-Marketplace apps one request a minute, 15
# messages). In the team's escalation channel, where cards and notices arrive several a minute
# on a busy day, one such page would rarely reach back to the first attempt, and a card that
# cannot tell whether it was posted would not be posted at all: there it reads up to
# CHANNEL_LOOKUP_PAGES pages of CHANNEL_LOOKUP_LIMIT.
LOOKUP_LIMIT = 15
CHANNEL_LOOKUP_LIMIT = 200
CHANNEL_LOOKUP_PAGES = 5
# How many times a card update renders again for changes made while it was sent.
CATCH_UP_RENDERS = 3

# Slack errors that no retry will fix: give up at once and say so in the trail.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "restricted_action",
        "thread_not_found",
        "message_not_found",
        "cant_update_message",
    }
)


_ACTIVITY = {
    "claimed": "🙋 Claimed by {who}",
    "redraft_requested": "🔁 {who} asked for a new draft",
    "question_answered": "💡 {who} answered the bot's question",
    "redrafted": "📝 New draft written",
    "redraft_failed": "⚠️ A new draft failed; the previous one stands",
    "reminded": "⏰ Reminder {n} sent",
    "review_timed_out": "⌛ The customer was told the team is still on it",
    "taken_over": "💬 {who} answered in the customer's thread",
    "handed_back": "🤖 {who} handed the thread back to the bot",
    "resolved": "☑️ Resolved by {who}",
    "auto_closed": "☑️ Resolved automatically after the customer went quiet",
    "saved_as_article": "📚 {who} saved the reply as article #{article_id}",
    "wants_person": "🙋 The customer asked for a person",
}


def activity_line(step: str, actor: str, detail: dict[str, Any], at: float) -> str | None:
    """One line of a card's "who did what", or None for steps the card does not show."""
    template = _ACTIVITY.get(step)
    if template is None:
        return None
    who = "the bot" if actor == "bot" else f"<@{actor}>"
    fields = {"who": who, "n": detail.get("n", ""), "article_id": detail.get("article_id", "?")}
    return f"{template.format(**fields)} {slack_date(at)}"


def _metadata(key: str) -> dict[str, Any]:
    return {"event_type": ids.OUTBOX_METADATA_EVENT, "event_payload": {"key": key}}


def _is_ours(message: dict[str, Any], workspace: Workspace) -> bool:
    """Posted by this bot (its identity from auth.test): anyone may attach any metadata to their
    own messages, so the key alone proves nothing."""
    bot_id, user = message.get("bot_id"), message.get("user")
    return bool(
        (workspace.bot_id and bot_id == workspace.bot_id)
        or (workspace.bot_user_id and user == workspace.bot_user_id)
    )


def _has_key(message: dict[str, Any], key: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(
        metadata.get("event_type") == ids.OUTBOX_METADATA_EVENT and payload.get("key") == key
    )


_ESCALATION_KEY = re.compile(r"^escalation:(\d+):")


def _escalation_of(job: Job) -> int | None:
    """The escalation a delivery is about: its payload's, or its key's (replies, reminders)."""
    value = job.payload.get("escalation_id")
    if isinstance(value, int):
        return value
    found = _ESCALATION_KEY.match(job.dedupe_key)
    return int(found.group(1)) if found else None


def _classify_slack_error(exc: SlackApiError) -> Exception:
    response = exc.response
    retry_after = response.headers.get("Retry-After") if response is not None else None
    status = response.status_code if response is not None else "?"
    return _classify(slack_error(exc), status, retry_after)


def _classify(error: str, status: object, retry_after: str | None) -> Exception:
    if error in PERMANENT_ERRORS:
        return PermanentFailure(f"Slack refused: {error}")
    if error in ("ratelimited", "http_429"):
        seconds = retry_after_seconds(retry_after)
        delay = min(seconds, 3600.0) if seconds is not None else 5.0
        return RetryLater("Slack rate limit", delay=delay)
    return RetryLater(f"Slack error {error or status}")


class SlackOutbox:
    def __init__(
        self,
        client: AsyncWebClient,
        repos: Repositories,
        workspace: Workspace,
        escalation_channel: str,
        *,
        after_reply: AfterReply | None = None,
        can_redraft: bool = False,
        max_redrafts: int = 0,
    ) -> None:
        self.client = client
        self.repos = repos
        self.workspace = workspace
        self.escalation_channel = escalation_channel
        self.after_reply = after_reply
        self.can_redraft = can_redraft
        self.max_redrafts = max_redrafts
        self._card_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def deliver_post(self, job: Job) -> dict[str, Any]:
        p = job.payload
        channel, thread_ts = p["channel"], p.get("thread_ts")
        ts = None
        if job.attempts > 1:
            try:
                ts = await self._find_posted(
                    channel, thread_ts, job.dedupe_key, since=job.created_at, text=p["text"]
                )
            except PermanentFailure as exc:
                if p.get("purpose") != "failure_notice":
                    raise
                # The team must hear that something was not delivered: a notice posted twice
                # is better than none (it goes to the team's channel, never to a customer).
                log.warning(
                    "outbox %s: posting the notice without its look-up: %s", job.dedupe_key, exc
                )
        if ts is None:
            ts = await self._call(
                "chat.postMessage",
                channel=channel,
                thread_ts=thread_ts,
                text=p["text"],
                blocks=p.get("blocks") or None,
                metadata=_metadata(job.dedupe_key),
                unfurl_links=False,
                unfurl_media=False,
            )
        else:
            log.info("outbox %s was already delivered as %s; not posting again", job.dedupe_key, ts)
        # No fsync: a power cut that takes this record takes the job's completion with it (that
        # comes later in the log), so the job runs again, finds its post by the key in the
        # message's metadata, and records it then, as after a crash between post and record.
        async with self.repos.db.transaction(durable=False) as tx:
            await complete_running_job(self.repos.jobs, tx, {"ts": ts})
            ticket_id = p.get("ticket_id")
            if ticket_id is not None:
                author = p.get("author")
                turn = await self.repos.tickets.add_turn(
                    tx,
                    ticket_id=ticket_id,
                    role="staff" if author else "bot",
                    user_id=author or self.workspace.bot_user_id,
                    text=p["text"],
                    slack_ts=ts,
                    purpose=p.get("purpose"),
                )
                if turn is not None and self.after_reply and p.get("purpose") in REPLY_PURPOSES:
                    await self.after_reply(tx, ticket_id, turn)
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket_id,
                    step="sent",
                    actor="bot",
                    detail={"purpose": p.get("purpose"), "ts": ts, "attempts": job.attempts},
                )
        return {"ts": ts}

    async def delivery_failed(self, job: Job, error: str) -> None:
        """A delivery given up for good: on the ticket's trail, and in front of people.

        A message for a ticket with a posted card marks the card "not delivered" (with why and a
        "Try again" button); without a card (an auto-answer, or the card itself could not be
        posted) a plain message in the escalation channel says it. If that notice cannot be
        posted either, the error log and the failure counters are what is left."""
        p = job.payload
        purpose = str(p.get("purpose") or ("card" if job.kind == jobkinds.SYNC_CARD else job.kind))
        if job.kind not in (jobkinds.SLACK_POST, jobkinds.SYNC_CARD):
            await self._on_trail(job, "delivery_failed", {"job": job.dedupe_key, "error": error})
            return
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

    async def job_retried(self, job: Job, error: str, delay: float) -> None:
        """Every retry of a ticket's job is a step of its trail, with the error and the wait."""
        detail = {"job": job.dedupe_key, "error": error[:300], "attempt": job.attempts}
        await self._on_trail(job, "retried", {**detail, "retry_in_s": round(delay, 1)})

    async def _on_trail(self, job: Job, step: str, detail: dict[str, Any]) -> None:
        ticket_id = job.payload.get("ticket_id")
        if ticket_id is None and "escalation_id" in job.payload:
            escalation = await self.repos.escalations.get(int(job.payload["escalation_id"]))
            ticket_id = escalation.ticket_id if escalation else None
        if ticket_id is None and step == "retried":
            return  # not about a ticket (a digest, a reminder post): the log has it
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx, ticket_id=ticket_id, step=step, actor="bot", detail=detail
            )

    async def deliver_card(self, job: Job) -> dict[str, Any]:
        escalation_id = int(job.payload["escalation_id"])
        # Card jobs of one escalation run one at a time, so an older render never lands last.
        async with self._card_locks[escalation_id]:
            return await self._sync_card(job, escalation_id)

    async def _sync_card(self, job: Job, escalation_id: int) -> dict[str, Any]:
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            raise PermanentFailure(f"escalation {escalation_id} does not exist")
        current_ticket.set(escalation.ticket_id)
        content = await self.card_content(escalation_id)
        message = escalation_card(content)
        if escalation.card_ts is not None and escalation.card_channel is not None:
            await self._call(
                "chat.update",
                channel=escalation.card_channel,
                ts=escalation.card_ts,
                text=message.text,
                blocks=message.blocks,
            )
            # Only once Slack shows it does the card count as having shown these messages.
            await self.repos.escalations.set_shown_turn(escalation_id, content.shown_turn_id)
            await self._catch_up(
                escalation_id, escalation.version, escalation.card_channel, escalation.card_ts
            )
            return {"ts": escalation.card_ts, "updated": True}
        if not (job.dedupe_key.endswith(":open") or job.payload.get("open")):
            # Only the opening job (or its retry) posts the card; updates wait until it exists.
            raise RetryLater("the card is not posted yet", delay=1.0)
        channel = escalation.card_channel or self.escalation_channel
        ts = None
        if job.attempts > 1:
            ts = await self._find_posted(
                channel, None, job.dedupe_key, since=job.created_at, text=message.text
            )
        if ts is None:
            ts = await self._call(
                "chat.postMessage",
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                metadata=_metadata(job.dedupe_key),
                unfurl_links=False,
            )
        await self.repos.escalations.set_shown_turn(escalation_id, content.shown_turn_id)
        async with self.repos.db.transaction() as tx:
            await self.repos.escalations.set_card(
                tx, escalation_id=escalation_id, channel=channel, ts=ts
            )
            await self.repos.trail.record(
                tx,
                ticket_id=escalation.ticket_id,
                step="card_posted",
                actor="bot",
                detail={"escalation_id": escalation_id, "channel": channel, "ts": ts},
            )
        await self._catch_up(escalation_id, escalation.version, channel, ts)
        return {"ts": ts}

    async def _catch_up(self, escalation_id: int, version: int, channel: str, ts: str) -> None:
        """Render the card again while the escalation changed since ``version`` was read: a
        decision made while the card was being posted, or another replica's update for an
        earlier state landing after ours (the per-escalation lock holds in one process only)."""
        for _ in range(CATCH_UP_RENDERS):
            fresh = await self.repos.escalations.get(escalation_id)
            if fresh is None or fresh.version == version:
                return
            version = fresh.version
            again = escalation_card(await self.card_content(escalation_id))
            await self._call(
                "chat.update", channel=channel, ts=ts, text=again.text, blocks=again.blocks
            )

    async def card_content(self, escalation_id: int) -> CardContent:
        repos = self.repos
        escalation = await repos.escalations.get(escalation_id)
        assert escalation is not None
        ticket = await repos.tickets.get(escalation.ticket_id)
        assert ticket is not None
        turns = await repos.tickets.turns(ticket.id)
        classification = ticket.classification or {}
        start, end = (classification.get("turn_range") or [0, ticket.processed_turn_id])[:2]
        question_turns = [t for t in turns if t.role == "customer" and start < t.id <= end]
        _, later = split_round(turns, max(end, start))
        follow_ups = [t.text for t in later]
        shown = max([t.id for t in question_turns] + [t.id for t in later], default=0)
        question_ts = question_turns[0].slack_ts if question_turns else ticket.thread_ts
        draft = ticket.draft or {}
        missing = draft.get("missing_information") or ""
        drafts = await repos.escalations.drafts(escalation.id)
        current = drafts[-1] if drafts else None
        sources = current.sources if current is not None else draft.get("sources", [])
        if escalation.state == "edited":
            sources = []
        events = await repos.trail.for_ticket(ticket.id)
        activity = [
            line
            for e in events
            if e.created_at >= escalation.created_at
            and (line := activity_line(e.step, e.actor, e.detail, e.created_at)) is not None
        ]
        failures = undelivered(events, since=escalation.created_at)
        saved = next(
            (
                e.detail.get("article_id")
                for e in events
                if e.step == "saved_as_article" and e.detail.get("escalation_id") == escalation.id
            ),
            None,
        )
        return CardContent(
            escalation_id=escalation.id,
            ticket_id=ticket.id,
            state=escalation.state,
            customer_user_id=ticket.customer_user_id,
            question="\n".join(t.text for t in question_turns) or "(no text)",
            message_link=message_link(
                self.workspace.url, ticket.channel_id, question_ts or ticket.thread_ts
            ),
            reason=escalation.reason,
            category=classification.get("category"),
            confidence=classification.get("confidence"),
            summary=classification.get("summary"),
            draft=escalation.final_text if escalation.state == "edited" else escalation.draft_text,
            sources=[Source.model_validate(s) for s in sources],
            missing_information=missing if escalation.draft_text or missing else "",
            also_found=_also_found(ticket.retrieval or {}, sources),
            # The round's own draft's findings; a redraft replaced that draft on the card.
            unsupported_facts=[
                str(f)
                for f in draft.get("unsupported_facts") or []
                if current is None or current.n == 1
            ],
            follow_ups=follow_ups,
            decided_by=escalation.decided_by,
            decided_at=escalation.decided_at,
            final_text=escalation.final_text,
            draft_number=current.n if current is not None else 1,
            earlier_drafts=[
                EarlierDraft(
                    n=d.n,
                    origin=d.origin,
                    text=d.text,
                    feedback=d.feedback,
                    # Feedback on a draft came from whoever asked for the next one.
                    requested_by=drafts[i + 1].requested_by if d.feedback else None,
                )
                for i, d in enumerate(drafts[:-1])
            ],
            work=escalation.work,
            work_by=escalation.work_by,
            owner=ticket.owner_user_id,
            ticket_state=ticket.state,
            human_owner=ticket.human_owner,
            activity=activity,
            can_redraft=self.can_redraft
            and sum(1 for d in drafts if d.origin == "redraft") < self.max_redrafts,
            saved_article_id=int(saved) if isinstance(saved, int) else None,
            status=ticket_status(ticket, last_word(turns), undelivered=bool(failures)),
            shown_turn_id=shown,
            not_delivered=[
                NotDelivered(job_id=f.job_id, what=describe(f), reason=f.reason) for f in failures
            ],
        )

    async def _call(self, method: str, **kwargs: Any) -> str:
        try:
            response = await call(self.client, method, **kwargs)
        except SlackApiError as exc:
            raise _classify_slack_error(exc) from None
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            raise RetryLater(f"Slack unreachable: {type(exc).__name__}") from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise RetryLater(f"Slack answered {method} without a ts")
        return ts

    async def _find_posted(
        self, channel: str, thread_ts: str | None, key: str, *, since: float, text: str
    ) -> str | None:
        """The ts of an earlier delivery of this outbox key, if Slack has one.

        In a thread one small page (``LOOKUP_LIMIT``); in a channel a few large ones (see
        ``CHANNEL_LOOKUP_PAGES``). Only messages from shortly before the job
        was created can be earlier deliveries, so the look-up starts there. A message of this
        bot's carrying the key is the earlier delivery; one of this bot's without any metadata
        (Slack did not return it: the token lacks ``metadata.message:read``, say) counts if its
        text is this delivery's. When the look-up cannot answer (Slack refuses it, or the page
        does not reach far enough) the delivery gives up rather than post blindly: a person
        decides (``bot/review/deliveries.py``)."""
        in_thread = thread_ts is not None
        method = "conversations.replies" if in_thread else "conversations.history"
        cursor: str | None = None
        for _page in range(1 if in_thread else CHANNEL_LOOKUP_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{since - 60:.6f}",
                "include_all_metadata": True,
                "limit": LOOKUP_LIMIT if in_thread else CHANNEL_LOOKUP_LIMIT,
            }
            if cursor:
                args["cursor"] = cursor
            try:
                if thread_ts is not None:
                    response = await self.client.conversations_replies(ts=thread_ts, **args)
                else:
                    response = await self.client.conversations_history(**args)
            except SlackApiError as exc:
                error = slack_error(exc)
                classified = _classify_slack_error(exc)
                if isinstance(classified, RetryLater):
                    raise RetryLater(
                        f"{LOOKUP_FAILED}: Slack error {error} on {method}", delay=classified.delay
                    ) from None
                raise PermanentFailure(
                    f"{LOOKUP_FAILED}: Slack refused {method}: {error}"
                ) from None
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                raise RetryLater(f"Slack unreachable: {type(exc).__name__}") from None
            for message in response.get("messages") or []:
                if not (_is_ours(message, self.workspace) and isinstance(message.get("ts"), str)):
                    continue
                if _has_key(message, key):
                    return str(message["ts"])
                if "metadata" not in message and message.get("text") == text:
                    log.info("outbox %s: matched an earlier delivery by its text", key)
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not (response.get("has_more") or cursor):
                return None
        read = LOOKUP_LIMIT if in_thread else CHANNEL_LOOKUP_LIMIT * CHANNEL_LOOKUP_PAGES
        raise PermanentFailure(
            f"{LOOKUP_FAILED}: Slack error too_many_messages on {method}"
            f" (more than {read} since the first attempt)"
        )


def _also_found(retrieval: dict[str, Any], cited: list[Any]) -> list[str]:
    """The other sections the search brought, for a reviewer looking for the answer: those
    the draft does not cite, by their search score (the draft prompt lists one section per
    article first; a reviewer wants the next best section, whichever article it is in)."""
    shown = {(s.get("article_id"), s.get("heading")) for s in cited if isinstance(s, dict)}
    names: list[str] = []
    hits = sorted(retrieval.get("hits") or [], key=lambda h: -float(h.get("score") or 0))
    for hit in hits:
        if (hit.get("article_id"), hit.get("heading")) in shown:
            continue
        title, heading = str(hit.get("title") or ""), str(hit.get("heading") or "")
        name = title if heading in ("", title) else f"{title} › {heading}"
        if name not in names:
            names.append(name)
    return names[:3]
