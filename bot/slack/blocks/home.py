"""The App Home tab: what waits for review (with the card's buttons), the viewer's own
tickets, today's numbers and, for admins, the configuration.

A page holds ``HOME_PAGE_SIZE`` escalations and stays within Slack's blocks per view; each
row's buttons carry its escalation id, so no two elements of the view share an action id.
Admins also see the verified answers waiting for them (at most ``VERIFIED_HOME_MAX``, then "and
N more"), each with Approve and Discard carrying its proposal id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.slack import ids
from bot.slack.blocks.common import Block, button, context, plain, section
from bot.slack.limits import HEADER_TEXT_MAX, HOME_BLOCKS_MAX
from bot.slack.text import truncate_escaped
from persistence.records import DeskItem, OwnedTicket
from persistence.verified import VerifiedAnswer

HOME_PAGE_SIZE = 15  # escalations per page: 4 blocks each keeps a page far under 100 blocks
VERIFIED_HOME_MAX = 5  # proposed verified answers shown: 2 blocks each, with the page's 60
VERIFIED_EXCERPT = 280


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
    # Today's satisfaction ratings, e.g. "4.5/5 from 2 (100% satisfied)"; "" when none.
    today_csat: str = ""
    config_lines: list[str] = field(default_factory=list)
    # For admins: each knowledge source and how fresh it is (``command_replies.source_line``).
    source_lines: list[str] = field(default_factory=list)
    now: float = 0.0
    week_line: str = ""
    # escalation id -> what of its ticket was not delivered, and why ("The holding reply: ...")
    not_delivered: dict[int, list[str]] = field(default_factory=dict)
    # For admins: the oldest proposed verified answers, and how many wait in all.
    verified: list[VerifiedAnswer] = field(default_factory=list)
    verified_total: int = 0


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h {minutes % 60}m" if hours < 24 else f"{hours // 24}d {hours % 24}h"


def home_view(home: HomeContent) -> dict[str, Any]:
    """The App Home tab: what waits for the team (with the card's buttons), what is yours,
    today's numbers, and for admins the configuration. Paged, within Slack's 100 blocks."""
    blocks: list[Block] = [{"type": "header", "text": plain("Support desk", HEADER_TEXT_MAX)}]
    if not home.is_reviewer:
        blocks.append(
            section(
                "I answer customer questions in the support channels and pass the rest to the"
                " support team. Only support reviewers see the review queue here."
            )
        )
        if home.is_admin and home.config_lines:
            blocks.append(section("*Configuration*\n" + "\n".join(home.config_lines)))
        blocks += _verified(home)
        blocks += _sources(home)
        return {"type": "home", "blocks": blocks[:HOME_BLOCKS_MAX]}
    today = home.today
    blocks.append(
        context(
            f"*Today:* {today.get('received', 0)} questions · {today.get('decided:answer', 0)}"
            f" answered by the bot · {today.get('escalated', 0)} escalated ·"
            f" {today.get('approved', 0) + today.get('edited', 0)} replies approved ·"
            f" {today.get('resolved', 0) + today.get('auto_closed', 0)} resolved"
            + (f" · satisfaction {home.today_csat}" if home.today_csat else "")
        )
    )
    if home.week_line:
        blocks.append(context(home.week_line))
    if home.mine:
        blocks.append(section(f"*Your tickets ({len(home.mine)})*"))
        lines = [
            f"• #{t.ticket_id} {truncate_escaped(_asked(t.question), 80)}"
            f" — {_STATE_WORDS.get(t.state, t.state)}"
            for t in home.mine[:10]
        ]
        blocks.append(section("\n".join(lines)))
    blocks.append({"type": "divider"})
    first = home.page * HOME_PAGE_SIZE
    blocks.append(
        section(
            f"*Waiting for review ({home.waiting_total})*"
            + (" — oldest first" if home.waiting_total else ": nothing, well done!")
        )
    )
    for item in home.waiting:
        owner = f"<@{item.owner_user_id}>" if item.owner_user_id else "unclaimed"
        blocks.append(
            section(
                f"*#{item.ticket_id}* from <@{item.customer_user_id}>:"
                f" {truncate_escaped(_asked(item.question), 300)}"
            )
        )
        line = f"Waiting {_age(home.now - item.created_at)} · Owner: {owner}"
        failed = home.not_delivered.get(item.escalation_id)
        if failed:
            # In the row's context line: no extra block, so a page stays within 100 blocks.
            what = truncate_escaped("; ".join(failed), 600)
            line += f"\n⚠️ reply not delivered: {what} (“Try again” is on the card)"
        blocks.append(context(line))
        value = str(item.escalation_id)
        if item.work:
            blocks.append(context("⏳ The bot is writing a new draft…"))
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
        pages.append(button(newer, "‹ Newer", str(home.page - 1)))
    if first + len(home.waiting) < home.waiting_total:
        older = ids.home_action(ids.ACTION_HOME_PAGE, home.page + 1)
        pages.append(button(older, "Older ›", str(home.page + 1)))
    if pages:
        last = (home.waiting_total - 1) // HOME_PAGE_SIZE + 1
        blocks.append(context(f"Page {home.page + 1} of {last}"))
        blocks.append({"type": "actions", "block_id": "home_pages", "elements": pages})
    blocks += _verified(home)
    if home.is_admin and home.config_lines:
        blocks.append({"type": "divider"})
        blocks.append(section("*Configuration*\n" + "\n".join(home.config_lines)))
    blocks += _sources(home)
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS_MAX]}


def _sources(home: HomeContent) -> list[Block]:
    """For admins: the knowledge sources and their freshness, in one section."""
    if not (home.is_admin and home.source_lines):
        return []
    lines = "\n".join(f"• {line}" for line in home.source_lines)
    return [section("*Knowledge sources*\n" + lines)]


def _verified(home: HomeContent) -> list[Block]:
    """For admins: the proposed verified answers, each with Approve and Discard."""
    if not home.is_admin or not home.verified_total:
        return []
    blocks: list[Block] = [
        {"type": "divider"},
        section(
            f"*Verified answers to check ({home.verified_total})*\nReplies the team sent,"
            " without the customer's particulars. Approved ones answer every customer."
        ),
    ]
    for proposal in home.verified[:VERIFIED_HOME_MAX]:
        title = truncate_escaped(" ".join(proposal.title.split()), 200)
        excerpt = truncate_escaped(" ".join(proposal.body.split()), VERIFIED_EXCERPT)
        blocks.append(section(f"*{title}*\n{excerpt}"))
        value = str(proposal.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"verified_{value}",
                "elements": [
                    button(
                        ids.home_action(ids.ACTION_VERIFIED_APPROVE, proposal.id),
                        "Approve",
                        value,
                        "primary",
                    ),
                    button(
                        ids.home_action(ids.ACTION_VERIFIED_DISCARD, proposal.id), "Discard", value
                    ),
                ],
            }
        )
    more = home.verified_total - min(len(home.verified), VERIFIED_HOME_MAX)
    if more > 0:
        blocks.append(context(f"and {more} more"))
    return blocks


def _home_button(escalation_id: int, action_id: str, label: str, style: str | None = None) -> Block:
    return button(ids.home_action(action_id, escalation_id), label, str(escalation_id), style)


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


def _asked(question: str) -> str:
    """A question on one line; a message of files only has no text to show."""
    return " ".join(question.split()) or "(only files)"
