"""Names of the job kinds, the dedupe keys that make each one happen once, and job outcomes."""

INBOUND_MESSAGE = "inbound_message"
ADVANCE_TICKET = "advance_ticket"
SLACK_POST = "slack_post"
SYNC_CARD = "sync_card"


def advance_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:advance"


def answer_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:answer"


def holding_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:holding"


def reply_key(escalation_id: int) -> str:
    return f"escalation:{escalation_id}:reply"


def card_key(escalation_id: int, reason: str) -> str:
    return f"escalation:{escalation_id}:card:{reason}"


class RetryLater(Exception):
    """The job could not finish now; run it again after ``delay`` (or the usual backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class PermanentFailure(Exception):
    """No retry will help; the job is given up at once."""
