"""The support policy: when to answer by itself, and when a human must decide. Pure functions."""

from __future__ import annotations

import re
from typing import Any

from bot.settings.categories import CATEGORY_LABELS
from bot.tickets.schemas import Decision

_QUALIFIED = r"(an?\s+|the\s+|your\s+|some\s*)?(real\s+|actual\s+|live\s+)?"
_HUMAN_REQUEST = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+"
    + _QUALIFIED
    + r"(person|human|agent|representative|rep|someone|somebody|team|staff|people)\b"
    r"|\b(want|need|get|reach|contact)\s+(me\s+)?(to\s+)?"
    + _QUALIFIED
    + r"(human|person|agent|representative)\b"
    r"|\bis\s+there\s+" + _QUALIFIED + r"(human|person|agent|someone)\b"
    r"|\bhuman\s+(please|agent|support)\b",
    re.IGNORECASE,
)
_WORDISH = re.compile(r"[^\W_]", re.UNICODE)
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:")


def asks_for_a_person(text: str) -> bool:
    return bool(_HUMAN_REQUEST.search(text))


def has_words(text: str) -> bool:
    """False for empty, whitespace, emoji-only (unicode or :shortcode:) and punctuation-only."""
    return bool(_WORDISH.search(_EMOJI_CODE.sub("", text)))


DEFAULT_AUTO_CATEGORIES: frozenset[str] = frozenset({"simple_faq"})


def _listed(items: list[str]) -> str:
    quoted = [f"“{i}”" for i in items[:5]]
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return (", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else quoted[0]) + more


def decide(
    *,
    classification: dict[str, Any],
    draft: dict[str, Any] | None,
    threshold: float,
    retrieval: dict[str, Any] | None = None,
    auto_categories: frozenset[str] = DEFAULT_AUTO_CATEGORIES,
) -> Decision:
    """Answer only a grounded draft whose citations and facts our own checks confirm, of a
    confident question in a category this channel answers automatically; otherwise say why not.

    Retrieval confidence is evidence, not a veto: it stops an answer only when the question's
    substance finds nothing relevant at all (``retrieval["fits"]`` false). Whether the passages
    answer the question is the model's judgement (``grounded``), checked by code: the citations
    must be among the passages shown and the draft's facts must be in them."""
    if classification.get("greeting") and draft is not None and draft.get("origin") == "canned":
        return Decision(
            action="answer",
            reason="Only a greeting, no question yet: the bot asks what the customer needs.",
        )
    if classification.get("wants_human"):
        return Decision(action="escalate", reason="The customer asked for a person.")
    if classification.get("skipped"):
        return Decision(action="escalate", reason=str(classification["skipped"]))
    if classification.get("error"):
        return Decision(
            action="escalate", reason=f"Classification failed: {classification['error']}."
        )
    if draft is not None and draft.get("error"):
        return Decision(action="escalate", reason=f"Drafting failed: {draft['error']}.")
    category = classification.get("category")
    confidence = float(classification.get("confidence") or 0.0)
    if category not in auto_categories:
        label = CATEGORY_LABELS.get(str(category), str(category))
        allowed = [CATEGORY_LABELS.get(c, c) for c in sorted(auto_categories)]
        answered = (
            "only " + " and ".join(allowed) + " questions are answered automatically here"
            if allowed
            else "nothing is answered automatically here"
        )
        return Decision(action="escalate", reason=f"Category is {label}; {answered}.")
    if confidence < threshold:
        return Decision(
            action="escalate",
            reason=f"Confidence {confidence:.2f} is below the threshold {threshold:.2f}.",
        )
    if retrieval is not None and retrieval.get("fits") is False:
        return Decision(
            action="escalate",
            reason=(
                "Nothing in the knowledge base is relevant: no passage found covers more than"
                f" {float(retrieval.get('confidence') or 0):.2f} of the question's words (the"
                f" floor is {float(retrieval.get('threshold') or 0):.2f})."
            ),
        )
    if draft is None or not draft.get("text"):
        return Decision(action="escalate", reason="Nothing in the knowledge base matches.")
    if not draft.get("grounded"):
        return Decision(
            action="escalate", reason="The knowledge base does not fully answer the question."
        )
    unknown = draft.get("unknown_citations") or []
    if unknown:
        ids = ", ".join(str(i) for i in unknown[:5])
        return Decision(
            action="escalate",
            reason=f"The draft cites article(s) {ids}, which were not among the passages shown.",
        )
    sources = draft.get("sources") or []
    if not sources:
        return Decision(action="escalate", reason="The draft cites no article.")
    links = draft.get("unsupported_links") or []
    if links:
        return Decision(
            action="escalate",
            reason=(
                f"The draft links to {_listed([str(u) for u in links])}, which its cited passages"
                " do not mention (ANSWER_LINK_HOSTS lists hosts any answer may link to)."
            ),
        )
    unsupported = draft.get("unsupported_facts") or []
    if unsupported:
        return Decision(
            action="escalate",
            reason=(
                f"The draft states {_listed([str(u) for u in unsupported])}, which its cited"
                " passages do not contain."
            ),
        )
    label = CATEGORY_LABELS.get(str(category), str(category))
    return Decision(
        action="answer",
        reason=(
            f"{label} with confidence {confidence:.2f} ≥ {threshold:.2f}, grounded in"
            f" {len(sources)} article(s); its facts are in them."
        ),
    )
