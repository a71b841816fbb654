"""Strict parsing of ``/support`` arguments: channels, people, user groups, a threshold, a mode,
ticket categories.

The command is registered with ``should_escape: true``, so Slack sends a picked channel as
``<#C0123ABCD|support>``, a person as ``<@U0123ABCD|ana>`` and a user group as
``<!subteam^S0123ABCD|@support-team>``. Each parser returns the bare id, or raises ArgError whose
message says what was wrong and shows the right form. Any ``str`` raises nothing but ArgError.

The messages are plain text and contain ``<``: escape them before posting them as mrkdwn, or
Slack turns the examples into links.
"""

from __future__ import annotations

import math
import re

from bot.settings.categories import CATEGORIES
from bot.settings.live import EMOJI_NAME, MODE_MEANINGS, MODES, REACTION_ACTIONS, Mode

CHANNEL_FORM = "<#C0123ABCD|support>"
USER_FORM = "<@U0123ABCD|ana>"
SUBTEAM_FORM = "<!subteam^S0123ABCD|@support-team>"
THRESHOLD_FORM = "a number from 0.0 to 1.0, like 0.7"

# Friendly names for the categories, besides the names themselves (any case).
CATEGORY_ALIASES = {
    "faq": "simple_faq",
    "billing": "billing_query",
    "complex": "complex_issue",
    "feature": "feature_request",
}
NO_CATEGORIES = "none"
CATEGORIES_FORM = (
    "simple_faq (faq), complex_issue (complex), billing_query (billing), feature_request"
    " (feature), unknown; or none"
)

_LABEL = r"(?:\|[^<>]*)?"
_CHANNEL = re.compile(rf"<#(?P<id>[CG][A-Z0-9]{{2,}}){_LABEL}>|(?P<bare>[CG][A-Z0-9]{{2,}})")
_USER = re.compile(rf"<@(?P<id>[UW][A-Z0-9]{{2,}}){_LABEL}>|(?P<bare>[UW][A-Z0-9]{{2,}})")
_SUBTEAM = re.compile(rf"<!subteam\^(?P<id>S[A-Z0-9]{{2,}}){_LABEL}>|(?P<bare>S[A-Z0-9]{{2,}})")
# One person or group in a list: <…> links (kept whole, even with spaces or commas in a label),
# an unclosed < up to the next space or comma, and anything else but whitespace and commas.
_PIECE = re.compile(r"(?:<[^<>]*>|<[^<>\s,]*|[^\s,<])+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_BROADCAST = re.compile(r"<!(?:here|channel|everyone)(?:\|[^<>]*)?>")
_MAX_SHOWN = 60


class ArgError(ValueError):
    """Message says what was wrong and shows the right form."""


def parse_channel(token: str) -> str:
    """The channel id in ``<#C0123ABCD|support>``, ``<#C0123ABCD>`` or a bare C…/G… id."""
    text = token.strip()
    match = _CHANNEL.fullmatch(text)
    if match:
        return match["id"] or match["bare"]
    pick = f"type # and pick it from Slack's list so it becomes a link, like {CHANNEL_FORM}"
    if not text:
        raise ArgError(f"a channel is missing: {pick}")
    if text.startswith("#"):
        raise ArgError(
            f"{_show(text)} must be picked from Slack's channel list so it becomes a link,"
            f" like {CHANNEL_FORM} (type # and choose it from the list)"
        )
    raise ArgError(f"{_show(text)} is {_kind(text)}not a channel: {pick}")


def parse_user(token: str) -> str:
    """The user id in ``<@U0123ABCD|ana>``, ``<@U0123ABCD>`` or a bare U…/W… id."""
    text = token.strip()
    match = _USER.fullmatch(text)
    if match:
        return match["id"] or match["bare"]
    pick = f"type @ and pick them from Slack's list so they become a mention, like {USER_FORM}"
    if not text:
        raise ArgError(f"a person is missing: {pick}")
    raise ArgError(f"{_show(text)} is {_kind(text)}not a person: {pick}")


def parse_subteam(token: str) -> str:
    """The user group id in ``<!subteam^S0123ABCD|@support-team>``, ``<!subteam^S0123ABCD>``
    or a bare S… id."""
    text = token.strip()
    match = _SUBTEAM.fullmatch(text)
    if match:
        return match["id"] or match["bare"]
    pick = f"type @ and pick it from Slack's list so it becomes a mention, like {SUBTEAM_FORM}"
    if not text:
        raise ArgError(f"a user group is missing: {pick}")
    raise ArgError(f"{_show(text)} is {_kind(text)}not a user group: {pick}")


def parse_people(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(user ids, user group ids), each de-duplicated in the order given.

    People and groups may be mixed in any order, separated by spaces and/or commas. The tokens
    are joined and split again, so a label with a space in it survives a naive ``split()``.
    """
    pieces = _PIECE.findall(" ".join(tokens))
    if not pieces:
        raise ArgError(
            f"name at least one person or user group: pick them from Slack's list as you type @,"
            f" like {USER_FORM} or {SUBTEAM_FORM}"
        )
    users: list[str] = []
    groups: list[str] = []
    for piece in pieces:
        if _SUBTEAM.fullmatch(piece):
            found, into = parse_subteam(piece), groups
        elif _USER.fullmatch(piece):
            found, into = parse_user(piece), users
        else:
            raise ArgError(
                f"{_show(piece)} is {_kind(piece)}not a person or user group: pick each from"
                f" Slack's list as you type @, like {USER_FORM} or {SUBTEAM_FORM}"
            )
        if found not in into:
            into.append(found)
    return users, groups


def parse_threshold(token: str) -> float:
    """A confidence threshold in [0, 1]: ``0.7``, ``.7``, ``1``, or a percentage like ``70%``."""
    text = token.strip()
    if not text:
        raise ArgError(f"a threshold is missing: use {THRESHOLD_FORM}")
    number, percent = text, False
    if text.endswith("%"):
        number, percent = text[:-1].rstrip(), True
    if not _NUMBER.fullmatch(number):
        raise ArgError(f"{_show(text)} is not a threshold: use {THRESHOLD_FORM} (or 70%)")
    value = float(number) / 100 if percent else float(number)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        form = "a percentage from 0% to 100%, like 70%" if percent else THRESHOLD_FORM
        raise ArgError(f"{_show(text)} is out of range: use {form}")
    return value + 0.0  # -0.0 becomes 0.0


def parse_mode(token: str) -> Mode:
    """``auto``, ``review`` or ``off``, in any case."""
    text = token.strip().lower()
    for mode in MODES:
        if text == mode:
            return mode
    choices = "; ".join(f"{mode} ({meaning})" for mode, meaning in MODE_MEANINGS.items())
    shown = _show(token.strip()) if token.strip() else "nothing"
    raise ArgError(f"{shown} is not a mode: use one of {choices}")


def parse_categories(tokens: list[str]) -> frozenset[str]:
    """Category names or aliases, any case, separated by spaces and/or commas; ``none`` alone
    is the empty set."""
    words = [w for w in re.split(r"[\s,]+", " ".join(tokens)) if w]
    if not words:
        raise ArgError(f"name the categories to answer automatically: {CATEGORIES_FORM}")
    if [w.lower() for w in words] == [NO_CATEGORIES]:
        return frozenset()
    found: set[str] = set()
    for word in words:
        name = CATEGORY_ALIASES.get(word.lower(), word.lower())
        if name not in CATEGORIES:
            shown = _show(word)
            if name == NO_CATEGORIES:
                raise ArgError(f"{shown} cannot be combined with categories: say none alone")
            raise ArgError(f"{shown} is not a category: use {CATEGORIES_FORM}")
        found.add(name)
    return frozenset(found)


REACTIONS_FORM = "open=:ticket: claim=:eyes: resolve=:white_check_mark:"
# Other words for the actions.
REACTION_ALIASES = {"ticket": "open", "close": "resolve", "done": "resolve", "own": "claim"}


def parse_reactions(words: list[str], current: dict[str, str]) -> dict[str, str]:
    """``open=:ticket: claim=:eyes:``: the mapping with those emoji changed (one action or more),
    every name valid and no emoji doing two things."""
    if not words:
        raise ArgError(f"Say which emoji does what: {REACTIONS_FORM}")
    mapping = dict(current)
    given: set[str] = set()
    for word in words:
        action, sep, emoji = word.partition("=")
        action = REACTION_ALIASES.get(action.lower(), action.lower())
        if not sep or action not in REACTION_ACTIONS:
            raise ArgError(
                f"{_show(word)} is not ACTION=:emoji: (actions: {', '.join(REACTION_ACTIONS)});"
                f" for example {REACTIONS_FORM}"
            )
        if action in given:
            raise ArgError(f"{action} is given twice")
        name = emoji.strip()
        if len(name) > 2 and name.startswith(":") and name.endswith(":"):
            name = name[1:-1]
        name = name.lower()
        if not EMOJI_NAME.fullmatch(name):
            raise ArgError(
                f"{_show(emoji)} is not an emoji name: write it as Slack does, like :eyes:"
                " (no skin tone)"
            )
        mapping[action] = name
        given.add(action)
    doubled = sorted(n for n in set(mapping.values()) if list(mapping.values()).count(n) > 1)
    if doubled:
        both = " and ".join(a for a in REACTION_ACTIONS if mapping[a] == doubled[0])
        raise ArgError(f":{doubled[0]}: cannot both {both}: give each action its own emoji")
    return mapping


def _kind(text: str) -> str:
    """What a token of the wrong kind looks like (``"a person, "``), or ``""`` when unclear."""
    if _CHANNEL.fullmatch(text):
        return "a channel, "
    if _USER.fullmatch(text):
        return "a person, "
    if _SUBTEAM.fullmatch(text):
        return "a user group, "
    if _BROADCAST.fullmatch(text):
        return "a broadcast to everyone, "
    if text.startswith(("@", "#")):
        return "plain text, "
    return ""


def _show(text: str) -> str:
    """The token quoted as code, shortened so a huge paste stays readable."""
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return "`" + text.replace("`", "'") + "`"
