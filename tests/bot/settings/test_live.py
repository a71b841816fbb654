"""Live settings: the reactions mapping as stored, and what a stored value that no longer parses
does (skipped, the default stands)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings.environment import Settings
from bot.settings.live import DEFAULT_REACTIONS, check_reactions, defaults, overlay


def _settings() -> Settings:
    return Settings(_env_file=None, support_channels=["CSUP"], escalation_channel="CESC")  # type: ignore[call-arg]


def test_the_default_emoji_and_what_each_does() -> None:
    snapshot = defaults(_settings())
    assert snapshot.reactions == DEFAULT_REACTIONS
    assert snapshot.reaction_action("ticket") == "open"
    assert snapshot.reaction_action("eyes::skin-tone-5") == "claim"
    assert snapshot.reaction_action("white_check_mark") == "resolve"
    assert snapshot.reaction_action("tada") is None
    assert snapshot.stored()["reactions"] == DEFAULT_REACTIONS


def test_a_stored_mapping_is_in_force_and_fills_in_missing_actions() -> None:
    snapshot = overlay(defaults(_settings()), {"reactions": {"open": "sos"}}, version=3)
    assert snapshot.reactions == {**DEFAULT_REACTIONS, "open": "sos"}
    assert snapshot.reaction_action("sos") == "open" and snapshot.reaction_action("ticket") is None


@pytest.mark.parametrize(
    "stored",
    [
        {"open": "eyes"},  # eyes would both open and claim
        {"open": "not an emoji"},
        {"explode": "boom"},
        ["ticket", "eyes"],
    ],
)
def test_a_stored_mapping_that_no_longer_parses_is_skipped(stored: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        check_reactions(stored)
    snapshot = overlay(defaults(_settings()), {"reactions": stored}, version=3)
    assert snapshot.reactions == DEFAULT_REACTIONS and "reactions" not in snapshot.changed
