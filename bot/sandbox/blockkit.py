"""Block Kit validation used by the fake Slack API.

It checks what Slack checks on blocks and views: counts, text lengths, identifier lengths
and uniqueness, and text object shape, with the numbers of ``bot.slack.limits`` (the table the
builders keep within, so the two cannot disagree). It is pure (no I/O, no state) so tests can
call :func:`validate_blocks` and :func:`validate_view` directly, and the fake server uses the
very same functions to refuse what real Slack would refuse.

Error strings mimic Slack's own ``invalid_blocks`` reasons: a human reason followed by
``[json-pointer:/path/to/field]``, so a failing test points straight at the bad field.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.slack.limits import (
    ACTIONS_ELEMENTS_MAX,
    BUTTON_TEXT_MAX,
    BUTTON_URL_MAX,
    BUTTON_VALUE_MAX,
    CONTEXT_ELEMENTS_MAX,
    HEADER_TEXT_MAX,
    HOME_BLOCKS_MAX,
    ID_MAX,
    IMAGE_ALT_TEXT_MAX,
    IMAGE_TITLE_MAX,
    INPUT_HINT_MAX,
    INPUT_LABEL_MAX,
    MARKDOWN_TEXT_MAX,
    MESSAGE_BLOCKS_MAX,
    MODAL_BLOCKS_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    OPTION_DESCRIPTION_MAX,
    OPTION_TEXT_MAX,
    OPTION_VALUE_MAX,
    OVERFLOW_OPTIONS_MAX,
    PLACEHOLDER_MAX,
    PLAIN_INPUT_MAX,
    PRIVATE_METADATA_MAX,
    SECTION_FIELD_TEXT_MAX,
    SECTION_FIELDS_MAX,
    SECTION_TEXT_MAX,
    SELECT_OPTIONS_MAX,
)

Surface = Literal["message", "modal", "home"]

# Blocks per surface.
SURFACE_BLOCKS_MAX: dict[str, int] = {
    "message": MESSAGE_BLOCKS_MAX,
    "modal": MODAL_BLOCKS_MAX,
    "home": HOME_BLOCKS_MAX,
}

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
TEXT_TYPES = ("plain_text", "mrkdwn")


def validate_blocks(blocks: object, *, surface: Surface) -> list[str]:
    """Return Slack-style reasons why ``blocks`` would be refused on ``surface`` ([] if fine)."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", surface)
    return checker.errors


def validate_view(
    view: object, *, expect_type: Literal["modal", "home"] | None = None
) -> list[str]:
    """Return reasons why a ``views.*`` payload would be refused ([] if fine).

    ``expect_type`` pins the view type: views.publish only takes home tabs and
    views.open/views.push only take modals.
    """
    checker = _Checker()
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        checker.err("must be one of modal, home", "/view/type")
        return checker.errors
    if expect_type is not None and view_type != expect_type:
        checker.err(f"must be {expect_type} for this method", "/view/type")
    if view_type == "modal":
        if "title" not in view:
            checker.err("missing required field: title", "/view")
        else:
            checker.text(view["title"], "/view/title", MODAL_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if key in view and view[key] is not None:
                checker.text(view[key], f"/view/{key}", MODAL_BUTTON_MAX, plain_only=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        # Slack refuses a modal with input blocks but no submit button: nothing could submit it.
        if has_input and not view.get("submit"):
            checker.err("must provide submit when the view contains input blocks", "/view/submit")
    checker.max_len(view.get("private_metadata"), PRIVATE_METADATA_MAX, "/view/private_metadata")
    checker.max_len(view.get("callback_id"), ID_MAX, "/view/callback_id")
    checker.max_len(view.get("external_id"), ID_MAX, "/view/external_id")
    if "blocks" not in view:
        checker.err("missing required field: blocks", "/view")
    else:
        checker.blocks(view["blocks"], "/view/blocks", view_type)
    return checker.errors


class _Checker:
    """Accumulates errors and the ids seen so far within one message or view."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def err(self, reason: str, path: str) -> None:
        self.errors.append(f"{reason} [json-pointer:{path}]")

    def max_len(self, value: object, limit: int, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.err("must be a string", path)
        elif len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", path)

    def text(self, obj: object, path: str, limit: int | None, *, plain_only: bool = False) -> None:
        """Check a composition text object: a type, a non-empty text and its length."""
        if not isinstance(obj, dict):
            self.err("must provide an object", path)
            return
        kind = obj.get("type")
        if kind not in TEXT_TYPES:
            self.err("must provide a text object with type plain_text or mrkdwn", f"{path}/type")
            return
        if plain_only and kind != "plain_text":
            self.err("must be a plain_text text object", f"{path}/type")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.err("must be more than 0 characters", f"{path}/text")
        elif limit is not None and len(text) > limit:
            self.err(f"must be less than {limit + 1} characters", f"{path}/text")

    def unique_id(self, value: object, seen: set[str], kind: str, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.err("must be a string", path)
            return
        if len(value) > ID_MAX:
            self.err(f"must be less than {ID_MAX + 1} characters", path)
        # Slack documents action_id uniqueness per block, but the project rule is stricter:
        # unique within the whole message/view, so routing never depends on block position.
        if value in seen:
            self.err(f"{kind} '{value}' is already used elsewhere", path)
        seen.add(value)

    def count(self, items: object, path: str, limit: int, *, minimum: int = 1) -> list[Any]:
        if not isinstance(items, list):
            self.err("must provide an array", path)
            return []
        if len(items) < minimum:
            self.err(f"must provide at least {minimum} items", path)
        if len(items) > limit:
            self.err(f"no more than {limit} items allowed", path)
        return items

    def blocks(self, blocks: object, path: str, surface: str) -> None:
        items = self.count(blocks, path, SURFACE_BLOCKS_MAX[surface], minimum=0)
        for i, block in enumerate(items):
            self.block(block, f"{path}/{i}")

    def block(self, block: object, path: str) -> None:
        if not isinstance(block, dict):
            self.err("must provide an object", path)
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.err("missing required field: type", path)
            return
        if kind not in KNOWN_BLOCK_TYPES:
            self.err(f"unsupported type: {kind}", f"{path}/type")
            return
        self.unique_id(block.get("block_id"), self.block_ids, "block_id", f"{path}/block_id")
        check = getattr(self, f"block_{kind}", None)
        if check is not None:
            check(block, path)

    def block_section(self, block: dict[str, Any], path: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err("must provide text or fields", path)
        if "text" in block:
            self.text(block["text"], f"{path}/text", SECTION_TEXT_MAX)
        if "fields" in block:
            fields = self.count(block["fields"], f"{path}/fields", SECTION_FIELDS_MAX)
            for i, field in enumerate(fields):
                self.text(field, f"{path}/fields/{i}", SECTION_FIELD_TEXT_MAX)
        if "accessory" in block:
            self.element(block["accessory"], f"{path}/accessory")

    def block_header(self, block: dict[str, Any], path: str) -> None:
        self.text(block.get("text"), f"{path}/text", HEADER_TEXT_MAX, plain_only=True)

    def block_context(self, block: dict[str, Any], path: str) -> None:
        elements = self.count(block.get("elements"), f"{path}/elements", CONTEXT_ELEMENTS_MAX)
        for i, element in enumerate(elements):
            sub = f"{path}/elements/{i}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, sub)
            else:
                self.text(element, sub, None)

    def block_actions(self, block: dict[str, Any], path: str) -> None:
        elements = self.count(block.get("elements"), f"{path}/elements", ACTIONS_ELEMENTS_MAX)
        for i, element in enumerate(elements):
            self.element(element, f"{path}/elements/{i}")

    def block_input(self, block: dict[str, Any], path: str) -> None:
        self.text(block.get("label"), f"{path}/label", INPUT_LABEL_MAX, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{path}/hint", INPUT_HINT_MAX, plain_only=True)
        if "element" not in block:
            self.err("missing required field: element", path)
        else:
            self.element(block["element"], f"{path}/element")

    def block_image(self, block: dict[str, Any], path: str) -> None:
        self.image(block, path)
        if "title" in block:
            self.text(block["title"], f"{path}/title", IMAGE_TITLE_MAX, plain_only=True)

    def block_markdown(self, block: dict[str, Any], path: str) -> None:
        text = block.get("text")
        if not isinstance(text, str) or not text:
            self.err("must be more than 0 characters", f"{path}/text")
        else:
            self.max_len(text, MARKDOWN_TEXT_MAX, f"{path}/text")

    def block_rich_text(self, block: dict[str, Any], path: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.err("must provide an array", f"{path}/elements")

    def image(self, element: dict[str, Any], path: str) -> None:
        if "image_url" not in element and "slack_file" not in element:
            self.err("must provide image_url or slack_file", path)
        alt = element.get("alt_text")
        if not isinstance(alt, str) or not alt:
            self.err("must be more than 0 characters", f"{path}/alt_text")
        else:
            self.max_len(alt, IMAGE_ALT_TEXT_MAX, f"{path}/alt_text")

    def element(self, element: object, path: str) -> None:
        """Check an interactive element (button, input, select...) wherever it appears."""
        if not isinstance(element, dict):
            self.err("must provide an object", path)
            return
        kind = element.get("type")
        if not isinstance(kind, str):
            self.err("missing required field: type", path)
            return
        self.unique_id(element.get("action_id"), self.action_ids, "action_id", f"{path}/action_id")
        if "placeholder" in element:
            self.text(
                element["placeholder"], f"{path}/placeholder", PLACEHOLDER_MAX, plain_only=True
            )
        if kind == "button":
            self.text(element.get("text"), f"{path}/text", BUTTON_TEXT_MAX, plain_only=True)
            self.max_len(element.get("value"), BUTTON_VALUE_MAX, f"{path}/value")
            self.max_len(element.get("url"), BUTTON_URL_MAX, f"{path}/url")
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.err("must be one of primary, danger", f"{path}/style")
        elif kind == "plain_text_input":
            self.max_len(element.get("initial_value"), PLAIN_INPUT_MAX, f"{path}/initial_value")
            for key in ("max_length", "min_length"):
                value = element.get(key)
                if value is None:
                    continue
                if not isinstance(value, int) or isinstance(value, bool):
                    self.err("must be an integer", f"{path}/{key}")
                elif value > PLAIN_INPUT_MAX:
                    self.err(f"must be at most {PLAIN_INPUT_MAX}", f"{path}/{key}")
        elif kind in ("static_select", "multi_static_select", "overflow", "radio_buttons"):
            limit = OVERFLOW_OPTIONS_MAX if kind == "overflow" else SELECT_OPTIONS_MAX
            self.options(element, path, limit)
        elif kind == "image":
            self.image(element, path)

    def options(self, element: dict[str, Any], path: str, limit: int) -> None:
        if "options" not in element:
            return  # option_groups or external data sources: not modelled
        options = self.count(element["options"], f"{path}/options", limit)
        for i, option in enumerate(options):
            sub = f"{path}/options/{i}"
            if not isinstance(option, dict):
                self.err("must provide an object", sub)
                continue
            self.text(option.get("text"), f"{sub}/text", OPTION_TEXT_MAX)
            if "description" in option:
                self.text(
                    option["description"],
                    f"{sub}/description",
                    OPTION_DESCRIPTION_MAX,
                    plain_only=True,
                )
            self.max_len(option.get("value"), OPTION_VALUE_MAX, f"{sub}/value")
