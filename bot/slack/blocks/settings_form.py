"""The ``/support config`` modal: every setting as a Slack input, pre-filled with the
configuration in force (``ConfigForm``), carrying the settings version it shows so that saving
can refuse a form gone stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.settings.categories import CATEGORIES, CATEGORY_LABELS
from bot.slack import ids
from bot.slack.blocks.common import Block, category_list, context, plain
from bot.slack.limits import (
    INPUT_HINT_MAX,
    INPUT_LABEL_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    OPTION_DESCRIPTION_MAX,
    OPTION_TEXT_MAX,
    PLACEHOLDER_MAX,
)


@dataclass(frozen=True)
class ConfigForm:
    """What the settings form shows: the configuration in force."""

    auto_channels: list[str]
    review_channels: list[str]
    escalation_channel: str | None
    reviewers: list[str]
    reviewer_groups: list[str]
    admins: list[str]
    threshold: float
    review_reminder: str
    review_timeout: str
    hours: str
    paused: bool
    auto_categories: list[str]  # the default for every channel without its own choice
    channel_categories: dict[str, list[str]]  # channels with their own choice
    # Auto and review channels whose customers are asked "How did we do?" (``/support csat``).
    csat_channels: tuple[str, ...] = ()


# Channels with their own categories named on the form at most; the rest are counted.
FORM_OVERRIDES_SHOWN = 20
# Channels and people pre-selected in a multi-select at most (our cap: Slack documents none).
INITIAL_SELECTED_MAX = 100


def config_modal(form: ConfigForm, *, version: int = 0) -> dict[str, Any]:
    """``/support config``: the same settings as the commands, as Slack inputs. ``version`` is
    the settings version the form shows; saving refuses if the settings changed since."""

    def field(
        block_id: str, label: str, element: dict[str, Any], *, optional: bool, hint: str = ""
    ) -> Block:
        block: Block = {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": plain(label, INPUT_LABEL_MAX),
            "element": {"action_id": ids.cfg_action(block_id), **element},
        }
        if hint:
            block["hint"] = plain(hint, INPUT_HINT_MAX)
        return block

    def channels(initial: list[str]) -> dict[str, Any]:
        element: dict[str, Any] = {
            "type": "multi_conversations_select",
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }
        if initial:
            element["initial_conversations"] = initial[:INITIAL_SELECTED_MAX]
        return element

    def users(initial: list[str]) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "multi_users_select"}
        if initial:
            element["initial_users"] = initial[:INITIAL_SELECTED_MAX]
        return element

    def text(initial: str, placeholder: str) -> dict[str, Any]:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "placeholder": plain(placeholder, PLACEHOLDER_MAX),
        }
        if initial:
            element["initial_value"] = initial
        return element

    escalation: dict[str, Any] = {
        "type": "conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if form.escalation_channel:
        escalation["initial_conversation"] = form.escalation_channel
    paused_option = {
        "text": plain("Paused: watch and log, answer and escalate nothing", OPTION_TEXT_MAX),
        "value": "paused",
    }
    paused: dict[str, Any] = {"type": "checkboxes", "options": [paused_option]}
    if form.paused:
        paused["initial_options"] = [paused_option]

    def category_option(name: str) -> dict[str, Any]:
        option: dict[str, Any] = {
            "text": plain(CATEGORY_LABELS[name], OPTION_TEXT_MAX),
            "value": name,
        }
        if name == "unknown":
            option["description"] = plain(
                "Risky: the bot could not tell what it is about", OPTION_DESCRIPTION_MAX
            )
        return option

    categories: dict[str, Any] = {
        "type": "multi_static_select",
        "options": [category_option(c) for c in CATEGORIES],
    }
    if form.auto_categories:
        categories["initial_options"] = [
            category_option(c) for c in CATEGORIES if c in form.auto_categories
        ]
    own = sorted(form.channel_categories.items())
    overrides = (
        "Channels with their own choice (change with `/support auto #channel …`): "
        + "; ".join(f"<#{ch}>: {category_list(names)}" for ch, names in own[:FORM_OVERRIDES_SHOWN])
        + (
            f"; and {len(own) - FORM_OVERRIDES_SHOWN} more"
            if len(own) > FORM_OVERRIDES_SHOWN
            else ""
        )
        if own
        else "Every channel follows this. A channel can have its own choice:"
        " `/support auto #channel faq billing`."
    )
    groups = (
        "Reviewer user groups (change with `/support reviewers add @group`): "
        + ", ".join(f"<!subteam^{g}>" for g in form.reviewer_groups)
        if form.reviewer_groups
        else "Reviewers may also be a Slack user group: `/support reviewers add @group`."
    )
    return {
        "type": "modal",
        "callback_id": ids.VIEW_CONFIG,
        "private_metadata": json.dumps({"version": version}),
        "title": plain("Support bot settings", MODAL_TITLE_MAX),
        "submit": plain("Save", MODAL_BUTTON_MAX),
        "close": plain("Cancel", MODAL_BUTTON_MAX),
        "blocks": [
            field(
                ids.BLOCK_CFG_AUTO,
                "Channels the bot answers in by itself",
                channels(form.auto_channels),
                optional=True,
                hint="Confident, grounded answers go out at once; the rest go to review.",
            ),
            field(
                ids.BLOCK_CFG_REVIEW,
                "Channels where every draft waits for approval",
                channels(form.review_channels),
                optional=True,
            ),
            field(
                ids.BLOCK_CFG_CSAT,
                "Ask customers “How did we do?” in",
                channels(list(form.csat_channels)),
                optional=True,
                hint="When a ticket is resolved there, its customer is asked once to rate it 1 to"
                " 5. Support channels only.",
            ),
            field(
                ids.BLOCK_CFG_ESCALATION,
                "Review cards go to",
                escalation,
                optional=False,
                hint="Not a customer channel: cards show drafts and internal notes.",
            ),
            field(
                ids.BLOCK_CFG_REVIEWERS,
                "Reviewers (empty: review channel members)",
                users(form.reviewers),
                optional=True,
            ),
            context(groups),
            field(
                ids.BLOCK_CFG_ADMINS,
                "Admins",
                users(form.admins),
                optional=True,
                hint="Workspace admins and owners are always admins too.",
            ),
            field(
                ids.BLOCK_CFG_THRESHOLD,
                "Auto-answer threshold (0.0 to 1.0)",
                {
                    "type": "number_input",
                    "is_decimal_allowed": True,
                    "min_value": "0",
                    "max_value": "1",
                    "initial_value": f"{form.threshold:g}",
                },
                optional=False,
            ),
            field(
                ids.BLOCK_CFG_CATEGORIES,
                "Answered automatically",
                categories,
                optional=True,
                hint="In auto channels, questions of these categories are answered at once when"
                " the answer is grounded; the rest wait for review. Empty: none.",
            ),
            context(overrides),
            field(
                ids.BLOCK_CFG_REMINDER,
                "First reminder on a waiting card after",
                text(form.review_reminder, "30m"),
                optional=False,
                hint="Like 45m, 2h or 1d; each next reminder waits twice as long.",
            ),
            field(
                ids.BLOCK_CFG_TIMEOUT,
                "Tell the customer the team is still on it after",
                text(form.review_timeout, "24h"),
                optional=False,
            ),
            field(
                ids.BLOCK_CFG_HOURS,
                "Support hours (empty: always)",
                text(form.hours, "Mon-Fri 09:00-17:00 Europe/Berlin"),
                optional=True,
                hint="Outside them the holding reply says when the team is back, and reminders"
                " wait.",
            ),
            field(ids.BLOCK_CFG_PAUSED, "Pause", paused, optional=True),
        ],
    }
