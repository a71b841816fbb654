"""Block Kit builders: pure functions from domain values to Slack payloads, within Slack's limits.

Everything customer-written is escaped before it is shown, so a question containing
``<!channel>`` or ``<@U123>`` cannot ping anyone from a card.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.kb.provenance import UNREVIEWED_NOTE, Source, customer_citable
from bot.kb.retrieval import Lookup
from bot.settings.categories import CATEGORIES, CATEGORY_LABELS
from bot.slack import ids
from bot.slack.text import (
    MESSAGE_BLOCKS_MAX,
    MODAL_BLOCKS_MAX,
    PLAIN_INPUT_MAX,
    SECTION_TEXT_MAX,
    escape,
    slack_date,
    split_for_sections,
    truncate,
    truncate_escaped,
)
from persistence.records import DeskItem, OwnedTicket

Block = dict[str, Any]

REACH_A_PERSON = (
    "Not what you needed? Press *Talk to a person* or reply *talk to a person* in this thread,"
    " and a teammate will pick it up."
)
# A customer who only says hello is asked what they need (the ticket waits for their question).
GREETING_REPLY = (
    "Hi! :wave: What can I help you with? Write your question here in this thread, and I'll"
    " answer it or pass it to the team."
)
HOLDING_REPLY = (
    "Thanks for your question! I've passed it to the team, and someone will reply in this"
    " thread as soon as they can."
)


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(truncate(text, SECTION_TEXT_MAX))}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(truncate(t, 2000)) for t in texts[:10]]}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def category_list(names: Iterable[str]) -> str:
    """The categories' labels in their usual order as a phrase (``Simple FAQ and Billing``), or
    ``nothing``."""
    chosen = set(names)
    labels = [CATEGORY_LABELS[c] for c in CATEGORIES if c in chosen]
    if len(labels) < 2:
        return labels[0] if labels else "nothing"
    return ", ".join(labels[:-1]) + " and " + labels[-1]


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


def answer_message(
    answer: str, sources: list[Source], *, ticket_id: int | None = None, round: int = 0
) -> OutgoingMessage:
    """An AI answer in the customer's thread: the answer, its sources, the way to a person, and
    (with ``ticket_id``) the Helpful and Talk to a person buttons."""
    # Only articles customers may be answered from are named to them (bot/kb/provenance.py).
    sources = [s for s in sources if customer_citable(s.origin or s.source)]
    blocks: list[Block] = [_section(piece) for piece in split_for_sections(answer)][:44]
    footer = [t for t in (sources_line(sources), REACH_A_PERSON) if t]
    blocks.append(_context(*footer))
    if ticket_id is not None:
        value = f"{ticket_id}:{round}"
        blocks.append(
            {
                "type": "actions",
                "block_id": "answer_feedback",
                "elements": [
                    _button(ids.ACTION_HELPFUL, "👍 Helpful", value),
                    _button(ids.ACTION_TALK_TO_PERSON, "Talk to a person", value),
                ],
            }
        )
    text = answer + ("\n\n" + sources_line(sources) if sources else "")
    return OutgoingMessage(text=text, blocks=blocks)


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": _plain(label, 75),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def plain_reply(text: str) -> OutgoingMessage:
    """A human-approved or edited reply, posted verbatim."""
    return OutgoingMessage(text=text)


def holding_message(*, back_at: float | None = None, hours: str = "") -> OutgoingMessage:
    """The short reply while a teammate looks; outside support hours it says when they are back
    (rendered in the reader's own time zone)."""
    if back_at is None:
        return OutgoingMessage(text=HOLDING_REPLY)
    return OutgoingMessage(
        text="Thanks for your question! I've passed it to the team. They're away right now"
        f" (support hours: {hours}) and will reply in this thread when they're back,"
        f" {slack_date(back_at)}."
    )


@dataclass(frozen=True)
class EarlierDraft:
    n: int
    origin: str
    text: str | None
    feedback: str | None
    requested_by: str | None


@dataclass(frozen=True)
class NotDelivered:
    """A message of the ticket the bot gave up delivering (``bot/review/deliveries.py``)."""

    job_id: int  # the "Try again" button's value
    what: str  # "The approved reply"
    reason: str  # Slack's error in plain words


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
    unsupported_facts: list[str] = field(default_factory=list)
    also_found: list[str] = field(default_factory=list)  # other sections the search found
    follow_ups: list[str] = field(default_factory=list)
    decided_by: str | None = None
    decided_at: float | None = None
    final_text: str | None = None
    # Humans in the loop
    draft_number: int = 1
    earlier_drafts: list[EarlierDraft] = field(default_factory=list)
    work: str | None = None  # "redraft" or "compose" while the bot writes a new draft
    work_by: str | None = None
    owner: str | None = None
    ticket_state: str = "awaiting_review"
    human_owner: str | None = None
    activity: list[str] = field(default_factory=list)
    can_redraft: bool = False
    saved_article_id: int | None = None
    status: str = ""
    shown_turn_id: int = 0  # the newest customer message on the card
    not_delivered: list[NotDelivered] = field(default_factory=list)


_DECIDED_HEADERS = {
    "approved": "✅ Reply sent",
    "edited": "✏️ Edited reply sent",
    "rejected": "🚫 Rejected: left to a human",
    "answered_in_thread": "💬 Answered in the thread by a teammate",
    "resolved": "☑️ Resolved without a reply",
}
_WORK_LINES = {
    "redraft": "⏳ Writing a new draft with <@{by}>'s feedback…",
    "compose": "⏳ Writing a reply from <@{by}>'s answer…",
}


def escalation_card(card: CardContent) -> OutgoingMessage:
    """The review card in the escalation channel: decision buttons only while it awaits one."""
    pending = card.state == "pending"
    if card.ticket_state == "resolved" and pending:
        header = _DECIDED_HEADERS["resolved"]
    elif pending:
        header = "🙋 Question needs review"
    else:
        header = _DECIDED_HEADERS.get(card.state, "Decided")
    if card.not_delivered and card.state in ("approved", "edited"):
        header = "⚠️ Reply NOT delivered"
    blocks: list[Block] = [{"type": "header", "text": _plain(header, 150)}]
    who = f"From <@{card.customer_user_id}> · <{card.message_link}|view message>"
    facts = [who, f"Ticket #{card.ticket_id}"]
    if card.category:
        label = CATEGORY_LABELS.get(card.category, card.category)
        conf = f" ({card.confidence:.2f})" if card.confidence is not None else ""
        facts.append(f"{label}{conf}")
    facts.append(f"Owner: <@{card.owner}>" if card.owner else "Unclaimed")
    if card.status:
        facts.append(f"Status: {card.status}")
    blocks.append(_context(" · ".join(facts)))
    blocks.append(_section("*Question*\n" + truncate_escaped(card.question, 2800)))
    if card.summary:
        blocks.append(_context("Summary: " + truncate_escaped(card.summary, 500)))
    blocks.append(_context("Why it needs you: " + truncate_escaped(card.reason, 1500)))
    for i, follow_up in enumerate(card.follow_ups[-5:], start=1):
        blocks.append(_section(f"*Follow-up {i}*\n" + truncate_escaped(follow_up, 1500)))
    blocks.append({"type": "divider"})
    for earlier in card.earlier_drafts[-3:]:
        line = f"Draft {earlier.n}: " + truncate_escaped(
            " ".join((earlier.text or "").split()), 300
        )
        if earlier.feedback:
            by = f"<@{earlier.requested_by}>" if earlier.requested_by else "a reviewer"
            line += f"\n↳ {by}: “{truncate_escaped(earlier.feedback, 500)}”"
        blocks.append(_context(line))
    if card.draft:
        number = f" (draft {card.draft_number})" if card.draft_number > 1 else ""
        label = f"*Suggested reply{number}*" if pending else "*Reply*"
        # Escaped as customer text is: a model-written link shows where it really goes.
        blocks.append(_section(label + "\n" + truncate_escaped(card.draft, 2900)))
        if card.sources:
            blocks.append(_context(sources_line(card.sources)))
        if card.unsupported_facts and pending:
            named = ", ".join(f"“{f}”" for f in card.unsupported_facts[:10])
            blocks.append(
                _context(
                    "⚠️ Not in the cited passages: "
                    + truncate_escaped(named, 1000)
                    + ". Check these before you approve."
                )
            )
    else:
        blocks.append(
            _section(
                "_No draft: nothing in the knowledge base fits. Use Edit to write the reply._"
                if pending
                else "_No draft._"
            )
        )
    if card.also_found and pending:
        found = "; ".join(card.also_found[:3])
        blocks.append(_context("Also found: " + truncate_escaped(found, 1000)))
    if card.missing_information and pending:
        blocks.append(
            _section(
                "*The bot's question for you:* " + truncate_escaped(card.missing_information, 1000)
            )
        )
    if card.not_delivered:
        blocks.extend(_not_delivered_blocks(card.not_delivered))
    if card.activity:
        blocks.append(_context("\n".join(card.activity[-8:])))
    value = str(card.escalation_id)
    if pending and card.ticket_state != "resolved":
        if card.work:
            blocks.append(
                _context(_WORK_LINES.get(card.work, "⏳ Working…").format(by=card.work_by))
            )
        else:
            decide: list[Block] = []
            if card.draft:
                decide.append(_button(ids.ACTION_APPROVE, "Approve and send", value, "primary"))
            decide.append(
                _button(
                    ids.ACTION_EDIT, "Edit and send" if card.draft else "Edit: write a reply", value
                )
            )
            decide.append(
                _button(ids.ACTION_REJECT, "Reject (answer it yourself)", value, "danger")
            )
            blocks.append({"type": "actions", "block_id": "review", "elements": decide})
            more: list[Block] = []
            if card.owner is None:
                more.append(_button(ids.ACTION_CLAIM, "I'll take it", value))
            if card.missing_information:
                more.append(_button(ids.ACTION_ANSWER_QUESTION, "Answer the bot's question", value))
            if card.can_redraft and card.draft:
                more.append(_button(ids.ACTION_REDRAFT, "Redraft with feedback", value))
            more.append(_button(ids.ACTION_RESOLVE, "Mark resolved", value))
            more.append(_button(ids.ACTION_WHY, "Why?", value))
            blocks.append({"type": "actions", "block_id": "more", "elements": more})
    else:
        blocks.append(_context(_decided_line(card)))
        after: list[Block] = []
        if card.ticket_state in ("human", "rejected"):
            after.append(_button(ids.ACTION_HANDBACK, "Hand back to the bot", value))
        if card.ticket_state != "resolved":
            after.append(_button(ids.ACTION_RESOLVE, "Mark resolved", value))
        if card.state in ("approved", "edited") and card.saved_article_id is None:
            after.append(_button(ids.ACTION_SAVE_ARTICLE, "Save as article", value))
        after.append(_button(ids.ACTION_WHY, "Why?", value))
        if after:
            blocks.append({"type": "actions", "block_id": "after", "elements": after})
    blocks = blocks[:MESSAGE_BLOCKS_MAX]
    text = f"Question needs review (ticket #{card.ticket_id})" if pending else header
    return OutgoingMessage(text=text, blocks=blocks)


def _not_delivered_blocks(items: list[NotDelivered]) -> list[Block]:
    """What the bot gave up delivering, why, and a "Try again" for each (at most five)."""
    lines = [
        f"⚠️ *{escape(item.what)} was not delivered:* {truncate_escaped(item.reason, 400)}."
        for item in items[-5:]
    ]
    retry = [
        _button(
            ids.home_action(ids.ACTION_RETRY_DELIVERY, item.job_id),
            "Try again" if len(items) == 1 else f"Try again: {item.what}",
            str(item.job_id),
            "primary",
        )
        for item in items[-5:]
    ]
    return [
        _section("\n".join(lines)),
        {"type": "actions", "block_id": "delivery", "elements": retry},
    ]


def delivery_failed_notice(
    *, ticket_id: int | None, what: str, reason: str, job_id: int, link: str | None
) -> OutgoingMessage:
    """A plain message in the escalation channel when no card can say a delivery failed."""
    about = f"ticket #{ticket_id}" if ticket_id is not None else "no ticket"
    where = f" (<{link}|the customer's thread>)" if link else ""
    text = f"⚠️ {what} for {about} was not delivered{where}: {reason}."
    return OutgoingMessage(
        text=text,
        blocks=[
            _section(truncate(text, SECTION_TEXT_MAX)),
            {
                "type": "actions",
                "block_id": "delivery",
                "elements": [
                    _button(
                        ids.home_action(ids.ACTION_RETRY_DELIVERY, job_id),
                        "Try again",
                        str(job_id),
                        "primary",
                    )
                ],
            },
        ],
    )


def _decided_line(card: CardContent) -> str:
    when = slack_date(card.decided_at) if card.decided_at else "earlier"
    who = f"<@{card.decided_by}>" if card.decided_by else "someone"
    if card.not_delivered and card.state in ("approved", "edited"):
        verb = "Approved" if card.state == "approved" else "Edited"
        line = f"{verb} by {who} {when}; the reply was NOT delivered to the customer."
    elif card.state == "approved":
        line = f"Approved by {who} {when}; the draft was sent in the customer's thread."
    elif card.state == "edited":
        line = f"Edited by {who} {when}; their text was sent in the customer's thread."
    elif card.state == "rejected":
        line = f"Rejected by {who} {when}; nothing was sent. The thread is left to a human."
    elif card.state == "answered_in_thread":
        line = f"Answered in thread by {who} {when}; the bot stays quiet in that thread."
    elif card.state == "resolved" or card.ticket_state == "resolved":
        line = f"Resolved by {who} {when}; nothing was sent from this card."
    else:
        line = f"Decided by {who} {when}."
    if card.saved_article_id is not None:
        line += f" Saved as knowledge-base article #{card.saved_article_id}."
    return line


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
    ]
    if is_reviewer:
        lines.append("• `/support status`: settings, health and how much is waiting")
    if is_reviewer:
        lines.append("• `/support kb search QUESTION`: what the knowledge base would answer from")
        lines.append(
            "• `/support handback TICKET`: the bot answers in that thread again;"
            " `/support resolve TICKET`: close it (TICKET is the number on the card or a link"
            " to the customer's message; inside a thread, use the message's ⋯ menu instead)"
        )
        lines.append("• The *Home* tab of this app lists what waits for review, and your tickets")
        lines.append(
            "• `/support trace TICKET`: every step of a ticket and why;"
            " `/support stats [7d]`: deflection, review quality, response times, cost"
        )
    if is_admin:
        lines += [
            "*Admin*",
            "• `/support config`: every setting in one form",
            "• `/support channel add #channel [auto|review|off]`, `channel remove #channel`,"
            " `channel list`",
            "• `/support escalation #channel`: where review cards go",
            "• `/support reviewers add|remove|list @person @group…`,"
            " `/support admins add|remove|list @person…`",
            "• `/support threshold 0.7`, `/support hours Mon-Fri 09:00-17:00 Europe/Berlin`,"
            " `/support reminders 30m 24h`",
            "• `/support auto [list]`, `/support auto #channel faq billing|default|none`,"
            " `/support auto default faq`: which categories are answered automatically",
            "• `/support pause`, `/support resume`, `/support audit`",
            "• `/support kb add`: write an article; `/support kb remove ID`: delete one",
        ]
    if is_reviewer:
        lines.append("You are a reviewer: you can approve, edit and reject cards.")
    if is_admin:
        lines.append("You are an admin.")
    return "\n".join(lines)


def kb_search_text(lookup: Lookup) -> str:
    """``/support kb search``: whether anything is relevant, and the best passages."""
    verdict = (
        "relevant passages found: I would draft from these (the model still judges whether"
        " they answer, and my checks verify its facts)"
        if lookup.fits
        else "nothing relevant: I would escalate"
    )
    lines = [
        f"*Knowledge base* for “{truncate_escaped(lookup.query, 200)}”: {verdict}"
        f" (confidence {lookup.confidence:.2f}, threshold {lookup.threshold:.2f})"
    ]
    for hit in lookup.hits:
        snippet = truncate_escaped(" ".join(hit.text.split()), 200)
        note = "" if customer_citable(hit.origin or hit.source) else f" _({UNREVIEWED_NOTE})_"
        lines.append(
            f"• #{hit.article_id} *{escape(hit.title)} › {escape(hit.heading)}*{note}: {snippet}"
        )
    if not lookup.hits:
        lines.append("No article matches at all.")
    return "\n".join(lines)


SHOWN_TO_EVERY_CUSTOMER = (
    ":warning: *Every customer will see this article.* The bot answers anyone's question from"
    " it and names its title under its answers. Leave out names, companies, account, order and"
    " invoice numbers, amounts, card numbers, e-mail addresses, phone numbers and links to a"
    " customer's Slack workspace."
)


def kb_add_modal(
    *,
    title: str = "",
    body: str = "",
    callback_id: str = ids.VIEW_KB_ADD,
    private_metadata: str = "",
    note: str = "",
) -> dict[str, Any]:
    """The article form: empty for ``/support kb add``, pre-filled for "Save as article" (with
    ``note`` saying how the pre-filled text was generalised). Both say who will read it."""

    def field(block_id: str, label: str, element: dict[str, Any], optional: bool) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": _plain(label, 2000),
            "element": element,
        }

    title_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_KB_TITLE,
        "max_length": 150,
    }
    if title.strip():
        title_input["initial_value"] = title.strip()[:150]
    body_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_KB_BODY,
        "multiline": True,
        "max_length": PLAIN_INPUT_MAX,
    }
    if body.strip():
        body_input["initial_value"] = body.strip()[:PLAIN_INPUT_MAX]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(
            "Add an article" if callback_id == ids.VIEW_KB_ADD else "Save as article", 24
        ),
        "submit": _plain("Add" if callback_id == ids.VIEW_KB_ADD else "Save", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            _context_block(SHOWN_TO_EVERY_CUSTOMER),
            *([_context_block(note)] if note else []),
            field(ids.BLOCK_KB_TITLE, "Title", title_input, False),
            field(
                ids.BLOCK_KB_BODY,
                "Text (Markdown headings split it into sections)",
                body_input,
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
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def article_preparing_modal(*, private_metadata: str) -> dict[str, Any]:
    """What "Save as article" shows while the model writes the general version: the form
    replaces it (``views.update``) within seconds."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_SAVE_ARTICLE,
        "private_metadata": private_metadata,
        "title": _plain("Save as article", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            _section(
                ":hourglass_flowing_sand: Writing a general version of this reply, without this"
                " customer's names, numbers and links… The form appears here in a few seconds."
            ),
            _context_block(SHOWN_TO_EVERY_CUSTOMER),
        ],
    }


def article_unavailable_view(text: str) -> dict[str, Any]:
    """Replaces a "Save as article" form that can no longer be filled (the card changed)."""
    return {
        "type": "modal",
        "title": _plain("Save as article", 24),
        "close": _plain("Close", 24),
        "blocks": [_section(escape(text))],
    }


def redraft_modal(*, escalation_id: int, draft: str, left: int) -> dict[str, Any]:
    """Reject with feedback: what is wrong with the draft; the bot writes a new one."""
    return {
        "type": "modal",
        "callback_id": ids.VIEW_REDRAFT,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": _plain("Redraft", 24),
        "submit": _plain("Redraft", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            _context_block("*Current draft:* " + truncate(draft, 2800)),
            {
                "type": "input",
                "block_id": ids.BLOCK_FEEDBACK,
                "label": _plain("What should the bot change?", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_FEEDBACK,
                    "multiline": True,
                    "max_length": 2000,
                    "placeholder": _plain(
                        "e.g. Mention that exports are limited to 10,000 rows", 150
                    ),
                },
            },
            _context_block(f"The new draft replaces this one on the card. Redrafts left: {left}."),
        ],
    }


ANSWER_MODE_REVIEW = "review"
ANSWER_MODE_SEND = "send"


def answer_question_modal(
    *, escalation_id: int, question: str, customer_question: str
) -> dict[str, Any]:
    """Ask the developer: the bot's one open question, answered by a teammate."""

    def option(value: str, text: str) -> Block:
        return {"text": _plain(text, 75), "value": value}

    review = option(ANSWER_MODE_REVIEW, "Compose a reply for my approval")
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ANSWER_QUESTION,
        "private_metadata": json.dumps({"escalation_id": escalation_id}),
        "title": _plain("Answer the bot", 24),
        "submit": _plain("Compose reply", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            _context_block("*Customer:* " + truncate_escaped(customer_question, 1500)),
            _section("*The bot asks:* " + truncate_escaped(question, 1500)),
            {
                "type": "input",
                "block_id": ids.BLOCK_ANSWER,
                "label": _plain("Your answer (the bot writes the reply from it)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_ANSWER,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
            {
                "type": "input",
                "block_id": ids.BLOCK_ANSWER_MODE,
                "label": _plain("Then", 2000),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.ACTION_ANSWER_MODE,
                    "initial_option": review,
                    "options": [review, option(ANSWER_MODE_SEND, "Compose and send at once")],
                },
            },
        ],
    }


def _context_block(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(truncate(text, 2000))]}


def still_on_it_message(text: str) -> OutgoingMessage:
    return OutgoingMessage(text=text)


def reminder_message(
    *, mentions: list[str], age: str, ticket_id: int, groups: list[str] | None = None
) -> OutgoingMessage:
    """A nudge in a card's thread: the owner, or the reviewers and reviewer groups."""
    who = " ".join(
        [*(f"<@{u}>" for u in mentions[:20]), *(f"<!subteam^{g}>" for g in groups or [])]
    )
    lead = f"{who} " if who else ""
    return OutgoingMessage(
        text=f"{lead}⏰ Ticket #{ticket_id} has waited {age} for a decision on this card."
    )


def resolved_note(*, by_bot: bool) -> OutgoingMessage:
    if by_bot:
        return OutgoingMessage(
            text="I've marked this conversation resolved since it has been quiet for a while."
            " Reply here any time if you still need help, and it will reopen."
        )
    return OutgoingMessage(
        text="The team marked this conversation resolved. Reply here if you need anything else."
    )


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


# -- App Home ------------------------------------------------------------------------------

HOME_PAGE_SIZE = 15  # escalations per page: 4 blocks each keeps a page far under 100 blocks


@dataclass(frozen=True)
class HomeContent:
    user_id: str
    is_reviewer: bool
    is_admin: bool
    waiting: list[DeskItem] = field(default_factory=list)
    waiting_total: int = 0
    page: int = 0
    mine: list[OwnedTicket] = field(default_factory=list)
    today: dict[str, int] = field(default_factory=dict)
    config_lines: list[str] = field(default_factory=list)
    now: float = 0.0
    week_line: str = ""
    # escalation id -> what of its ticket was not delivered, and why ("The holding reply: ...")
    not_delivered: dict[int, list[str]] = field(default_factory=dict)


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h {minutes % 60}m" if hours < 24 else f"{hours // 24}d {hours % 24}h"


def home_view(home: HomeContent) -> dict[str, Any]:
    """The App Home tab: what waits for the team (with the card's buttons), what is yours,
    today's numbers, and for admins the configuration. Paged, within Slack's 100 blocks."""
    blocks: list[Block] = [{"type": "header", "text": _plain("Support desk", 150)}]
    if not home.is_reviewer:
        blocks.append(
            _section(
                "I answer customer questions in the support channels and pass the rest to the"
                " support team. Only support reviewers see the review queue here."
            )
        )
        if home.is_admin and home.config_lines:
            blocks.append(_section("*Configuration*\n" + "\n".join(home.config_lines)))
        return {"type": "home", "blocks": blocks}
    today = home.today
    blocks.append(
        _context(
            f"*Today:* {today.get('received', 0)} questions · {today.get('decided:answer', 0)}"
            f" answered by the bot · {today.get('escalated', 0)} escalated ·"
            f" {today.get('approved', 0) + today.get('edited', 0)} replies approved ·"
            f" {today.get('resolved', 0) + today.get('auto_closed', 0)} resolved"
        )
    )
    if home.week_line:
        blocks.append(_context(home.week_line))
    if home.mine:
        blocks.append(_section(f"*Your tickets ({len(home.mine)})*"))
        lines = [
            f"• #{t.ticket_id} {truncate_escaped(' '.join(t.question.split()), 80)}"
            f" — {_STATE_WORDS.get(t.state, t.state)}"
            for t in home.mine[:10]
        ]
        blocks.append(_section("\n".join(lines)))
    blocks.append({"type": "divider"})
    first = home.page * HOME_PAGE_SIZE
    blocks.append(
        _section(
            f"*Waiting for review ({home.waiting_total})*"
            + (" — oldest first" if home.waiting_total else ": nothing, well done!")
        )
    )
    for item in home.waiting:
        owner = f"<@{item.owner_user_id}>" if item.owner_user_id else "unclaimed"
        blocks.append(
            _section(
                f"*#{item.ticket_id}* from <@{item.customer_user_id}>:"
                f" {truncate_escaped(' '.join(item.question.split()), 300)}"
            )
        )
        line = f"Waiting {_age(home.now - item.created_at)} · Owner: {owner}"
        failed = home.not_delivered.get(item.escalation_id)
        if failed:
            # In the row's context line: no extra block, so a page stays within 100 blocks.
            what = truncate_escaped("; ".join(failed), 600)
            line += f"\n⚠️ reply not delivered: {what} (“Try again” is on the card)"
        blocks.append(_context(line))
        value = str(item.escalation_id)
        if item.work:
            blocks.append(_context("⏳ The bot is writing a new draft…"))
            continue

        # Slack wants action ids unique within a view: each row's carry its escalation id.
        row_button = partial(_home_button, item.escalation_id)
        buttons: list[Block] = []
        if item.has_draft:
            buttons.append(row_button(ids.ACTION_APPROVE, "Approve and send", "primary"))
        buttons.append(
            row_button(ids.ACTION_EDIT, "Edit and send" if item.has_draft else "Write a reply")
        )
        buttons.append(row_button(ids.ACTION_REJECT, "Reject", "danger"))
        if item.owner_user_id is None:
            buttons.append(row_button(ids.ACTION_CLAIM, "I'll take it"))
        if item.missing_information:
            buttons.append(row_button(ids.ACTION_ANSWER_QUESTION, "Answer the bot"))
        blocks.append({"type": "actions", "block_id": f"home_{value}", "elements": buttons})
    pages: list[Block] = []
    # Distinct action ids: Slack rejects a view where two elements share one.
    if home.page > 0:
        newer = ids.home_action(ids.ACTION_HOME_PAGE, home.page - 1)
        pages.append(_button(newer, "‹ Newer", str(home.page - 1)))
    if first + len(home.waiting) < home.waiting_total:
        older = ids.home_action(ids.ACTION_HOME_PAGE, home.page + 1)
        pages.append(_button(older, "Older ›", str(home.page + 1)))
    if pages:
        last = (home.waiting_total - 1) // HOME_PAGE_SIZE + 1
        blocks.append(_context(f"Page {home.page + 1} of {last}"))
        blocks.append({"type": "actions", "block_id": "home_pages", "elements": pages})
    if home.is_admin and home.config_lines:
        blocks.append({"type": "divider"})
        blocks.append(_section("*Configuration*\n" + "\n".join(home.config_lines)))
    return {"type": "home", "blocks": blocks[:MODAL_BLOCKS_MAX]}


def _home_button(escalation_id: int, action_id: str, label: str, style: str | None = None) -> Block:
    return _button(ids.home_action(action_id, escalation_id), label, str(escalation_id), style)


_STATE_WORDS = {
    "received": "the bot is on it",
    "classified": "the bot is on it",
    "retrieved": "the bot is on it",
    "drafted": "the bot is on it",
    "answered": "waiting on the customer",
    "replied": "waiting on the customer",
    "awaiting_review": "waiting on the team",
    "human": "with you in the thread",
    "rejected": "left to a person",
}


# -- /support config ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigForm:
    """What the settings form shows: the configuration in force."""

    auto_channels: list[str]
    review_channels: list[str]
    escalation_channel: str | None
    reviewers: list[str]
    reviewer_groups: list[str]
    admins: list[str]
    threshold: float
    review_reminder: str
    review_timeout: str
    hours: str
    paused: bool
    auto_categories: list[str]  # the default for every channel without its own choice
    channel_categories: dict[str, list[str]]  # channels with their own choice


# Channels with their own categories named on the form at most; the rest are counted.
FORM_OVERRIDES_SHOWN = 20


def config_modal(form: ConfigForm, *, version: int = 0) -> dict[str, Any]:
    """``/support config``: the same settings as the commands, as Slack inputs. ``version`` is
    the settings version the form shows; saving refuses if the settings changed since."""

    def field(
        block_id: str, label: str, element: dict[str, Any], *, optional: bool, hint: str = ""
    ) -> Block:
        block: Block = {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": _plain(label, 2000),
            "element": {"action_id": ids.cfg_action(block_id), **element},
        }
        if hint:
            block["hint"] = _plain(hint, 2000)
        return block

    def channels(initial: list[str]) -> dict[str, Any]:
        element: dict[str, Any] = {
            "type": "multi_conversations_select",
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }
        if initial:
            element["initial_conversations"] = initial[:100]
        return element

    def users(initial: list[str]) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "multi_users_select"}
        if initial:
            element["initial_users"] = initial[:100]
        return element

    def text(initial: str, placeholder: str) -> dict[str, Any]:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "placeholder": _plain(placeholder, 150),
        }
        if initial:
            element["initial_value"] = initial
        return element

    escalation: dict[str, Any] = {
        "type": "conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if form.escalation_channel:
        escalation["initial_conversation"] = form.escalation_channel
    paused_option = {
        "text": _plain("Paused: watch and log, answer and escalate nothing", 75),
        "value": "paused",
    }
    paused: dict[str, Any] = {"type": "checkboxes", "options": [paused_option]}
    if form.paused:
        paused["initial_options"] = [paused_option]

    def category_option(name: str) -> dict[str, Any]:
        option: dict[str, Any] = {"text": _plain(CATEGORY_LABELS[name], 75), "value": name}
        if name == "unknown":
            option["description"] = _plain("Risky: the bot could not tell what it is about", 75)
        return option

    categories: dict[str, Any] = {
        "type": "multi_static_select",
        "options": [category_option(c) for c in CATEGORIES],
    }
    if form.auto_categories:
        categories["initial_options"] = [
            category_option(c) for c in CATEGORIES if c in form.auto_categories
        ]
    own = sorted(form.channel_categories.items())
    overrides = (
        "Channels with their own choice (change with `/support auto #channel …`): "
        + "; ".join(f"<#{ch}>: {category_list(names)}" for ch, names in own[:FORM_OVERRIDES_SHOWN])
        + (
            f"; and {len(own) - FORM_OVERRIDES_SHOWN} more"
            if len(own) > FORM_OVERRIDES_SHOWN
            else ""
        )
        if own
        else "Every channel follows this. A channel can have its own choice:"
        " `/support auto #channel faq billing`."
    )
    groups = (
        "Reviewer user groups (change with `/support reviewers add @group`): "
        + ", ".join(f"<!subteam^{g}>" for g in form.reviewer_groups)
        if form.reviewer_groups
        else "Reviewers may also be a Slack user group: `/support reviewers add @group`."
    )
    return {
        "type": "modal",
        "callback_id": ids.VIEW_CONFIG,
        "private_metadata": json.dumps({"version": version}),
        "title": _plain("Support bot settings", 24),
        "submit": _plain("Save", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            field(
                ids.BLOCK_CFG_AUTO,
                "Channels the bot answers in by itself",
                channels(form.auto_channels),
                optional=True,
                hint="Confident, grounded answers go out at once; the rest go to review.",
            ),
            field(
                ids.BLOCK_CFG_REVIEW,
                "Channels where every draft waits for approval",
                channels(form.review_channels),
                optional=True,
            ),
            field(
                ids.BLOCK_CFG_ESCALATION,
                "Review cards go to",
                escalation,
                optional=False,
                hint="Not a customer channel: cards show drafts and internal notes.",
            ),
            field(
                ids.BLOCK_CFG_REVIEWERS,
                "Reviewers (empty: review channel members)",
                users(form.reviewers),
                optional=True,
            ),
            _context_block(groups),
            field(
                ids.BLOCK_CFG_ADMINS,
                "Admins",
                users(form.admins),
                optional=True,
                hint="Workspace admins and owners are always admins too.",
            ),
            field(
                ids.BLOCK_CFG_THRESHOLD,
                "Auto-answer threshold (0.0 to 1.0)",
                {
                    "type": "number_input",
                    "is_decimal_allowed": True,
                    "min_value": "0",
                    "max_value": "1",
                    "initial_value": f"{form.threshold:g}",
                },
                optional=False,
            ),
            field(
                ids.BLOCK_CFG_CATEGORIES,
                "Answered automatically",
                categories,
                optional=True,
                hint="In auto channels, questions of these categories are answered at once when"
                " the answer is grounded; the rest wait for review. Empty: none.",
            ),
            _context_block(overrides),
            field(
                ids.BLOCK_CFG_REMINDER,
                "First reminder on a waiting card after",
                text(form.review_reminder, "30m"),
                optional=False,
                hint="Like 45m, 2h or 1d; each next reminder waits twice as long.",
            ),
            field(
                ids.BLOCK_CFG_TIMEOUT,
                "Tell the customer the team is still on it after",
                text(form.review_timeout, "24h"),
                optional=False,
            ),
            field(
                ids.BLOCK_CFG_HOURS,
                "Support hours (empty: always)",
                text(form.hours, "Mon-Fri 09:00-17:00 Europe/Berlin"),
                optional=True,
                hint="Outside them the holding reply says when the team is back, and reminders"
                " wait.",
            ),
            field(ids.BLOCK_CFG_PAUSED, "Pause", paused, optional=True),
        ],
    }


def trace_modal(*, ticket_id: int, lines: list[str]) -> dict[str, Any]:
    """A ticket's trail in a modal: each step on a line, within Slack's limits."""
    blocks: list[Block] = [_context_block(lines[0])] if lines else []
    chunk: list[str] = []
    size = 0
    for line in lines[1:]:
        line = truncate(line, 600)
        if chunk and size + len(line) + 1 > SECTION_TEXT_MAX - 50:
            blocks.append(_section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    if len(blocks) > MODAL_BLOCKS_MAX:
        blocks = [
            *blocks[: MODAL_BLOCKS_MAX - 1],
            _context_block("The trail is longer: `support-bot trace` prints all of it."),
        ]
    return {
        "type": "modal",
        "title": _plain(f"Ticket #{ticket_id}", 24),
        "close": _plain("Close", 24),
        "blocks": blocks or [_section("No steps recorded yet.")],
    }


def digest_message(
    *, day: str, lines: list[str], gaps: list[tuple[str, int, str]]
) -> OutgoingMessage:
    """The daily digest: yesterday's numbers, then the topics no article answered."""
    blocks: list[Block] = [
        {"type": "header", "text": _plain(f"Support digest for {day}", 150)},
        _section("\n".join(f"• {line}" for line in lines)),
    ]
    if gaps:
        gap_lines = []
        for topic, n, question in gaps:
            example = truncate_escaped(" ".join(question.split()), 200)
            gap_lines.append(f"• *{truncate_escaped(topic, 80)}* ({n}): “{example}”")
        blocks.append(
            _section("*Knowledge gaps* (asked, but no article fitted)\n" + "\n".join(gap_lines))
        )
    else:
        blocks.append(_context("No knowledge gaps: every question found an article that fits."))
    return OutgoingMessage(text=f"Support digest for {day}", blocks=blocks)
