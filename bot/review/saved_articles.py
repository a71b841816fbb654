"""Knowledge written in Slack: who may write it, and "Save as article" on a review card.

An article is shown to every customer: the bot answers anyone's question from it and names its
title under its answers. So:

- Only bot admins write articles (``may_write_articles``), with ``/support kb add`` and with
  "Save as article" alike: listed admins, and the workspace's own admins and owners, never a
  guest. Reviewers decide what one customer reads; what every customer reads is the team's
  published knowledge, which the admins already own (``support-bot kb import``,
  ``/support kb remove``).
- The "Save as article" form is pre-filled with a *general* version of the question and the
  sent reply, never with the customer's own words: with a model, it rewrites both without the
  customer's particulars (``prompts/generalise.md``), and the rules of
  ``bot/tickets/redact.py`` check its work; without one, or when it fails (the form says so),
  the rules alone write it. The
  model's call can take longer than the three seconds a click's ``trigger_id`` lives, so the
  form opens at once saying it is being written, and a job (``PREPARE_ARTICLE``) fills it in.
- Saving checks everything again: the person, that the card still has a sent reply (approved
  or edited, not purged), and that it was not saved already (its card loses the button once
  saved; a second form opened before that is refused).
- The article's source, ``slack:reviewed:escalation:ID``, marks it as saved this way
  (``bot/kb/provenance.py``): customers are answered only from imported, written and reviewed
  articles.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.queueing import queue_card_sync
from bot.kb.base import KnowledgeBase
from bot.kb.provenance import reviewed_source
from bot.llm.model import LlmFailure, LlmUsage, SupportModel, usage_fields
from bot.llm.prompts import load_prompt
from bot.settings.logs import current_ticket
from bot.slack import ids
from bot.slack.blocks.modals import (
    ARTICLE_TITLE_MAX,
    article_preparing_modal,
    article_unavailable_view,
    kb_add_modal,
    kb_added_view,
)
from bot.slack.interactions import UNKNOWN_CARD, FormResult, ReviewOutcome
from bot.slack.people import People, Workspace, admins_only
from bot.slack.text import escape, slack_error
from bot.tickets.answering import citable_hits
from bot.tickets.redact import Known, person_names, redact
from bot.tickets.schemas import GeneralArticle
from persistence.records import Escalation, Job, Ticket
from persistence.repos import Repositories
from persistence.retention import PURGED

log = logging.getLogger(__name__)

WRITERS_ONLY = admins_only(
    "add articles to the knowledge base, which every customer is answered from"
)
MODEL_NOTE = (
    "Pre-filled with a general version of the question and the reply, written by the model"
    " without the customer's names, numbers and links, and checked by rules. Read it through"
    " before saving."
)
RULES_NOTE = (
    "Pre-filled from the question and the reply with the customer's names, ids, amounts,"
    " e-mail addresses, phone numbers and links replaced by rules ([name], [account id],"
    " [amount]…). Rules miss things: read it through and write it for everyone."
)
FALLBACK_NOTE = (
    "The model could not write a general version ({reason}), so rules replaced the customer's"
    " names, ids, amounts, e-mail addresses, phone numbers and links ([name], [account id],"
    " [amount]…). Rules miss things: read it through and write it for everyone."
)
QUESTION_CHARS = 4000
# What a failed users.info or team.info may raise: the form is filled without those names.
_LOOKUP_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError, OSError, ValueError)
# A view that is gone (closed by the person) cannot be filled in: nothing to retry.
_VIEW_GONE = frozenset({"not_found", "view_not_found"})


async def may_write_articles(people: People, user_id: str) -> bool:
    """Who may add to the knowledge base every customer is answered from: bot admins (listed,
    or an admin or owner of this workspace; never a guest). The one check of ``/support kb
    add`` and "Save as article"."""
    return await people.is_admin_anywhere(user_id)


@dataclass(frozen=True)
class Generalised:
    title: str
    body: str
    note: str
    how: str  # "model", "rules", or "rules after the model failed"
    usage: LlmUsage | None = None
    error: str | None = None


def article_errors(title: str, body: str, url: str, fields: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not title.strip():
        errors[fields["title"]] = "Give the article a title."
    if not body.strip():
        errors[fields["body"]] = "Write the article's text."
    parsed = urlparse(url.strip()) if url.strip() else None
    if parsed is not None and (parsed.scheme not in ("http", "https") or not parsed.netloc):
        errors[fields["url"]] = "A link looks like https://help.example.com/article"
    return errors


class ArticleDesk:
    def __init__(
        self,
        repos: Repositories,
        people: People,
        knowledge: KnowledgeBase,
        model: SupportModel | None,
        workspace: Workspace,
        client: AsyncWebClient | None,
    ) -> None:
        self.repos = repos
        self.people = people
        self.knowledge = knowledge
        self.model = model
        self.workspace = workspace
        self.client = client
        self.prompt = load_prompt("generalise")

    # -- the form ------------------------------------------------------------------------------

    async def form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        """The button: the pre-filled form (offline), or the form that waits for the model's
        version (``form_opened`` queues it); or why not."""
        if not await may_write_articles(self.people, user_id):
            return None, ReviewOutcome(done=False, notice=WRITERS_ONLY)
        problem, escalation, ticket = await self._savable(escalation_id)
        if problem is not None or escalation is None or ticket is None:
            return None, ReviewOutcome(done=False, notice=problem)
        if self.model is not None:
            metadata = json.dumps({"escalation_id": escalation_id, "preparing": True})
            return article_preparing_modal(private_metadata=metadata), None
        article = await self.generalise(ticket, escalation)
        return self._form_view(escalation_id, article), None

    async def form_opened(self, escalation_id: int, *, user_id: str, view: dict[str, Any]) -> None:
        """After ``views.open``: a form waiting for the model's version gets a job to write it."""
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except (ValueError, TypeError):
            return
        if not isinstance(metadata, dict) or not metadata.get("preparing"):
            return
        view_id = view.get("id")
        if not isinstance(view_id, str) or not view_id:
            log.warning("views.open returned no view id; the article form stays empty")
            return
        async with self.repos.db.transaction() as tx:
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.PREPARE_ARTICLE,
                dedupe_key=jobkinds.article_form_key(escalation_id, view_id),
                payload={"escalation_id": escalation_id, "view_id": view_id, "by": user_id},
            )

    def jobs(self) -> list[JobKind]:
        async def prepare(job: Job) -> None:
            await self.prepare(job.payload)

        return [JobKind(jobkinds.PREPARE_ARTICLE, prepare)]

    async def prepare(self, payload: dict[str, Any]) -> None:
        """The job: the general version into the open form (``views.update``). A form closed
        meanwhile is left alone; a card that changed meanwhile says so in the form."""
        escalation_id = int(payload["escalation_id"])
        view_id = str(payload["view_id"])
        problem, escalation, ticket = await self._savable(escalation_id)
        if problem is not None or escalation is None or ticket is None:
            view = article_unavailable_view(problem or UNKNOWN_CARD)
        else:
            current_ticket.set(ticket.id)
            article = await self.generalise(ticket, escalation)
            view = self._form_view(escalation_id, article)
        if self.client is None:
            return
        try:
            await self.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            if slack_error(exc) in _VIEW_GONE:
                log.info("the article form %s was closed before it was filled", view_id)
                return
            raise

    def _form_view(self, escalation_id: int, article: Generalised) -> dict[str, Any]:
        return kb_add_modal(
            title=article.title,
            body=article.body,
            callback_id=ids.VIEW_SAVE_ARTICLE,
            private_metadata=json.dumps({"escalation_id": escalation_id}),
            note=article.note,
        )

    # -- generalising --------------------------------------------------------------------------

    async def generalise(self, ticket: Ticket, escalation: Escalation) -> Generalised:
        """The question and the card's sent reply without the customer's particulars."""
        return await self.generalise_reply(
            ticket, escalation.final_text or "", escalation_id=escalation.id
        )

    async def generalise_reply(
        self, ticket: Ticket, answer: str, *, escalation_id: int | None = None
    ) -> Generalised:
        """The ticket's question and a reply the team sent, without the customer's
        particulars: the model's version checked by the rules, or the rules' alone (offline, or
        when the model fails)."""
        turns = await self.repos.tickets.turns(ticket.id)
        asked = [t.text.strip() for t in turns if t.role == "customer" and t.text.strip()]
        question = "\n".join(asked)[-QUESTION_CHARS:]
        users = [ticket.customer_user_id] + [
            t.user_id for t in turns if t.role == "customer" and t.user_id
        ]
        known = await self._known(ticket, users)
        summary = str((ticket.classification or {}).get("summary") or "")
        by_rules = Generalised(
            title=_title(redact(summary or question, known)),
            body=redact(answer, known),
            note=RULES_NOTE,
            how="rules",
        )
        if self.model is None:
            return by_rules
        try:
            result = await self.model.structured(
                self.prompt,
                GeneralArticle,
                question=question[:QUESTION_CHARS],
                answer=answer,
                names="\n".join(f"- {n}" for n in (*known.people, *known.companies)) or "(none)",
            )
        except LlmFailure as failure:
            log.warning("generalising a reply for an article failed: %s", failure.reason)
            article = Generalised(
                title=by_rules.title,
                body=by_rules.body,
                note=FALLBACK_NOTE.format(reason=escape(failure.reason)),
                how="rules after the model failed",
                usage=failure.usage,
                error=failure.reason,
            )
        else:
            article = Generalised(
                title=_title(redact(result.value.title, known)),
                body=redact(result.value.body, known),
                note=MODEL_NOTE,
                how="model",
                usage=result.usage,
            )
        await self._record(ticket, escalation_id, article)
        return article

    async def _record(
        self, ticket: Ticket, escalation_id: int | None, article: Generalised
    ) -> None:
        extra = usage_fields(article.usage)
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx,
                ticket_id=ticket.id,
                step="article_generalised",
                actor="bot",
                detail={"escalation_id": escalation_id, "how": article.how, "error": article.error},
                **extra,
            )

    async def _known(self, ticket: Ticket, users: list[str]) -> Known:
        """The customers' names (their Slack profiles), their Slack Connect team's name, and the
        knowledge-base passages the ticket was answered from (public, so kept)."""
        people: list[str] = []
        for user_id in dict.fromkeys(users):
            people += await self._user_names(user_id)
        companies: list[str] = []
        team = ticket.customer_team_id
        if team and team != self.workspace.team_id:
            name = await self._team_name(team)
            if name:
                companies.append(name)
        hits = citable_hits((ticket.retrieval or {}).get("hits", []))
        public = "\n".join(f"{h.get('title', '')}\n{h.get('text', '')}" for h in hits)
        return Known(people=tuple(dict.fromkeys(people)), companies=tuple(companies), public=public)

    async def _user_names(self, user_id: str) -> list[str]:
        if self.client is None:
            return []
        try:
            response = await self.client.users_info(user=user_id)
        except _LOOKUP_ERRORS as exc:
            log.warning("users.info for %s failed (%s): their names are not known", user_id, exc)
            return []
        user = response.get("user")
        if not isinstance(user, dict):
            return []
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        assert isinstance(profile, dict)
        values = [
            user.get("real_name"),
            user.get("name"),
            *(
                profile.get(key)
                for key in (
                    "real_name",
                    "display_name",
                    "first_name",
                    "last_name",
                    "real_name_normalized",
                    "display_name_normalized",
                )
            ),
        ]
        return list(person_names(*(v for v in values if isinstance(v, str))))

    async def _team_name(self, team_id: str) -> str | None:
        """A Slack Connect customer's workspace name (``team.info``), or None when Slack will not
        say (an install without ``team:read`` included)."""
        if self.client is None:
            return None
        try:
            response = await self.client.team_info(team=team_id)
        except _LOOKUP_ERRORS as exc:
            log.info("team.info for %s failed (%s): its name is not known", team_id, exc)
            return None
        team = response.get("team")
        name = team.get("name") if isinstance(team, dict) else None
        return name if isinstance(name, str) and name.strip() else None

    # -- saving --------------------------------------------------------------------------------

    async def save(
        self,
        escalation_id: int,
        *,
        user_id: str,
        title: str,
        body: str,
        url: str,
        fields: dict[str, str],
    ) -> FormResult:
        """The form's Save: everything checked again, then the article, a line on the card."""
        if not await may_write_articles(self.people, user_id):
            return FormResult(errors={fields["title"]: WRITERS_ONLY})
        problem, escalation, _ticket = await self._savable(escalation_id)
        if problem is not None or escalation is None:
            return FormResult(errors={fields["title"]: problem or "This card is not known."})
        errors = article_errors(title, body, url, fields)
        if errors:
            return FormResult(errors=errors)
        article_id = await self.knowledge.add_article(
            title=title,
            body=body,
            url=url.strip() or None,
            author=user_id,
            source=reviewed_source(escalation_id),
        )
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx,
                ticket_id=escalation.ticket_id,
                step="saved_as_article",
                actor=user_id,
                detail={"escalation_id": escalation_id, "article_id": article_id},
            )
            await self.repos.escalations.touch(tx, escalation_id)
            await queue_card_sync(
                self.repos.jobs, tx, escalation_id=escalation_id, reason=f"saved:{article_id}"
            )
        return FormResult(view=kb_added_view(article_id=article_id, title=title.strip()))

    async def _savable(
        self, escalation_id: int
    ) -> tuple[str | None, Escalation | None, Ticket | None]:
        """Why this card's reply cannot be saved now (None when it can), with the card and its
        ticket."""
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return UNKNOWN_CARD, None, None
        ticket = await self.repos.tickets.get(escalation.ticket_id)
        if ticket is None:
            return UNKNOWN_CARD, None, None
        if escalation.state not in ("approved", "edited"):
            return _NOT_SENT.get(escalation.state, _NOT_SENT["pending"]), escalation, ticket
        text = (escalation.final_text or "").strip()
        if not text or text == PURGED:
            return (
                "This reply's text is no longer kept (retention), so it cannot be saved.",
                escalation,
                ticket,
            )
        saved = next(
            (
                e.detail.get("article_id")
                for e in await self.repos.trail.for_ticket(ticket.id)
                if e.step == "saved_as_article" and e.detail.get("escalation_id") == escalation_id
            ),
            None,
        )
        if saved is not None:
            return f"This reply was already saved as article #{saved}.", escalation, ticket
        return None, escalation, ticket


_NOT_SENT = {
    "pending": "Only a sent reply can be saved as an article; this card is still waiting.",
    "rejected": "Only a sent reply can be saved as an article; this draft was rejected.",
    "answered_in_thread": (
        "Only a reply the bot sent can be saved as an article; a teammate answered this one in"
        " the thread."
    ),
    "resolved": "Only a sent reply can be saved as an article; this card was resolved unsent.",
}


def _title(text: str) -> str:
    return " ".join(text.split())[:ARTICLE_TITLE_MAX]
