"""Action ids, callback ids and block ids shared by the Block Kit builders and the handlers."""

import zlib

ACTION_APPROVE = "escalation_approve"
ACTION_EDIT = "escalation_edit"
ACTION_REJECT = "escalation_reject"
REVIEW_ACTIONS = (ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT)

VIEW_EDIT = "escalation_edit_submit"
BLOCK_EDIT_TEXT = "reply_text"
ACTION_EDIT_TEXT = "reply_text_input"

SLASH_COMMAND = "/support"

VIEW_KB_ADD = "kb_add_submit"
BLOCK_KB_TITLE = "kb_title"
ACTION_KB_TITLE = "kb_title_input"
BLOCK_KB_BODY = "kb_body"
ACTION_KB_BODY = "kb_body_input"
BLOCK_KB_URL = "kb_url"
ACTION_KB_URL = "kb_url_input"

# Marks every message the bot posts so a retried delivery can find an earlier one (outbox).
OUTBOX_METADATA_EVENT = "support_bot_outbox"

# Humans in the loop: more buttons on the card, under AI answers, and their forms.
ACTION_CLAIM = "escalation_claim"
ACTION_REDRAFT = "escalation_redraft"
ACTION_ANSWER_QUESTION = "escalation_answer_question"
ACTION_SAVE_ARTICLE = "escalation_save_article"
ACTION_HANDBACK = "ticket_handback"
ACTION_RESOLVE = "ticket_resolve"
ACTION_HELPFUL = "answer_helpful"
ACTION_TALK_TO_PERSON = "answer_talk_to_person"
ACTION_CREATE_ISSUE = "escalation_create_issue"  # file the ticket in the issue tracker
CARD_ACTIONS = (
    ACTION_CREATE_ISSUE,
    ACTION_CLAIM,
    ACTION_REDRAFT,
    ACTION_ANSWER_QUESTION,
    ACTION_SAVE_ARTICLE,
    ACTION_HANDBACK,
    ACTION_RESOLVE,
)
ANSWER_ACTIONS = (ACTION_HELPFUL, ACTION_TALK_TO_PERSON)

VIEW_REDRAFT = "escalation_redraft_submit"
BLOCK_FEEDBACK = "feedback"
ACTION_FEEDBACK = "feedback_input"
VIEW_ANSWER_QUESTION = "escalation_answer_submit"
BLOCK_ANSWER = "answer"
ACTION_ANSWER = "answer_input"
BLOCK_ANSWER_MODE = "answer_mode"
ACTION_ANSWER_MODE = "answer_mode_input"
VIEW_SAVE_ARTICLE = "escalation_save_article_submit"

# Message shortcuts (the ⋯ menu of a message): slash commands do not work inside threads.
SHORTCUT_HANDBACK = "ticket_handback_shortcut"
SHORTCUT_RESOLVE = "ticket_resolve_shortcut"

# A delivery the bot gave up on: send it again (on the card, or on the notice without one).
ACTION_RETRY_DELIVERY = "delivery_retry"

# App Home: paging through the waiting escalations.
ACTION_HOME_PAGE = "home_page"
# App Home, for admins: a proposed verified answer, approved into the knowledge base or not.
ACTION_VERIFIED_APPROVE = "verified_approve"
ACTION_VERIFIED_DISCARD = "verified_discard"


def home_action(action_id: str, n: int) -> str:
    """A card button's action id made unique within a view or message that shows several (App
    Home's rows: ``escalation_approve.7``; the digest's gaps); the handlers match both forms."""
    return f"{action_id}.{n}"


def action_pattern(action_id: str) -> str:
    return rf"^{action_id}(\.\d+)?$"


# /support config: the settings form.
VIEW_CONFIG = "config_submit"
BLOCK_CFG_AUTO = "cfg_channels_auto"
BLOCK_CFG_REVIEW = "cfg_channels_review"
BLOCK_CFG_ESCALATION = "cfg_escalation"
BLOCK_CFG_REVIEWERS = "cfg_reviewers"
BLOCK_CFG_ADMINS = "cfg_admins"
BLOCK_CFG_THRESHOLD = "cfg_threshold"
BLOCK_CFG_CATEGORIES = "cfg_auto_categories"
BLOCK_CFG_REMINDER = "cfg_reminder"
BLOCK_CFG_TIMEOUT = "cfg_timeout"
BLOCK_CFG_HOURS = "cfg_hours"
BLOCK_CFG_PAUSED = "cfg_paused"
BLOCK_CFG_CSAT = "cfg_csat"


def cfg_action(block_id: str) -> str:
    """The action id of a settings-form input (unique within the view, as Slack requires)."""
    return f"{block_id}_input"


# Observability: "Why?" on a card opens the ticket's trail.
ACTION_WHY = "escalation_why"

# Customer satisfaction: "How did we do?" in the customer's thread once a ticket is resolved
# (score buttons ``csat_rate.1`` to ``csat_rate.5``), and the optional comment's form.
ACTION_CSAT_RATE = "csat_rate"
ACTION_CSAT_COMMENT = "csat_comment"
VIEW_CSAT_COMMENT = "csat_comment_submit"
BLOCK_CSAT_COMMENT = "csat_comment"
ACTION_CSAT_COMMENT_TEXT = "csat_comment_input"
# An issue filed from a card closed: tell the customer (the drafted message), edit it, or not.
ACTION_ISSUE_TELL = "issue_tell_customer"
ACTION_ISSUE_EDIT = "issue_edit_message"
ACTION_ISSUE_DISMISS = "issue_dismiss"
ISSUE_ACTIONS = (ACTION_ISSUE_TELL, ACTION_ISSUE_EDIT, ACTION_ISSUE_DISMISS)
VIEW_ISSUE_MESSAGE = "issue_message_submit"
BLOCK_ISSUE_MESSAGE = "issue_message"
ACTION_ISSUE_MESSAGE = "issue_message_input"

# A reviewer's edit for a customer who writes another language: sent translated or as written
# once the reviewer has seen it (``bot/review/translated_edit.py``). The send buttons' action
# ids end in a checksum of the text they send (``edit_action``), so a click on a card showing
# an earlier edit sends nothing.
ACTION_SEND_TRANSLATION = "escalation_send_translation"
ACTION_SEND_AS_WRITTEN = "escalation_send_as_written"
ACTION_DISCARD_EDIT = "escalation_discard_edit"


def text_checksum(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def edit_action(action_id: str, text: str) -> str:
    return home_action(action_id, text_checksum(text))


def action_suffix(action_id: str) -> int | None:
    """The number after the dot of ``escalation_approve.7``; None without one."""
    head, _, tail = action_id.rpartition(".")
    return int(tail) if head and tail.isdigit() and len(tail) <= 12 else None
