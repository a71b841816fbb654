"""The ``/support`` slash command: parses the text and decides what the caller gets back."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs

from bot.commands.admin import ADMIN_COMMANDS, AdminCommands, reactions_text
from bot.commands.reply import CommandReply
from bot.kb.base import KnowledgeBase
from bot.kb.sources.sync import SourceSync
from bot.ops.stats import compute, stats_lines
from bot.ops.trace import trace_lines
from bot.review.saved_articles import WRITERS_ONLY, ArticleDesk, article_errors, may_write_articles
from bot.settings.durations import DurationError, format_duration, parse_duration
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.slack.blocks.command_replies import help_text, kb_search_text, sources_text
from bot.slack.blocks.csat import rating_line
from bot.slack.blocks.modals import kb_add_modal, kb_added_view
from bot.slack.blocks.trace import trace_modal
from bot.slack.interactions import FormResult, ReviewOutcome, id_number, unknown_card
from bot.slack.people import People, admins_only
from bot.slack.text import escape
from bot.tickets.handoffs import Handoffs
from persistence.repos import Repositories
from persistence.sources import SourceRepository
from persistence.stats import StatsRepository


class SupportCommands:
    def __init__(
        self,
        settings: Settings,
        people: People,
        repos: Repositories,
        knowledge: KnowledgeBase,
        handoffs: Handoffs,
        config: LiveConfig,
        admin: AdminCommands,
        *,
        articles: ArticleDesk,
        sources: SourceSync | None = None,
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.articles = articles
        self.config = config
        self.admin = admin
        self.stats_repo = StatsRepository(repos.db)
        self.people = people
        self.repos = repos
        self.knowledge = knowledge
        self.handoffs = handoffs

    async def run(self, *, user_id: str, user_team: str | None, text: str) -> CommandReply:
        words = text.strip().split()
        sub = words[0].lower() if words else "help"
        await self.config.refresh()
        is_admin = await self.people.is_admin_anywhere(user_id)
        is_reviewer = is_admin or await self.people.can_review(user_id)
        if sub == "help":
            return CommandReply(help_text(is_admin=is_admin, is_reviewer=is_reviewer))
        if sub == "status":
            if not is_reviewer:
                return CommandReply("Only the support team can see the bot's status.")
            return CommandReply(await self.admin.status_text())
        if sub == "kb":
            return await self.kb(
                words[1:], user_id=user_id, is_admin=is_admin, is_reviewer=is_reviewer
            )
        if sub in ("handback", "resolve"):
            return await self.on_ticket(sub, words[1:], user_id=user_id, user_team=user_team)
        if sub in ("trace", "stats"):
            if not is_reviewer:
                return CommandReply("Only the support team can see tickets and statistics.")
            return await (self.trace(words[1:]) if sub == "trace" else self.stats(words[1:]))
        if sub == "reactions" and len(words) == 1:
            # What the emoji do is for the whole team to see; changing them is for admins.
            if not is_reviewer:
                return CommandReply("Only the support team can see what reactions do.")
            return CommandReply(reactions_text(self.config.current))
        if sub in ADMIN_COMMANDS:
            reply = await self.admin.run(sub, words[1:], user_id=user_id)
            return reply
        return CommandReply(f"I don't know `/support {escape(sub[:40])}`. Try `/support help`.")

    async def kb(
        self, words: list[str], *, user_id: str, is_admin: bool, is_reviewer: bool
    ) -> CommandReply:
        action = words[0].lower() if words else ""
        if action == "search":
            if not is_reviewer:
                return CommandReply("Only support reviewers can search the knowledge base here.")
            query = " ".join(words[1:]).strip()
            if not query:
                return CommandReply("Usage: `/support kb search how do I export a report`")
            return CommandReply(kb_search_text(await self.knowledge.lookup(query, limit=3)))
        if action == "sources":
            return await self.kb_sources(words[1:], user_id=user_id, is_admin=is_admin)
        if action == "add":
            if not await may_write_articles(self.people, user_id):
                return CommandReply(WRITERS_ONLY)
            return CommandReply(modal=kb_add_modal())
        if action == "remove":
            if not is_admin:
                return CommandReply(admins_only("remove articles from the knowledge base"))
            number = id_number(words[1].lstrip("#")) if len(words) == 2 else None
            if number is None:
                return CommandReply("Usage: `/support kb remove 12` (the article number)")
            article_id = number
            found = await self.knowledge.article(article_id)
            if found is None or not await self.knowledge.remove(article_id):
                return CommandReply(f"There is no article #{article_id}.")
            return CommandReply(f"Removed article #{article_id}, “{found[0].title}”.")
        return CommandReply(
            "Usage: `/support kb search QUESTION`, `/support kb add`, `/support kb remove ID`,"
            " `/support kb sources [sync NAME]`"
        )

    async def kb_sources(self, words: list[str], *, user_id: str, is_admin: bool) -> CommandReply:
        """``/support kb sources``: the sources and their freshness (the support team);
        ``/support kb sources sync NAME``: a sync now, as a job (admins)."""
        if not await self.people.can_review(user_id) and not is_admin:
            return CommandReply("Only the support team can see the knowledge sources.")
        repo = SourceRepository(self.repos.db)
        if not words:
            return CommandReply(sources_text(await repo.all()))
        usage = "Usage: `/support kb sources` or `/support kb sources sync NAME`"
        if words[0].lower() != "sync" or len(words) != 2:
            return CommandReply(usage)
        if not is_admin:
            return CommandReply(admins_only("sync knowledge sources"))
        source = await repo.named(words[1])
        if source is None or self.sources is None:
            names = ", ".join(f"`{s.name}`" for s in await repo.all()) or "none yet"
            return CommandReply(f"There is no source `{escape(words[1][:80])}` (sources: {names}).")
        asked = f"asked:{user_id}:{int(time.time())}"
        await self.sources.request(self.repos.jobs, source, occasion=asked)
        return CommandReply(
            f"Syncing *{escape(source.name)}* now; `/support kb sources` shows how it went."
        )

    async def on_ticket(
        self, sub: str, words: list[str], *, user_id: str, user_team: str | None
    ) -> CommandReply:
        """``/support handback TICKET`` and ``/support resolve TICKET``. Slack does not run slash
        commands inside threads, so the ticket is named: its number or a link to its message
        (the message shortcuts of the same names work from inside the thread)."""
        usage = (
            f"Usage: `/support {sub} 42` (the ticket number on its card) or"
            f" `/support {sub} LINK` (Copy link on the customer's message)."
        )
        if len(words) != 1:
            return CommandReply(usage)
        ticket_id = await self.find_ticket(words[0])
        if ticket_id is None:
            return CommandReply(f"I can't find a ticket for `{escape(words[0][:100])}`. {usage}")
        action = self.handoffs.hand_back if sub == "handback" else self.handoffs.resolve
        outcome = await action(ticket_id, user_id=user_id, user_team=user_team)
        if outcome.notice:
            return CommandReply(outcome.notice)
        return CommandReply(
            f"Ticket #{ticket_id} is back with the bot."
            if sub == "handback"
            else f"Ticket #{ticket_id} is resolved."
        )

    async def trace(self, words: list[str]) -> CommandReply:
        """``/support trace TICKET``: the ticket's every step, in a modal."""
        usage = "Usage: `/support trace 42` (the ticket number) or `/support trace LINK`."
        if len(words) != 1:
            return CommandReply(usage)
        ticket_id = await self.find_ticket(words[0])
        if ticket_id is None:
            return CommandReply(f"I can't find a ticket for `{escape(words[0][:100])}`. {usage}")
        return CommandReply(modal=await self.trace_view(ticket_id))

    async def trace_view(self, ticket_id: int) -> dict[str, Any]:
        ticket = await self.repos.tickets.get(ticket_id)
        assert ticket is not None
        events = await self.repos.trail.for_ticket(ticket_id)
        lines = trace_lines(ticket, events, slack=True)
        rating = await self.repos.csat.get(ticket_id)
        if rating is not None and rating.score is not None:
            # The comment is for the team to read here; the trail and the logs keep its length.
            lines.append(
                rating_line(score=rating.score, rated_by=rating.rated_by, comment=rating.comment)
            )
        return trace_modal(ticket_id=ticket_id, lines=lines)

    async def why_form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        """The card's "Why?": the trail of its ticket, for the team."""
        if not await self.people.can_review(user_id):
            return None, ReviewOutcome(done=False, notice=self.people.refusal())
        escalation = await self.repos.escalations.get(escalation_id)
        if escalation is None:
            return None, unknown_card()
        return await self.trace_view(escalation.ticket_id), None

    async def stats(self, words: list[str]) -> CommandReply:
        """``/support stats [7d]``: the numbers over a period."""
        try:
            period = parse_duration(words[0]) if len(words) == 1 else 7 * 86400
        except DurationError as exc:
            return CommandReply(f"{escape(str(exc))}\nUsage: `/support stats 7d`")
        if len(words) > 1:
            return CommandReply("Usage: `/support stats 7d`")
        now = time.time()
        result = await compute(self.stats_repo, self.settings, since=now - period, until=now)
        lines = stats_lines(result, period=f"the last {format_duration(period)}")
        return CommandReply("*Support statistics*\n" + "\n".join(f"• {line}" for line in lines))

    async def find_ticket(self, ref: str) -> int | None:
        ref = ref.strip().strip("<>").split("|")[0]
        number = id_number(ref.lstrip("#"))
        if number is not None:
            ticket = await self.repos.tickets.get(number)
            return ticket.id if ticket else None
        thread = thread_of_link(ref)
        if thread is None:
            return None
        ticket = await self.repos.tickets.find_by_thread(*thread)
        return ticket.id if ticket else None

    async def save_article_form(
        self, escalation_id: int, *, user_id: str, user_team: str | None
    ) -> tuple[dict[str, Any] | None, ReviewOutcome | None]:
        """ "Save as article" on a sent card: a general version of the reply, for an admin to
        check (``bot/review/saved_articles.py``)."""
        return await self.articles.form(escalation_id, user_id=user_id, user_team=user_team)

    async def article_form_opened(
        self, escalation_id: int, *, user_id: str, view: dict[str, Any]
    ) -> None:
        await self.articles.form_opened(escalation_id, user_id=user_id, view=view)

    async def save_article(
        self,
        escalation_id: int,
        *,
        user_id: str,
        user_team: str | None,
        title: str,
        body: str,
        url: str,
        fields: dict[str, str],
    ) -> FormResult:
        return await self.articles.save(
            escalation_id, user_id=user_id, title=title, body=body, url=url, fields=fields
        )

    async def add_article(
        self, *, user_id: str, title: str, body: str, url: str, fields: dict[str, str]
    ) -> FormResult:
        if not await may_write_articles(self.people, user_id):
            return FormResult(errors={fields["title"]: WRITERS_ONLY})
        errors = article_errors(title, body, url, fields)
        if errors:
            return FormResult(errors=errors)
        article_id = await self.knowledge.add_article(
            title=title, body=body, url=url.strip() or None, author=user_id
        )
        return FormResult(view=kb_added_view(article_id=article_id, title=title.strip()))


_LINK = re.compile(r"/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})(?:\?(.*))?$")


def thread_of_link(link: str) -> tuple[str, str] | None:
    """(channel, thread ts) of a Slack message link; a reply's link names its thread."""
    match = _LINK.search(link)
    if match is None:
        return None
    channel, ts = match.group(1), f"{match.group(2)}.{match.group(3)}"
    query = parse_qs(match.group(4) or "")
    thread_ts = (query.get("thread_ts") or [ts])[0]
    return channel, thread_ts
