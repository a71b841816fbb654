"""The support policy: when to answer by itself, and when a human must decide. Pure functions."""

from __future__ import annotations

import re
from typing import Any

from bot.blocks import CATEGORY_LABELS
from bot.models import Decision

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


def decide(
    *,
    classification: dict[str, Any],
    draft: dict[str, Any] | None,
    threshold: float,
    retrieval: dict[str, Any] | None = None,
) -> Decision:
    """Answer only a grounded, cited draft of a confident simple FAQ; otherwise say why not."""
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
    if category != "simple_faq":
        label = CATEGORY_LABELS.get(str(category), str(category))
        return Decision(
            action="escalate",
            reason=f"Category is {label}; only simple FAQs are answered automatically.",
        )
    if confidence < threshold:
        return Decision(
            action="escalate",
            reason=f"Confidence {confidence:.2f} is below the threshold {threshold:.2f}.",
        )
    if retrieval is not None and retrieval.get("fits") is False:
        return Decision(
            action="escalate",
            reason=(
                "Nothing in the knowledge base fits: retrieval confidence"
                f" {float(retrieval.get('confidence') or 0):.2f} is below"
                f" {float(retrieval.get('threshold') or 0):.2f}."
            ),
        )
    if draft is None or not draft.get("text"):
        return Decision(action="escalate", reason="Nothing in the knowledge base matches.")
    if not draft.get("grounded"):
        return Decision(
            action="escalate", reason="The knowledge base does not fully answer the question."
        )
    sources = draft.get("sources") or []
    if not sources:
        return Decision(action="escalate", reason="The draft cites no article.")
    return Decision(
        action="answer",
        reason=(
            f"Simple FAQ with confidence {confidence:.2f} ≥ {threshold:.2f}, grounded in"
            f" {len(sources)} article(s)."
        ),
    )
