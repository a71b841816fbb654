"""The ``/support`` slash command: parses the text and decides what the caller gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from bot.blocks import help_text, kb_add_modal, kb_added_view, kb_search_text
from bot.config import Settings
from bot.knowledge import KnowledgeBase
from bot.people import People
from bot.repos import Repositories

ADMINS_ONLY = "Only support-bot admins can change the knowledge base (SUPPORT_ADMINS)."


@dataclass(frozen=True)
class CommandReply:
    """Either private text for the caller, or a modal to open with the command's trigger."""

    text: str = ""
    modal: dict[str, Any] | None = None


@dataclass(frozen=True)
class FormResult:
    """A modal submission: field errors to show, or the view to replace the modal with."""

    errors: dict[str, str] = field(default_factory=dict)
    view: dict[str, Any] | None = None


class SupportCommands:
    def __init__(
        self, settings: Settings, people: People, repos: Repositories, knowledge: KnowledgeBase
    ) -> None:
        self.settings = settings
        self.people = people
        self.repos = repos
        self.knowledge = knowledge

    async def run(self, *, user_id: str, user_team: str | None, text: str) -> CommandReply:
        words = text.strip().split()
        sub = words[0].lower() if words else "help"
        is_admin = self.people.is_admin(user_id)
        is_reviewer = self.people.may_review(user_id=user_id, user_team=user_team)
        if sub == "help":
            return CommandReply(help_text(is_admin=is_admin, is_reviewer=is_reviewer))
        if sub == "status":
            return CommandReply(await self.status())
        if sub == "kb":
            return await self.kb(words[1:], is_admin=is_admin, is_reviewer=is_reviewer)
        return CommandReply(f"I don't know `/support {sub}`. Try `/support help`.")

    async def kb(self, words: list[str], *, is_admin: bool, is_reviewer: bool) -> CommandReply:
        action = words[0].lower() if words else ""
        if action == "search":
            if not is_reviewer:
                return CommandReply("Only support reviewers can search the knowledge base here.")
            query = " ".join(words[1:]).strip()
            if not query:
                return CommandReply("Usage: `/support kb search how do I export a report`")
            return CommandReply(kb_search_text(await self.knowledge.lookup(query, limit=3)))
        if action == "add":
            if not is_admin:
                return CommandReply(ADMINS_ONLY)
            return CommandReply(modal=kb_add_modal())
        if action == "remove":
            if not is_admin:
                return CommandReply(ADMINS_ONLY)
            if len(words) != 2 or not words[1].lstrip("#").isdigit():
                return CommandReply("Usage: `/support kb remove 12` (the article number)")
            article_id = int(words[1].lstrip("#"))
            found = await self.knowledge.article(article_id)
            if found is None or not await self.knowledge.remove(article_id):
                return CommandReply(f"There is no article #{article_id}.")
            return CommandReply(f"Removed article #{article_id}, “{found[0].title}”.")
        return CommandReply(
            "Usage: `/support kb search QUESTION`, `/support kb add`, `/support kb remove ID`"
        )

    async def add_article(
        self, *, user_id: str, title: str, body: str, url: str, fields: dict[str, str]
    ) -> FormResult:
        if not self.people.is_admin(user_id):
            return FormResult(errors={fields["title"]: ADMINS_ONLY})
        errors: dict[str, str] = {}
        if not title.strip():
            errors[fields["title"]] = "Give the article a title."
        if not body.strip():
            errors[fields["body"]] = "Write the article's text."
        parsed = urlparse(url.strip()) if url.strip() else None
        if parsed is not None and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            errors[fields["url"]] = "A link looks like https://help.example.com/article"
        if errors:
            return FormResult(errors=errors)
        article_id = await self.knowledge.add_article(
            title=title, body=body, url=url.strip() or None, author=user_id
        )
        return FormResult(view=kb_added_view(article_id=article_id, title=title.strip()))

    async def status(self) -> str:
        s = self.settings
        channels = ", ".join(f"<#{c}>" for c in s.support_channels) or "none"
        jobs = await self.repos.jobs.counts()
        pending = await self.repos.escalations.count_pending()
        kb = await self.knowledge.stats()
        llm = f"`{s.support_bot_model}`" if s.llm_enabled else "off (every answer needs approval)"
        return "\n".join(
            [
                "*Support bot status*",
                f"• Answering in: {channels}",
                f"• Review cards go to: <#{s.escalation_channel}>",
                f"• LLM: {llm}; auto-answer threshold {s.auto_answer_threshold:.2f}",
                f"• Knowledge base: {kb['articles']} articles, {kb['chunks']} sections,"
                f" search mode {self.knowledge.retriever.default_mode}",
                f"• Awaiting review: {pending}",
                f"• Work queue: {jobs.get('pending', 0)} waiting, {jobs.get('running', 0)} running,"
                f" {jobs.get('dead', 0)} failed",
            ]
        )
