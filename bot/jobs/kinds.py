"""The kinds of job: their names, the dedupe keys that make each one happen once, how a kind
declares itself to the worker (``JobKind``), which kinds are internal, and job outcomes.

Each kind is declared beside the code that runs it, by a ``jobs()`` method returning its
``JobKind``: ``Intake`` (inbound_message), ``Workflow`` (advance_ticket), ``SlackOutbox``
(slack_post), ``CardSync`` (sync_card), ``Reminders`` (remind, review_timeout), ``Handoffs``
(auto_close), ``Redrafter`` (redraft), ``ArticleDesk`` (prepare_article), ``VerifiedAnswers``
(propose_verified), ``SourceSync`` (kb_sync), ``Csat`` (csat_update), ``Reactions``
(reaction), ``IssueDesk`` (create_issue, issue_closed, poll_issues) and ``TranslatedEdits``
(translate_edit, translate_card). The runtime hands them all to the worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from persistence.records import Job

INBOUND_MESSAGE = "inbound_message"
ADVANCE_TICKET = "advance_ticket"
SLACK_POST = "slack_post"
SYNC_CARD = "sync_card"
REMIND = "remind"  # a nudge in the card's thread while nobody acts on it
REVIEW_TIMEOUT = "review_timeout"  # the customer hears "still on it" once
AUTO_CLOSE = "auto_close"  # a ticket quiet on the customer's side resolves itself
REDRAFT = "redraft"  # a new draft from a reviewer's feedback or a teammate's answer
PREPARE_ARTICLE = "prepare_article"  # the model's general version into a "Save as article" form
KB_SYNC = "kb_sync"  # a knowledge source read into the knowledge base
PROPOSE_VERIFIED = "propose_verified"  # a sent reply, generalised, proposed as a verified answer
CSAT_UPDATE = "csat_update"  # the satisfaction survey in a thread shows a rating was recorded
REACTION = "reaction"  # a teammate's emoji on a customer's message: open, claim or resolve
CREATE_ISSUE = "create_issue"  # a ticket filed in the issue tracker ("Create issue")
ISSUE_CLOSED = (
    "issue_closed"  # its issue closed: the owner told, a message for the customer offered
)
POLL_ISSUES = "poll_issues"  # the tracker asked which open issues closed (no webhook)
TRANSLATE_EDIT = "translate_edit"  # a reviewer's edit into the customer's language, to confirm
TRANSLATE_CARD = "translate_card"  # a card's texts in another language, into English

# Durability: the kinds whose handlers only write the database (what they tell Slack goes
# through jobs they enqueue durably). They may be enqueued without an fsync
# (``JobRepository.enqueue``); every other kind only in a durable transaction.
INTERNAL = frozenset({INBOUND_MESSAGE, ADVANCE_TICKET, AUTO_CLOSE})


@dataclass(frozen=True)
class JobKind:
    """A kind of job as the worker runs it."""

    name: str
    run: Callable[[Job], Awaitable[object]]
    # After the last attempt failed, before the job is buried: tell someone.
    failed: Callable[[Job, str], Awaitable[None]] | None = None


def advance_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:advance"


def answer_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:answer"


def holding_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:holding"


def reply_key(escalation_id: int) -> str:
    return f"escalation:{escalation_id}:reply"


def reminder_key(escalation_id: int, n: int) -> str:
    return f"escalation:{escalation_id}:reminder:{n}"


def reminder_post_key(escalation_id: int, n: int) -> str:
    return f"escalation:{escalation_id}:reminder:{n}:post"


def timeout_key(escalation_id: int) -> str:
    return f"escalation:{escalation_id}:timeout"


def still_on_it_key(escalation_id: int) -> str:
    return f"escalation:{escalation_id}:still-on-it"


def auto_close_key(ticket_id: int, turn_id: int) -> str:
    return f"ticket:{ticket_id}:turn:{turn_id}:auto-close"


def resolved_note_key(ticket_id: int, round: int) -> str:
    return f"ticket:{ticket_id}:round:{round}:resolved-note"


def csat_survey_key(ticket_id: int) -> str:
    """One "How did we do?" per ticket, however often it is resolved."""
    return f"ticket:{ticket_id}:csat-survey"


def csat_update_key(ticket_id: int) -> str:
    """The survey message shows a rating was recorded: once (a changed score looks the same)."""
    return f"ticket:{ticket_id}:csat-survey:rated"


def redraft_key(escalation_id: int, request: str) -> str:
    """One per request: a redraft that failed adds no draft, so a count of drafts would repeat."""
    return f"escalation:{escalation_id}:redraft:{request}"


def article_form_key(escalation_id: int, view_id: str) -> str:
    """One per opened form."""
    return f"escalation:{escalation_id}:article-form:{view_id}"


def verified_key(escalation_id: int) -> str:
    """One proposal per card, whatever sent its reply."""
    return f"escalation:{escalation_id}:verified"


def thread_verified_key(ticket_id: int) -> str:
    """One proposal per thread a teammate resolved with their own reply."""
    return f"ticket:{ticket_id}:verified"


def kb_sync_key(source_id: int, occasion: str) -> str:
    """One per scheduled slot (the time the previous sync started) or per request."""
    return f"kb-source:{source_id}:sync:{occasion}"


def create_issue_key(ticket_id: int, attempt: int) -> str:
    """One per attempt: a double click or a retried request joins the attempt in flight; "Try
    again" after a failure is the next attempt."""
    return f"ticket:{ticket_id}:issue:{attempt}"


def issue_closed_key(issue_row_id: int) -> str:
    """An issue closes once, whether a webhook, its replay or a poll says so."""
    return f"issue:{issue_row_id}:closed"


def issue_poll_key(slot: int) -> str:
    """One poll per interval across replicas."""
    return f"trackers:poll:{slot}"


def translate_edit_key(escalation_id: int, version: int) -> str:
    return f"escalation:{escalation_id}:translate-edit:v{version}"


def translate_card_key(escalation_id: int, texts_hash: str) -> str:
    return f"escalation:{escalation_id}:translate-card:{texts_hash}"


def card_key(escalation_id: int, reason: str) -> str:
    return f"escalation:{escalation_id}:card:{reason}"


class RetryLater(Exception):
    """The job could not finish now; run it again after ``delay`` (or the usual backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class PermanentFailure(Exception):
    """No retry will help; the job is given up at once."""
