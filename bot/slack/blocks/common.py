"""The pieces every builder shares: text objects, sections, context lines, buttons, and the
``OutgoingMessage`` a builder returns for chat.postMessage / chat.update.

Each helper cuts its text to the Slack limit of its field (``bot.slack.limits``), so a builder
cannot produce a block Slack refuses for being too long.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.kb.provenance import VERIFIED_LABEL, Source, is_verified
from bot.settings.categories import CATEGORIES, CATEGORY_LABELS
from bot.slack.limits import BUTTON_TEXT_MAX, CONTEXT_ELEMENTS_MAX, SECTION_TEXT_MAX
from bot.slack.text import escape, truncate

Block = dict[str, Any]

# Each context element's text is kept to this: shorter than the 3,000 characters Slack allows
# a text object, since context lines are the small print.
CONTEXT_TEXT_MAX = 2000


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object cut to ``limit``, the Slack limit of the field it goes in."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(truncate(text, SECTION_TEXT_MAX))}


def context(*texts: str) -> Block:
    """A context block with one mrkdwn element per text (at most Slack's ten)."""
    return {
        "type": "context",
        "elements": [mrkdwn(truncate(t, CONTEXT_TEXT_MAX)) for t in texts[:CONTEXT_ELEMENTS_MAX]],
    }


def button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    block: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label, BUTTON_TEXT_MAX),
        "value": value,
    }
    if style:
        block["style"] = style
    return block


def category_list(names: Iterable[str]) -> str:
    """The categories' labels in their usual order as a phrase (``Simple FAQ and Billing``), or
    ``nothing``."""
    chosen = set(names)
    labels = [CATEGORY_LABELS[c] for c in CATEGORIES if c in chosen]
    if len(labels) < 2:
        return labels[0] if labels else "nothing"
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def sources_line(sources: list[Source], *, label: str = "Sources") -> str:
    """``Sources: Title › Heading; …`` for the first five sources (escaped), or ``""``. A
    verified answer (``bot/kb/provenance.py``) is named "Verified answer", once."""
    if not sources:
        return ""
    names: list[str] = []
    for s in sources:
        if not is_verified(s.origin):
            names.append(escape(f"{s.title} › {s.heading}" if s.heading != s.title else s.title))
        elif VERIFIED_LABEL not in names:
            names.append(VERIFIED_LABEL)
    return f"{label}: " + "; ".join(names[:5])
