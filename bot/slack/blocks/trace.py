"""``/support trace`` in a modal: a ticket's trail, a step a line, packed into sections
within Slack's limits (a longer trail ends with a pointer to the CLI).
"""

from __future__ import annotations

from typing import Any

from bot.slack.blocks.common import Block, context, plain, section
from bot.slack.limits import MODAL_BLOCKS_MAX, MODAL_BUTTON_MAX, MODAL_TITLE_MAX, SECTION_TEXT_MAX
from bot.slack.text import truncate


def trace_modal(*, ticket_id: int, lines: list[str]) -> dict[str, Any]:
    """A ticket's trail in a modal: each step on a line, within Slack's limits."""
    blocks: list[Block] = [context(lines[0])] if lines else []
    chunk: list[str] = []
    size = 0
    for line in lines[1:]:
        line = truncate(line, 600)
        if chunk and size + len(line) + 1 > SECTION_TEXT_MAX - 50:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if len(blocks) > MODAL_BLOCKS_MAX:
        blocks = [
            *blocks[: MODAL_BLOCKS_MAX - 1],
            context("The trail is longer: `support-bot trace` prints all of it."),
        ]
    return {
        "type": "modal",
        "title": plain(f"Ticket #{ticket_id}", MODAL_TITLE_MAX),
        "close": plain("Close", MODAL_BUTTON_MAX),
        "blocks": blocks or [section("No steps recorded yet.")],
    }
