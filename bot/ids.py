"""Action ids, callback ids and block ids shared by the Block Kit builders and the handlers."""

ACTION_APPROVE = "escalation_approve"
ACTION_EDIT = "escalation_edit"
ACTION_REJECT = "escalation_reject"
REVIEW_ACTIONS = (ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT)

VIEW_EDIT = "escalation_edit_submit"
BLOCK_EDIT_TEXT = "reply_text"
ACTION_EDIT_TEXT = "reply_text_input"

SLASH_COMMAND = "/support"

# Marks every message the bot posts so a retried delivery can find an earlier one (outbox).
OUTBOX_METADATA_EVENT = "support_bot_outbox"
