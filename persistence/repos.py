"""The repositories the bot uses, built once over one database."""

from __future__ import annotations

from dataclasses import dataclass

from persistence.attachments import AttachmentRepository
from persistence.config import ConfigRepository
from persistence.csat import CsatRepository
from persistence.db import Database
from persistence.escalations import EscalationRepository
from persistence.jobs import JobRepository
from persistence.knowledge import KnowledgeRepository
from persistence.languages import LanguageRepository
from persistence.tickets import TicketRepository
from persistence.trackers import TrackerIssueRepository
from persistence.trail import TrailRepository
from persistence.verified import VerifiedRepository


@dataclass(frozen=True)
class Repositories:
    db: Database
    tickets: TicketRepository
    escalations: EscalationRepository
    jobs: JobRepository
    trail: TrailRepository
    knowledge: KnowledgeRepository
    config: ConfigRepository
    verified: VerifiedRepository
    csat: CsatRepository
    issues: TrackerIssueRepository
    attachments: AttachmentRepository
    languages: LanguageRepository

    @classmethod
    def over(cls, db: Database, *, internal_kinds: frozenset[str]) -> Repositories:
        """``internal_kinds``: the job kinds that may be enqueued without an fsync
        (``bot/jobs/kinds.py``'s ``INTERNAL``)."""
        return cls(
            db=db,
            tickets=TicketRepository(db),
            escalations=EscalationRepository(db),
            jobs=JobRepository(db, internal_kinds=internal_kinds),
            trail=TrailRepository(db),
            knowledge=KnowledgeRepository(db),
            config=ConfigRepository(db),
            verified=VerifiedRepository(db),
            csat=CsatRepository(db),
            issues=TrackerIssueRepository(db),
            attachments=AttachmentRepository(db),
            languages=LanguageRepository(db),
        )
