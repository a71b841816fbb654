"""Issues in the team's tracker, filed from review cards, and what happens when one closes.

- "Create issue" on a card (reviewers only, the rule of every card button): a durable job
  (``CREATE_ISSUE``) keyed by the ticket and the attempt, so a double click or a retried
  request files one issue. The job files the customer's question, the ticket's summary, a
  link back to the Slack thread and the ticket id (``bot/review/trackers.py``), and records
  the issue in the transaction that marks the job done; an attempt after one that may have
  reached the tracker first looks for the issue carrying the ticket's marker. One issue per
  ticket: the card shows its link, the trail records it. A failure (the tracker down, a
  refused token) is a line on the card with "Try again", which is the next attempt.
- Closed: the tracker's webhook (``/trackers/NAME`` on the HTTP port, verified with
  TRACKER_WEBHOOK_SECRET) or, without a secret or in Socket Mode, a poll every
  TRACKER_POLL_INTERVAL (one ``POLL_ISSUES`` job per interval across replicas). The close is
  recorded once (a conditional update), so a replayed webhook or a poll after a webhook does
  nothing. Then a job (``ISSUE_CLOSED``) tells the ticket's owner (or the reviewers) in the
  card's thread and offers a message for the customer: the model's (``prompts/issue_closed.md``)
  or, offline or when it fails, a plain template. It reaches the customer only when a reviewer
  sends it (as drafted, or edited), once, through the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, field_validator

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind, PermanentFailure, RetryLater
from bot.jobs.queueing import queue_card_sync
from bot.jobs.trail import JobTrail
from bot.jobs.worker import complete_running_job
from bot.llm.model import LlmFailure, LlmUsage, SupportModel, usage_fields
from bot.llm.prompts import load_prompt
from bot.review.trackers import (
    LABELS,
    BadWebhook,
    Closed,
    IssueRef,
    NewIssue,
    Tracker,
    TrackerError,
    issue_title,
    marker_for,
)
from bot.settings.environment import Settings
from bot.settings.logs import current_ticket
from bot.slack.blocks.answers import plain_reply
from bot.slack.blocks.issues import issue_closed_message, issue_link, issue_message_modal
from bot.slack.interactions import ReviewOutcome, unknown_card
from bot.slack.outbox import queue_card_thread_post, queue_thread_post
from bot.slack.people import People, Workspace
from bot.slack.text import message_link, slack_date
from persistence.db import Tx
from persistence.records import Job, Ticket
from persistence.repos import Repositories
from persistence.trackers import TrackerIssue

log = logging.getLogger(__name__)

NO_TRACKER = (
    "No issue tracker is configured: an admin sets ISSUE_TRACKER (linear, jira or github) and"
    " its token in the bot's environment."
)
UNKNOWN_ISSUE = "This issue is not known to the bot."
WEBHOOK_MAX_BYTES = 1024 * 1024
POLL_BATCH = 500  # open issues asked about per poll, oldest first
QUESTION_CHARS = 6000
MAX_RETRY_DELAY = 600.0
# Only these resolutions mean "fixed" (Linear's Done, GitHub's completed, Jira's Done, Fixed or
# Resolved), and never with one of the others ("Won't fix", "Not done"): any other close, or
# one that does not say, is offered neutrally.
_FIXED = ("done", "complete", "fixed", "resolved")
_NOT_FIXED = ("cancel", "not_planned", "not planned", "duplicate", "won't", "wont", "not ")
FIXED_TEMPLATE = (
    "Quick update on your question here: the issue our team was tracking for it is now closed"
    " as fixed. Could you give it another try? If anything still isn't right, just reply in"
    " this thread."
)
CLOSED_TEMPLATE = (
    "Quick update on your question here: our team has closed the issue they were tracking for"
    " it. If this still matters to you, just reply in this thread and we'll talk it through."
)


class CustomerUpdate(BaseModel):
    """The message the model drafts for the customer when their issue closed."""

    message: str = Field(min_length=1, max_length=2500)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def template_message(resolution: str) -> str:
    lowered = resolution.lower()
    fixed = any(w in lowered for w in _FIXED) and not any(w in lowered for w in _NOT_FIXED)
    return FIXED_TEMPLATE if fixed else CLOSED_TEMPLATE


class IssueDesk:
    def __init__(
        self,
        settings: Settings,
        repos: Repositories,
        people: People,
        workspace: Workspace,
        tracker: Tracker | None,
        model: SupportModel | None,
    ) -> None:
        self.settings = settings
        self.repos = repos
        self.people = people
        self.workspace = workspace
        self.tracker = tracker
        self.model = model
        self.prompt = load_prompt("issue_closed")
        assert settings.escalation_channel is not None
        self.escalation_channel = settings.escalation_channel

    @property
    def label(self) -> str | None:
        return self.tracker.label if self.tracker is not None else None

    @property
    def polls(self) -> bool:
        """Whether the bot asks the tracker (no webhook can reach it, or none is verified)."""
        return self.tracker is not None and (
            self.settings.socket_mode or self.settings.tracker_webhook_secret is None
        )

    def jobs(self) -> list[JobKind]:
        async def create(job: Job) -> None:
            await self.create(job)

        async def announce(job: Job) -> None:
            await self.announce(job)

        async def poll(job: Job) -> None:
            await self.poll()

        gave_up = JobTrail(self.repos).gave_up
        return [
            JobKind(jobkinds.CREATE_ISSUE, create, failed=self.create_failed),
            JobKind(jobkinds.ISSUE_CLOSED, announce, failed=gave_up),
            JobKind(jobkinds.POLL_ISSUES, poll),
        ]

    async def close(self) -> None:
        if self.tracker is not None:
            await self.tracker.close()

    # -- Create issue --------------------------------------------------------------------------

    async def request(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        """The card's "Create issue" (and its "Try again"): the job that files it, once."""
        tracker = self.tracker
        if tracker is None:
            return ReviewOutcome(done=False, notice=NO_TRACKER)
        if not await self.people.can_review(user_id):
            log.info("refused create issue by %s", user_id)
            return ReviewOutcome(done=False, notice=self.people.refusal())
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return unknown_card()
        ticket_id = escalation.ticket_id
        filed = await self.repos.issues.for_ticket(ticket_id)
        if filed is not None:
            return ReviewOutcome(done=False, notice=_already_filed(filed))
        events = await self.repos.trail.for_ticket(ticket_id)
        attempt = sum(1 for e in events if e.step == "issue_failed")
        first = next((e.created_at for e in events if e.step == "issue_requested"), time.time())
        async with self.repos.db.transaction() as tx:
            new = await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.CREATE_ISSUE,
                dedupe_key=jobkinds.create_issue_key(ticket_id, attempt),
                payload={
                    "ticket_id": ticket_id,
                    "escalation_id": escalation_id,
                    "by": user_id,
                    "attempt": attempt,
                    "since": first,
                },
            )
            if new:
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket_id,
                    step="issue_requested",
                    actor=user_id,
                    detail={"escalation_id": escalation_id, "tracker": tracker.name},
                )
                await self._sync_cards(tx, ticket_id, escalation_id, f"issue:{attempt}:asked")
        if not new:
            return ReviewOutcome(
                done=False, notice=f"A {tracker.label} issue is already being created for this."
            )
        return ReviewOutcome(done=True)

    async def create(self, job: Job) -> None:
        """The job: file the issue (or find the one an earlier attempt filed) and record it in
        the transaction that marks the job done."""
        tracker = self.tracker
        if tracker is None:
            raise PermanentFailure(NO_TRACKER)
        p = job.payload
        ticket_id = int(p["ticket_id"])
        current_ticket.set(ticket_id)
        if await self.repos.issues.for_ticket(ticket_id) is not None:
            return
        ticket = await self.repos.tickets.get(ticket_id)
        if ticket is None:
            raise PermanentFailure(f"ticket {ticket_id} does not exist")
        issue = await self._new_issue(ticket)
        look_first = job.attempts > 1 or int(p.get("attempt") or 0) > 0
        try:
            ref = await tracker.create(
                issue, look_first=look_first, since=float(p.get("since") or ticket.created_at)
            )
        except TrackerError as exc:
            if exc.retry_after is not None:
                raise RetryLater(exc.reason, delay=min(exc.retry_after, MAX_RETRY_DELAY)) from None
            raise PermanentFailure(exc.reason) from None
        escalation_id = int(p["escalation_id"])
        async with self.repos.db.transaction() as tx:
            row, new = await self.repos.issues.record(
                tx,
                ticket_id=ticket_id,
                escalation_id=escalation_id,
                tracker=tracker.name,
                issue_id=ref.issue_id,
                issue_key=ref.key,
                url=ref.url,
                created_by=str(p["by"]),
            )
            if row is None:
                raise PermanentFailure(
                    f"{tracker.label} answered with {ref.key}, which another ticket's issue is"
                )
            await complete_running_job(self.repos.jobs, tx, {"issue": ref.key})
            if new:
                await self.repos.trail.record(
                    tx,
                    ticket_id=ticket_id,
                    step="issue_created",
                    actor=str(p["by"]),
                    detail={
                        "escalation_id": escalation_id,
                        "tracker": tracker.name,
                        "key": ref.key,
                        "url": ref.url,
                        "issue_id": ref.issue_id,
                        "attempts": job.attempts,
                    },
                )
                await self._sync_cards(tx, ticket_id, escalation_id, f"issue:{row.id}:created")
        log.info("filed ticket %s as %s issue %s", ticket_id, tracker.label, ref.key)

    async def create_failed(self, job: Job, error: str) -> None:
        """The attempt failed for good: the card says why and offers "Try again"."""
        p = job.payload
        ticket_id, escalation_id = int(p["ticket_id"]), int(p["escalation_id"])
        log.warning("creating an issue for ticket %s failed: %s", ticket_id, error)
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx,
                ticket_id=ticket_id,
                step="issue_failed",
                actor="bot",
                detail={"escalation_id": escalation_id, "reason": error, "by": p.get("by")},
            )
            await self._sync_cards(
                tx, ticket_id, escalation_id, f"issue:{p.get('attempt', 0)}:failed"
            )

    async def _new_issue(self, ticket: Ticket) -> NewIssue:
        turns = await self.repos.tickets.turns(ticket.id)
        asked = [t.text.strip() for t in turns if t.role == "customer" and t.text.strip()]
        question = "\n\n".join(asked)[:QUESTION_CHARS] or "(no text)"
        summary = str((ticket.classification or {}).get("summary") or "")
        return NewIssue(
            ticket_id=ticket.id,
            title=issue_title(ticket.id, summary, asked[0] if asked else ""),
            question=question,
            summary=summary,
            thread_link=message_link(self.workspace.url, ticket.channel_id, ticket.thread_ts),
            marker=marker_for(self.workspace.team_id, ticket.channel_id, ticket.thread_ts),
        )

    async def _sync_cards(self, tx: Tx, ticket_id: int, escalation_id: int, reason: str) -> None:
        """The clicked card, and every other posted card of the ticket, show the issue."""
        cards = {escalation_id}
        cards.update(e.id for e in await self.repos.escalations.for_ticket(ticket_id) if e.card_ts)
        for card in sorted(cards):
            await queue_card_sync(self.repos.jobs, tx, escalation_id=card, reason=reason)

    # -- closed: webhook and poll --------------------------------------------------------------

    async def webhook(self, name: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """A tracker's webhook: (HTTP status, a short answer). Each refusal is logged."""
        tracker = self.tracker
        if tracker is None or name != tracker.name:
            log.warning("rejected a webhook for %r: that tracker is not configured", name)
            return 404, "no such tracker here"
        secret = self.settings.tracker_webhook_secret
        if secret is None:
            log.warning(
                "rejected a %s webhook: TRACKER_WEBHOOK_SECRET is not set, so it cannot be"
                " verified (the bot polls %s instead)",
                tracker.label,
                tracker.label,
            )
            return 401, "webhook signing secret not configured"
        if len(body) > WEBHOOK_MAX_BYTES:
            log.warning("rejected a %s webhook: %d bytes is too large", tracker.label, len(body))
            return 413, "too large"
        if not tracker.signature_ok(headers, body, secret.get_secret_value()):
            log.warning(
                "rejected a %s webhook: its signature does not match TRACKER_WEBHOOK_SECRET",
                tracker.label,
            )
            return 401, "bad signature"
        try:
            closed = tracker.closed_event(headers, body)
        except BadWebhook as exc:
            log.warning("rejected a signed %s webhook: %s", tracker.label, exc)
            return 400, f"malformed: {exc}"
        if closed is None:
            return 200, "ignored"
        row = await self.repos.issues.find(tracker.name, closed.issue_id)
        if row is None:
            log.info("a %s issue this bot did not file closed; ignored", tracker.label)
            return 200, "not ours"
        await self.record_closed(row, closed, via="webhook")
        return 200, "ok"

    def poll_due(self) -> int:
        """The current poll slot (one poll job per slot across replicas)."""
        return int(time.time() // self.settings.tracker_poll_interval)

    async def enqueue_poll(self) -> None:
        """The scheduler's tick: this interval's poll, unless another replica queued it."""
        if not self.polls:
            return
        async with self.repos.db.transaction() as tx:
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.POLL_ISSUES,
                dedupe_key=jobkinds.issue_poll_key(self.poll_due()),
                payload={},
            )

    async def poll(self) -> None:
        """Ask the tracker which of the open issues closed. A failure waits for the next
        interval (logged); nothing is lost, the issues stay open here until then."""
        tracker = self.tracker
        if tracker is None:
            return
        rows = await self.repos.issues.open_issues(tracker.name, limit=POLL_BATCH)
        if not rows:
            return
        try:
            closed = await tracker.closed([IssueRef(r.issue_id, r.issue_key, r.url) for r in rows])
        except TrackerError as exc:
            log.warning("asking %s which issues closed failed: %s", tracker.label, exc.reason)
            return
        by_id = {r.issue_id: r for r in rows}
        for item in closed:
            row = by_id.get(item.issue_id)
            if row is not None:
                await self.record_closed(row, item, via="poll")

    async def record_closed(self, row: TrackerIssue, closed: Closed, *, via: str) -> bool:
        """The issue closed: recorded once, with the job that tells the team."""
        async with self.repos.db.transaction() as tx:
            if not await self.repos.issues.close(tx, row.id, resolution=closed.resolution):
                log.info("issue %s was already closed here; nothing more to do", row.issue_key)
                return False
            await self.repos.trail.record(
                tx,
                ticket_id=row.ticket_id,
                step="issue_closed",
                actor="bot",
                detail={
                    "tracker": row.tracker,
                    "key": row.issue_key,
                    "resolution": closed.resolution,
                    "via": via,
                },
            )
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.ISSUE_CLOSED,
                dedupe_key=jobkinds.issue_closed_key(row.id),
                payload={"issue_id": row.id},
            )
            if row.escalation_id is not None:
                await self._sync_cards(
                    tx, row.ticket_id, row.escalation_id, f"issue:{row.id}:closed"
                )
        return True

    async def announce(self, job: Job) -> None:
        """The job: the owner (or the reviewers) hears in the card's thread, with the message
        drafted for the customer and the buttons to send it."""
        row = await self.repos.issues.get(int(job.payload["issue_id"]))
        if row is None or row.proposal_state != "none":
            return
        ticket = await self.repos.tickets.get(row.ticket_id)
        if ticket is None:
            return
        current_ticket.set(ticket.id)
        draft, how, usage = await self._draft(ticket, row)
        channel, thread_ts = await self._card_thread(row)
        groups: list[str] = []
        if ticket.owner_user_id:
            mentions = [ticket.owner_user_id]
        else:
            mentions = sorted(self.people.reviewers)
            groups = sorted(self.people.config.current.reviewer_groups)
        label = LABELS.get(row.tracker, row.tracker)
        message = issue_closed_message(
            issue_row_id=row.id,
            ticket_id=ticket.id,
            tracker=label,
            key=row.issue_key,
            url=row.url,
            resolution=row.resolution or "closed",
            mentions=mentions,
            groups=groups,
            draft=draft,
            how=how,
        )
        async with self.repos.db.transaction() as tx:
            if not await self.repos.issues.propose(tx, row.id, text=draft):
                return
            await queue_card_thread_post(
                self.repos.jobs,
                tx,
                key=f"{jobkinds.issue_closed_key(row.id)}:note",
                channel=channel,
                thread_ts=thread_ts,
                text=message.text,
                blocks=message.blocks,
                purpose="issue_closed",
            )
            await self.repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="issue_update_drafted",
                actor="bot",
                detail={"key": row.issue_key, "how": how, "mentions": mentions},
                **usage_fields(usage),
            )
            await complete_running_job(self.repos.jobs, tx)

    async def _card_thread(self, row: TrackerIssue) -> tuple[str, str | None]:
        """The card's thread (the card the issue was filed from, else the ticket's latest
        posted one); the escalation channel itself when no card is posted."""
        candidates = await self.repos.escalations.for_ticket(row.ticket_id)
        first = [e for e in candidates if e.id == row.escalation_id]
        for escalation in [*first, *reversed(candidates)]:
            if escalation.card_ts and escalation.card_channel:
                return escalation.card_channel, escalation.card_ts
        return self.escalation_channel, None

    async def _draft(self, ticket: Ticket, row: TrackerIssue) -> tuple[str, str, LlmUsage | None]:
        """The message for the customer, who wrote it (for the note and the trail), and the
        model's usage."""
        resolution = row.resolution or "closed"
        template = template_message(resolution)
        if self.model is None:
            return template, "a template (no model is configured)", None
        turns = await self.repos.tickets.turns(ticket.id)
        question = "\n".join(t.text for t in turns if t.role == "customer")[:QUESTION_CHARS]
        try:
            result = await self.model.structured(
                self.prompt,
                CustomerUpdate,
                question=question or "(no text)",
                summary=str((ticket.classification or {}).get("summary") or "(none)"),
                tracker=LABELS.get(row.tracker, row.tracker),
                resolution=resolution,
            )
        except LlmFailure as failure:
            log.warning("drafting the closed-issue message failed: %s", failure.reason)
            how = f"a template (the model failed: {failure.reason[:100]})"
            return template, how, failure.usage
        return result.value.message, "the model", result.usage

    # -- the customer's message: send, edit, or not --------------------------------------------

    async def tell(
        self, issue_row_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        return await self._decide(issue_row_id, user_id=user_id, send=True, text=None)

    async def dismiss(
        self, issue_row_id: int, *, user_id: str, user_team: str | None
    ) -> ReviewOutcome:
        return await self._decide(issue_row_id, user_id=user_id, send=False, text=None)

    async def edit_form(
        self, issue_row_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        if not await self.people.can_review(user_id):
            return None, ReviewOutcome(done=False, notice=self.people.refusal())
        row = await self.repos.issues.get(issue_row_id)
        if row is None:
            return None, ReviewOutcome(done=False, notice=UNKNOWN_ISSUE)
        if row.proposal_state != "proposed":
            return None, ReviewOutcome(done=False, notice=_proposal_decided(row))
        return issue_message_modal(issue_row_id=row.id, text=row.proposal_text or ""), None

    async def submit_edit(
        self, issue_row_id: int, *, user_id: str, text: str, field: str
    ) -> ReviewOutcome:
        if not text.strip():
            return ReviewOutcome(done=False, field_errors={field: "Write the message to send."})
        outcome = await self._decide(issue_row_id, user_id=user_id, send=True, text=text.strip())
        if not outcome.done:
            return ReviewOutcome(done=False, field_errors={field: outcome.notice or ""})
        return outcome

    async def _decide(
        self, issue_row_id: int, *, user_id: str, send: bool, text: str | None
    ) -> ReviewOutcome:
        if not await self.people.can_review(user_id):
            log.info("refused a closed-issue decision by %s", user_id)
            return ReviewOutcome(done=False, notice=self.people.refusal())
        async with self.repos.db.transaction(urgent=True) as tx:
            row = await self.repos.issues.get(issue_row_id, tx)
            if row is None:
                return ReviewOutcome(done=False, notice=UNKNOWN_ISSUE)
            decided = await self.repos.issues.decide_proposal(
                tx, row.id, state="sent" if send else "dismissed", by=user_id, text=text
            )
            if not decided:
                return ReviewOutcome(done=False, notice=_proposal_decided(row))
            ticket = await self.repos.tickets.get(row.ticket_id, tx)
            assert ticket is not None
            if send:
                await queue_thread_post(
                    self.repos.jobs,
                    tx,
                    key=f"issue:{row.id}:tell-customer",
                    ticket=ticket,
                    message=plain_reply(text or row.proposal_text or ""),
                    purpose="issue_update",
                    author=user_id if text is not None else None,
                )
            await self.repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="issue_customer_told" if send else "issue_customer_not_told",
                actor=user_id,
                detail={"key": row.issue_key, "edited": text is not None},
            )
            if row.escalation_id:
                await self._sync_cards(
                    tx,
                    ticket.id,
                    row.escalation_id,
                    f"issue:{row.id}:{'told' if send else 'not-told'}",
                )
        if send:
            return ReviewOutcome(done=True, notice="Sent to the customer's thread. ✅")
        return ReviewOutcome(done=True, notice="OK, the customer is not told.")


def _already_filed(row: TrackerIssue) -> str:
    label = LABELS.get(row.tracker, row.tracker)
    return f"This ticket already has a {label} issue: {issue_link(row.issue_key, row.url)}."


def _proposal_decided(row: TrackerIssue) -> str:
    when = slack_date(row.proposal_at) if row.proposal_at else ""
    who = f"<@{row.proposal_by}>" if row.proposal_by else "someone"
    if row.proposal_state == "sent":
        return f"Already sent to the customer by {who} {when}. Nothing more was sent.".replace(
            "  ", " "
        )
    if row.proposal_state == "dismissed":
        return f"{who} chose not to tell the customer {when}. Nothing was sent.".replace("  ", " ")
    return "There is no message for the customer waiting on this issue."
