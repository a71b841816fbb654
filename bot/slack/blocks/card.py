"""The review card in the escalation channel, and the notices posted about it.

``escalation_card`` renders a ``CardContent`` (the question, the draft and its checks, who
owns it, what happened) with the buttons that fit its state: decision buttons only while it
awaits a decision. ``delivery_failed_notice`` and ``reminder_message`` are the plain messages
posted beside cards. Everything customer-written is escaped before it is shown, so a question
containing ``<!channel>`` or ``<@U123>`` cannot ping anyone from a card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.kb.provenance import Source
from bot.settings.categories import CATEGORY_LABELS
from bot.slack import ids
from bot.slack.blocks.common import (
    Block,
    OutgoingMessage,
    button,
    context,
    plain,
    section,
    sources_line,
)
from bot.slack.blocks.issues import issue_link
from bot.slack.limits import HEADER_TEXT_MAX, MESSAGE_BLOCKS_MAX, SECTION_TEXT_MAX
from bot.slack.text import escape, slack_date, split_for_sections, truncate, truncate_escaped


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
class IssueLine:
    """The ticket's issue in the tracker: filed (``key``/``url``), being filed, or failed."""

    tracker: str  # "Linear", "Jira", "GitHub"
    key: str | None = None
    url: str | None = None
    closed: bool = False
    resolution: str | None = None
    creating: bool = False
    failed: str | None = None  # why the last attempt failed


@dataclass(frozen=True)
class AttachmentLine:
    """A file the customer attached, as the card lists it."""

    name: str  # as the customer named it (escaped when shown)
    link: str | None  # its Slack permalink, when it is a plain https link
    size: str | None  # "12 MB"
    outcome: str  # "read", "not read: zip files are not read"


@dataclass(frozen=True)
class Translated:
    """A text of the card in English, or why it is not (yet) there."""

    english: str | None
    note: str = ""  # "on its way", or why it is unavailable


@dataclass(frozen=True)
class HeldEdit:
    """A reviewer's edit waiting to be sent, translated into the customer's language or as
    written (``translation`` None: ``problem`` says why there is none)."""

    text: str
    by: str | None
    translation: str | None
    problem: str | None


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
    tracker: str | None = None  # the issue tracker's name when one is configured
    issue: IssueLine | None = None
    # Files the customer attached to the question and follow-ups on the card, what the model
    # made of them, and how many nobody has read ("1 screenshot not read").
    attachments: list[AttachmentLine] = field(default_factory=list)
    attachment_notes: str = ""
    unread_files: str = ""
    # The customer's language when it is not English (its name), with the question and the
    # draft in English below the originals, and an edit waiting to be sent translated.
    language: str | None = None
    question_english: Translated | None = None
    draft_english: Translated | None = None
    # The English of follow_ups[-5:], one each (None: nothing to translate).
    follow_ups_english: list[Translated | None] = field(default_factory=list)
    held_edit: HeldEdit | None = None


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
    "translate": "⏳ Translating <@{by}>'s edit into the customer's language…",
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
    blocks: list[Block] = [{"type": "header", "text": plain(header, HEADER_TEXT_MAX)}]
    who = f"From <@{card.customer_user_id}> · <{card.message_link}|view message>"
    facts = [who, f"Ticket #{card.ticket_id}"]
    if card.category:
        label = CATEGORY_LABELS.get(card.category, card.category)
        conf = f" ({card.confidence:.2f})" if card.confidence is not None else ""
        facts.append(f"{label}{conf}")
    facts.append(f"Owner: <@{card.owner}>" if card.owner else "Unclaimed")
    if card.status:
        facts.append(f"Status: {card.status}")
    if card.language:
        facts.append(f"Language: {card.language}")
    blocks.append(context(" · ".join(facts)))
    blocks.append(section("*Question*\n" + truncate_escaped(card.question, 2800)))
    if card.question_english is not None:
        blocks.append(_english(card.question_english))
    if card.summary:
        blocks.append(context("Summary: " + truncate_escaped(card.summary, 500)))
    blocks.append(context("Why it needs you: " + truncate_escaped(card.reason, 1500)))
    for i, follow_up in enumerate(card.follow_ups[-5:], start=1):
        blocks.append(section(f"*Follow-up {i}*\n" + truncate_escaped(follow_up, 1500)))
        english = card.follow_ups_english[i - 1 : i]
        if english and english[0] is not None:
            blocks.append(_english(english[0]))
    blocks.extend(_attachment_blocks(card))
    blocks.append({"type": "divider"})
    for earlier in card.earlier_drafts[-3:]:
        line = f"Draft {earlier.n}: " + truncate_escaped(
            " ".join((earlier.text or "").split()), 300
        )
        if earlier.feedback:
            by = f"<@{earlier.requested_by}>" if earlier.requested_by else "a reviewer"
            line += f"\n↳ {by}: “{truncate_escaped(earlier.feedback, 500)}”"
        blocks.append(context(line))
    if card.draft:
        number = f" (draft {card.draft_number})" if card.draft_number > 1 else ""
        label = f"*Suggested reply{number}*" if pending else "*Reply*"
        # Escaped as customer text is: a model-written link shows where it really goes.
        blocks.append(section(label + "\n" + truncate_escaped(card.draft, 2900)))
        if card.draft_english is not None:
            blocks.append(_english(card.draft_english))
        if card.sources:
            blocks.append(context(sources_line(card.sources)))
        if card.unsupported_facts and pending:
            named = ", ".join(f"“{f}”" for f in card.unsupported_facts[:10])
            blocks.append(
                context(
                    "⚠️ Not in the cited passages: "
                    + truncate_escaped(named, 1000)
                    + ". Check these before you approve."
                )
            )
    else:
        blocks.append(
            section(
                "_No draft: nothing in the knowledge base fits. Use Edit to write the reply._"
                if pending
                else "_No draft._"
            )
        )
    if card.also_found and pending:
        found = "; ".join(card.also_found[:3])
        blocks.append(context("Also found: " + truncate_escaped(found, 1000)))
    if card.missing_information and pending:
        blocks.append(
            section(
                "*The bot's question for you:* " + truncate_escaped(card.missing_information, 1000)
            )
        )
    if card.held_edit is not None and pending and not card.work:
        blocks.extend(_held_edit_blocks(card, card.held_edit))
    if card.not_delivered:
        blocks.extend(_not_delivered_blocks(card.not_delivered))
    if card.activity:
        blocks.append(context("\n".join(card.activity[-8:])))
    if card.issue is not None:
        blocks.append(context(_issue_line(card.issue)))
    value = str(card.escalation_id)
    create = _create_issue_button(card, value)
    if pending and card.ticket_state != "resolved":
        if card.work:
            blocks.append(
                context(_WORK_LINES.get(card.work, "⏳ Working…").format(by=card.work_by))
            )
        else:
            decide: list[Block] = []
            if card.draft:
                decide.append(button(ids.ACTION_APPROVE, "Approve and send", value, "primary"))
            decide.append(
                button(
                    ids.ACTION_EDIT, "Edit and send" if card.draft else "Edit: write a reply", value
                )
            )
            decide.append(button(ids.ACTION_REJECT, "Reject (answer it yourself)", value, "danger"))
            blocks.append({"type": "actions", "block_id": "review", "elements": decide})
            more: list[Block] = []
            if card.owner is None:
                more.append(button(ids.ACTION_CLAIM, "I'll take it", value))
            if card.missing_information:
                more.append(button(ids.ACTION_ANSWER_QUESTION, "Answer the bot's question", value))
            if card.can_redraft and card.draft:
                more.append(button(ids.ACTION_REDRAFT, "Redraft with feedback", value))
            more.append(button(ids.ACTION_RESOLVE, "Mark resolved", value))
            if create is not None:
                more.append(create)
            more.append(button(ids.ACTION_WHY, "Why?", value))
            blocks.append({"type": "actions", "block_id": "more", "elements": more})
    else:
        blocks.append(context(_decided_line(card)))
        after: list[Block] = []
        if card.ticket_state in ("human", "rejected"):
            after.append(button(ids.ACTION_HANDBACK, "Hand back to the bot", value))
        if card.ticket_state != "resolved":
            after.append(button(ids.ACTION_RESOLVE, "Mark resolved", value))
        if card.state in ("approved", "edited") and card.saved_article_id is None:
            after.append(button(ids.ACTION_SAVE_ARTICLE, "Save as article", value))
        if create is not None:
            after.append(create)
        after.append(button(ids.ACTION_WHY, "Why?", value))
        if after:
            blocks.append({"type": "actions", "block_id": "after", "elements": after})
    blocks = blocks[:MESSAGE_BLOCKS_MAX]
    text = f"Question needs review (ticket #{card.ticket_id})" if pending else header
    return OutgoingMessage(text=text, blocks=blocks)


def _issue_line(issue: IssueLine) -> str:
    if issue.key is not None and issue.url is not None:
        state = "closed" if issue.closed else "open"
        if issue.closed and issue.resolution:
            state += f" ({truncate_escaped(issue.resolution, 60)})"
        return f"🎫 {escape(issue.tracker)} issue {issue_link(issue.key, issue.url)} · {state}"
    if issue.creating:
        return f"⏳ Creating a {escape(issue.tracker)} issue…"
    reason = truncate_escaped(issue.failed or "unknown error", 400)
    return f"⚠️ The {escape(issue.tracker)} issue was not created: {reason}."


def _create_issue_button(card: CardContent, value: str) -> Block | None:
    """ "Create issue" while a tracker is configured and the ticket has no issue (nor one being
    created); "Try again" after a failed attempt."""
    if card.tracker is None:
        return None
    issue = card.issue
    if issue is not None and (issue.key is not None or issue.creating):
        return None
    label = "Try again: create issue" if issue is not None and issue.failed else "Create issue"
    return button(ids.ACTION_CREATE_ISSUE, label, value)


FILES_SHOWN = 10
FILES_TEXT_MAX = SECTION_TEXT_MAX - 100  # room for the "…and N more" line
_SAFE_LINK = re.compile(r"^https://[^\s<>|]{1,500}$")


def _attachment_blocks(card: CardContent) -> list[Block]:
    """The files as links with what became of each, what the model made of them, and how
    many nobody has read yet."""
    if not card.attachments:
        return []
    lines = ["*Files*"]
    used = len(lines[0])
    for shown_count, item in enumerate(card.attachments):
        name = truncate_escaped(item.name, 120)
        shown = f"<{item.link}|{name}>" if item.link and _SAFE_LINK.match(item.link) else name
        size = f" ({item.size})" if item.size else ""
        line = f"📎 {shown}{size}: {truncate_escaped(item.outcome, 200)}"
        if shown_count == FILES_SHOWN or used + len(line) + 1 > FILES_TEXT_MAX:
            lines.append(f"…and {len(card.attachments) - shown_count} more")
            break
        lines.append(line)
        used += len(line) + 1
    blocks: list[Block] = [section("\n".join(lines))]
    if card.attachment_notes:
        blocks.append(
            context("What the bot made of them: " + truncate_escaped(card.attachment_notes, 1500))
        )
    if card.unread_files:
        many = not card.unread_files.startswith("1 ") or " and " in card.unread_files
        blocks.append(
            context(
                f"⚠️ {escape(card.unread_files)}: open {'them' if many else 'it'} to see what"
                " the customer sent."
            )
        )
    return blocks


def _english(translated: Translated) -> Block:
    """The English translation under a text in the customer's language (or why there is none)."""
    if translated.english is None:
        return context("🇬🇧 _" + escape(translated.note) + "_")
    return context("🇬🇧 *In English:* " + truncate_escaped(translated.english, 1900))


def _held_edit_blocks(card: CardContent, edit: HeldEdit) -> list[Block]:
    """A reviewer's edit before it goes out: its translation for the customer (or why there is
    none), the text as written, and Send in <language> / Send as written / Discard edit. Both
    texts are shown whole (in as many sections as they need): either may be what is sent."""
    who = f"<@{edit.by}>" if edit.by else "A reviewer"
    language = card.language or "the customer's language"
    value = str(card.escalation_id)
    buttons: list[Block] = []
    if edit.translation is not None:
        lead = _whole(
            f"*{who}'s edit in {language}, as the customer will read it:*", edit.translation
        )
        buttons.append(
            button(
                ids.edit_action(ids.ACTION_SEND_TRANSLATION, edit.translation),
                f"Send in {language}",
                value,
                "primary",
            )
        )
    else:
        lead = [
            section(
                f"⚠️ *{who}'s edit could not be translated into {language}:* "
                + truncate_escaped(edit.problem or "no translation", 500)
                + f". Send it as written, or use Edit to write it in {language}."
            )
        ]
    buttons.append(
        button(ids.edit_action(ids.ACTION_SEND_AS_WRITTEN, edit.text), "Send as written", value)
    )
    buttons.append(button(ids.ACTION_DISCARD_EDIT, "Discard edit", value))
    return [
        *lead,
        *_whole("_As written:_", edit.text),
        {"type": "actions", "block_id": "held_edit", "elements": buttons},
    ]


def _whole(label: str, text: str) -> list[Block]:
    """``label`` and the whole of ``text`` (escaped), in sections of at most 2,800 characters
    (a held edit is at most 3,000 characters, its translation 6,000: three sections)."""
    pieces = split_for_sections(escape(text), 2800)[:3] or [""]
    return [section(label + "\n" + pieces[0]), *(section(piece) for piece in pieces[1:])]


def _not_delivered_blocks(items: list[NotDelivered]) -> list[Block]:
    """What the bot gave up delivering, why, and a "Try again" for each (at most five)."""
    lines = [
        f"⚠️ *{escape(item.what)} was not delivered:* {truncate_escaped(item.reason, 400)}."
        for item in items[-5:]
    ]
    retry = [
        button(
            ids.home_action(ids.ACTION_RETRY_DELIVERY, item.job_id),
            "Try again" if len(items) == 1 else f"Try again: {item.what}",
            str(item.job_id),
            "primary",
        )
        for item in items[-5:]
    ]
    return [
        section("\n".join(lines)),
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
            section(truncate(text, SECTION_TEXT_MAX)),
            {
                "type": "actions",
                "block_id": "delivery",
                "elements": [
                    button(
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
