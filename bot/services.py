"""The services the handlers call, wired once at start. Handlers get this and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import SupportCommands
from bot.config import Settings
from bot.handoffs import Handoffs
from bot.home import HomeDesk
from bot.intake import Intake
from bot.kb.base import KnowledgeBase
from bot.live_config import LiveConfig
from bot.people import People, Workspace
from bot.redraft import Redrafter
from bot.repos import Repositories
from bot.review import ReviewDesk
from bot.worker import JobWorker


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    people: People
    repos: Repositories
    knowledge: KnowledgeBase
    intake: Intake
    review: ReviewDesk
    handoffs: Handoffs
    redrafter: Redrafter
    worker: JobWorker
    client: AsyncWebClient
    commands: SupportCommands
    home: HomeDesk
    config: LiveConfig

    @property
    def watched_channels(self) -> frozenset[str]:
        return self.config.current.watched
