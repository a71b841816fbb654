"""The repositories the domain layer uses, built once over one database."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs import kinds as jobkinds
from persistence.config import ConfigRepository
from persistence.db import Database
from persistence.escalations import EscalationRepository
from persistence.jobs import JobRepository
from persistence.knowledge import KnowledgeRepository
from persistence.tickets import TicketRepository
from persistence.trail import TrailRepository


@dataclass(frozen=True)
class Repositories:
    db: Database
    tickets: TicketRepository
    escalations: EscalationRepository
    jobs: JobRepository
    trail: TrailRepository
    knowledge: KnowledgeRepository
    config: ConfigRepository

    @classmethod
    def over(cls, db: Database) -> Repositories:
        return cls(
            db=db,
            tickets=TicketRepository(db),
            escalations=EscalationRepository(db),
            jobs=JobRepository(db, internal_kinds=jobkinds.INTERNAL),
            trail=TrailRepository(db),
            knowledge=KnowledgeRepository(db),
            config=ConfigRepository(db),
        )
