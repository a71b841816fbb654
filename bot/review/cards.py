"""The review card: what it shows (``card_content``), posted once and kept up to date (the
``sync_card`` job).

Card jobs of one escalation run one at a time in a process, and a render that lands after a
newer state was read is rendered again (``_catch_up``), so the card ends on the latest state.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind, PermanentFailure, RetryLater
from bot.kb.provenance import Source
from bot.llm.language import ENGLISH, is_english, language_name
from bot.review.deliveries import describe, undelivered
from bot.review.trackers import LABELS
from bot.settings.logs import current_ticket
from bot.slack.blocks.card import (
    AttachmentLine,
    CardContent,
    EarlierDraft,
    HeldEdit,
    IssueLine,
    NotDelivered,
    Translated,
    escalation_card,
)
from bot.slack.files import size_text
from bot.slack.outbox import SlackOutbox, outbox_metadata
from bot.slack.people import Workspace
from bot.slack.text import message_link, slack_date
from bot.tickets.attachments import display_name, unread_summary
from bot.tickets.languages import NO_MODEL, Languages
from bot.tickets.rounds import split_round
from bot.tickets.status import last_word, ticket_status
from persistence.languages import text_hash
from persistence.records import Attachment, Job, TrailEvent
from persistence.repos import Repositories

TRANSLATING = "English translation on its way…"
TRANSLATION_FAILED = "translation_failed"  # the trail step of a text the model did not translate

# How many times a card update renders again for changes made while it was sent.
CATCH_UP_RENDERS = 3

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
    "opened_by_reaction": "🎫 Opened by {who} with :{emoji}:",
    "issue_created": "🎫 {who} filed an issue",
    "issue_customer_told": "📣 {who} told the customer their issue was closed",
    "issue_customer_not_told": "🤐 {who} chose not to tell the customer their issue closed",
}
# Steps a card shows even from before it was opened (how its ticket came to be).
_ALWAYS_SHOWN = frozenset({"opened_by_reaction"})


def activity_line(step: str, actor: str, detail: dict[str, Any], at: float) -> str | None:
    """One line of a card's "who did what", or None for steps the card does not show."""
    template = _ACTIVITY.get(step)
    if template is None:
        return None
    who = "the bot" if actor == "bot" else f"<@{actor}>"
    fields = {
        "who": who,
        "n": detail.get("n", ""),
        "article_id": detail.get("article_id", "?"),
        "emoji": str(detail.get("emoji") or "ticket").split("::", 1)[0],
    }
    return f"{template.format(**fields)} {slack_date(at)}"


class CardSync:
    def __init__(
        self,
        outbox: SlackOutbox,
        repos: Repositories,
        workspace: Workspace,
        escalation_channel: str,
        *,
        can_redraft: bool = False,
        max_redrafts: int = 0,
        on_failed: Callable[[Job, str], Awaitable[None]] | None = None,
        tracker: str | None = None,
        languages: Languages | None = None,
    ) -> None:
        self.tracker = tracker  # the issue tracker's name ("Linear"), when one is configured
        self.outbox = outbox
        self.languages = languages  # with a model: the card's texts are translated to English
        self.repos = repos
        self.workspace = workspace
        self.escalation_channel = escalation_channel
        self.can_redraft = can_redraft
        self.max_redrafts = max_redrafts
        self.on_failed = on_failed
        self._card_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def jobs(self) -> list[JobKind]:
        return [JobKind(jobkinds.SYNC_CARD, self.deliver_card, failed=self.on_failed)]

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
        await self._queue_translations(content)
        message = escalation_card(content)
        if escalation.card_ts is not None and escalation.card_channel is not None:
            await self.outbox.call(
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
            ts = await self.outbox.find_posted(
                channel, None, job.dedupe_key, since=job.created_at, text=message.text
            )
        if ts is None:
            ts = await self.outbox.call(
                "chat.postMessage",
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                metadata=outbox_metadata(job.dedupe_key),
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
            await self.outbox.call(
                "chat.update", channel=channel, ts=ts, text=again.text, blocks=again.blocks
            )

    async def _queue_translations(self, content: CardContent) -> None:
        """The card's texts still waiting for their English translation, as one job (once per
        set of texts); the job puts them on the card."""
        pairs = [
            (content.question, content.question_english),
            (content.draft, content.draft_english),
            *zip(content.follow_ups[-5:], content.follow_ups_english, strict=False),
        ]
        waiting = [
            text
            for text, translated in pairs
            if text and translated is not None and translated.note == TRANSLATING
        ]
        if not waiting or self.languages is None or self.languages.model is None:
            return
        async with self.repos.db.transaction() as tx:
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.TRANSLATE_CARD,
                dedupe_key=jobkinds.translate_card_key(
                    content.escalation_id, text_hash("\n\0".join(waiting))
                ),
                payload={"escalation_id": content.escalation_id, "texts": waiting},
            )

    async def _english(
        self, ticket_id: int, text: str | None, events: list[TrailEvent]
    ) -> Translated | None:
        """``text`` (in the customer's language) in English for the card, or why not yet."""
        if not text or text == "(no text)":
            return None
        known = await self.repos.languages.translation(ticket_id, text, ENGLISH)
        if known is not None:
            return Translated(known)
        key = text_hash(text)
        for event in reversed(events):
            if event.step == TRANSLATION_FAILED and event.detail.get("text") == key:
                return Translated(None, f"English translation unavailable: {event.detail['error']}")
        if self.languages is None or self.languages.model is None:
            return Translated(None, f"English translation unavailable: {NO_MODEL}")
        return Translated(None, TRANSLATING)

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
        on_card = {t.id for t in question_turns} | {t.id for t in later if t.role == "customer"}
        attached = [
            a for a in await repos.attachments.for_ticket(ticket.id) if a.turn_id in on_card
        ]
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
            if (e.created_at >= escalation.created_at or e.step in _ALWAYS_SHOWN)
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
        written = "\n".join(t.text for t in question_turns).strip()
        question = written or ("(only files)" if attached else "(no text)")
        shown_draft = (
            escalation.final_text if escalation.state == "edited" else escalation.draft_text
        )
        foreign = not is_english(ticket.language)
        held = (
            HeldEdit(
                text=escalation.edit_text,
                by=escalation.edit_by,
                translation=escalation.edit_translation,
                problem=escalation.edit_problem,
            )
            if escalation.edit_text is not None and escalation.work is None
            else None
        )
        issue = await self._issue_line(ticket.id, events)
        return CardContent(
            tracker=self.tracker,
            issue=issue,
            language=language_name(ticket.language) if foreign else None,
            question_english=(
                await self._english(ticket.id, written, events) if foreign and written else None
            ),
            draft_english=(
                await self._english(ticket.id, shown_draft, events) if foreign else None
            ),
            held_edit=held if foreign else None,
            follow_ups_english=(
                [await self._english(ticket.id, text, events) for text in follow_ups[-5:]]
                if foreign
                else []
            ),
            escalation_id=escalation.id,
            ticket_id=ticket.id,
            state=escalation.state,
            customer_user_id=ticket.customer_user_id,
            question=question,
            message_link=message_link(
                self.workspace.url, ticket.channel_id, question_ts or ticket.thread_ts
            ),
            reason=escalation.reason,
            category=classification.get("category"),
            confidence=classification.get("confidence"),
            summary=classification.get("summary"),
            draft=shown_draft,
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
            attachments=[_attachment_line(a) for a in attached],
            attachment_notes=str(draft.get("attachment_notes") or ""),
            unread_files=unread_summary([a for a in attached if a.status != "pending"]),
        )

    async def _issue_line(self, ticket_id: int, events: list[TrailEvent]) -> IssueLine | None:
        """The ticket's issue (filed, being filed, or why the last attempt failed)."""
        filed = await self.repos.issues.for_ticket(ticket_id)
        if filed is not None:
            return IssueLine(
                tracker=LABELS.get(filed.tracker, filed.tracker),
                key=filed.issue_key,
                url=filed.url,
                closed=filed.state == "closed",
                resolution=filed.resolution,
            )
        if self.tracker is None:
            return None
        last = next(
            (e for e in reversed(events) if e.step in ("issue_requested", "issue_failed")), None
        )
        if last is None:
            return None
        if last.step == "issue_requested":
            return IssueLine(tracker=self.tracker, creating=True)
        return IssueLine(tracker=self.tracker, failed=str(last.detail.get("reason") or "error"))


def _attachment_line(attachment: Attachment) -> AttachmentLine:
    if attachment.status == "read":
        outcome = "read"
    elif attachment.status == "pending":
        outcome = "not read yet"
    else:
        outcome = f"not read: {attachment.reason or 'no reason given'}"
    return AttachmentLine(
        name=display_name(attachment),
        link=attachment.permalink,
        size=size_text(attachment.size) if attachment.size is not None else None,
        outcome=outcome,
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
