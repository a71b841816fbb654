"""The status people see on a ticket, from its workflow state and who wrote last."""

from __future__ import annotations

from bot.tickets.policy import has_words
from bot.tickets.query import is_pleasantry
from persistence.records import IN_PROGRESS_STATES, Ticket, Turn

OPEN = "open"
WAITING_ON_TEAM = "waiting on team"
WAITING_ON_CUSTOMER = "waiting on customer"
RESOLVED = "resolved"
DELIVERY_FAILED = "delivery failed"  # a message for the customer was given up on (outbox)


# Messages of ours that answer the customer; holding replies and notes do not.
ANSWER_PURPOSES = frozenset({"answer", "reply"})


def last_word(turns: list[Turn]) -> Turn | None:
    """The last message that counts in the conversation: a customer's with words in it (not a
    mere "thanks!"), a teammate's, or an answer of ours (not a holding reply, reminder or
    note)."""
    for turn in reversed(turns):
        if turn.role == "customer" and has_words(turn.text) and not is_pleasantry(turn.text):
            return turn
        if turn.role == "staff":
            return turn
        if turn.role == "bot" and (turn.purpose in ANSWER_PURPOSES or turn.purpose is None):
            return turn
    return None


def closing_teammate_reply(turns: list[Turn]) -> str | None:
    """The reply a teammate resolved the thread with: when the last word is a teammate's, their
    messages since the conversation's previous word (the customer's question, or an answer of
    ours), joined; otherwise None."""
    last = last_word(turns)
    if last is None or last.role != "staff":
        return None
    upto = turns.index(last)
    block: list[str] = []
    for turn in reversed(turns[: upto + 1]):
        if turn.role == "staff":
            if turn.text.strip():
                block.append(turn.text.strip())
        elif last_word([turn]) is not None:
            break
    return "\n\n".join(reversed(block)) or None


def ticket_status(ticket: Ticket, last_turn: Turn | None, *, undelivered: bool = False) -> str:
    """The status people see: open, waiting on team, waiting on customer, resolved, or
    delivery failed while a message for the customer is given up on (``undelivered``)."""
    if ticket.state == "resolved":
        return RESOLVED
    if undelivered:
        return DELIVERY_FAILED
    if ticket.state in IN_PROGRESS_STATES and ticket.round == 1:
        return OPEN
    if ticket.state in IN_PROGRESS_STATES or ticket.state == "awaiting_review":
        return WAITING_ON_TEAM
    if last_turn is not None and last_turn.role == "customer":
        return WAITING_ON_TEAM
    return WAITING_ON_CUSTOMER
