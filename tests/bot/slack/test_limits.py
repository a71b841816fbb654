"""Slack's limits (``bot.slack.limits``): the sandbox's validator refuses exactly what exceeds
them, and every builder, fed text far too long, still produces what the validator accepts."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bot.slack.blocks
from bot.kb.provenance import Source
from bot.sandbox import blockkit
from bot.sandbox.blockkit import validate_blocks, validate_view
from bot.slack import limits
from bot.slack.blocks.answers import answer_message
from bot.slack.blocks.card import (
    AttachmentLine,
    CardContent,
    EarlierDraft,
    HeldEdit,
    IssueLine,
    NotDelivered,
    Translated,
    delivery_failed_notice,
    escalation_card,
    reminder_message,
)
from bot.slack.blocks.common import OutgoingMessage, button, context, plain, section
from bot.slack.blocks.digest import Gap, digest_message
from bot.slack.blocks.home import HOME_PAGE_SIZE, HomeContent, home_view
from bot.slack.blocks.modals import (
    answer_question_modal,
    article_preparing_modal,
    article_unavailable_view,
    edit_modal,
    kb_add_modal,
    kb_added_view,
    redraft_modal,
)
from bot.slack.blocks.settings_form import ConfigForm, config_modal
from bot.slack.blocks.trace import trace_modal
from persistence.records import DeskItem, OwnedTicket

LONG = "<!channel> & <@U1> " * 3000  # 57,000 characters that grow when escaped
Payload = Callable[[int], list[str]]  # the validator's reasons for a payload of size n


def _message(*blocks: dict[str, Any]) -> list[str]:
    return validate_blocks(list(blocks), surface="message")


def _modal(**view: Any) -> list[str]:
    base: dict[str, Any] = {"type": "modal", "title": plain("T", 24), "blocks": []}
    return validate_view({**base, **view}, expect_type="modal")


def _text(n: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": "x" * n}


def _input(**element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "label": _text(1),
        "element": {"type": "plain_text_input", "action_id": "a", **element},
    }


def _select(n_options: int, **option: Any) -> dict[str, Any]:
    options = [{"text": _text(1), "value": str(i), **option} for i in range(n_options)]
    return {"type": "static_select", "action_id": "s", "options": options}


# Each limit of the table, and a payload whose measured part has size n.
CASES: dict[str, tuple[int, Payload]] = {
    "message blocks": (
        limits.MESSAGE_BLOCKS_MAX,
        lambda n: _message(*[{"type": "divider"}] * n),
    ),
    "modal blocks": (limits.MODAL_BLOCKS_MAX, lambda n: _modal(blocks=[{"type": "divider"}] * n)),
    "home blocks": (
        limits.HOME_BLOCKS_MAX,
        lambda n: validate_view({"type": "home", "blocks": [{"type": "divider"}] * n}),
    ),
    "modal title": (limits.MODAL_TITLE_MAX, lambda n: _modal(title=_text(n))),
    "modal submit": (limits.MODAL_BUTTON_MAX, lambda n: _modal(submit=_text(n))),
    "modal close": (limits.MODAL_BUTTON_MAX, lambda n: _modal(close=_text(n))),
    "private_metadata": (limits.PRIVATE_METADATA_MAX, lambda n: _modal(private_metadata="m" * n)),
    "callback_id": (limits.ID_MAX, lambda n: _modal(callback_id="c" * n)),
    "block_id": (limits.ID_MAX, lambda n: _message({"type": "divider", "block_id": "b" * n})),
    "action_id": (
        limits.ID_MAX,
        lambda n: _message(
            {"type": "actions", "elements": [{**button("a", "A", "v"), "action_id": "a" * n}]}
        ),
    ),
    "section text": (
        limits.SECTION_TEXT_MAX,
        lambda n: _message({"type": "section", "text": _text(n)}),
    ),
    "section fields": (
        limits.SECTION_FIELDS_MAX,
        lambda n: _message({"type": "section", "fields": [_text(1)] * n}),
    ),
    "section field text": (
        limits.SECTION_FIELD_TEXT_MAX,
        lambda n: _message({"type": "section", "fields": [_text(n)]}),
    ),
    "header text": (
        limits.HEADER_TEXT_MAX,
        lambda n: _message({"type": "header", "text": _text(n)}),
    ),
    "context elements": (
        limits.CONTEXT_ELEMENTS_MAX,
        lambda n: _message({"type": "context", "elements": [_text(1)] * n}),
    ),
    "actions elements": (
        limits.ACTIONS_ELEMENTS_MAX,
        lambda n: _message(
            {"type": "actions", "elements": [button(f"a{i}", "A", "v") for i in range(n)]}
        ),
    ),
    "button text": (
        limits.BUTTON_TEXT_MAX,
        lambda n: _message(
            {"type": "actions", "elements": [{**button("a", "A", "v"), "text": _text(n)}]}
        ),
    ),
    "button value": (
        limits.BUTTON_VALUE_MAX,
        lambda n: _message({"type": "actions", "elements": [button("a", "A", "v" * n)]}),
    ),
    "button url": (
        limits.BUTTON_URL_MAX,
        lambda n: _message(
            {"type": "actions", "elements": [{**button("a", "A", "v"), "url": "u" * n}]}
        ),
    ),
    "input label": (
        limits.INPUT_LABEL_MAX,
        lambda n: _modal(submit=_text(1), blocks=[{**_input(), "label": _text(n)}]),
    ),
    "input hint": (
        limits.INPUT_HINT_MAX,
        lambda n: _modal(submit=_text(1), blocks=[{**_input(), "hint": _text(n)}]),
    ),
    "placeholder": (
        limits.PLACEHOLDER_MAX,
        lambda n: _modal(submit=_text(1), blocks=[_input(placeholder=_text(n))]),
    ),
    "plain input max_length": (
        limits.PLAIN_INPUT_MAX,
        lambda n: _modal(submit=_text(1), blocks=[_input(max_length=n)]),
    ),
    "plain input initial_value": (
        limits.PLAIN_INPUT_MAX,
        lambda n: _modal(submit=_text(1), blocks=[_input(initial_value="i" * n)]),
    ),
    "select options": (
        limits.SELECT_OPTIONS_MAX,
        lambda n: _message({"type": "actions", "elements": [_select(n)]}),
    ),
    "overflow options": (
        limits.OVERFLOW_OPTIONS_MAX,
        lambda n: _message({"type": "actions", "elements": [{**_select(n), "type": "overflow"}]}),
    ),
    "option text": (
        limits.OPTION_TEXT_MAX,
        lambda n: _message({"type": "actions", "elements": [_select(1, text=_text(n))]}),
    ),
    "option description": (
        limits.OPTION_DESCRIPTION_MAX,
        lambda n: _message({"type": "actions", "elements": [_select(1, description=_text(n))]}),
    ),
    "option value": (
        limits.OPTION_VALUE_MAX,
        lambda n: _message({"type": "actions", "elements": [_select(1, value="v" * n)]}),
    ),
    "markdown text": (
        limits.MARKDOWN_TEXT_MAX,
        lambda n: _message({"type": "markdown", "text": "m" * n}),
    ),
    "image title": (
        limits.IMAGE_TITLE_MAX,
        lambda n: _message(
            {"type": "image", "image_url": "https://i", "alt_text": "a", "title": _text(n)}
        ),
    ),
    "image alt_text": (
        limits.IMAGE_ALT_TEXT_MAX,
        lambda n: _message({"type": "image", "image_url": "https://i", "alt_text": "a" * n}),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_validator_refuses_exactly_what_exceeds_the_table(name: str) -> None:
    limit, payload = CASES[name]
    assert payload(limit) == []
    assert payload(limit + 1) != []


def test_every_limit_of_the_table_is_checked_by_the_validator() -> None:
    checked = {limit for limit, _ in CASES.values()}
    table = {
        name: value
        for name, value in vars(limits).items()
        if name.endswith("_MAX") and isinstance(value, int)
    }
    # The message text limit is checked by the stand-in's chat.postMessage, not by blocks.
    unchecked = {n for n, v in table.items() if v not in checked and n != "MESSAGE_TEXT_MAX"}
    assert unchecked == set()


def _int_literals(path: Path, at_least: int) -> list[tuple[int, int]]:
    tree = ast.parse(path.read_text())
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= at_least
    ]


def test_the_validator_takes_every_number_from_the_table() -> None:
    assert _int_literals(Path(blockkit.__file__), at_least=2) == []


def test_builders_pass_slack_limits_by_name_not_by_number() -> None:
    """``plain(text, 24)`` hides which limit 24 is: every cut to a field's limit names it."""
    package = Path(bot.slack.blocks.__file__).parent
    literal = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "plain"
                and any(isinstance(arg, ast.Constant) for arg in node.args[1:])
            ):
                literal.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value in ("max_length", "min_length")
                        and isinstance(value, ast.Constant)
                    ):
                        literal.append(f"{path.name}:{node.lineno}")
    assert literal == []


def test_the_shared_helpers_cut_to_the_table() -> None:
    assert len(plain("x" * 500, limits.HEADER_TEXT_MAX)["text"]) == limits.HEADER_TEXT_MAX
    assert len(section("x" * 9000)["text"]["text"]) == limits.SECTION_TEXT_MAX
    assert len(context(*["c"] * 30)["elements"]) == limits.CONTEXT_ELEMENTS_MAX
    assert len(button("a", "b" * 500, "v")["text"]["text"]) == limits.BUTTON_TEXT_MAX


# -- every builder, fed far too much -------------------------------------------------------


def _source(n: int) -> Source:
    return Source(article_id=n, title=LONG[:900], heading=LONG[:900], source=f"/kb/{n}.md")


def _card(**overrides: Any) -> CardContent:
    values: dict[str, Any] = {
        "escalation_id": 10**18,
        "ticket_id": 10**18,
        "state": "pending",
        "customer_user_id": "U" + "A" * 300,
        "question": LONG,
        "message_link": "https://acme.slack.com/archives/C1/p123",
        "reason": LONG,
        "category": "simple_faq",
        "confidence": 0.4,
        "summary": LONG,
        "draft": LONG,
        "sources": [_source(i) for i in range(30)],
        "missing_information": LONG,
        "unsupported_facts": [LONG[:900]] * 30,
        "also_found": [LONG[:900]] * 10,
        "follow_ups": [LONG] * 50,
        "earlier_drafts": [
            EarlierDraft(n=i, origin="redraft", text=LONG, feedback=LONG, requested_by="U1")
            for i in range(10)
        ],
        "owner": None,
        "activity": [LONG[:2500]] * 20,
        "can_redraft": True,
        "status": LONG[:900],
        "not_delivered": [NotDelivered(job_id=i, what=LONG[:300], reason=LONG) for i in range(9)],
        # Issue 25: the tracker's issue, the customer's files, the English under a customer who
        # writes another language, and an edit held until it is sent translated or as written.
        "tracker": LONG[:300],
        "issue": IssueLine(tracker=LONG[:300], failed=LONG),
        "attachments": [
            AttachmentLine(LONG[:900], "https://acme.slack.com/files/U1/F1/x", "12 MB", LONG)
            for _ in range(40)
        ],
        "attachment_notes": LONG,
        "unread_files": LONG[:900],
        "language": LONG[:300],
        "question_english": Translated(LONG),
        "draft_english": Translated(None, LONG),
        "follow_ups_english": [Translated(LONG)] * 50,
        "held_edit": HeldEdit(text=LONG, by="U1", translation=LONG, problem=None),
    }
    values.update(overrides)
    return CardContent(**values)


def _valid_message(message: OutgoingMessage) -> None:
    assert validate_blocks(message.blocks, surface="message") == []


@pytest.mark.parametrize(
    ("state", "ticket_state"),
    [
        ("pending", "awaiting_review"),
        ("pending", "resolved"),
        ("approved", "human"),
        ("edited", "resolved"),
        ("rejected", "rejected"),
        ("answered_in_thread", "human"),
    ],
)
def test_an_overlong_card_is_valid_in_every_state(state: str, ticket_state: str) -> None:
    card = _card(state=state, ticket_state=ticket_state, decided_by="U1", decided_at=1.0)
    message = escalation_card(card)
    _valid_message(message)
    assert len(message.text) <= limits.MESSAGE_TEXT_MAX


def test_overlong_messages_beside_the_card_and_in_the_thread_are_valid() -> None:
    _valid_message(answer_message(LONG * 3, [_source(i) for i in range(30)], ticket_id=10**18))
    _valid_message(
        delivery_failed_notice(ticket_id=1, what=LONG, reason=LONG, job_id=10**18, link="https://l")
    )
    _valid_message(reminder_message(mentions=["U1"] * 100, age="2h", ticket_id=1))
    _valid_message(
        digest_message(
            day="Monday", lines=[LONG] * 50, gaps=[Gap(LONG, 9, LONG, [(1, LONG)] * 9, 4)] * 50
        )
    )


def test_overlong_modals_are_valid_views() -> None:
    views = [
        edit_modal(escalation_id=10**18, draft=LONG, question=LONG),
        redraft_modal(escalation_id=10**18, draft=LONG, left=3),
        answer_question_modal(escalation_id=10**18, question=LONG, customer_question=LONG),
        kb_add_modal(title=LONG, body=LONG, note=LONG, private_metadata="{}"),
        article_preparing_modal(private_metadata="{}"),
        article_unavailable_view(LONG[:2000]),
        kb_added_view(article_id=10**18, title=LONG),
        trace_modal(ticket_id=10**18, lines=[LONG] * 500),
        config_modal(
            ConfigForm(
                auto_channels=[f"C{i}" for i in range(500)],
                review_channels=[f"C{i}" for i in range(500)],
                escalation_channel="C1",
                reviewers=[f"U{i}" for i in range(500)],
                reviewer_groups=[f"S{i}" for i in range(500)],
                admins=[f"U{i}" for i in range(500)],
                threshold=0.7,
                review_reminder="30m",
                review_timeout="1d",
                hours="Mon-Fri 09:00-17:00 Europe/Berlin",
                paused=True,
                auto_categories=["simple_faq", "unknown"],
                channel_categories={f"C{i:09d}": ["simple_faq"] for i in range(500)},
            ),
            version=10**18,
        ),
    ]
    for view in views:
        assert validate_view(view, expect_type="modal") == [], view.get("callback_id")


def test_a_full_home_page_is_a_valid_view() -> None:
    waiting = [
        DeskItem(
            escalation_id=i,
            ticket_id=i,
            customer_user_id="U1",
            question=LONG,
            has_draft=True,
            work=None,
            owner_user_id=None,
            missing_information="?",
            created_at=0.0,
        )
        for i in range(HOME_PAGE_SIZE)
    ]
    mine = [
        OwnedTicket(
            ticket_id=i, state="human", question=LONG, channel_id="C", thread_ts="1.2", updated_at=0
        )
        for i in range(50)
    ]
    home = HomeContent(
        user_id="U1",
        is_reviewer=True,
        is_admin=True,
        waiting=waiting,
        waiting_total=10 * HOME_PAGE_SIZE,
        page=3,
        mine=mine,
        config_lines=[LONG] * 10,
        now=10**9,
        week_line=LONG,
        not_delivered={i: [LONG] * 5 for i in range(HOME_PAGE_SIZE)},
    )
    assert validate_view(home_view(home), expect_type="home") == []
