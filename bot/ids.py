"""Action ids, callback ids and block ids shared by the Block Kit builders and the handlers."""

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
