"""What the bot posts in the customer's thread: the AI answer with its sources and buttons,
a teammate's reply, the greeting, holding and still-on-it replies, and the resolved note.
"""

from __future__ import annotations

from bot.kb.provenance import Source, customer_citable
from bot.slack import ids
from bot.slack.blocks.common import Block, OutgoingMessage, button, context, section, sources_line
from bot.slack.limits import MESSAGE_BLOCKS_MAX
from bot.slack.text import slack_date, split_for_sections

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
# An answer's sections at most: room is left under Slack's 50 blocks for the footer and buttons.
ANSWER_SECTIONS_MAX = MESSAGE_BLOCKS_MAX - 6


def answer_message(
    answer: str, sources: list[Source], *, ticket_id: int | None = None, round: int = 0
) -> OutgoingMessage:
    """An AI answer in the customer's thread: the answer, its sources, the way to a person, and
    (with ``ticket_id``) the Helpful and Talk to a person buttons."""
    # Only articles customers may be answered from are named to them (bot/kb/provenance.py).
    sources = [s for s in sources if customer_citable(s.origin or s.source)]
    blocks: list[Block] = [section(piece) for piece in split_for_sections(answer)][
        :ANSWER_SECTIONS_MAX
    ]
    footer = [t for t in (sources_line(sources), REACH_A_PERSON) if t]
    blocks.append(context(*footer))
    if ticket_id is not None:
        value = f"{ticket_id}:{round}"
        blocks.append(
            {
                "type": "actions",
                "block_id": "answer_feedback",
                "elements": [
                    button(ids.ACTION_HELPFUL, "👍 Helpful", value),
                    button(ids.ACTION_TALK_TO_PERSON, "Talk to a person", value),
                ],
            }
        )
    text = answer + ("\n\n" + sources_line(sources) if sources else "")
    return OutgoingMessage(text=text, blocks=blocks)


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


def still_on_it_message(text: str) -> OutgoingMessage:
    return OutgoingMessage(text=text)


def resolved_note(*, by_bot: bool, by_customer: bool = False) -> OutgoingMessage:
    if by_bot:
        return OutgoingMessage(
            text="I've marked this conversation resolved since it has been quiet for a while."
            " Reply here any time if you still need help, and it will reopen."
        )
    if by_customer:
        return OutgoingMessage(
            text="Glad that helped! :tada: I've marked this conversation resolved. Reply here"
            " any time if you need anything else, and it will reopen."
        )
    return OutgoingMessage(
        text="The team marked this conversation resolved. Reply here if you need anything else."
    )
