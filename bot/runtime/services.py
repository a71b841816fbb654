"""The services the handlers call, wired once at start. Handlers get this and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.support import SupportCommands
from bot.jobs.worker import JobWorker
from bot.kb.base import KnowledgeBase
from bot.review.desk import ReviewDesk
from bot.review.home import HomeDesk
from bot.review.issues import IssueDesk
from bot.review.redraft import Redrafter
from bot.review.translated_edit import TranslatedEdits
from bot.review.verified import VerifiedAnswers
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.slack.people import People, Workspace
from bot.tickets.csat import Csat
from bot.tickets.handoffs import Handoffs
from bot.tickets.intake import Intake
from bot.tickets.reactions import Reactions
from persistence.repos import Repositories


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    people: People
    repos: Repositories
    knowledge: KnowledgeBase
    intake: Intake
    reactions: Reactions
    review: ReviewDesk
    handoffs: Handoffs
    redrafter: Redrafter
    worker: JobWorker
    client: AsyncWebClient
    commands: SupportCommands
    home: HomeDesk
    config: LiveConfig
    verified: VerifiedAnswers
    csat: Csat
    issues: IssueDesk
    translated_edits: TranslatedEdits

    @property
    def watched_channels(self) -> frozenset[str]:
        return self.config.current.watched

    @property
    def support_channels(self) -> frozenset[str]:
        """Every configured support channel, the ones switched off included."""
        return frozenset(self.config.current.channels)
