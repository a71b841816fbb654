"""The daily digest message: yesterday's numbers, then the topics no article answered
(customer questions quoted escaped).
"""

from __future__ import annotations

from bot.slack.blocks.common import Block, OutgoingMessage, context, plain, section
from bot.slack.limits import HEADER_TEXT_MAX
from bot.slack.text import truncate_escaped


def digest_message(
    *, day: str, lines: list[str], gaps: list[tuple[str, int, str]]
) -> OutgoingMessage:
    """The daily digest: yesterday's numbers, then the topics no article answered."""
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Support digest for {day}", HEADER_TEXT_MAX)},
        section("\n".join(f"• {line}" for line in lines)),
    ]
    if gaps:
        gap_lines = []
        for topic, n, question in gaps:
            example = truncate_escaped(" ".join(question.split()), 200)
            gap_lines.append(f"• *{truncate_escaped(topic, 80)}* ({n}): “{example}”")
        blocks.append(
            section("*Knowledge gaps* (asked, but no article fitted)\n" + "\n".join(gap_lines))
        )
    else:
        blocks.append(context("No knowledge gaps: every question found an article that fits."))
    return OutgoingMessage(text=f"Support digest for {day}", blocks=blocks)
