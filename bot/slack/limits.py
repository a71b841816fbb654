"""Slack's limits on what the bot sends, in one table.

Each constant is a limit Slack documents for a Block Kit field or a Web API argument
(docs.slack.dev/reference/block-kit); the comment names the field. The builders in
``bot.slack.blocks`` keep within them, and the sandbox's validator (``bot.sandbox.blockkit``)
refuses what exceeds them, so both read the numbers from here and cannot disagree.
"""

from __future__ import annotations

# -- Surfaces -------------------------------------------------------------------------------
MESSAGE_BLOCKS_MAX = 50  # chat.postMessage / chat.update `blocks`: items
MODAL_BLOCKS_MAX = 100  # modal view `blocks`: items
HOME_BLOCKS_MAX = 100  # home tab view `blocks`: items
MESSAGE_TEXT_MAX = 40000  # chat.postMessage `text`: characters (Slack truncates beyond)
MODAL_TITLE_MAX = 24  # modal view `title`
MODAL_BUTTON_MAX = 24  # modal view `submit` and `close`
PRIVATE_METADATA_MAX = 3000  # view `private_metadata`
ID_MAX = 255  # `block_id`, `action_id`, view `callback_id` and `external_id`

# -- Blocks ---------------------------------------------------------------------------------
SECTION_TEXT_MAX = 3000  # section block `text`
SECTION_FIELDS_MAX = 10  # section block `fields`: items
SECTION_FIELD_TEXT_MAX = 2000  # section block `fields`: each item's text
HEADER_TEXT_MAX = 150  # header block `text`
CONTEXT_ELEMENTS_MAX = 10  # context block `elements`: items
ACTIONS_ELEMENTS_MAX = 25  # actions block `elements`: items
INPUT_LABEL_MAX = 2000  # input block `label`
INPUT_HINT_MAX = 2000  # input block `hint`
MARKDOWN_TEXT_MAX = 12000  # markdown block `text`
IMAGE_TITLE_MAX = 2000  # image block `title`
IMAGE_ALT_TEXT_MAX = 2000  # image block and element `alt_text`

# -- Elements and composition objects -------------------------------------------------------
BUTTON_TEXT_MAX = 75  # button element `text`
BUTTON_VALUE_MAX = 2000  # button element `value`
BUTTON_URL_MAX = 3000  # button element `url`
PLACEHOLDER_MAX = 150  # any element's `placeholder`
PLAIN_INPUT_MAX = 3000  # plain_text_input `max_length`, `min_length` and `initial_value`
SELECT_OPTIONS_MAX = 100  # static_select / multi_static_select `options`: items
OVERFLOW_OPTIONS_MAX = 5  # overflow menu `options`: items
OPTION_TEXT_MAX = 75  # option object `text`
OPTION_DESCRIPTION_MAX = 75  # option object `description`
OPTION_VALUE_MAX = 150  # option object `value`
