"""The daily digest message: yesterday's numbers, then the topics no article answered, each
with its tickets and, where a person's reply was sent, "Write an article" from it (customer
questions quoted escaped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.slack import ids
from bot.slack.blocks.common import Block, OutgoingMessage, button, context, plain, section
from bot.slack.limits import HEADER_TEXT_MAX, MESSAGE_BLOCKS_MAX
from bot.slack.text import truncate_escaped

TICKETS_SHOWN = 5  # links to a topic's tickets, newest first


@dataclass(frozen=True)
class Gap:
    """A topic customers asked about that no article fitted."""

    topic: str
    count: int
    example: str  # one customer's question, as they wrote it
    tickets: list[tuple[int, str]] = field(default_factory=list)  # (ticket id, message link)
    # An escalation whose reply a person sent: "Write an article" opens the article form
    # pre-filled from it (the card's "Save as article").
    write_from: int | None = None


def digest_message(*, day: str, lines: list[str], gaps: list[Gap]) -> OutgoingMessage:
    """The daily digest: yesterday's numbers, then the topics no article answered."""
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Support digest for {day}", HEADER_TEXT_MAX)},
        section("\n".join(f"• {line}" for line in lines)),
    ]
    if not gaps:
        blocks.append(context("No knowledge gaps: every question found an article that fits."))
        return OutgoingMessage(text=f"Support digest for {day}", blocks=blocks)
    blocks.append(section("*Knowledge gaps* (asked, but no article fitted)"))
    for n, gap in enumerate(gaps[: MESSAGE_BLOCKS_MAX - len(blocks)]):
        example = truncate_escaped(" ".join(gap.example.split()), 200)
        line = f"• *{truncate_escaped(gap.topic, 80)}* ({gap.count}): “{example}”"
        links = ", ".join(f"<{link}|#{ticket}>" for ticket, link in gap.tickets[:TICKETS_SHOWN])
        if links:
            line += f"\nTickets: {links}"
        if gap.write_from is None:
            blocks.append(section(line + "\n_No reply sent yet to write an article from._"))
            continue
        block = section(line)
        # Action ids are unique within a message; the handler matches the suffixed form.
        action_id = ids.home_action(ids.ACTION_SAVE_ARTICLE, n)
        block["accessory"] = button(action_id, "Write an article", str(gap.write_from))
        blocks.append(block)
    return OutgoingMessage(text=f"Support digest for {day}", blocks=blocks)
