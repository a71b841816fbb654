"""The status people see on a ticket, from its workflow state and who wrote last."""

from __future__ import annotations

from persistence.records import IN_PROGRESS_STATES, Ticket, Turn

OPEN = "open"
WAITING_ON_TEAM = "waiting on team"
WAITING_ON_CUSTOMER = "waiting on customer"
RESOLVED = "resolved"


def ticket_status(ticket: Ticket, last_turn: Turn | None) -> str:
    """The status people see: open, waiting on team, waiting on customer, resolved."""
    if ticket.state == "resolved":
        return RESOLVED
    if ticket.state in IN_PROGRESS_STATES and ticket.round == 1:
        return OPEN
    if ticket.state in IN_PROGRESS_STATES or ticket.state == "awaiting_review":
        return WAITING_ON_TEAM
    if last_turn is not None and last_turn.role == "customer":
        return WAITING_ON_TEAM
    return WAITING_ON_CUSTOMER
