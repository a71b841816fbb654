"""What the bot posts in the customer's thread: the AI answer with its sources and buttons,
a teammate's reply, the greeting, holding and still-on-it replies, and the resolved note.
"""

from __future__ import annotations

from bot.kb.provenance import Source, customer_citable
from bot.slack import ids
from bot.slack.blocks.common import Block, OutgoingMessage, button, context, section, sources_line
from bot.slack.blocks.locales import ENGLISH_LOCALE, STRINGS, Locale
from bot.slack.limits import MESSAGE_BLOCKS_MAX
from bot.slack.text import slack_date, split_for_sections

REACH_A_PERSON = STRINGS["en"]["reach_a_person"]
# A customer who only says hello is asked what they need (the ticket waits for their question).
GREETING_REPLY = STRINGS["en"]["greeting"]
HOLDING_REPLY = STRINGS["en"]["holding"]
# An answer's sections at most: room is left under Slack's 50 blocks for the footer and buttons.
ANSWER_SECTIONS_MAX = MESSAGE_BLOCKS_MAX - 6


def answer_message(
    answer: str,
    sources: list[Source],
    *,
    ticket_id: int | None = None,
    round: int = 0,
    locale: Locale = ENGLISH_LOCALE,
) -> OutgoingMessage:
    """An AI answer in the customer's thread: the answer, its sources, the way to a person, and
    (with ``ticket_id``) the Helpful and Talk to a person buttons, in the customer's language
    (``locale``)."""
    # Only articles customers may be answered from are named to them (bot/kb/provenance.py).
    sources = [s for s in sources if customer_citable(s.origin or s.source)]
    blocks: list[Block] = [section(piece) for piece in split_for_sections(answer)][
        :ANSWER_SECTIONS_MAX
    ]
    cited = sources_line(sources, label=locale["sources"])
    footer = [t for t in (cited, locale["reach_a_person"]) if t]
    blocks.append(context(*footer))
    if ticket_id is not None:
        value = f"{ticket_id}:{round}"
        blocks.append(
            {
                "type": "actions",
                "block_id": "answer_feedback",
                "elements": [
                    button(ids.ACTION_HELPFUL, locale["helpful"], value),
                    button(ids.ACTION_TALK_TO_PERSON, locale["talk_to_person"], value),
                ],
            }
        )
    text = answer + ("\n\n" + cited if cited else "")
    return OutgoingMessage(text=text, blocks=blocks)


def plain_reply(text: str) -> OutgoingMessage:
    """A human-approved or edited reply, posted verbatim."""
    return OutgoingMessage(text=text)


def holding_message(
    *, back_at: float | None = None, hours: str = "", locale: Locale = ENGLISH_LOCALE
) -> OutgoingMessage:
    """The short reply while a teammate looks; outside support hours it says when they are back
    (rendered in the reader's own time zone)."""
    if back_at is None:
        return OutgoingMessage(text=locale["holding"])
    return OutgoingMessage(
        text=locale["holding_away"].format(hours=hours, when=slack_date(back_at))
    )


def still_on_it_message(text: str) -> OutgoingMessage:
    return OutgoingMessage(text=text)


def resolved_note(
    *, by_bot: bool, by_customer: bool = False, locale: Locale = ENGLISH_LOCALE
) -> OutgoingMessage:
    if by_bot:
        return OutgoingMessage(text=locale["resolved_by_bot"])
    return OutgoingMessage(
        text=locale["resolved_by_customer" if by_customer else "resolved_by_team"]
    )
