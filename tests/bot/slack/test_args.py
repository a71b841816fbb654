"""Strict parsing of /support arguments: what Slack sends with should_escape, and what not."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.settings.categories import CATEGORIES
from bot.settings.live import MODES
from bot.slack.args import (
    CATEGORIES_FORM,
    CHANNEL_FORM,
    SUBTEAM_FORM,
    USER_FORM,
    ArgError,
    parse_categories,
    parse_channel,
    parse_mode,
    parse_people,
    parse_reactions,
    parse_subteam,
    parse_threshold,
    parse_user,
)

# -- channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<#C0123ABCD|support>", "C0123ABCD"),
        ("<#C0123ABCD>", "C0123ABCD"),
        ("<#C0123ABCD|>", "C0123ABCD"),
        ("<#G0123ABCD|private-team>", "G0123ABCD"),
        ("<#C0123ABCD|support-eu_2>", "C0123ABCD"),
        ("C0123ABCD", "C0123ABCD"),
        ("G0123ABCD", "G0123ABCD"),
        ("C12", "C12"),
        ("  <#C0123ABCD|support>\n", "C0123ABCD"),
        ("\tC0123ABCD ", "C0123ABCD"),
    ],
)
def test_channel_forms(token: str, expected: str) -> None:
    assert parse_channel(token) == expected


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        ("#support", ["`#support`", "must be picked from Slack's channel list", CHANNEL_FORM]),
        ("general", ["`general`", "not a channel", CHANNEL_FORM]),
        ("<@U0123ABCD>", ["`<@U0123ABCD>`", "is a person, not a channel", CHANNEL_FORM]),
        (SUBTEAM_FORM, ["is a user group, not a channel", CHANNEL_FORM]),
        ("<!here>", ["broadcast", CHANNEL_FORM]),
        ("", ["a channel is missing", CHANNEL_FORM]),
        ("   ", ["a channel is missing", CHANNEL_FORM]),
        ("<#c0123abcd|support>", ["not a channel", CHANNEL_FORM]),
        ("c0123abcd", ["not a channel", CHANNEL_FORM]),
        ("C1", ["not a channel", CHANNEL_FORM]),
        ("U0123ABCD", ["is a person, not a channel"]),
        ("<#C0123ABCD|support", ["not a channel"]),
        ("<#C0123ABCD|support> extra", ["not a channel"]),
        ("<#C0123ABCD|sup>port>", ["not a channel"]),
        ("<# C0123ABCD>", ["not a channel"]),
    ],
)
def test_channel_rejections_show_the_form(token: str, fragments: list[str]) -> None:
    with pytest.raises(ArgError) as caught:
        parse_channel(token)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_huge_token_is_shortened_in_the_message() -> None:
    with pytest.raises(ArgError) as caught:
        parse_channel("x" * 10_000)
    assert len(str(caught.value)) < 300
    assert "…" in str(caught.value)


def test_backticks_in_a_token_do_not_break_the_code_span() -> None:
    with pytest.raises(ArgError) as caught:
        parse_channel("a`b")
    assert "`a'b`" in str(caught.value)


# -- people and groups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<@U0123ABCD|ana>", "U0123ABCD"),
        ("<@U0123ABCD>", "U0123ABCD"),
        ("<@U0123ABCD|>", "U0123ABCD"),
        ("<@W0123ABCD|enterprise.user>", "W0123ABCD"),
        ("<@U0123ABCD|ana maria>", "U0123ABCD"),
        ("U0123ABCD", "U0123ABCD"),
        ("W0123ABCD", "W0123ABCD"),
        (" <@U0123ABCD> ", "U0123ABCD"),
    ],
)
def test_user_forms(token: str, expected: str) -> None:
    assert parse_user(token) == expected


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        ("@ana", ["`@ana`", "plain text, not a person", USER_FORM]),
        ("ana", ["`ana`", "not a person", USER_FORM]),
        ("<#C0123ABCD|support>", ["is a channel, not a person", USER_FORM]),
        (SUBTEAM_FORM, ["is a user group, not a person", USER_FORM]),
        ("<!channel>", ["broadcast", USER_FORM]),
        ("", ["a person is missing", USER_FORM]),
        ("<@u0123abcd>", ["not a person", USER_FORM]),
        ("<@U0123ABCD", ["not a person"]),
        ("U1", ["not a person"]),
        ("<@U0123ABCD>,", ["not a person"]),
    ],
)
def test_user_rejections_show_the_form(token: str, fragments: list[str]) -> None:
    with pytest.raises(ArgError) as caught:
        parse_user(token)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<!subteam^S0123ABCD|@support-team>", "S0123ABCD"),
        ("<!subteam^S0123ABCD>", "S0123ABCD"),
        ("<!subteam^S0123ABCD|>", "S0123ABCD"),
        ("S0123ABCD", "S0123ABCD"),
        ("  <!subteam^S0123ABCD|@support-team>  ", "S0123ABCD"),
    ],
)
def test_subteam_forms(token: str, expected: str) -> None:
    assert parse_subteam(token) == expected


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        ("@support-team", ["`@support-team`", "plain text, not a user group", SUBTEAM_FORM]),
        ("<@U0123ABCD|ana>", ["is a person, not a user group", SUBTEAM_FORM]),
        ("<!subteam^s0123abcd>", ["not a user group", SUBTEAM_FORM]),
        ("<!subteam^S0123ABCD", ["not a user group"]),
        ("<!subteam S0123ABCD>", ["not a user group"]),
        ("<!here>", ["broadcast", SUBTEAM_FORM]),
        ("", ["a user group is missing", SUBTEAM_FORM]),
    ],
)
def test_subteam_rejections_show_the_form(token: str, fragments: list[str]) -> None:
    with pytest.raises(ArgError) as caught:
        parse_subteam(token)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("tokens", "users", "groups"),
    [
        (["<@U0123ABCD|ana>"], ["U0123ABCD"], []),
        (["<!subteam^S0123ABCD|@support-team>"], [], ["S0123ABCD"]),
        (
            ["<@U1AB|ana>", "<!subteam^S1AB|@team>", "<@W2CD>", "<!subteam^S2CD>"],
            ["U1AB", "W2CD"],
            ["S1AB", "S2CD"],
        ),
        (["<@U1AB|ana>,", "<@U2CD|bo>,"], ["U1AB", "U2CD"], []),
        (["<@U1AB|ana>", ",", "<@U2CD|bo>", ","], ["U1AB", "U2CD"], []),
        (["<@U1AB|ana>,<@U2CD|bo>,<!subteam^S1AB>"], ["U1AB", "U2CD"], ["S1AB"]),
        (["<@U1AB|ana>", "<@U1AB>", "U1AB", "<@U2CD>", "<@U1AB|ana>"], ["U1AB", "U2CD"], []),
        (["<!subteam^S1AB>", "S1AB", "<!subteam^S1AB|@x>"], [], ["S1AB"]),
        (["U1AB", "W2CD", "S3EF"], ["U1AB", "W2CD"], ["S3EF"]),
        # A label with a space, split apart by a naive str.split(), is put back together.
        (["<@U1AB|ana", "maria>", "<@U2CD>"], ["U1AB", "U2CD"], []),
        (["<@U1AB|smith, ana>"], ["U1AB"], []),
        ([" <@U1AB> ", "\t<@U2CD>\n"], ["U1AB", "U2CD"], []),
    ],
)
def test_people_mixed_in_any_order(tokens: list[str], users: list[str], groups: list[str]) -> None:
    assert parse_people(tokens) == (users, groups)


@pytest.mark.parametrize("tokens", [[], [""], [" ", ","], [",", ",,"]])
def test_people_need_at_least_one(tokens: list[str]) -> None:
    with pytest.raises(ArgError) as caught:
        parse_people(tokens)
    message = str(caught.value)
    assert "at least one" in message
    assert USER_FORM in message
    assert SUBTEAM_FORM in message


@pytest.mark.parametrize(
    ("tokens", "bad"),
    [
        (["<@U1AB>", "@bo"], "`@bo`"),
        (["@ana", "<@U1AB>"], "`@ana`"),
        (["<@U1AB>", "<#C0123ABCD|support>"], "`<#C0123ABCD|support>`"),
        (["<@U1AB>,bob"], "`bob`"),
        (["<@U1AB>", "<!here>"], "`<!here>`"),
        (["<@U1AB><@U2CD>"], "`<@U1AB><@U2CD>`"),
        (["<@U1AB>x"], "`<@U1AB>x`"),
        (["<@u1ab>"], "`<@u1ab>`"),
        (["<@U1AB"], "`<@U1AB`"),
        (["<!subteam^S1AB", "<@U2CD>"], "`<!subteam^S1AB`"),
        (["<@U2CD>", "<@U1AB,", "<@U3EF>"], "`<@U1AB`"),
    ],
)
def test_people_name_the_bad_token(tokens: list[str], bad: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse_people(tokens)
    message = str(caught.value)
    assert bad in message
    assert "not a person or user group" in message
    assert USER_FORM in message


# -- threshold -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("0.7", 0.7),
        (".7", 0.7),
        ("0", 0.0),
        ("1", 1.0),
        ("1.0", 1.0),
        ("0.0", 0.0),
        ("1.", 1.0),
        ("0.95", 0.95),
        ("+0.5", 0.5),
        ("-0", 0.0),
        ("70%", 0.7),
        ("70 %", 0.7),
        ("0%", 0.0),
        ("100%", 1.0),
        ("12.5%", 0.125),
        (" 0.7 ", 0.7),
    ],
)
def test_threshold_forms(token: str, expected: float) -> None:
    value = parse_threshold(token)
    assert value == pytest.approx(expected)
    assert 0.0 <= value <= 1.0
    assert str(value) != "-0.0"


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        ("1.5", ["`1.5` is out of range", "a number from 0.0 to 1.0, like 0.7"]),
        ("-0.1", ["out of range", "a number from 0.0 to 1.0, like 0.7"]),
        ("2", ["out of range"]),
        ("150%", ["out of range", "0% to 100%"]),
        ("-5%", ["out of range"]),
        ("9" * 400, ["out of range"]),
        ("abc", ["`abc` is not a threshold", "a number from 0.0 to 1.0, like 0.7"]),
        ("nan", ["not a threshold", "a number from 0.0 to 1.0, like 0.7"]),
        ("NaN", ["not a threshold"]),
        ("inf", ["not a threshold"]),
        ("1e-1", ["not a threshold"]),
        ("0,7", ["not a threshold"]),
        ("0.7.1", ["not a threshold"]),
        ("%", ["not a threshold"]),
        (".", ["not a threshold"]),
        ("٠.٧", ["not a threshold"]),  # Arabic-Indic digits: float() would take them
        ("0x1", ["not a threshold"]),
        ("1_0", ["not a threshold"]),
        ("", ["missing", "a number from 0.0 to 1.0, like 0.7"]),
    ],
)
def test_threshold_rejections_show_the_form(token: str, fragments: list[str]) -> None:
    with pytest.raises(ArgError) as caught:
        parse_threshold(token)
    for fragment in fragments:
        assert fragment in str(caught.value)


# -- mode ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("auto", "auto"),
        ("AUTO", "auto"),
        ("Review", "review"),
        ("off", "off"),
        ("OFF", "off"),
        (" review\n", "review"),
    ],
)
def test_mode_forms(token: str, expected: str) -> None:
    assert parse_mode(token) == expected


@pytest.mark.parametrize("token", ["", "on", "manual", "autox", "re view", "offf", "<#C1AB>"])
def test_mode_rejections_list_the_three(token: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse_mode(token)
    message = str(caught.value)
    for mode in MODES:
        assert f"{mode} (" in message  # each with its meaning


# -- categories ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["faq"], {"simple_faq"}),
        (["FAQ,", "Billing"], {"simple_faq", "billing_query"}),
        (["simple_faq,billing_query"], {"simple_faq", "billing_query"}),
        (["complex", "feature", "unknown"], {"complex_issue", "feature_request", "unknown"}),
        (["Complex_Issue", ",", "FEATURE_REQUEST"], {"complex_issue", "feature_request"}),
        (["faq", "simple_faq", "faq"], {"simple_faq"}),
        ([" billing\n"], {"billing_query"}),
        (["none"], set()),
        (["None"], set()),
        ([",none,"], set()),
    ],
)
def test_category_forms(tokens: list[str], expected: set[str]) -> None:
    assert parse_categories(tokens) == frozenset(expected)


@pytest.mark.parametrize(
    ("tokens", "fragments"),
    [
        ([], ["name the categories", CATEGORIES_FORM]),
        ([" ", ","], ["name the categories", CATEGORIES_FORM]),
        (["faq", "Biling"], ["`Biling` is not a category", CATEGORIES_FORM]),
        (["faqs"], ["`faqs` is not a category"]),
        (["default"], ["`default` is not a category"]),
        (["faq", "none"], ["`none` cannot be combined", "none alone"]),
        (["NONE", "billing"], ["`NONE` cannot be combined"]),
        (["<!here>"], ["`<!here>` is not a category"]),
        (["simple faq"], ["`simple` is not a category"]),
    ],
)
def test_category_rejections_name_the_word_and_the_choices(
    tokens: list[str], fragments: list[str]
) -> None:
    with pytest.raises(ArgError) as caught:
        parse_categories(tokens)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_the_category_form_names_every_category() -> None:
    for name in CATEGORIES:
        assert name in CATEGORIES_FORM


# -- anything at all -----------------------------------------------------------------------------

_FRAGMENTS = [
    "<", ">", "#", "@", "!", "|", "^", ",", " ", "\t", "\n", "%", ".", "-", "+", "`",
    "C", "G", "U", "W", "S", "c", "u", "0123ABCD", "12", "9", "0", "1", "0.7", "e", "nan",
    "subteam", "subteam^", "<#", "<@", "<!", "<!subteam^", "here", "channel", "support",
    "\x00", "\ud800", "é", "٣", "\u200b", "\u00a0", "–", "🙂", "inf", "auto", "OFF",
]  # fmt: skip


def _odd_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    made = ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 8))) for _ in range(count)]
    return [*made, "<" * 500, ">" * 500, "<@" + "U" * 5000 + ">", "\ud800" * 3, "%" * 3]


_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


_PARSERS: list[tuple[Callable[[str], object], Callable[[Any], bool]]] = [
    (parse_channel, lambda r: bool(_CHANNEL_ID.fullmatch(r))),
    (parse_user, lambda r: bool(_USER_ID.fullmatch(r))),
    (parse_subteam, lambda r: bool(_GROUP_ID.fullmatch(r))),
    (parse_threshold, lambda r: isinstance(r, float) and 0.0 <= r <= 1.0),
    (parse_mode, lambda r: r in MODES),
]


def test_any_string_gives_a_valid_result_or_arg_error() -> None:
    accepted = 0
    for text in _odd_strings(3000, seed=20260329):
        for parse, valid in _PARSERS:
            try:
                result = parse(text)
            except ArgError as exc:
                assert str(exc)
            else:
                accepted += 1
                assert valid(result), (parse.__name__, text, result)
    assert accepted > 0  # the generator does reach valid forms too


def test_any_token_list_gives_valid_people_or_arg_error() -> None:
    rng = random.Random(7)
    strings = _odd_strings(600, seed=25)
    strings += ["<@U1AB>", "<!subteam^S1AB|@t>", "W9Z9", ",", "<@U1AB|a b>"]
    accepted = 0
    for _ in range(1500):
        tokens = rng.sample(strings, rng.randint(0, 4))
        try:
            users, groups = parse_people(tokens)
        except ArgError as exc:
            assert str(exc)
        else:
            accepted += 1
            assert users or groups
            assert all(_USER_ID.fullmatch(u) for u in users)
            assert all(_GROUP_ID.fullmatch(g) for g in groups)
            assert len(set(users)) == len(users)
            assert len(set(groups)) == len(groups)
    assert accepted > 0


def test_any_token_list_gives_known_categories_or_arg_error() -> None:
    rng = random.Random(11)
    strings = [*_odd_strings(600, seed=12), "faq", "Billing,", "none", "unknown", "feature"]
    accepted = 0
    for _ in range(1500):
        tokens = rng.sample(strings, rng.randint(0, 4))
        try:
            chosen = parse_categories(tokens)
        except ArgError as exc:
            assert str(exc)
        else:
            accepted += 1
            assert chosen <= set(CATEGORIES)
    assert accepted > 0


# -- /support reactions ------------------------------------------------------------------------

DEFAULTS = {"open": "ticket", "claim": "eyes", "resolve": "white_check_mark"}


def test_reactions_change_the_emoji_given_and_keep_the_rest() -> None:
    assert parse_reactions(["open=:sos:", "Resolve=heavy_check_mark"], DEFAULTS) == {
        "open": "sos",
        "claim": "eyes",
        "resolve": "heavy_check_mark",
    }
    assert parse_reactions(["done=:+1:", "own=:raising_hand:"], DEFAULTS)["resolve"] == "+1"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "Say which emoji does what"),
        (["open"], "is not ACTION=:emoji:"),
        (["explode=:boom:"], "is not ACTION=:emoji:"),
        (["open=:sos:", "open=:fire:"], "open is given twice"),
        (["open=:eyes:"], ":eyes: cannot both open and claim"),
        (["open=:a b:"], "is not an emoji name"),
        (["open=:eyes::skin-tone-2:"], "is not an emoji name"),
        (["claim=<@U123>"], "is not an emoji name"),
        (["claim="], "is not an emoji name"),
    ],
)
def test_bad_reactions_say_what_is_wrong(words: list[str], message: str) -> None:
    with pytest.raises(ArgError, match=re.escape(message)):
        parse_reactions(words, DEFAULTS)
