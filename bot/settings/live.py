"""The configuration in force: environment values as defaults, overlaid with what admins set in
Slack (stored in the database, so it survives restarts and every replica shares it).

``current`` is an in-memory snapshot for synchronous readers; ``refresh`` compares the stored
version (the newest audit row) and reloads only when another process changed something.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.settings.categories import CATEGORIES
from bot.settings.durations import parse_duration
from bot.settings.environment import Settings
from bot.settings.hours import Hours
from persistence.config import ConfigConflict, ConfigRepository

log = logging.getLogger(__name__)

Mode = Literal["auto", "review", "off"]
MODES: tuple[Mode, ...] = ("auto", "review", "off")
# What each mode means, in the words every screen uses.
MODE_MEANINGS: dict[Mode, str] = {
    "auto": "confident, grounded answers go out by themselves",
    "review": "every draft waits for a person's approval",
    "off": "the bot ignores the channel",
}
# The key of ``auto_categories`` for every channel without its own choice.
DEFAULT = "*"

# What a teammate's reaction on a customer's message does, and the emoji that does it by default
# (``/support reactions``; names as Slack sends them in ``reaction_added``, without colons).
ReactionAction = Literal["open", "claim", "resolve"]
REACTION_ACTIONS: tuple[ReactionAction, ...] = ("open", "claim", "resolve")
DEFAULT_REACTIONS: dict[str, str] = {
    "open": "ticket",
    "claim": "eyes",
    "resolve": "white_check_mark",
}
# An emoji name: lowercase letters, digits and ``_ + - '`` (standard and custom emoji alike).
EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]{1,100}$")

# Keys admins can set, and how a stored value becomes a snapshot field.
KEYS = (
    "channels",
    "escalation_channel",
    "reviewers",
    "reviewer_groups",
    "admins",
    "threshold",
    "hours",
    "review_reminder",
    "review_timeout",
    "paused",
    "auto_categories",
    "csat_channels",
    "reactions",
)


@dataclass(frozen=True)
class ConfigSnapshot:
    channels: dict[str, Mode]
    escalation_channel: str | None
    reviewers: frozenset[str]
    reviewer_groups: frozenset[str]
    admins: frozenset[str]
    threshold: float
    hours: Hours | None
    review_reminder: float
    review_timeout: float
    # Categories answered without review: DEFAULT for every channel, a channel id for its own.
    auto_categories: dict[str, frozenset[str]]
    paused: bool = False
    # Channels whose customers are asked "How did we do?" when a ticket is resolved (opt-in).
    csat_channels: frozenset[str] = frozenset()
    # action ("open", "claim", "resolve") -> emoji name
    reactions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REACTIONS))
    version: int = 0
    changed: frozenset[str] = field(default_factory=frozenset)  # keys set in Slack

    @property
    def watched(self) -> frozenset[str]:
        """Channels the bot reads: every channel not switched off."""
        return frozenset(c for c, mode in self.channels.items() if mode != "off")

    def mode(self, channel: str) -> Mode:
        return self.channels.get(channel, "off")

    @property
    def default_categories(self) -> frozenset[str]:
        """The categories answered without review in every channel without its own choice."""
        return self.auto_categories.get(DEFAULT, frozenset())

    def answers_automatically(self, channel: str) -> frozenset[str]:
        """The categories answered without review in ``channel``: its own choice, else the
        default."""
        own = self.auto_categories.get(channel)
        return own if own is not None else self.default_categories

    def stored(self) -> dict[str, Any]:
        """The snapshot in the form the database keeps, key by key."""
        return {
            "channels": dict(self.channels),
            "escalation_channel": self.escalation_channel,
            "reviewers": sorted(self.reviewers),
            "reviewer_groups": sorted(self.reviewer_groups),
            "admins": sorted(self.admins),
            "threshold": self.threshold,
            "hours": self.hours.to_json() if self.hours else None,
            "review_reminder": self.review_reminder,
            "review_timeout": self.review_timeout,
            "paused": self.paused,
            "auto_categories": {k: sorted(v) for k, v in sorted(self.auto_categories.items())},
            "csat_channels": sorted(self.csat_channels),
            "reactions": dict(self.reactions),
        }

    def reaction_action(self, emoji: str) -> ReactionAction | None:
        """What ``:emoji:`` does on a customer's message (a skin tone makes no difference)."""
        base = emoji.split("::", 1)[0]
        for action in REACTION_ACTIONS:
            if self.reactions.get(action) == base:
                return action
        return None


def defaults(settings: Settings) -> ConfigSnapshot:
    return ConfigSnapshot(
        channels={c: "auto" for c in settings.support_channels},
        escalation_channel=settings.escalation_channel,
        reviewers=frozenset(settings.support_reviewers),
        reviewer_groups=frozenset(),
        admins=frozenset(settings.support_admins),
        threshold=settings.auto_answer_threshold,
        hours=settings.support_hours,
        review_reminder=settings.review_reminder,
        review_timeout=settings.review_timeout,
        auto_categories={DEFAULT: frozenset(settings.auto_answer_categories)},
    )


def overlay(base: ConfigSnapshot, stored: dict[str, Any], version: int) -> ConfigSnapshot:
    """Apply stored values over the defaults; a value that no longer parses is skipped, with a
    warning, rather than stopping the bot."""
    fields: dict[str, Any] = {}
    for key, value in stored.items():
        try:
            fields[key] = _decode(key, value)
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("ignoring the stored setting %s: %s", key, exc)
    return replace(base, **fields, version=version, changed=frozenset(fields))


def _decode(key: str, value: Any) -> Any:
    if key == "channels":
        channels = {str(c): str(m) for c, m in dict(value).items()}
        bad = [m for m in channels.values() if m not in MODES]
        if bad:
            raise ValueError(f"unknown channel mode {bad[0]!r}")
        return channels
    if key in ("reviewers", "reviewer_groups", "admins", "csat_channels"):
        return frozenset(str(v) for v in value)
    if key == "hours":
        return None if value is None else Hours.from_json(value)
    if key == "threshold":
        number = float(value)
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"threshold {number} is outside 0..1")
        return number
    if key in ("review_reminder", "review_timeout"):
        return parse_duration(float(value))
    if key == "paused":
        return bool(value)
    if key == "escalation_channel":
        return None if value is None else str(value)
    if key == "auto_categories":
        return _decode_categories(value)
    if key == "reactions":
        return check_reactions(value)
    raise KeyError(f"unknown setting {key!r}")


def _decode_categories(value: Any) -> dict[str, frozenset[str]]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    if DEFAULT not in value:
        raise ValueError(f"no default ({DEFAULT!r})")
    decoded: dict[str, frozenset[str]] = {}
    for where, names in value.items():
        if not isinstance(names, list):
            raise TypeError(f"{where}: expected a list, got {type(names).__name__}")
        bad = [n for n in names if n not in CATEGORIES]
        if bad:
            raise ValueError(f"{where}: unknown category {bad[0]!r}")
        decoded[str(where)] = frozenset(names)
    return decoded


def check_reactions(value: Any) -> dict[str, str]:
    """A complete action -> emoji mapping: every action, valid names, no emoji twice."""
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(REACTION_ACTIONS))
    if unknown:
        raise ValueError(f"unknown reaction action {unknown[0]!r}")
    mapping: dict[str, str] = {
        a: str(value.get(a) or DEFAULT_REACTIONS[a]) for a in REACTION_ACTIONS
    }
    bad = [name for name in mapping.values() if not EMOJI_NAME.match(name)]
    if bad:
        raise ValueError(f"{bad[0][:40]!r} is not an emoji name")
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("one emoji cannot do two things")
    return mapping


class LiveConfig:
    def __init__(self, settings: Settings, repo: ConfigRepository) -> None:
        self.settings = settings
        self.repo = repo
        self.base = defaults(settings)
        self.current = self.base

    async def load(self) -> ConfigSnapshot:
        version, stored = await self.repo.values()
        self.current = overlay(self.base, stored, version)
        return self.current

    async def refresh(self) -> ConfigSnapshot:
        """The snapshot, reloaded first if any process changed the configuration."""
        if await self.repo.version() != self.current.version:
            await self.load()
        return self.current

    async def change(
        self,
        *,
        user_id: str,
        action: str,
        expected_version: int | None = None,
        **updates: Any,
    ) -> ConfigSnapshot:
        """Store new values (snapshot field names, snapshot types), audited, and reload.

        ``expected_version`` is the version the caller computed its values from: if anyone
        changed the settings since, ConfigConflict is raised and nothing is stored (two admins
        adding reviewers at once must not lose one of the additions)."""
        unknown = set(updates) - set(KEYS)
        if unknown:
            raise KeyError(f"unknown settings {sorted(unknown)}")
        old = (await self.refresh()).stored()
        if expected_version is not None and expected_version != self.current.version:
            raise ConfigConflict(f"version {self.current.version} != {expected_version}")
        new = replace(self.current, **updates).stored()
        changed = {k: new[k] for k in updates if new[k] != old[k]}
        if changed:
            await self.repo.change(
                user_id=user_id,
                action=action,
                updates=changed,
                old=old,
                expected_version=self.current.version,
            )
            await self.load()
        return self.current
