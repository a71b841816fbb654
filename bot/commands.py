"""The ``/support`` slash command: parses the text and answers with a message for the caller."""

from __future__ import annotations

from bot.blocks import help_text
from bot.config import Settings
from bot.people import People
from bot.repos import Repositories


class SupportCommands:
    def __init__(self, settings: Settings, people: People, repos: Repositories) -> None:
        self.settings = settings
        self.people = people
        self.repos = repos

    async def run(self, *, user_id: str, user_team: str | None, text: str) -> str:
        words = text.strip().split()
        sub = words[0].lower() if words else "help"
        is_admin = self.people.is_admin(user_id)
        is_reviewer = self.people.may_review(user_id=user_id, user_team=user_team)
        if sub == "help":
            return help_text(is_admin=is_admin, is_reviewer=is_reviewer)
        if sub == "status":
            return await self.status()
        return f"I don't know `/support {sub}`. Try `/support help`."

    async def status(self) -> str:
        s = self.settings
        channels = ", ".join(f"<#{c}>" for c in s.support_channels) or "none"
        jobs = await self.repos.jobs.counts()
        pending = await self.repos.escalations.count_pending()
        llm = f"`{s.support_bot_model}`" if s.llm_enabled else "off (every answer needs approval)"
        return "\n".join(
            [
                "*Support bot status*",
                f"• Answering in: {channels}",
                f"• Review cards go to: <#{s.escalation_channel}>",
                f"• LLM: {llm}; auto-answer threshold {s.auto_answer_threshold:.2f}",
                f"• Awaiting review: {pending}",
                f"• Work queue: {jobs.get('pending', 0)} waiting, {jobs.get('running', 0)} running,"
                f" {jobs.get('dead', 0)} failed",
            ]
        )
