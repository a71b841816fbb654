"""Delivering the outbox to Slack, once.

Every post carries message metadata naming its outbox key. A delivery that runs a second time
(the process died after Slack took the message but before the job was marked done, or Slack
answered 5xx after posting) first looks in the thread or channel for a message with that key,
and only posts if there is none. That makes "at least once" delivery land exactly once.

Why only a 429 is retried within the call (``bot/slack_api.py``, and slack_sdk's handler for
the look-ups): a 429 means Slack did nothing, so an immediate retry is safe; a 5xx or a dropped
connection may hide a message that was posted, so those retries go through the job queue and the
look-before-post check above.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks import CardContent, EarlierDraft, escalation_card
from bot.http1 import HttpFailure
from bot.jobkinds import PermanentFailure, RetryLater
from bot.logs import current_ticket
from bot.models import Source
from bot.people import Workspace
from bot.repos import Repositories
from bot.slack_api import SlackCallFailed, SlackWriter, retry_after_seconds
from bot.slack_text import message_link, slack_date, slack_error
from bot.status import last_word, ticket_status
from bot.worker import complete_running_job
from bot.workflow import split_round
from persistence.db import Tx
from persistence.records import Job, Turn

log = logging.getLogger(__name__)

# Posts that answer the customer: after one, the ticket waits on them (and may auto-close).
REPLY_PURPOSES = frozenset({"answer", "reply"})
AfterReply = Callable[[Tx, int, Turn], Awaitable[None]]

# How many pages of 200 messages a retried delivery reads looking for an earlier one.
LOOKUP_PAGES = 10
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


def _has_key(message: dict[str, Any], key: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(
        metadata.get("event_type") == ids.OUTBOX_METADATA_EVENT and payload.get("key") == key
    )


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
        writer: SlackWriter,
        repos: Repositories,
        workspace: Workspace,
        escalation_channel: str,
        *,
        after_reply: AfterReply | None = None,
        can_redraft: bool = False,
        max_redrafts: int = 0,
    ) -> None:
        self.client = client  # reads: an earlier delivery's look-up
        self.writer = writer  # posts and updates
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
            ts = await self._find_posted(channel, thread_ts, job.dedupe_key, since=job.created_at)
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
        """Record a delivery given up for good on the ticket's trail, where people see it."""
        await self._on_trail(job, "delivery_failed", {"job": job.dedupe_key, "error": error})

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
        if not job.dedupe_key.endswith(":open"):
            # Only the opening job posts the card; updates wait until it exists.
            raise RetryLater("the card is not posted yet", delay=1.0)
        channel = escalation.card_channel or self.escalation_channel
        ts = None
        if job.attempts > 1:
            ts = await self._find_posted(channel, None, job.dedupe_key, since=job.created_at)
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
            status=ticket_status(ticket, last_word(turns)),
            shown_turn_id=shown,
        )

    async def _call(self, method: str, **kwargs: Any) -> str:
        try:
            response = await self.writer.call(method, **kwargs)
        except SlackCallFailed as exc:
            raise _classify(exc.error, exc.status, exc.retry_after) from None
        except (TimeoutError, HttpFailure) as exc:
            raise RetryLater(f"Slack unreachable: {type(exc).__name__}") from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise RetryLater(f"Slack answered {method} without a ts")
        return ts

    async def _find_posted(
        self, channel: str, thread_ts: str | None, key: str, *, since: float
    ) -> str | None:
        """The ts of an earlier delivery of this outbox key, if Slack has one.

        Only messages from shortly before the job was created can be earlier deliveries, so the
        look-up starts there; long threads are paged through.
        """
        args: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{since - 60:.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        cursor = None
        for _ in range(LOOKUP_PAGES):
            try:
                if thread_ts is not None:
                    response = await self.client.conversations_replies(
                        ts=thread_ts, cursor=cursor, **args
                    )
                else:
                    response = await self.client.conversations_history(cursor=cursor, **args)
            except SlackApiError as exc:
                raise _classify_slack_error(exc) from None
            except (TimeoutError, OSError) as exc:
                raise RetryLater(f"Slack unreachable: {type(exc).__name__}") from None
            for message in response.get("messages") or []:
                if _has_key(message, key) and isinstance(message.get("ts"), str):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        raise RetryLater("too many messages to search for an earlier delivery")


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
