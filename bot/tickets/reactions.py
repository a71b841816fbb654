"""Reactions as commands: a teammate's emoji on a customer's message in a support channel.

``:ticket:`` opens a ticket for the message (even one the bot ignored: a channel switched off, a
message mid-conversation, a customer writing outside a thread), and it goes to the review queue
whatever the channel's mode; ``:eyes:`` claims the message's ticket; ``:white_check_mark:``
resolves it. The emoji are live settings (``/support reactions``).

Like a message, a reaction is stored as a job before Slack is acknowledged (``accept``); the job
(``handle``) asks Slack for the message with ``reactions.get``, which also says whether the
reaction is still on it (one taken off before the job ran does nothing), and then acts through
the same code as the card's buttons (``Handoffs.claim_in``, ``Handoffs.resolve_in``). Every
reaction that does not act leaves its reason in the ignored-messages log; a teammate whose
reaction was refused is told why, privately.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_advance
from bot.jobs.worker import complete_running_job
from bot.settings.live import LiveConfig
from bot.slack.api import call
from bot.slack.events import InboundReaction
from bot.slack.outbox import PERMANENT_ERRORS
from bot.slack.people import People, Workspace
from bot.slack.text import clean_text, slack_error
from bot.tickets.handoffs import Handoffs
from persistence.db import Tx
from persistence.records import Job
from persistence.repos import Repositories

log = logging.getLogger(__name__)

# Message subtypes that are a person writing (as intake counts them).
_PERSON_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
CUSTOMERS_NEVER = "a customer's reaction: customers' reactions never act"
NOT_A_TICKET = (
    "That message is not in a support ticket. React with :{open}: to open one for it first."
)


@dataclass(frozen=True)
class Result:
    """How a reaction ended: ``reason`` (None: it acted) is logged with the message; ``notice``
    goes to the teammate who reacted, privately."""

    reason: str | None = None
    notice: str | None = None


class Reactions:
    def __init__(
        self,
        repos: Repositories,
        people: People,
        handoffs: Handoffs,
        config: LiveConfig,
        client: AsyncWebClient,
        workspace: Workspace,
    ) -> None:
        self.repos = repos
        self.people = people
        self.handoffs = handoffs
        self.config = config
        self.client = client
        self.workspace = workspace

    async def accept(self, reaction: InboundReaction) -> bool:
        """Store the reaction as a job; Slack is acknowledged once this commits."""
        async with self.repos.db.transaction(urgent=True, serial=False) as tx:
            new = await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.REACTION,
                dedupe_key=reaction.dedupe_key,
                payload=reaction.to_payload(),
            )
        if not new:
            log.info("duplicate delivery of %s dropped", reaction.dedupe_key)
        return new

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            await self.handle(InboundReaction.from_payload(job.payload))

        async def failed(job: Job, error: str) -> None:
            reaction = InboundReaction.from_payload(job.payload)
            log.error("reaction %s could not be processed: %s", reaction.dedupe_key, error)
            async with self.repos.db.transaction() as tx:
                await self._log(tx, reaction, f"processing failed after retries: {error[:300]}")

        return [JobKind(jobkinds.REACTION, run, failed=failed)]

    # -- the job ---------------------------------------------------------------------------

    async def handle(self, reaction: InboundReaction) -> None:
        """Act on the reaction, or log why not; tell a refused teammate why."""
        found = await self._look(reaction)
        thread_ts: str | None = None
        gone = False
        if not isinstance(found, Result) and reaction.action == "resolve":
            # Asked before the transaction, as the buttons do: a Slack look-up must not hold it.
            known = await self.repos.tickets.find_by_thread(reaction.channel_id, found[1])
            if known is not None and self.handoffs.csat is not None:
                gone = await self.handoffs.csat.customer_gone(known.id)
        async with self.repos.db.transaction() as tx:
            if isinstance(found, Result):
                result = found
            else:
                message, thread_ts = found
                result = await self._act(tx, reaction, message, thread_ts, customer_gone=gone)
            if result.reason is not None:
                await self._log(tx, reaction, result.reason)
            if not result.notice:
                # Done with what it changed. With a notice to send, the job ends once it is
                # sent (a crash in between tells them twice; what it changed stays once).
                await complete_running_job(self.repos.jobs, tx)
        if result.notice:
            await self._tell(reaction, result.notice, thread_ts)

    async def _look(self, reaction: InboundReaction) -> Result | tuple[dict[str, Any], str]:
        """The customer's message and its thread's ts, or why the reaction does nothing."""
        is_staff = (
            await self.people.author_role(
                user_id=reaction.user_id, user_team=None, shared_channel=reaction.shared_channel
            )
            == "staff"
        )
        if not is_staff and not await self.people.can_review(reaction.user_id):
            return Result(CUSTOMERS_NEVER)
        try:
            response = await self.client.reactions_get(
                channel=reaction.channel_id, timestamp=reaction.ts, full=True
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            if error not in PERMANENT_ERRORS:
                raise  # retried by the job queue
            return Result(f"Slack would not show the message (reactions.get: {error})")
        message = response.get("message")
        if not isinstance(message, dict):
            return Result("Slack returned no message for the reaction")
        if not _still_there(message, reaction):
            return Result(f"the :{reaction.reaction}: was taken off before the bot got to it")
        if (
            message.get("bot_id")
            or message.get("subtype") == "bot_message"
            or message.get("user") == self.workspace.bot_user_id
        ):
            return Result("a reaction on a bot's message, not on a customer's")
        author = message.get("user")
        if message.get("subtype") not in _PERSON_SUBTYPES or not isinstance(author, str):
            return Result("a reaction on something that is not a person's message")
        team = message.get("user_team") or message.get("team")
        role = await self.people.author_role(
            user_id=author,
            user_team=team if isinstance(team, str) else None,
            shared_channel=reaction.shared_channel,
        )
        if role != "customer":
            return Result("a reaction on a teammate's message, not on a customer's")
        thread_ts = message.get("thread_ts")
        return message, thread_ts if isinstance(thread_ts, str) and thread_ts else reaction.ts

    async def _act(
        self,
        tx: Tx,
        reaction: InboundReaction,
        message: dict[str, Any],
        thread_ts: str,
        *,
        customer_gone: bool = False,
    ) -> Result:
        repos = self.repos
        ticket = await repos.tickets.find_by_thread(reaction.channel_id, thread_ts, tx)
        if reaction.action == "open":
            if ticket is not None:
                return Result(
                    f"already in ticket #{ticket.id}",
                    f"That message is already in ticket #{ticket.id}; nothing new was opened.",
                )
            return await self._open(tx, reaction, message, thread_ts)
        if not await self.people.can_review(reaction.user_id):
            return Result(
                f"{reaction.user_id} may not review: the :{reaction.reaction}: does nothing",
                self.people.refusal(),
            )
        if ticket is None:
            open_emoji = self.config.current.reactions.get("open", "ticket")
            return Result(
                "the message is not in a support ticket", NOT_A_TICKET.format(open=open_emoji)
            )
        if reaction.action == "claim":
            outcome = await self.handoffs.claim_in(
                tx, ticket, user_id=reaction.user_id, via="reaction"
            )
        else:
            outcome = await self.handoffs.resolve_in(
                tx, ticket, user_id=reaction.user_id, via="reaction", customer_gone=customer_gone
            )
        if outcome.done:
            return Result()
        return Result(outcome.notice or "nothing to do", outcome.notice)

    async def _open(
        self, tx: Tx, reaction: InboundReaction, message: dict[str, Any], thread_ts: str
    ) -> Result:
        """A ticket keyed by the message's thread, the message as the customer's turn, and a
        round that ends on the review queue (``opened_by``: the bot never answers it alone)."""
        repos = self.repos
        author = str(message["user"])
        team = message.get("user_team") or message.get("team")
        ticket, created = await repos.tickets.open(
            tx,
            channel_id=reaction.channel_id,
            thread_ts=thread_ts,
            customer_user_id=author,
            customer_team_id=team if isinstance(team, str) else None,
            opened_by=reaction.user_id,
        )
        if not created:  # opened a moment ago by someone else
            return Result(f"already in ticket #{ticket.id}")
        text = message.get("text")
        await repos.tickets.add_turn(
            tx,
            ticket_id=ticket.id,
            role="customer",
            user_id=author,
            text=clean_text(text) if isinstance(text, str) and text.strip() else "(no text)",
            slack_ts=reaction.ts,
        )
        await repos.trail.record(
            tx,
            ticket_id=ticket.id,
            step="opened_by_reaction",
            actor=reaction.user_id,
            detail={
                "emoji": reaction.reaction,
                "channel": reaction.channel_id,
                "ts": reaction.ts,
                "mode": self.config.current.mode(reaction.channel_id),
            },
        )
        await queue_advance(repos.jobs, tx, ticket_id=ticket.id, round=ticket.round)
        log.info(
            "ticket %s opened by %s with :%s: on %s/%s",
            ticket.id,
            reaction.user_id,
            reaction.reaction,
            reaction.channel_id,
            reaction.ts,
        )
        return Result()

    async def _log(self, tx: Tx, reaction: InboundReaction, reason: str) -> None:
        line = f"reaction :{reaction.reaction}: by {reaction.user_id}: {reason}"
        log.info("ignoring %s: %s", reaction.dedupe_key, line)
        await self.repos.trail.ignore(
            tx,
            channel_id=reaction.channel_id,
            ts=reaction.ts,
            user_id=reaction.user_id,
            reason=line,
        )

    async def _tell(self, reaction: InboundReaction, text: str, thread_ts: str | None) -> None:
        """An ephemeral to the teammate who reacted (best effort: the reason is logged)."""
        try:
            await call(
                self.client,
                "chat.postEphemeral",
                channel=reaction.channel_id,
                user=reaction.user_id,
                text=text,
                thread_ts=thread_ts if thread_ts and thread_ts != reaction.ts else None,
            )
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", reaction.user_id, slack_error(exc))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("could not tell %s: %r", reaction.user_id, exc)


def _still_there(message: dict[str, Any], reaction: InboundReaction) -> bool:
    """Whether ``reactions.get`` still shows this user's reaction (skin tones aside)."""
    base = reaction.reaction.split("::", 1)[0]
    for entry in message.get("reactions") or []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name") or "").split("::", 1)[0]
        if name == base and reaction.user_id in (entry.get("users") or []):
            return True
    return False
