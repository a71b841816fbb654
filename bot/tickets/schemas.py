"""Domain values of the support workflow: what the LLM must return, and what a step decides."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from bot.kb.provenance import Source
from bot.settings.categories import Category

ATTACHMENT_NOTES_MAX = 1500


class Classification(BaseModel):
    """The LLM's reading of a customer's message."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    summary: str = Field(default="", max_length=1000)
    wants_human: bool = False
    # The customer's need as a standalone search query, the thread folded in.
    search_query: str = Field(default="", max_length=500)

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: list[str]) -> list[str]:
        return [k.strip()[:80] for k in value if k.strip()]


class GeneralArticle(BaseModel):
    """A knowledge-base article the model wrote from one conversation, without the customer's
    particulars (``prompts/generalise.md``)."""

    title: str = Field(min_length=1, max_length=300)
    # Slack's plain-text input holds 3,000 characters.
    body: str = Field(min_length=1, max_length=3000)

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class DraftReply(BaseModel):
    """A reply written from retrieved articles only, saying which it used and if they suffice."""

    # Slack's plain-text input holds 3,000 characters: a longer draft could not be edited whole.
    answer: str = Field(min_length=1, max_length=3000)
    used_article_ids: list[int] = Field(default_factory=list)
    grounded: bool
    missing_information: str = Field(default="", max_length=1000)
    # What the customer's attached files show, for the reviewer (the card); "" without files.
    attachments: str = ""

    @field_validator("attachments", mode="before")
    @classmethod
    def _short_notes(cls, value: object) -> object:
        # A long description is cut, not re-asked: the reply itself is what matters.
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        return value.strip()[:ATTACHMENT_NOTES_MAX] if isinstance(value, str) else value


class Draft(BaseModel):
    """What the ticket stores as its draft, whichever way it was produced."""

    text: str
    sources: list[Source] = Field(default_factory=list)
    grounded: bool
    origin: Literal["llm", "knowledge_base", "team", "canned"]
    missing_information: str = ""
    # The model's words on the customer's attached files, shown to the reviewer only.
    attachment_notes: str = ""
    # Our own checks of an LLM draft: facts its cited passages do not state, and article ids it
    # cited without having been shown them. Either sends the draft to a reviewer.
    unsupported_facts: list[str] = Field(default_factory=list)
    unknown_citations: list[int] = Field(default_factory=list)
    # Links to hosts neither the cited passages nor ANSWER_LINK_HOSTS allow, and disguised ones.
    unsupported_links: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    action: Literal["answer", "escalate"]
    reason: str
