"""The ticket state machine: classify, retrieve, draft, decide; then answer or escalate.

Each step computes outside any transaction (LLM and search are slow). A new round is worked out
whole (``Answerer.work_out``: the question searched at once, classified and drafted at the same
time, searched with the classification's queries, redrafted only when that search could change
the draft), then stored in one conditional update together with the decision, each step on the
audit trail: the searches, the draft and whether it was kept or written again, and why.

Nothing of a round is stored before its decision unless the decision cannot be made: when the bot
is paused, or deciding fails, the model's work is stored (state ``drafted``) and the round decides
from it later without asking the model again. A round that stops before that (a crash, a failed
search) runs again from ``received``: its model calls may be made twice, its replies are sent
once (the outbox). Tickets stored at ``classified`` or ``retrieved`` (by a round that stored its
classification and search before drafting) resume from there: search, draft, decide. If two
workers race on one ticket, the loser's conditional update changes nothing and it re-reads.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.worker import complete_running_job
from bot.kb.base import KnowledgeBase
from bot.llm.language import ENGLISH, language_name
from bot.llm.model import LlmFailure, LlmUsage, SupportModel, usage_fields
from bot.settings.environment import Settings
from bot.settings.live import ConfigSnapshot, LiveConfig
from bot.slack.blocks.answers import answer_message, plain_reply
from bot.slack.files import SlackFiles
from bot.slack.outbox import queue_thread_post
from bot.tickets.answering import (
    Answerer,
    Worked,
    articles_text,
    asked,
    citable_hits,
    quoted,
    team_notes_text,
)
from bot.tickets.attachments import (
    NO_FILES,
    AttachmentReader,
    Limits,
    RoundFiles,
    display_name,
    prompt_section,
    unread_summary,
)
from bot.tickets.escalate import open_escalation
from bot.tickets.languages import Languages, locale_for
from bot.tickets.rounds import split_round, start_next_round
from bot.tickets.schemas import Decision, Draft, DraftReply
from persistence.db import Tx
from persistence.records import IN_PROGRESS_STATES, Attachment, Job, Ticket, Turn
from persistence.repos import Repositories

log = logging.getLogger(__name__)

HISTORY_TURNS = 10
HISTORY_CHARS_PER_TURN = 800
EARLIER_QUESTION_TURNS = 2  # the customer's turns before a follow-up that offline search adds


def _role_label(turn: Turn) -> str:
    return {"customer": "Customer", "bot": "Support (AI)", "staff": "Support (human)"}[turn.role]


class Workflow:
    def __init__(
        self,
        settings: Settings,
        config: LiveConfig,
        repos: Repositories,
        knowledge: KnowledgeBase,
        model: SupportModel | None,
        files: SlackFiles | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.repos = repos
        self.knowledge = knowledge
        self.model = model
        self.answerer = Answerer(knowledge, model, link_hosts=settings.answer_link_hosts)
        self.reader = AttachmentReader(
            repos,
            files,
            Limits.from_settings(settings),
            model_reads=model is not None,
            vision=settings.llm_vision,
            sees_images=lambda: model is None or model.sees_images,
        )
        self.languages = Languages(repos, model)

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> None:
            await self.advance(int(job.payload["ticket_id"]), int(job.payload["round"]))

        async def failed(job: Job, error: str) -> None:
            await self.fail_safe(int(job.payload["ticket_id"]), error)

        return [JobKind(jobkinds.ADVANCE_TICKET, run, failed=failed)]

    async def advance(self, ticket_id: int, round: int) -> None:
        """Run the ticket's remaining steps for this round, from wherever it stands.

        A round stores what it worked out once, with its decision. The states in between are
        where a round resumes that stopped there: ``drafted`` (a pause, a failed decision), and
        ``classified`` and ``retrieved``, which earlier versions stored on the way."""
        steps: dict[str, Callable[[Ticket, _Run], Awaitable[Ticket | None]]] = {
            "received": self._work_out,
            "classified": self._retrieve,
            "retrieved": self._draft,
            "drafted": self._decide_stored,
        }
        run = _Run()
        ticket = await self.repos.tickets.get(ticket_id)
        for _ in range(20):
            if run.held or ticket is None or ticket.round != round or ticket.state not in steps:
                return
            # A step returns the ticket as it left it; None when it must be read again (someone
            # else moved it meanwhile, or the step ended the round).
            moved = await steps[ticket.state](ticket, run)
            ticket = moved if moved is not None else await self.repos.tickets.get(ticket_id)
        raise RuntimeError(f"ticket {ticket_id} did not settle")

    # -- steps ---------------------------------------------------------------------------

    async def _round_text(self, ticket: Ticket, run: _Run) -> tuple[str, str, int]:
        """The round's question, the thread before it, and its last turn's id: read once per
        run, so the draft answers the very turns that were classified."""
        if run.text is not None and run.text[0] == ticket.processed_turn_id:
            return run.text[1]
        turns = await self.repos.tickets.turns(ticket.id)
        history_turns, new = split_round(turns, ticket.processed_turn_id)
        question = "\n".join(quoted(t.text) for t in new).strip()
        attached = await self.repos.attachments.for_ticket(ticket.id)
        history = "\n".join(
            f"{_role_label(t)}: {quoted(t.text[:HISTORY_CHARS_PER_TURN])}"
            + _attached_names(attached, t.id)
            for t in history_turns[-HISTORY_TURNS:]
        )
        upto = max((t.id for t in new), default=ticket.processed_turn_id)
        text = (question, history or "(none)", upto)
        # The round's files, read (downloaded, within limits) once per run, here in the job.
        run.files = await self.reader.read_round(
            ticket.id, [t.id for t in new if t.role == "customer"]
        )
        earlier = [t.text for t in history_turns if t.role == "customer"]
        run.earlier = "\n".join(earlier[-EARLIER_QUESTION_TURNS:])
        run.text = (ticket.processed_turn_id, text)
        return text

    async def _work_out(self, ticket: Ticket, run: _Run) -> Ticket | None:
        """A new round: worked out whole, then decided and stored in one transaction."""
        question, history, upto = await self._round_text(ticket, run)
        # The customer's language: this round's words if they say so clearly, else the
        # ticket's so far ("ok thx" after a German question stays German), else English.
        language, detected = await self.languages.detect(question, ticket.language)
        await self.languages.prepare_locale(language)
        worked = await self.answerer.work_out(
            question,
            history,
            run.earlier,
            await self.repos.tickets.notes(ticket.id),
            files=run.files,
            language=language,
        )
        classified, *rest = worked_steps(worked, [ticket.processed_turn_id, upto])
        # The language is stored with the classification, and on its trail entry: what was
        # detected, whether the text said so, and what the ticket had before.
        detail = classified.detail if classified.detail is not None else _trail_detail(classified)
        spoken = _Step(
            classified.name,
            {**classified.fields, "language": language},
            classified.usage,
            classified.duration_ms,
            detail={
                **detail,
                "language": language,
                "language_detected": detected,
                "language_was": ticket.language,
            },
        )
        steps = [spoken, *rest]
        if run.files.images and self.model is not None and not self.model.sees_images:
            run.files = await self.reader.images_refused(run.files)
        if run.files.attachments:
            steps.insert(0, _files_step(run.files))
        return await self._decide_new(ticket, run, steps)

    async def _retrieve(self, ticket: Ticket, run: _Run) -> Ticket | None:
        """A round stored at ``classified``: searched with its classification, drafted, decided."""
        question, _, _ = await self._round_text(ticket, run)
        searched = await self.answerer.searched(question, ticket.classification or {}, run.earlier)
        step = _Step(
            "searched", {"retrieval": searched.retrieval}, duration_ms=searched.duration_ms
        )
        return await self._draft_from(ticket, run, searched.retrieval, [step])

    async def _draft(self, ticket: Ticket, run: _Run) -> Ticket | None:
        """A round stored at ``retrieved``: drafted from its search, decided."""
        return await self._draft_from(ticket, run, ticket.retrieval or {}, [])

    async def _draft_from(
        self, ticket: Ticket, run: _Run, retrieval: dict[str, Any], steps: list[_Step]
    ) -> Ticket | None:
        question, history, _ = await self._round_text(ticket, run)
        written = await self.answerer.draft(
            question=question,
            history=history,
            classification=ticket.classification or {},
            retrieval=retrieval,
            notes=await self.repos.tickets.notes(ticket.id),
            files=run.files,
            language=ticket.language or ENGLISH,
        )
        drafted = _Step("drafted", {"draft": written.draft}, written.usage)
        return await self._decide_new(ticket, run, [*steps, drafted])

    async def _decide_new(self, ticket: Ticket, run: _Run, steps: list[_Step]) -> Ticket | None:
        """Decide on work just done (``steps``), stored with the decision; when the bot is
        paused, or deciding fails, the work is stored at ``drafted`` to decide from later."""
        config = await self.config.refresh()
        if config.paused:
            log.info("ticket %s waits at its decision: the bot is paused", ticket.id)
            run.held = True
            return await self._store(ticket, "drafted", [*steps, _held()])
        try:
            return await self._decide(ticket, config, steps)
        except Exception:
            # The draft cost a model call: keep it, and decide again on the retry.
            with contextlib.suppress(Exception):
                await self._store(ticket, "drafted", steps)
            raise

    async def revise(
        self, ticket: Ticket, *, previous: str | None, feedback: str | None
    ) -> tuple[Draft, LlmUsage | None]:
        """A new draft for a waiting card: from a reviewer's feedback (``feedback``), or from
        the team's answers to the bot's question (``feedback`` None). Raises LlmFailure."""
        hits = citable_hits((ticket.retrieval or {}).get("hits", []))
        notes = await self.repos.tickets.notes(ticket.id)
        if self.model is None:
            if feedback is None and notes:
                # Offline, the teammate's answer is the reply; they approve or edit it.
                return Draft(text=notes[-1].answer, grounded=True, origin="team"), None
            raise LlmFailure("No LLM is configured (OPENAI_API_KEY is not set).", None)
        question, history, files = await self._card_question(ticket)
        values = {
            "language": language_name(ticket.language),
            "question": asked(question, files),
            "history": history,
            "articles": articles_text(hits),
            "team_notes": team_notes_text(notes),
            "attachments": files.prompt,
        }
        answerer = self.answerer
        if feedback is None:
            reply = await self.model.structured(answerer.draft_prompt, DraftReply, **values)
        else:
            reply = await self.model.structured(
                answerer.redraft_prompt,
                DraftReply,
                previous_draft=previous or "(none)",
                feedback=feedback,
                **values,
            )
        draft = answerer.checked_draft(
            reply.value, hits, notes=notes, question=question, language=ticket.language or ENGLISH
        )
        if answerer.leaks_instructions(draft.text):
            raise LlmFailure("the new draft repeated the bot's instructions; it was withheld", None)
        if feedback is None and notes:
            draft = draft.model_copy(update={"origin": "team"})
        earlier = str((ticket.draft or {}).get("attachment_notes") or "")
        if files.attachments and not draft.attachment_notes and earlier:
            # A new draft need not describe the files again (it no longer sees the images).
            draft = draft.model_copy(update={"attachment_notes": earlier})
        return draft, reply.usage

    async def _card_question(self, ticket: Ticket) -> tuple[str, str, RoundFiles]:
        """The question a card is about (its round's customer turns and any follow-ups since),
        the thread before it, and the files attached to that question as read (images are
        not shown again: the first draft said what they show)."""
        turns = await self.repos.tickets.turns(ticket.id)
        start = int(((ticket.classification or {}).get("turn_range") or [0])[0])
        history_turns = [t for t in turns if t.id <= start]
        asking = [t for t in turns if t.id > start and t.role == "customer"]
        later = [t for t in turns if t.id > start and t.role != "customer"]
        history = "\n".join(
            f"{_role_label(t)}: {quoted(t.text[:HISTORY_CHARS_PER_TURN])}"
            for t in (history_turns + later)[-HISTORY_TURNS:]
        )
        ids = {t.id for t in asking}
        attached = [
            a for a in await self.repos.attachments.for_ticket(ticket.id) if a.turn_id in ids
        ]
        files = RoundFiles(attachments=tuple(attached), prompt=prompt_section(attached))
        question = "\n".join(quoted(t.text) for t in asking).strip()
        return question, history or "(none)", files

    async def _decide_stored(self, ticket: Ticket, run: _Run) -> Ticket | None:
        """A round that stopped at its decision (a pause, a failed decision) decides now."""
        config = await self.config.refresh()
        if config.paused:
            # Paused: answer nothing, escalate nothing. /support resume runs it on.
            log.info("ticket %s waits at its decision: the bot is paused", ticket.id)
            run.held = True
            async with self.repos.db.transaction() as tx:
                await self._record(tx, ticket, None, [_held()])
            return None
        return await self._decide(ticket, config, [])

    async def _decide(
        self, ticket: Ticket, config: ConfigSnapshot, steps: list[_Step]
    ) -> Ticket | None:
        """Answer or escalate, in one transaction with the work just done (``steps``)."""
        known = {k: v for step in steps for k, v in step.fields.items()}
        classification = known.get("classification", ticket.classification) or {}
        decision = self.answerer.decide(
            classification=classification,
            retrieval=known.get("retrieval", ticket.retrieval) or {},
            draft=known.get("draft", ticket.draft),
            threshold=config.threshold,
            mode=config.mode(ticket.channel_id),
            auto_categories=config.answers_automatically(ticket.channel_id),
            opened_by_hand=ticket.opened_by is not None,
        )
        turn_range = classification.get("turn_range") or [0, ticket.processed_turn_id]
        upto = int(turn_range[1])
        if decision.action == "answer" and not classification.get("greeting"):
            unread = unread_summary(await self._round_files(ticket.id, turn_range))
            if unread:
                # The customer sent something nobody has looked at: a person should, first.
                what = unread.removesuffix(" not read")
                them = "it" if what.startswith("1 ") and " and " not in what else "them"
                decision = Decision(
                    action="escalate",
                    reason=f"The customer attached {what} the bot could not read: open {them}"
                    " before you approve.",
                )
        answer = decision.action == "answer"
        decided = _Step(
            "decided",
            {"decision": decision.model_dump(), "processed_turn_id": upto},
            detail=decision.model_dump(),
        )
        repos = self.repos
        async with repos.db.transaction() as tx:
            # Moved only if nobody else moved the ticket since it was read.
            new_state = "answered" if answer else "awaiting_review"
            moved = await self._record(tx, ticket, new_state, [*steps, decided])
            if moved is None:
                return None
            await complete_running_job(repos.jobs, tx)  # the round's job ends with its decision
            if answer:
                draft = Draft.model_validate(moved.draft)
                locale = await locale_for(repos, moved.language, tx)
                message = (
                    plain_reply(locale["greeting"])  # a greeting asked what they need: no buttons
                    if draft.origin == "canned"
                    else answer_message(
                        draft.text,
                        draft.sources,
                        ticket_id=moved.id,
                        round=moved.round,
                        locale=locale,
                    )
                )
                await queue_thread_post(
                    repos.jobs,
                    tx,
                    key=jobkinds.answer_key(moved.id, moved.round),
                    ticket=moved,
                    message=message,
                    purpose="answer",
                )
                await self._start_next_round_if_asked(tx, moved)
            else:
                await self._open_escalation(tx, moved, decision.reason)
        return None  # the round is decided; whatever comes next is read afresh

    async def _round_files(self, ticket_id: int, turn_range: list[Any]) -> list[Attachment]:
        start, end = int(turn_range[0]), int(turn_range[1])
        return [
            a
            for a in await self.repos.attachments.for_ticket(ticket_id)
            if start < a.turn_id <= end
        ]

    async def _open_escalation(self, tx: Tx, ticket: Ticket, reason: str) -> None:
        await open_escalation(self.repos, self.settings, self.config.current, tx, ticket, reason)

    async def _start_next_round_if_asked(self, tx: Tx, ticket: Ticket) -> None:
        """A customer who wrote again while the round ran gets a round of their own (``ticket``
        as this transaction left it)."""
        latest = await self.repos.tickets.latest_customer_turn_id(tx, ticket.id)
        if latest <= ticket.processed_turn_id:
            return
        await start_next_round(self.repos, tx, ticket)

    async def _store(self, ticket: Ticket, new_state: str, steps: list[_Step]) -> Ticket | None:
        # Not durable: a checkpoint before a decision, redone from the question if a power cut
        # takes it; nothing has been told to anyone on its strength.
        async with self.repos.db.transaction(durable=False) as tx:
            return await self._record(tx, ticket, new_state, steps)

    async def _record(
        self, tx: Tx, ticket: Ticket, new_state: str | None, steps: list[_Step]
    ) -> Ticket | None:
        """Store the steps' results and move the ticket to ``new_state`` (None: leave it), each
        step on the trail; None when someone moved the ticket while they ran."""
        moved: Ticket | None = ticket
        if new_state is not None:
            fields = {k: v for step in steps for k, v in step.fields.items()}
            moved = await self.repos.tickets.move(
                tx,
                ticket,
                new_state,  # type: ignore[arg-type]
                **fields,
            )
            if moved is None:
                log.info("ticket %s moved on while %s ran; re-reading", ticket.id, steps[-1].name)
                return None
        for step in steps:
            extra = usage_fields(step.usage)
            if step.duration_ms is not None:
                extra["duration_ms"] = step.duration_ms
            await self.repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step=step.name,
                actor="bot",
                detail=step.detail if step.detail is not None else _trail_detail(step),
                **extra,
            )
        return moved

    async def fail_safe(self, ticket_id: int, reason: str) -> None:
        """A round that keeps crashing still ends with a human: escalate with the reason."""
        async with self.repos.db.transaction() as tx:
            ticket = await self.repos.tickets.get(ticket_id, tx)
            if ticket is None or ticket.state not in IN_PROGRESS_STATES:
                return
            decision = {"action": "escalate", "reason": f"Processing failed: {reason}"}
            await self.repos.tickets.move(
                tx,
                ticket,
                "awaiting_review",
                decision=decision,
            )
            await self._open_escalation(tx, ticket, decision["reason"])


@dataclass
class _Run:
    """One run of ``Workflow.advance``: what it has read (processed turn id, round text), and
    whether it stopped at a pause."""

    text: tuple[int, tuple[str, str, int]] | None = None
    earlier: str = ""  # the customer's turns before this round's, for offline follow-ups
    files: RoundFiles = NO_FILES  # the round's attached files, as read
    held: bool = False  # paused at the decision: the round stops here until resumed


@dataclass(frozen=True)
class _Step:
    """A step's outcome: the ticket fields it sets, and its entry on the trail."""

    name: str
    fields: dict[str, Any]
    usage: LlmUsage | None = None
    duration_ms: int | None = None
    detail: dict[str, Any] | None = None  # None: summarised from ``fields``


def _attached_names(attached: list[Attachment], turn_id: int) -> str:
    """An earlier message's files, named after its text in the history (what they said was
    read in their own round)."""
    names = [display_name(a) for a in attached if a.turn_id == turn_id]
    return f" [attached: {', '.join(names)}]" if names else ""


def _files_step(files: RoundFiles) -> _Step:
    """The round's files on the trail: what each was, and what became of it."""
    return _Step(
        "files_read",
        {},
        detail={
            "files": [
                {"file_id": a.file_id, "kind": a.kind, "status": a.status, "reason": a.reason}
                for a in files.attachments
            ],
            "images_shown": len(files.images),
        },
    )


def _held() -> _Step:
    return _Step("held", {}, detail={"reason": "the bot is paused; it decides when resumed"})


def worked_steps(worked: Worked, turn_range: list[int]) -> list[_Step]:
    """A worked-out round as trail steps, in the order their results were used: the
    classification, the search on the question, the draft from it (kept, redrafted or discarded,
    and why), the search with the classification's queries, and the draft written again."""
    classification = {"turn_range": turn_range, **worked.classification}
    steps = [_Step("classified", {"classification": classification}, worked.classify_usage)]
    searches = [
        _Step(
            "searched",
            {"retrieval": s.retrieval} if s is worked.searches[-1] else {},
            duration_ms=s.duration_ms,
            detail={**_search_detail(s.retrieval), **({"stage": s.stage} if s.stage else {})},
        )
        for s in worked.searches
    ]
    drafts = []
    for i, d in enumerate(worked.drafts):
        detail = _draft_detail(d.draft)
        if worked.verdict is not None:
            # The first draft says what became of it; a second one, why it was written.
            detail.update({"draft": worked.verdict} if i == 0 else {})
            detail["reason"] = worked.reason
        drafts.append(
            _Step(
                "drafted" if i == 0 else "redrafted",
                {"draft": d.draft} if i == len(worked.drafts) - 1 else {},
                d.usage,
                detail=detail,
            )
        )
    return [*steps, searches[0], drafts[0], *searches[1:], *drafts[1:]]


def _search_detail(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "queries": [[q["purpose"], q["query"], q["confidence"]] for q in r.get("queries", [])],
        "mode": r.get("mode"),
        "fits": r.get("fits"),
        "confidence": r.get("confidence"),
        "hits": [[h["article_id"], h["score"]] for h in r["hits"]],
    }


def _draft_detail(draft: dict[str, Any] | None) -> dict[str, Any]:
    d = draft or {}
    return {
        "origin": d.get("origin"),
        "grounded": d.get("grounded"),
        "sources": [s["article_id"] for s in d.get("sources", [])],
        "unsupported_facts": d.get("unsupported_facts") or None,
        "unknown_citations": d.get("unknown_citations") or None,
        "error": d.get("error"),
    }


def _trail_detail(step: _Step) -> dict[str, Any]:
    name, fields = step.name, step.fields
    if name == "classified":
        c = fields["classification"]
        return {k: c.get(k) for k in ("category", "confidence", "wants_human", "error", "skipped")}
    if name == "searched":
        return _search_detail(fields["retrieval"])
    if name == "drafted":
        return _draft_detail(fields["draft"])
    return {}
