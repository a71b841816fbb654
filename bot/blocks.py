"""Block Kit builders: pure functions from domain values to Slack payloads, within Slack's limits.

Everything customer-written is escaped before it is shown, so a question containing
``<!channel>`` or ``<@U123>`` cannot ping anyone from a card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot import ids
from bot.models import Source
from bot.retrieval import Lookup
from bot.slack_text import (
    MESSAGE_BLOCKS_MAX,
    PLAIN_INPUT_MAX,
    SECTION_TEXT_MAX,
    escape,
    slack_date,
    split_for_sections,
    truncate,
    truncate_escaped,
)

Block = dict[str, Any]

REACH_A_PERSON = (
    "Not what you needed? Reply in this thread with *talk to a person* and a teammate"
    " will pick it up."
)
HOLDING_REPLY = (
    "Thanks for your question! I've passed it to the team, and someone will reply in this"
    " thread as soon as they can."
)
CATEGORY_LABELS = {
    "simple_faq": "Simple FAQ",
    "complex_issue": "Complex issue",
    "billing_query": "Billing",
    "feature_request": "Feature request",
    "unknown": "Unknown",
}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(truncate(text, SECTION_TEXT_MAX))}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(truncate(t, 2000)) for t in texts[:10]]}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def sources_line(sources: list[Source]) -> str:
    if not sources:
        return ""
    names = [
        escape(f"{s.title} › {s.heading}" if s.heading != s.title else s.title) for s in sources
    ]
    return "Sources: " + "; ".join(names[:5])


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def answer_message(answer: str, sources: list[Source]) -> OutgoingMessage:
    """An AI answer in the customer's thread: the answer, its sources, and the way to a person."""
    blocks: list[Block] = [_section(piece) for piece in split_for_sections(answer)][:45]
    footer = [t for t in (sources_line(sources), REACH_A_PERSON) if t]
    blocks.append(_context(*footer))
    text = answer + ("\n\n" + sources_line(sources) if sources else "")
    return OutgoingMessage(text=text, blocks=blocks)


def plain_reply(text: str) -> OutgoingMessage:
    """A human-approved or edited reply, posted verbatim."""
    return OutgoingMessage(text=text)


def holding_message() -> OutgoingMessage:
    return OutgoingMessage(text=HOLDING_REPLY)


@dataclass(frozen=True)
class CardContent:
    escalation_id: int
    ticket_id: int
    state: str
    customer_user_id: str
    question: str
    message_link: str
    reason: str
    category: str | None = None
    confidence: float | None = None
    summary: str | None = None
    draft: str | None = None
    sources: list[Source] = field(default_factory=list)
    missing_information: str = ""
    follow_ups: list[str] = field(default_factory=list)
    decided_by: str | None = None
    decided_at: float | None = None
    final_text: str | None = None


_DECIDED_HEADERS = {
    "approved": "✅ Reply sent",
    "edited": "✏️ Edited reply sent",
    "rejected": "🚫 Rejected: left to a human",
}


def escalation_card(card: CardContent) -> OutgoingMessage:
    """The review card in the escalation channel; buttons only while it awaits a decision."""
    pending = card.state == "pending"
    header = "🙋 Question needs review" if pending else _DECIDED_HEADERS.get(card.state, "Decided")
    blocks: list[Block] = [{"type": "header", "text": _plain(header, 150)}]
    who = f"From <@{card.customer_user_id}> · <{card.message_link}|view message>"
    facts = [who, f"Ticket #{card.ticket_id}"]
    if card.category:
        label = CATEGORY_LABELS.get(card.category, card.category)
        conf = f" ({card.confidence:.2f})" if card.confidence is not None else ""
        facts.append(f"{label}{conf}")
    blocks.append(_context(" · ".join(facts)))
    blocks.append(_section("*Question*\n" + truncate_escaped(card.question, 2800)))
    if card.summary:
        blocks.append(_context("Summary: " + truncate_escaped(card.summary, 500)))
    blocks.append(_context("Why it needs you: " + truncate_escaped(card.reason, 1500)))
    for i, follow_up in enumerate(card.follow_ups[-5:], start=1):
        blocks.append(_section(f"*Follow-up {i}*\n" + truncate_escaped(follow_up, 1500)))
    blocks.append({"type": "divider"})
    if card.draft:
        label = "*Suggested reply*" if pending else "*Draft*"
        blocks.append(_section(label + "\n" + truncate(card.draft, 2900)))
        if card.sources:
            blocks.append(_context(sources_line(card.sources)))
    else:
        blocks.append(
            _section(
                "_No draft: nothing in the knowledge base fits. Use Edit to write the reply._"
                if pending
                else "_No draft._"
            )
        )
    if card.missing_information:
        blocks.append(
            _context("Open question: " + truncate_escaped(card.missing_information, 1000))
        )
    if pending:
        value = str(card.escalation_id)
        buttons: list[Block] = []
        if card.draft:
            buttons.append(
                {
                    "type": "button",
                    "action_id": ids.ACTION_APPROVE,
                    "text": _plain("Approve and send", 75),
                    "style": "primary",
                    "value": value,
                }
            )
        buttons.append(
            {
                "type": "button",
                "action_id": ids.ACTION_EDIT,
                "text": _plain("Edit and send" if card.draft else "Edit: write a reply", 75),
                "value": value,
            }
        )
        buttons.append(
            {
                "type": "button",
                "action_id": ids.ACTION_REJECT,
                "text": _plain("Reject (answer it yourself)", 75),
                "style": "danger",
                "value": value,
            }
        )
        blocks.append({"type": "actions", "block_id": "review", "elements": buttons})
    else:
        blocks.append(_context(_decided_line(card)))
    blocks = blocks[:MESSAGE_BLOCKS_MAX]
    text = f"Question needs review (ticket #{card.ticket_id})" if pending else header
    return OutgoingMessage(text=text, blocks=blocks)


def _decided_line(card: CardContent) -> str:
    when = slack_date(card.decided_at) if card.decided_at else "earlier"
    who = f"<@{card.decided_by}>" if card.decided_by else "someone"
    if card.state == "approved":
        return f"Approved by {who} {when}; the draft was sent in the customer's thread."
    if card.state == "edited":
        return f"Edited by {who} {when}; their text was sent in the customer's thread."
    if card.state == "rejected":
        return f"Rejected by {who} {when}; nothing was sent. The thread is left to a human."
    return f"Decided by {who} {when}."


def edit_modal(*, escalation_id: int, draft: str, question: str) -> dict[str, Any]:
    """The Edit modal: the draft in a multi-line input; what is submitted is sent verbatim."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_EDIT,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": _plain("Edit reply", 24),
        "submit": _plain("Send reply", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            {
                "type": "context",
                "elements": [_mrkdwn("*Question:* " + truncate_escaped(question, 1500))],
            },
            {
                "type": "input",
                "block_id": ids.BLOCK_EDIT_TEXT,
                "label": _plain("Reply to send in the customer's thread", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_EDIT_TEXT,
                    "multiline": True,
                    "max_length": PLAIN_INPUT_MAX,
                    **({"initial_value": draft[:PLAIN_INPUT_MAX]} if draft else {}),
                },
            },
        ],
    }


def help_text(*, is_admin: bool, is_reviewer: bool) -> str:
    lines = [
        "*Support bot*",
        "I answer customer questions in the support channels from the knowledge base, and send"
        " anything I'm unsure of to the escalation channel for a teammate to approve, edit or"
        " reject.",
        "• `/support help`: this message",
        "• `/support status`: what I'm watching and how much is waiting",
    ]
    if is_reviewer:
        lines.append("• `/support kb search QUESTION`: what the knowledge base would answer from")
    if is_admin:
        lines.append("• `/support kb add`: write an article; `/support kb remove ID`: delete one")
    if is_reviewer:
        lines.append("You are a reviewer: you can approve, edit and reject cards.")
    if is_admin:
        lines.append("You are an admin.")
    return "\n".join(lines)


def kb_search_text(lookup: Lookup) -> str:
    """``/support kb search``: the verdict the workflow would reach, and the best passages."""
    verdict = (
        "fits: I would answer from these"
        if lookup.fits
        else "nothing fits well enough to answer from: I would escalate"
    )
    lines = [
        f"*Knowledge base* for “{truncate_escaped(lookup.query, 200)}”: {verdict}"
        f" (confidence {lookup.confidence:.2f}, threshold {lookup.threshold:.2f})"
    ]
    for hit in lookup.hits:
        snippet = truncate_escaped(" ".join(hit.text.split()), 200)
        lines.append(
            f"• #{hit.article_id} *{escape(hit.title)} › {escape(hit.heading)}*: {snippet}"
        )
    if not lookup.hits:
        lines.append("No article matches at all.")
    return "\n".join(lines)


def kb_add_modal() -> dict[str, Any]:
    def field(block_id: str, label: str, element: dict[str, Any], optional: bool) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": _plain(label, 2000),
            "element": element,
        }

    return {
        "type": "modal",
        "callback_id": ids.VIEW_KB_ADD,
        "title": _plain("Add an article", 24),
        "submit": _plain("Add", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            field(
                ids.BLOCK_KB_TITLE,
                "Title",
                {"type": "plain_text_input", "action_id": ids.ACTION_KB_TITLE, "max_length": 150},
                False,
            ),
            field(
                ids.BLOCK_KB_BODY,
                "Text (Markdown headings split it into sections)",
                {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_KB_BODY,
                    "multiline": True,
                    "max_length": PLAIN_INPUT_MAX,
                },
                False,
            ),
            field(
                ids.BLOCK_KB_URL,
                "Link to the article (optional)",
                {"type": "url_text_input", "action_id": ids.ACTION_KB_URL},
                True,
            ),
        ],
    }


def kb_added_view(*, article_id: int, title: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _plain("Article added", 24),
        "close": _plain("Done", 24),
        "blocks": [
            _section(
                f"Added article #{article_id}, *{truncate_escaped(title, 200)}*. The bot uses it"
                " from the next question on."
            )
        ],
    }
