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

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind, PermanentFailure, RetryLater
from bot.jobs.worker import complete_running_job
from bot.slack import ids
from bot.slack.api import call, retry_after_seconds
from bot.slack.blocks.common import OutgoingMessage
from bot.slack.people import Workspace
from bot.slack.text import slack_error
from persistence.db import Tx
from persistence.jobs import JobRepository
from persistence.records import Job, Ticket, Turn
from persistence.repos import Repositories

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

# How an error says the "already posted?" check failed (``bot/review/deliveries.py`` reads it).
LOOKUP_FAILED = "Look-up failed"

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


def outbox_metadata(key: str) -> dict[str, Any]:
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


async def queue_thread_post(
    jobs: JobRepository,
    tx: Tx,
    *,
    key: str,
    ticket: Ticket,
    message: OutgoingMessage,
    purpose: str,
    author: str | None = None,
) -> None:
    """A message for the customer's thread, delivered once by the outbox. ``author`` names the
    teammate whose words it is (an edited reply), so the history says a human wrote it."""
    await jobs.enqueue(
        tx,
        kind=jobkinds.SLACK_POST,
        dedupe_key=key,
        payload={
            "ticket_id": ticket.id,
            "channel": ticket.channel_id,
            "thread_ts": ticket.thread_ts,
            "text": message.text,
            "blocks": message.blocks,
            "purpose": purpose,
            "author": author,
        },
    )


async def queue_card_thread_post(
    jobs: JobRepository,
    tx: Tx,
    *,
    key: str,
    channel: str,
    thread_ts: str | None,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    purpose: str = "reminder",
) -> None:
    """A message in a review card's thread (reminders, a closed issue's note), or in the
    escalation channel when there is no card (``thread_ts`` None): for the team, not part of
    the ticket."""
    payload: dict[str, Any] = {
        "channel": channel,
        "thread_ts": thread_ts,
        "text": text,
        "purpose": purpose,
    }
    if blocks:
        payload["blocks"] = blocks
    await jobs.enqueue(tx, kind=jobkinds.SLACK_POST, dedupe_key=key, payload=payload)


class SlackOutbox:
    """Posts to Slack exactly once (the ``slack_post`` job), and the Web API calls with the
    look-before-post check that other deliveries (the review card) share."""

    def __init__(
        self,
        client: AsyncWebClient,
        repos: Repositories,
        workspace: Workspace,
        *,
        after_reply: AfterReply | None = None,
        on_failed: Callable[[Job, str], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.repos = repos
        self.workspace = workspace
        self.after_reply = after_reply
        self.on_failed = on_failed

    def jobs(self) -> list[JobKind]:
        return [JobKind(jobkinds.SLACK_POST, self.deliver_post, failed=self.on_failed)]

    async def deliver_post(self, job: Job) -> dict[str, Any]:
        p = job.payload
        channel, thread_ts = p["channel"], p.get("thread_ts")
        ts = None
        if job.attempts > 1:
            try:
                ts = await self.find_posted(
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
            ts = await self.call(
                "chat.postMessage",
                channel=channel,
                thread_ts=thread_ts,
                text=p["text"],
                blocks=p.get("blocks") or None,
                metadata=outbox_metadata(job.dedupe_key),
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

    async def call(self, method: str, **kwargs: Any) -> str:
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

    async def find_posted(
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
