"""The issue tracker's settings: exactly one tracker, what it needs, blank values unset."""

from __future__ import annotations

import pytest

from bot.settings.environment import (
    ConfigError,
    Settings,
    load_settings,
    problems_for_start,
    tracker_problems,
)
from bot.settings.logs import redact

BASE = {
    "slack_bot_token": "xoxb-1",
    "slack_signing_secret": "s",
    "support_channels": "CSUPPORT",
    "escalation_channel": "CESCALATE",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **{**BASE, **values})  # type: ignore[arg-type,call-arg]


def test_no_tracker_by_default_and_nothing_asked_for() -> None:
    assert settings().issue_tracker is None
    assert tracker_problems(settings()) == []
    assert settings(issue_tracker=" ").issue_tracker is None


def test_two_trackers_are_refused_in_plain_words() -> None:
    with pytest.raises(ConfigError, match="name exactly one issue tracker"):
        load_settings(_env_file=None, issue_tracker="linear, github")
    with pytest.raises(ConfigError, match="ISSUE_TRACKER"):
        load_settings(_env_file=None, issue_tracker="trello")


@pytest.mark.parametrize(
    ("tracker", "needs"),
    [
        ("linear", ["LINEAR_API_KEY", "LINEAR_TEAM_ID"]),
        ("jira", ["JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PROJECT_KEY"]),
        ("github", ["GITHUB_TOKEN", "GITHUB_REPO"]),
    ],
)
def test_a_tracker_says_what_it_still_needs_at_start(tracker: str, needs: list[str]) -> None:
    problems = problems_for_start(settings(issue_tracker=tracker.upper()))
    for name in needs:
        assert any(f"but {name} is not set" in p for p in problems), name


def test_a_configured_tracker_has_no_problems_and_keeps_its_token_secret() -> None:
    configured = settings(issue_tracker="github", github_token="ghp_abc", github_repo="a/b")
    assert tracker_problems(configured) == []
    assert "ghp_abc" not in repr(configured)


def test_bad_urls_repos_and_intervals_are_refused() -> None:
    with pytest.raises(ConfigError, match="owner/name"):
        load_settings(_env_file=None, github_repo="just-a-name")
    with pytest.raises(ConfigError, match="http"):
        load_settings(_env_file=None, jira_url="acme.atlassian.net")
    with pytest.raises(ConfigError, match="once a second"):
        load_settings(_env_file=None, tracker_poll_interval="0.5")
    assert settings(tracker_poll_interval="10m").tracker_poll_interval == 600
    assert settings(jira_url="https://acme.atlassian.net/").jira_url == "https://acme.atlassian.net"


@pytest.mark.parametrize(
    "token",
    [
        "lin_api_Xq8JrT0b3kZm9Lw2",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0aBcDeFgHiJkLmNoP",
        "ATATT3xFfGF0T4ppm2WxYz",
    ],
)
def test_tracker_tokens_never_reach_a_log_line(token: str) -> None:
    assert token not in redact(f"calling the tracker with {token} failed", pii=False)
