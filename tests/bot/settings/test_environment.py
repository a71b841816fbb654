"""Settings from the environment, their validation, and what start-up still needs; the
snapshot admins' stored values make of them."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.settings.environment import (
    WHERE_TO_GET,
    ConfigError,
    Settings,
    load_settings,
    problems_for_start,
)
from bot.settings.live import ConfigSnapshot, defaults, overlay

ENV_NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SUPPORT_CHANNELS",
    "ESCALATION_CHANNEL",
    "SUPPORT_REVIEWERS",
    "SUPPORT_ADMINS",
    "SLACK_API_URL",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "AUTO_ANSWER_THRESHOLD",
    "AUTO_ANSWER_CATEGORIES",
    "PORT",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No developer environment leaks in; tests set exactly what they mean."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _load() -> Settings:
    return load_settings(_env_file=None)


def _ready_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-123")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "abc123")
    monkeypatch.setenv("SUPPORT_CHANNELS", "C0SUPPORT")
    monkeypatch.setenv("ESCALATION_CHANNEL", "C0ESCALATE")


def test_defaults_without_any_environment() -> None:
    settings = _load()
    assert settings.support_channels == []
    assert settings.escalation_channel is None
    assert settings.slack_bot_token is None
    assert not settings.socket_mode
    assert not settings.llm_enabled
    assert settings.auto_answer_threshold == 0.7


def test_env_file_is_read_when_given(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("SUPPORT_CHANNELS=C0FROMFILE\n", encoding="utf-8")
    assert load_settings(_env_file=str(env)).support_channels == ["C0FROMFILE"]


@pytest.mark.parametrize(
    "raw",
    ["C0AAA,C0BBB,G0CCC", "C0AAA C0BBB G0CCC", " C0AAA , C0BBB,\tG0CCC ,, ", "C0AAA,\nC0BBB G0CCC"],
)
def test_channel_lists_split_on_commas_and_whitespace(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("SUPPORT_CHANNELS", raw)
    assert _load().support_channels == ["C0AAA", "C0BBB", "G0CCC"]


def test_user_lists_split_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_REVIEWERS", "U0AAA, W0BBB")
    monkeypatch.setenv("SUPPORT_ADMINS", "U0CCC")
    settings = _load()
    assert settings.support_reviewers == ["U0AAA", "W0BBB"]
    assert settings.support_admins == ["U0CCC"]


def test_empty_list_variable_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_CHANNELS", "")
    assert _load().support_channels == []


@pytest.mark.parametrize("bad", ["#support", "c0lower", "U0USER", "C0", "support"])
def test_invalid_support_channel_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("SUPPORT_CHANNELS", f"C0GOOD,{bad}")
    with pytest.raises(ConfigError) as info:
        _load()
    message = str(info.value)
    assert "SUPPORT_CHANNELS" in message
    assert bad in message
    assert "C0GOOD," not in message  # only the bad id is quoted
    assert "Channel ID" in message  # says where to find the right value


@pytest.mark.parametrize("bad", ["#escalations", "U0USER", "x"])
def test_invalid_escalation_channel_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("ESCALATION_CHANNEL", bad)
    with pytest.raises(ConfigError, match="ESCALATION_CHANNEL"):
        _load()


def test_escalation_channel_is_trimmed_and_blank_means_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESCALATION_CHANNEL", "  C0ESC  ")
    assert _load().escalation_channel == "C0ESC"
    monkeypatch.setenv("ESCALATION_CHANNEL", "   ")
    assert _load().escalation_channel is None


@pytest.mark.parametrize("name", ["SUPPORT_REVIEWERS", "SUPPORT_ADMINS"])
@pytest.mark.parametrize("bad", ["@alice", "C0CHANNEL", "u0lower"])
def test_invalid_user_ids_are_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, bad: str
) -> None:
    monkeypatch.setenv(name, f"U0GOOD {bad}")
    with pytest.raises(ConfigError) as info:
        _load()
    message = str(info.value)
    assert name in message
    assert bad in message
    assert "member ID" in message


def test_several_problems_are_all_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_CHANNELS", "nope")
    monkeypatch.setenv("SUPPORT_ADMINS", "nobody")
    monkeypatch.setenv("AUTO_ANSWER_THRESHOLD", "1.5")
    with pytest.raises(ConfigError) as info:
        _load()
    message = str(info.value)
    assert message.startswith("The configuration is invalid:")
    for name in ("SUPPORT_CHANNELS", "SUPPORT_ADMINS", "AUTO_ANSWER_THRESHOLD"):
        assert name in message


def test_slack_api_url_gets_a_trailing_slash_and_must_be_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    assert _load().slack_api_url == "http://127.0.0.1:9999/api/"
    monkeypatch.setenv("SLACK_API_URL", "slack.com/api")
    with pytest.raises(ConfigError, match="SLACK_API_URL"):
        _load()


def test_nothing_set_lists_every_missing_setting_with_where_to_get_it() -> None:
    problems = problems_for_start(_load())
    names = [p.split(" ", 1)[0] for p in problems]
    assert names == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SUPPORT_CHANNELS",
        "ESCALATION_CHANNEL",
    ]
    for problem, name in zip(problems, names, strict=True):
        assert problem == f"{name} is not set: {WHERE_TO_GET[name]}"
    assert "OAuth & Permissions" in problems[0]
    assert "Signing Secret" in problems[1]


def test_complete_http_configuration_has_no_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    settings = _load()
    assert not settings.socket_mode
    assert problems_for_start(settings) == []


def test_http_mode_needs_the_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    problems = problems_for_start(_load())
    assert len(problems) == 1
    assert problems[0].startswith("SLACK_SIGNING_SECRET is not set: ")


def test_socket_mode_does_not_need_the_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    settings = _load()
    assert settings.socket_mode
    assert problems_for_start(settings) == []


def test_app_token_must_be_an_xapp_token(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")
    assert problems_for_start(_load()) == [
        "SLACK_APP_TOKEN must be an app-level token starting with xapp-"
    ]


def test_bot_token_must_be_an_xoxb_token(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    assert problems_for_start(_load()) == [
        "SLACK_BOT_TOKEN must be a bot token starting with xoxb-"
    ]


def test_escalation_channel_inside_support_channels_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _ready_http(monkeypatch)
    monkeypatch.setenv("SUPPORT_CHANNELS", "C0SUPPORT,C0ESCALATE")
    problems = problems_for_start(_load())
    assert len(problems) == 1
    assert "ESCALATION_CHANNEL must not be one of SUPPORT_CHANNELS" in problems[0]


def test_secrets_are_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    settings = _load()
    assert settings.llm_enabled
    assert "sk-very-secret" not in repr(settings)
    assert "abc123" not in repr(settings)


def test_blank_signing_secret_in_http_mode_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    _ready_http(monkeypatch)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")
    problems = problems_for_start(_load())
    assert any(p.startswith("SLACK_SIGNING_SECRET") for p in problems)


# -- categories answered automatically -------------------------------------------------------


def test_only_simple_faqs_are_answered_automatically_by_default() -> None:
    assert _load().auto_answer_categories == ["simple_faq"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("simple_faq,billing_query", ["simple_faq", "billing_query"]),
        (" Billing_Query , unknown,billing_query", ["billing_query", "unknown"]),
        ("", []),
    ],
)
def test_auto_answer_categories_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("AUTO_ANSWER_CATEGORIES", raw)
    assert _load().auto_answer_categories == expected


@pytest.mark.parametrize("bad", ["faq", "simple_faq,refunds", "all"])
def test_unknown_auto_answer_categories_are_a_config_error(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("AUTO_ANSWER_CATEGORIES", bad)
    with pytest.raises(ConfigError) as info:
        _load()
    message = str(info.value)
    assert "AUTO_ANSWER_CATEGORIES" in message and "complex_issue" in message


def _snapshot(stored: dict[str, Any], **env: Any) -> ConfigSnapshot:
    return overlay(defaults(load_settings(_env_file=None, **env)), stored, version=1)


def test_the_environment_is_the_default_for_every_channel() -> None:
    snapshot = _snapshot({}, auto_answer_categories=["billing_query", "simple_faq"])
    assert snapshot.auto_categories == {"*": frozenset({"billing_query", "simple_faq"})}
    assert snapshot.answers_automatically("C0ANY") == {"billing_query", "simple_faq"}
    assert _snapshot({}, auto_answer_categories=[]).answers_automatically("C0ANY") == frozenset()


def test_a_channels_own_choice_overrides_the_default_even_when_empty() -> None:
    snapshot = _snapshot(
        {"auto_categories": {"*": ["complex_issue"], "C0BILL": ["billing_query"], "C0NONE": []}}
    )
    assert snapshot.answers_automatically("C0BILL") == {"billing_query"}
    assert snapshot.answers_automatically("C0NONE") == frozenset()
    assert snapshot.answers_automatically("C0OTHER") == {"complex_issue"}
    assert snapshot.default_categories == {"complex_issue"}
    assert "auto_categories" in snapshot.changed


def test_categories_are_stored_as_sorted_lists_and_read_back_the_same() -> None:
    snapshot = _snapshot(
        {"auto_categories": {"C0B": ["unknown", "billing_query"], "*": ["simple_faq"]}}
    )
    form = snapshot.stored()["auto_categories"]
    assert form == {"*": ["simple_faq"], "C0B": ["billing_query", "unknown"]}
    assert list(form) == ["*", "C0B"]
    assert _snapshot({"auto_categories": form}).auto_categories == snapshot.auto_categories


@pytest.mark.parametrize(
    "bad",
    [
        {"*": ["simple_faq", "refunds"]},
        {"*": ["simple_faq"], "C0X": ["faq"]},
        {"C0X": ["simple_faq"]},  # no default
        {"*": "simple_faq"},
        ["simple_faq"],
        None,
    ],
)
def test_a_bad_stored_value_is_skipped_with_a_warning(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.settings.live"):
        snapshot = _snapshot({"auto_categories": bad, "threshold": 0.9})
    assert snapshot.auto_categories == {"*": frozenset({"simple_faq"})}  # the environment's
    assert snapshot.threshold == 0.9  # the other settings still apply
    assert "auto_categories" not in snapshot.changed
    assert "ignoring the stored setting auto_categories" in caplog.text
