"""Typed records the repositories return. Plain data: no behaviour, no SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

TicketState = Literal[
    "received",
    "classified",
    "retrieved",
    "drafted",
    "answered",
    "awaiting_review",
    "replied",
    "rejected",
    "human",
    "resolved",
]
# Steps of the automated round, in order; a ticket in one of these has work left to do.
IN_PROGRESS_STATES: tuple[TicketState, ...] = ("received", "classified", "retrieved", "drafted")

EscalationState = Literal[
    "pending", "approved", "edited", "rejected", "answered_in_thread", "resolved"
]
# States in which a ticket's thread belongs to people: the bot answers nothing there.
HUMAN_STATES: tuple[TicketState, ...] = ("human", "rejected")
TurnRole = Literal["customer", "bot", "staff"]
JobState = Literal["pending", "running", "done", "dead"]


def load_json(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


@dataclass(frozen=True)
class Ticket:
    id: int
    channel_id: str
    thread_ts: str
    customer_user_id: str
    customer_team_id: str | None
    state: TicketState
    version: int
    round: int
    processed_turn_id: int
    classification: dict[str, Any] | None
    retrieval: dict[str, Any] | None
    draft: dict[str, Any] | None
    decision: dict[str, Any] | None
    created_at: float
    updated_at: float
    owner_user_id: str | None = None
    human_owner: str | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    opened_by: str | None = (
        None  # a teammate who opened it by hand (a reaction); None: the customer
    )
    language: str | None = None  # ISO 639-1; None: not known yet (English)


@dataclass(frozen=True)
class Turn:
    id: int
    ticket_id: int
    role: TurnRole
    user_id: str | None
    text: str
    slack_ts: str | None
    created_at: float
    purpose: str | None = None


@dataclass(frozen=True)
class Escalation:
    id: int
    ticket_id: int
    round: int
    state: EscalationState
    version: int
    reason: str
    draft_text: str | None
    card_channel: str | None
    card_ts: str | None
    decided_by: str | None
    decided_at: float | None
    final_text: str | None
    created_at: float
    work: str | None = None
    work_by: str | None = None
    reminders: int = 0
    shown_turn_id: int = 0
    # A reviewer's edit waiting to be sent translated or as written (``edit_by`` wrote it);
    # ``edit_translation`` None with ``edit_problem`` saying why it could not be translated.
    edit_text: str | None = None
    edit_by: str | None = None
    edit_translation: str | None = None
    edit_problem: str | None = None


@dataclass(frozen=True)
class DraftVersion:
    """One draft a review card showed; ``feedback`` is what the reviewer asked to change."""

    id: int
    escalation_id: int
    n: int
    text: str | None
    sources: list[dict[str, Any]]
    origin: str
    requested_by: str | None
    feedback: str | None
    created_at: float


@dataclass(frozen=True)
class TicketNote:
    """A teammate's answer to the bot's open question on a ticket."""

    id: int
    ticket_id: int
    question: str
    answer: str
    user_id: str
    created_at: float


AttachmentStatus = Literal["pending", "read", "refused", "not_read"]


@dataclass(frozen=True)
class Attachment:
    """A file a customer attached to a message of a ticket (``ticket_attachments``)."""

    id: int
    ticket_id: int
    turn_id: int
    position: int  # its place among the message's files, from 0
    file_id: str
    name: str
    mimetype: str | None
    filetype: str | None
    size: int | None
    permalink: str | None
    url: str | None  # url_private_download: reached only with the bot token, only on Slack
    file_access: str | None
    mode: str | None
    kind: str | None  # "image", "text", "pdf", "other"; None until looked at
    status: AttachmentStatus
    reason: str | None
    text: str | None
    created_at: float
    read_at: float | None


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    available_at: float
    lease_owner: str | None
    lease_until: float | None
    last_error: str | None
    created_at: float


@dataclass(frozen=True)
class TrailEvent:
    id: int
    ticket_id: int | None
    step: str
    actor: str
    detail: dict[str, Any]
    duration_ms: int | None
    model: str | None
    prompt_name: str | None
    prompt_version: str | None
    tokens_in: int | None
    tokens_out: int | None
    created_at: float


@dataclass(frozen=True)
class KnowledgeHit:
    chunk_id: int
    article_id: int
    title: str
    # The article's link, else where it came from.
    source: str
    heading: str
    text: str
    score: float
    # Where the article came from (``kb_articles.source``), whatever its link.
    origin: str = ""


@dataclass(frozen=True)
class KnowledgeChunkInput:
    heading: str
    text: str


@dataclass(frozen=True)
class ArticleInput:
    source: str
    title: str
    content_hash: str
    chunks: list[KnowledgeChunkInput] = field(default_factory=list)
    url: str | None = None
    tags: str = ""


@dataclass(frozen=True)
class KnowledgeArticle:
    id: int
    source: str
    url: str | None
    title: str
    tags: str
    chunks: int
    updated_at: float


@dataclass(frozen=True)
class DeskItem:
    """A waiting escalation as the App Home lists it."""

    escalation_id: int
    ticket_id: int
    customer_user_id: str
    question: str
    has_draft: bool
    work: str | None
    owner_user_id: str | None
    missing_information: str
    created_at: float


@dataclass(frozen=True)
class OwnedTicket:
    ticket_id: int
    state: str
    question: str
    channel_id: str
    thread_ts: str
    updated_at: float
