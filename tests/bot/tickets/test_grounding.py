"""``unsupported_facts``: a draft's facts that none of its cited passages state.

Tables of realistic drafts against the passages they cite: paraphrases that must pass (number
words, thousands separators, v-prefixes, en dashes, menu arrows), facts that must be flagged
(another number, a unit conversion, another currency, a version or time next to the right one,
a setting that is not in the passage), ids and names the customer gave, and text that only
looks like a fact. Then properties: an answer that is its own source states nothing
unsupported, and more sources never make a fact unsupported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.tickets.grounding import (
    name_facts,
    normalise,
    number_facts,
    unsupported_facts,
    unsupported_links,
)

REFUND = "Refunds are available within 30 days of purchase and take 5-10 business days to appear."
PRICING = "The Pro plan costs $49 per user per month, or $470 per year. Annual billing saves 20%."
RELEASE = "Version 2.4.1 fixes the CSV export bug. Update from Settings › About › Updates."
BACKUPS = "Backups run every day at 9:00 UTC and are kept for 2 weeks."
HOURS = "Our support team is available 9am-5pm ET, Monday to Friday."
UPLOADS = "Attachments are limited to 1,000 MB per file and 10 GB per workspace."


# -- supported: the passage says it, perhaps in other words --------------------------------

SUPPORTED = [
    ("You can get a refund within 30 days of purchase.", [REFUND], ""),
    ("You can get a refund within thirty days.", [REFUND], ""),
    ("Refunds take *5-10 business days* to show up.", [REFUND], ""),
    ("Refunds take 5–10 business days to show up.", [REFUND], ""),
    ("Refunds take 5 to 10 business days.", [REFUND], ""),
    ("Refunds take 5-10 days.", [REFUND], ""),
    ("You can get a refund within 30 days.", ["Refunds within thirty days."], ""),
    ("You can get a refund within 2 weeks.", ["Refunds within two weeks."], ""),
    ("Pro is $49/user/month, or $470 a year.", [PRICING], ""),
    ("Pro is $49.00 per user per month.", [PRICING], ""),
    ("Pro is 49 dollars per user.", [PRICING], ""),
    ("You save 20% with annual billing.", [PRICING], ""),
    ("You save 20 percent with annual billing.", [PRICING], ""),
    ("You save twenty percent with annual billing.", [PRICING], ""),
    ("Pro costs €49 a month.", ["Pro costs 49 EUR per month."], ""),
    ("Pro costs 49 EUR a month.", ["Pro costs €49 per month."], ""),
    ("Pro costs £39 a month.", ["Pro costs £39 per month."], ""),
    ("Costs $1,200 a year.", ["$1200 per year"], ""),
    ("Costs $1,200.50 a year.", ["$1200.5 per year"], ""),
    ("Update to *v2.4.1* to fix it.", [RELEASE], ""),
    ("Update to 2.4.1 to fix it.", ["Fixed in v2.4.1."], ""),
    ("Backups run daily at 9:00 UTC.", [BACKUPS], ""),
    ("Backups run daily at 09:00 UTC.", [BACKUPS], ""),
    ("Backups are kept for two weeks.", [BACKUPS], ""),
    ("We're around 9am–5pm ET.", [HOURS], ""),
    ("We're around from 9 am.", [HOURS], ""),
    ("Backups start at 9:00.", ["Backups start at 9:00 am."], ""),
    ("Files can be up to 1000 MB.", [UPLOADS], ""),
    ("Files can be up to 1,000 MB; a workspace holds 10GB.", [UPLOADS], ""),
    ("It's 99.9% uptime.", ["We guarantee 99.9% uptime."], ""),
    ("The free plan has five users.", ["Free includes 5 users."], ""),
    ("The free plan has 5 users.", ["Free includes five users."], ""),
    ("Up to 1,000,000 rows.", ["Exports hold up to 1000000 rows."], ""),
    ("Exports are limited to 10,000 rows.", ["Exports are limited to 10000 rows."], ""),
    ("Retries up to 3 times.", ["The webhook retries 3 times."], ""),
    ("Images should be 16:9.", ["Use 16:9 images."], ""),
    ("We're here 24/7.", ["Support is available 24/7."], ""),
    ("It takes 24h.", ["It takes 24 hours."], ""),
    ("Thirty-day refund window.", ["30-day refund window."], ""),
    ("We reply within twenty-four hours.", ["We reply within 24 hours."], ""),
    ("We reply within 24 hours.", ["We reply within twenty-four hours."], ""),
    ("Cards get 80% off.", ["Cards get eighty percent off."], ""),
    ("You have 1 seat.", ["The trial includes one seat."], ""),
]


@pytest.mark.parametrize(("answer", "sources", "question"), SUPPORTED)
def test_facts_the_passages_state_are_supported(
    answer: str, sources: list[str], question: str
) -> None:
    assert unsupported_facts(answer, sources, question) == []


# -- unsupported: a fact the passages do not state --------------------------------------------

UNSUPPORTED = [
    # another number, another range
    ("You can get a refund within 60 days.", [REFUND], ["60 days"]),
    ("Refunds take 5-7 business days.", [REFUND], ["5-7 business days"]),
    ("Refunds take 3-10 business days.", [REFUND], ["3-10 business days"]),
    ("The free plan has 5 seats.", ["Free includes 3 seats."], ["5 seats"]),
    # conversions are not paraphrase: a reviewer approves them, the customer can't unread them
    ("You can get a refund within 14 days.", ["Refunds within 2 weeks."], ["14 days"]),
    ("You can get a refund within 2 weeks.", ["Refunds within 14 days."], ["2 weeks"]),
    ("Backups are kept for 14 days.", [BACKUPS], ["14 days"]),
    ("It takes 24 hours.", ["It takes a day."], ["24 hours"]),
    ("Files can be up to 1 GB.", [UPLOADS], ["1 gb"]),
    ("We open at 17:00.", ["We open at 5pm."], ["17:00"]),
    # the same number with another unit, currency or precision
    ("The free plan has 5 users.", ["Free includes 5 seats."], ["5 users"]),
    ("Pro is €49 a month.", [PRICING], ["€49"]),
    ("Pro is £49 a month.", [PRICING], ["£49"]),
    ("Plans start at $10.", ["Plans start at $9.99."], ["$10"]),
    ("It's 99.99% uptime.", ["We guarantee 99.9% uptime."], ["99.99%"]),
    ("You save 25% with annual billing.", [PRICING], ["25%"]),
    ("Retries up to 3 attempts.", ["The webhook retries 3 times."], ["3 attempts"]),
    # a number that is part of a bigger one
    ("Refund within 30 days.", ["Refunds within 130 days."], ["30 days"]),
    ("Costs $30.", ["Costs $300."], ["$30"]),
    ("30% off.", ["130% off."], ["30%"]),
    # versions
    ("Update to v2.4.2.", [RELEASE], ["v2.4.2"]),
    ("Update to v2.4.1.", ["Fixed in v12.4.1."], ["v2.4.1"]),
    ("Update to v2.4.1.", ["Fixed in v2.4.10."], ["v2.4.1"]),
    # ratios and times
    ("Call us 24/7.", ["Phones are staffed 4/7."], ["24/7"]),
    ("Backups run at 9:30 UTC.", [BACKUPS], ["9:30"]),
    # names of settings, buttons and menus
    ("Go to Settings > Plans.", ["Open Settings > Billing to download."], ["Plans"]),
    ("Click *Download PDF*.", ["Use the Export CSV button."], ["Download PDF"]),
    ("Set `sso_required` to true.", ["The sso_enforced setting turns it on."], ["sso_required"]),
    ("Click “Save changes”.", ["Press Save."], ["Save changes"]),
    ('Click "Archive channel".', ["Channels can be archived by an admin."], ["Archive channel"]),
    (
        "Go to *Settings* › *Security* → *SAML*.",
        ["Open Settings > Security."],
        ["SAML"],
    ),
    # several at once, in the order the draft states them
    (
        "Pro is $59/month and refunds take 14 days; see *Billing Center*.",
        [PRICING, REFUND],
        ["$59", "14 days", "Billing Center"],
    ),
]


@pytest.mark.parametrize(("answer", "sources", "expected"), UNSUPPORTED)
def test_facts_no_passage_states_are_named(
    answer: str, sources: list[str], expected: list[str]
) -> None:
    assert unsupported_facts(answer, sources) == expected


def test_with_no_passages_every_fact_is_unsupported() -> None:
    answer = "Pro is $49/month, refunds within 30 days, v2.4.1, at 9:00; click *Export CSV*."
    assert unsupported_facts(answer, []) == ["$49", "30 days", "v2.4.1", "9:00", "Export CSV"]


def test_each_fact_is_named_once() -> None:
    answer = "Refunds take 60 days. Yes, 60 days. Click *Cancel order*, then *Cancel order*."
    assert unsupported_facts(answer, [REFUND]) == ["60 days", "Cancel order"]


# -- menu paths --------------------------------------------------------------------------------

MENU_PATHS = [
    ("Go to *Settings* › *Billing* → *Invoices*.", "Open Settings > Billing > Invoices."),
    ("Go to Settings → Billing.", "Open Settings > Billing."),
    ("Open Settings › Billing › Invoices.", "Open Settings > Billing > Invoices."),
    ("Head to Settings » Billing.", "Settings > Billing"),
    ("Pick Settings -> Billing -> Cards.", "Settings > Billing > Cards"),
    ("Check Settings > Billing.", "Settings > Billing"),
    ("Use Settings > Billing to change it.", "Settings > Billing"),
    ("From Settings > Billing, pick *Cards*.", "Settings > Billing > Cards"),
    ("Go to *Settings > Billing*.", "Open Settings › Billing."),
    ("Go to *Settings › Billing*.", "Open Settings > Billing."),
    ("Go to `Settings → Billing`.", "Open Settings > Billing."),
    ("Under Settings > Members, click *Remove*.", "Settings > Members has a Remove button."),
    (
        "Go to Settings > Billing and click *Update card*.",
        "In Settings > Billing, use Update card.",
    ),
    ("Open Settings › Data & Privacy › Export.", "Settings > Data & Privacy > Export"),
    # the passage's own "Title › Heading" is evidence too
    ("See *Billing* › *Refunds*.", "Billing › Refunds"),
]


@pytest.mark.parametrize(("answer", "source"), MENU_PATHS)
def test_menu_paths_match_whatever_arrow_they_are_written_with(answer: str, source: str) -> None:
    assert unsupported_facts(answer, [source]) == []


# -- what is not a name ------------------------------------------------------------------------

NOT_NAMES = [
    "This does *not* delete your data.",
    "Export *before* you cancel.",
    "You can *only* do this as an admin.",
    "*Note:* exports are emailed.",
    "*Important*: exports are emailed.",
    "*Tip:* exports are emailed.",
    "*Heads up*: exports are emailed.",
    "*Yes* - exports are emailed.",
    "Exports are emailed to *all* admins.",
    "Exports are *always* emailed.",
]


@pytest.mark.parametrize("answer", NOT_NAMES)
def test_emphasis_and_generic_words_name_no_setting(answer: str) -> None:
    assert unsupported_facts(answer, ["Exports are emailed to admins."]) == []
    assert name_facts(answer) == []


def test_a_name_the_customer_used_is_supported() -> None:
    question = "where is the *Danger Zone* in settings? I can't find `Legacy exports`"
    answer = "The *Danger Zone* is at the bottom of *Workspace*. `Legacy exports` were removed."
    assert unsupported_facts(answer, ["Workspace settings are for admins."], question) == []
    assert unsupported_facts(answer, ["Workspace settings are for admins."]) == [
        "Danger Zone",
        "Legacy exports",
    ]


def test_a_name_in_another_case_or_markup_is_the_same_name() -> None:
    assert unsupported_facts("Click *EXPORT CSV*.", ["use the export csv button"]) == []
    assert unsupported_facts("Click **Export CSV**.", ["Use the *Export CSV* button"]) == []


# -- numbers that are not quantities -----------------------------------------------------------

NOT_QUANTITIES = [
    "Ask <@U0BOSS> to approve it.",
    "Ask U0BOSS to approve it.",
    "Turn on 2FA under *Security*.",
    "Your card needs 3D Secure.",
    "It renews on the 1st.",
    "Use an S3 bucket in the EU.",
    "Enable *Security*. You'll need a TOTP app for 2FA.",
    "Ask one of your admins; no one else can.",
    "Pick the one that fits your team.",
    "This is a one-time fee.",
    # a numbered list's markers
    "1. Open *Security*\n2. Turn on 2FA\n3. Save",
    "1) Open *Security*\n2) Turn on 2FA",
]


@pytest.mark.parametrize("answer", NOT_QUANTITIES)
def test_numbers_inside_words_ids_and_list_markers_are_not_quantities(answer: str) -> None:
    assert unsupported_facts(answer, ["Two-factor authentication is under Security."]) == []


# -- ids from the question ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        ("I've refunded order 55123.", "please refund order 55123"),
        ("I've refunded order #55123.", "please refund order #55123 thanks"),
        ("Order 55123 ships in 3 days.", "Where is order 55,123?"),
        ("Ticket 4411 is closed.", "Hi, is ticket INV-4411 done?"),
        ("Reply with your order number, e.g. 12345.", "my order 12345 is late"),
        ("Your account 00123842 is active.", "account id 00123842 can't log in"),
    ],
)
def test_an_id_the_customer_gave_is_supported(answer: str, question: str) -> None:
    assert unsupported_facts(answer, ["Orders ship in 3 days."], question) == []


def test_only_the_ids_the_customer_gave_are_supported() -> None:
    sources = ["Orders ship in 3 days."]
    assert unsupported_facts("Order 55124 ships in 3 days.", sources, "order 55123?") == ["55124"]
    # short numbers are not ids: the customer's "123" is not a source for the answer's
    assert unsupported_facts("Order 123 ships in 3 days.", sources, "Where is order 123?") == [
        "123"
    ]


# -- found by these tests (each was a wrong result before its fix) ------------------------------


@pytest.mark.parametrize(
    ("answer", "sources", "question", "expected"),
    [
        # a time matched inside another one ("9:00" in "19:00")
        ("Backups run at 9:00 UTC.", ["Backups run daily at 19:00 UTC."], "", ["9:00"]),
        # times written with am/pm were never checked
        ("We're around 8am-6pm ET.", [HOURS], "", ["8am", "6pm"]),
        ("We open at 9pm.", [HOURS], "", ["9pm"]),
        # a version matched the start of a longer one (2.4 is not 2.4.1)
        ("Update to v2.4.", [RELEASE], "", ["v2.4"]),
        ("Update to 2.4.1.", ["Fixed in 2.4.1.5."], "", ["2.4.1"]),
        # "twenty-four" was read as a range 20-4, so "4 hours" passed
        ("We reply within 4 hours.", ["We reply within twenty-four hours."], "", ["4 hours"]),
        ("We reply within 20 hours.", ["We reply within twenty-four hours."], "", ["20 hours"]),
        # hours written as "4h" were never checked
        ("We reply within 4h.", ["We reply within 24 hours."], "", ["4h"]),
        # the customer's number echoed as a quantity is a claim, not an id
        (
            "Yes, Business supports up to 1000 users.",
            ["Business includes up to 500 users."],
            "Does Business support 1000 users?",
            ["1000 users"],
        ),
        ("I've refunded $1200.", ["Refunds take 5 days."], "I was charged $1200 twice", ["$1200"]),
        # a name matched inside its opposite
        ("Set the channel to *Active*.", ["Set the channel to Inactive."], "", ["Active"]),
        ("Set it to *Locked*.", ["Set it to Unlocked."], "", ["Locked"]),
        ("Click *Archive*.", ["Click Unarchive."], "", ["Archive"]),
        # markdown **bold** named nothing
        ("Open **Danger Zone**.", ["Workspace settings."], "", ["Danger Zone"]),
    ],
)
def test_regressions(answer: str, sources: list[str], question: str, expected: list[str]) -> None:
    assert unsupported_facts(answer, sources, question) == expected


def test_a_path_starts_at_a_word_not_inside_one() -> None:
    answer = "On your iPhone › Settings › Notifications, allow alerts."
    assert unsupported_facts(answer, [answer]) == []
    assert [f.value for f in name_facts(answer)] == ["settings", "notifications"]


# -- the parts ------------------------------------------------------------------------------------


def test_normalise() -> None:
    assert normalise("*Thirty* days, $1,200 — or twenty-five SEATS") == (
        " 30 days, $1200 - or 25 seats"
    )
    assert normalise("Settings›Billing → Invoices") == "settings > billing > invoices"
    assert normalise("one of the admins, one seat") == "one of the admins, 1 seat"


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("$49", [("money", "49", "usd")]),
        ("€49.00", [("money", "49", "eur")]),
        ("49 EUR", [("money", "49", "eur")]),
        ("v2.4.1", [("version", "2.4.1", "")]),
        ("2.4.1", [("version", "2.4.1", "")]),
        ("v2", [("version", "2", "")]),
        ("09:00", [("time", "9:00", "")]),
        ("9 AM", [("time", "9:00am", "")]),
        ("9:30pm", [("time", "9:30pm", "")]),
        ("16/9", [("number", "16/9", "")]),
        ("20%", [("number", "20", "%")]),
        ("20 percent", [("number", "20", "%")]),
        ("5-10 business days", [("number", "5", "day"), ("number", "10", "day")]),
        ("5 to 10 working days", [("number", "5", "day"), ("number", "10", "day")]),
        ("3 hrs", [("number", "3", "hour")]),
        ("10GB", [("number", "10", "gb")]),
        ("007", [("number", "7", "")]),
        ("2FA, U0BOSS, 4th, 3D", []),
    ],
)
def test_number_facts(text: str, facts: list[tuple[str, str, str]]) -> None:
    assert [(f.kind, f.value, f.unit) for f in number_facts(text)] == facts


# -- properties ---------------------------------------------------------------------------------

_DRAFT_PIECES = st.sampled_from(
    [
        "Refunds are available within 30 days",
        "within thirty days",
        "take 5-10 business days",
        "take 5–10 business days",
        "Pro costs $49/month",
        "€39",
        "£1,200.50",
        "49 EUR",
        "save 20%",
        "twenty-five percent",
        "v2.4.1",
        "2.4",
        "at 9:00 UTC",
        "9am-5pm",
        "24/7",
        "16:9",
        "up to 1,000 MB",
        "10GB",
        "24h",
        "2FA",
        "U0BOSS",
        "<@U0BOSS>",
        "order #55123",
        "*Export CSV*",
        "**Danger Zone**",
        "`sso_enforced`",
        '"Save changes"',
        "“Save changes”",
        "*not*",
        "*Note:*",
        "Settings › Billing → Invoices",
        "Open *Settings* > *Billing*",
        "Pick Settings -> Cards",
        "iPhone » Settings",
        "one of your admins",
        "one seat",
        "1. Open Settings",
        "\n2) Click Save",
    ]
)
_DRAFTS = st.lists(
    st.tuples(_DRAFT_PIECES, st.sampled_from([" ", ". ", ", ", "\n", "; "])), max_size=10
).map(lambda parts: "".join(piece + sep for piece, sep in parts))
_ANY_TEXT = st.text(max_size=160) | st.text(
    alphabet=st.sampled_from(list('aB09 \n.,:/-–%$€£*`"“”>›→»v')), max_size=160
)


@settings(max_examples=500, deadline=None)
@given(_DRAFTS | _ANY_TEXT, st.sampled_from(["", "order 55123?", "where is *Settings*"]))
def test_an_answer_that_is_its_own_source_states_nothing_unsupported(
    answer: str, question: str
) -> None:
    assert unsupported_facts(answer, [answer], question) == []


@settings(max_examples=300, deadline=None)
@given(_DRAFTS | _ANY_TEXT, st.lists(_DRAFTS | _ANY_TEXT, max_size=3))
def test_passages_only_ever_support_facts(answer: str, sources: list[str]) -> None:
    """Citing passages can take facts off the list, never put one on it."""
    with_sources = unsupported_facts(answer, sources)
    without = unsupported_facts(answer, [])
    assert set(with_sources) <= set(without)
    assert len(with_sources) == len(set(with_sources))


@settings(max_examples=300, deadline=None)
@given(_DRAFTS)
def test_a_sentence_added_to_the_passages_supports_it(answer: str) -> None:
    passage = "Refunds within 60 days."
    assert unsupported_facts(answer, [passage, answer]) == []
    assert unsupported_facts(answer, [answer, passage]) == []


# -- links ---------------------------------------------------------------------------------------

LINK_SOURCES = ["Read the guide at https://help.vendor.com/refunds.", "docs.vendor.com/api"]


@pytest.mark.parametrize(
    "answer",
    [
        "See <https://help.vendor.com/refunds|the refund guide>.",
        "See [the API docs](https://docs.vendor.com/api/keys).",
        "More at https://help.vendor.com/refunds.",
        "Status: https://status.vendor.com",  # allowed by ANSWER_LINK_HOSTS (vendor.com)
        "Write to <mailto:help@vendor.com|help@vendor.com>.",
    ],
)
def test_links_to_hosts_the_passages_mention_or_the_allowlist_lists_pass(answer: str) -> None:
    allowed = ["vendor.com"] if "status." in answer else []
    assert unsupported_links(answer, LINK_SOURCES, allowed) == []


@pytest.mark.parametrize(
    ("answer", "flagged"),
    [
        ("Log in at <https://evil.example/login|here>.", ["evil.example"]),
        (
            "Open <https://evil.example|https://help.vendor.com/refunds>.",
            ["https://help.vendor.com/refunds (opens evil.example)"],
        ),
        ("Go to https://help.vendor.com.evil.example/x", ["help.vendor.com.evil.example"]),
        ("[guide](https://evil.example/guide)", ["evil.example"]),
        ("Try https://status.vendor.com", ["status.vendor.com"]),  # not mentioned, not allowed
    ],
)
def test_links_elsewhere_and_disguised_links_are_flagged(answer: str, flagged: list[str]) -> None:
    assert unsupported_links(answer, LINK_SOURCES, []) == flagged


def test_a_german_answer_is_checked_against_english_passages_where_it_can_be() -> None:
    passages = [
        "Refunds are possible within 14 days. Open *Settings › Billing* and press `Refund`."
    ]
    # Digits are checked whatever the language: 30 is in no passage.
    assert unsupported_facts(
        "Eine Rückerstattung ist innerhalb von 30 Tagen möglich.", passages, english=False
    ) == ["30"]
    assert (
        unsupported_facts(
            "Eine Rückerstattung ist innerhalb von 14 Tagen möglich: öffne *Settings › Billing*"
            " und klicke auf `Refund`.",
            passages,
            english=False,
        )
        == []
    )
    # German capitalises nouns: bold emphasis is no button name in a German answer...
    assert unsupported_facts("*Wichtig:* innerhalb von 14 Tagen.", passages, english=False) == []
    # ...but a button or menu the articles do not name is still caught.
    assert unsupported_facts("Klicke auf `Erstatten`.", passages, english=False) == ["Erstatten"]
    assert unsupported_facts("Öffne Einstellungen › Abrechnung.", passages, english=False) == [
        "Einstellungen",
        "Abrechnung",
    ]
    # In English, bold names are checked as always.
    assert unsupported_facts("Press *Refund now*.", passages) == ["Refund now"]
