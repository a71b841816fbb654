"""Block Kit builders and the text helpers behind them, checked against Slack's limits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.kb.provenance import Source
from bot.sandbox.blockkit import validate_blocks, validate_view
from bot.slack import ids
from bot.slack.blocks.answers import REACH_A_PERSON, answer_message
from bot.slack.blocks.card import AttachmentLine, CardContent, escalation_card
from bot.slack.blocks.common import category_list, sources_line
from bot.slack.blocks.csat import (
    CSAT_COMMENT_MAX,
    comment_modal,
    comment_thanks_view,
    rating_line,
    survey_message,
)
from bot.slack.blocks.locales import STRINGS, Locale
from bot.slack.blocks.modals import edit_modal
from bot.slack.blocks.settings_form import ConfigForm, config_modal
from bot.slack.text import escape, split_for_sections, truncate, truncate_escaped

HOSTILE = "Hey <!channel> and <@U1> & <!here> <https://evil.example|click> <#C9>"
# Anything Slack would render as a ping, link, channel mention or special command.
_MARKUP = re.compile(r"<[!@#]|<https?:")


def _source(n: int = 1, title: str = "Exporting reports", heading: str = "CSV") -> Source:
    return Source(article_id=n, title=title, heading=heading, source=f"/kb/{n}.md")


def _card(**overrides: Any) -> CardContent:
    values: dict[str, Any] = {
        "escalation_id": 42,
        "ticket_id": 7,
        "state": "pending",
        "customer_user_id": "UCUSTOMER",
        "question": "How do I export a report?",
        "message_link": "https://acme.slack.com/archives/C1/p123",
        "reason": "Confidence 0.40 is below the threshold 0.70.",
        "category": "simple_faq",
        "confidence": 0.4,
        "summary": "Wants to export a report.",
        "draft": "Open the report and click *Export*.",
        "sources": [_source()],
    }
    values.update(overrides)
    return CardContent(**values)


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text in the blocks, in order."""
    out: list[str] = []
    for b in blocks:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e.get("text"), str):
                out.append(e["text"])
            elif isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
    return out


def _assert_valid_message(blocks: list[dict[str, Any]]) -> None:
    assert validate_blocks(blocks, surface="message") == []
    assert len(blocks) <= 50
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150
        if b["type"] == "context":
            assert 1 <= len(b["elements"]) <= 10
    for button in _buttons(blocks):
        assert len(button["value"]) <= 2000


# --- escalation_card: states -------------------------------------------------------------


def _row(blocks: list[dict[str, Any]], block_id: str) -> list[str]:
    return [
        e["action_id"]
        for b in blocks
        if b["type"] == "actions" and b.get("block_id") == block_id
        for e in b["elements"]
    ]


def test_pending_card_with_draft_has_approve_edit_reject_carrying_the_escalation_id() -> None:
    message = escalation_card(_card())
    _assert_valid_message(message.blocks)
    buttons = [b for b in _buttons(message.blocks) if b["action_id"] in ids.REVIEW_ACTIONS]
    assert _row(message.blocks, "review") == [
        ids.ACTION_APPROVE,
        ids.ACTION_EDIT,
        ids.ACTION_REJECT,
    ]
    labels = [b["text"]["text"] for b in buttons]
    assert labels[0].startswith("Approve")
    assert labels[1].startswith("Edit")
    assert labels[2].startswith("Reject")
    assert {b["value"] for b in buttons} == {"42"}
    assert message.blocks[0]["type"] == "header"
    assert "review" in message.blocks[0]["text"]["text"].lower()
    joined = "\n".join(_texts(message.blocks))
    assert "Open the report and click *Export*." in joined
    assert "Exporting reports › CSV" in joined
    assert "Ticket #7" in joined
    assert "<@UCUSTOMER>" in joined
    assert "#7" in message.text


def test_pending_card_has_a_second_row_to_claim_and_resolve() -> None:
    blocks = escalation_card(_card()).blocks
    assert _row(blocks, "more") == [ids.ACTION_CLAIM, ids.ACTION_RESOLVE, ids.ACTION_WHY]
    claimed = escalation_card(_card(owner="UOWNER", can_redraft=True)).blocks
    assert _row(claimed, "more") == [ids.ACTION_REDRAFT, ids.ACTION_RESOLVE, ids.ACTION_WHY]
    assert "Owner: <@UOWNER>" in "\n".join(_texts(claimed))
    asking = escalation_card(_card(missing_information="Which version?")).blocks
    assert ids.ACTION_ANSWER_QUESTION in _row(asking, "more")


def test_pending_card_being_redrafted_has_no_buttons_and_says_who_asked() -> None:
    message = escalation_card(_card(work="redraft", work_by="UREVIEWER"))
    _assert_valid_message(message.blocks)
    assert _buttons(message.blocks) == []
    assert "<@UREVIEWER>'s feedback" in "\n".join(_texts(message.blocks))


def test_pending_card_without_draft_has_no_approve_button() -> None:
    message = escalation_card(_card(draft=None, sources=[]))
    _assert_valid_message(message.blocks)
    buttons = [b for b in _buttons(message.blocks) if b["action_id"] in ids.REVIEW_ACTIONS]
    assert _row(message.blocks, "review") == [ids.ACTION_EDIT, ids.ACTION_REJECT]
    assert buttons[0]["text"]["text"].startswith("Edit")
    assert buttons[1]["text"]["text"].startswith("Reject")
    assert "No draft" in "\n".join(_texts(message.blocks))


def test_pending_card_with_empty_draft_has_no_approve_button() -> None:
    buttons = _buttons(escalation_card(_card(draft="")).blocks)
    assert ids.ACTION_APPROVE not in [b["action_id"] for b in buttons]


@pytest.mark.parametrize(
    ("state", "verb"),
    [("approved", "Approved by"), ("edited", "Edited by"), ("rejected", "Rejected by")],
)
def test_decided_card_has_no_decision_buttons_and_names_the_decider(state: str, verb: str) -> None:
    ticket_state = "rejected" if state == "rejected" else "replied"
    message = escalation_card(
        _card(
            state=state,
            decided_by="UREVIEWER",
            decided_at=1_700_000_000.0,
            ticket_state=ticket_state,
        )
    )
    _assert_valid_message(message.blocks)
    assert not {b["action_id"] for b in _buttons(message.blocks)} & set(ids.REVIEW_ACTIONS)
    after = _row(message.blocks, "after")
    if state == "rejected":
        assert after == [ids.ACTION_HANDBACK, ids.ACTION_RESOLVE, ids.ACTION_WHY]
    else:
        assert after == [ids.ACTION_RESOLVE, ids.ACTION_SAVE_ARTICLE, ids.ACTION_WHY]
    last = [b for b in message.blocks if b["type"] == "context"][-1]
    line = last["elements"][0]["text"]
    assert line.startswith(f"{verb} <@UREVIEWER>")
    assert "<!date^1700000000^" in line  # rendered in the reader's time zone
    assert message.blocks[0]["text"]["text"] == message.text
    assert "review" not in message.text.lower()


def test_decided_headers_differ_per_state() -> None:
    headers = {
        state: escalation_card(_card(state=state, decided_by="UR")).blocks[0]["text"]["text"]
        for state in ("pending", "approved", "edited", "rejected")
    }
    assert len(set(headers.values())) == 4
    assert "Rejected" in headers["rejected"]
    assert "Edited" in headers["edited"]


def test_resolved_ticket_card_offers_nothing_more_than_saving_the_reply() -> None:
    message = escalation_card(_card(state="approved", ticket_state="resolved"))
    assert _row(message.blocks, "after") == [ids.ACTION_SAVE_ARTICLE, ids.ACTION_WHY]
    saved = escalation_card(_card(state="approved", ticket_state="resolved", saved_article_id=9))
    assert [b["action_id"] for b in _buttons(saved.blocks)] == [ids.ACTION_WHY]
    assert "article #9" in "\n".join(_texts(saved.blocks))


def test_decided_card_without_decider_says_someone_earlier() -> None:
    blocks = escalation_card(_card(state="approved")).blocks
    line = [b for b in blocks if b["type"] == "context"][-1]["elements"][0]["text"]
    assert line.startswith("Approved by someone earlier")


# --- escaping ------------------------------------------------------------------------------


def test_customer_text_on_the_card_cannot_ping_or_link() -> None:
    message = escalation_card(
        _card(
            question=HOSTILE,
            summary=HOSTILE,
            reason=HOSTILE,
            follow_ups=[HOSTILE, HOSTILE],
            missing_information=HOSTILE,
        )
    )
    _assert_valid_message(message.blocks)
    customer_parts = [
        t
        for t in _texts(message.blocks)
        if "Hey" in t  # only the pieces that carry customer text
    ]
    assert len(customer_parts) == 6  # question, summary, reason, 2 follow-ups, open question
    for text in customer_parts:
        assert not _MARKUP.search(text), text
        assert "&lt;!channel&gt;" in text
        assert "&lt;@U1&gt;" in text
        assert " &amp; " in text


def test_source_titles_are_escaped() -> None:
    line = sources_line([_source(title="Q&A <!channel>", heading="Q&A <!channel>")])
    assert line == "Sources: Q&amp;A &lt;!channel&gt;"


def test_escape_only_touches_slack_markup() -> None:
    assert escape("a & b < c > d *bold* _it_") == "a &amp; b &lt; c &gt; d *bold* _it_"
    assert escape("&amp;") == "&amp;amp;"


def test_edit_modal_escapes_the_question_but_keeps_the_draft_verbatim() -> None:
    view = edit_modal(
        escalation_id=5, draft="Use <https://x.example|this> & that", question=HOSTILE
    )
    assert validate_view(view, expect_type="modal") == []
    question_text = view["blocks"][0]["elements"][0]["text"]
    assert not _MARKUP.search(question_text)
    element = view["blocks"][1]["element"]
    assert element["initial_value"] == "Use <https://x.example|this> & that"
    assert json.loads(view["private_metadata"]) == {"escalation_id": 5}
    assert view["callback_id"] == ids.VIEW_EDIT
    assert view["blocks"][1]["block_id"] == ids.BLOCK_EDIT_TEXT
    assert element["action_id"] == ids.ACTION_EDIT_TEXT


# --- size limits -----------------------------------------------------------------------------


def test_huge_card_stays_within_slack_limits() -> None:
    card = _card(
        question="&<" * 20_000,  # 40,000 chars that grow when escaped
        draft="word " * 8_000,  # 40,000 chars
        summary="s" * 10_000,
        reason="r" * 10_000,
        follow_ups=[f"follow-up {i} " + "x" * 5_000 for i in range(100)],
        missing_information="m" * 10_000,
        sources=[_source(i, title="T" * 500, heading="H" * 500) for i in range(20)],
        customer_user_id="U" + "A" * 50,
    )
    message = escalation_card(card)
    _assert_valid_message(message.blocks)
    joined = "\n".join(_texts(message.blocks))
    # The newest follow-ups are the ones shown.
    assert "follow-up 99 " in joined
    assert "follow-up 0 " not in joined
    assert "40,000 characters in all" in joined  # says the question was cut
    assert len(message.text) <= 40_000


@pytest.mark.parametrize("state", ["approved", "edited", "rejected"])
def test_huge_decided_card_stays_within_slack_limits(state: str) -> None:
    card = _card(
        state=state,
        question="q " * 20_000,
        draft="d" * 40_000,
        follow_ups=["f" * 40_000] * 100,
        decided_by="UREVIEWER",
        decided_at=1.0,
    )
    blocks = escalation_card(card).blocks
    _assert_valid_message(blocks)
    decided = [b for b in blocks if b["type"] == "context"][-1]
    assert "<@UREVIEWER>" in decided["elements"][0]["text"]
    assert blocks[-1]["type"] == "actions"  # the buttons after a decision are never cut


def test_edit_modal_with_a_long_draft_is_a_valid_view() -> None:
    draft = "line of a long draft\n" * 500  # 10,500 chars
    view = edit_modal(escalation_id=123456789, draft=draft, question="?" * 40_000)
    assert validate_view(view, expect_type="modal") == []
    assert len(view["title"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    initial = view["blocks"][1]["element"]["initial_value"]
    assert 0 < len(initial) <= 3000
    assert draft.startswith(initial)


def test_edit_modal_without_draft_has_no_initial_value() -> None:
    view = edit_modal(escalation_id=1, draft="", question="q")
    assert validate_view(view, expect_type="modal") == []
    assert "initial_value" not in view["blocks"][1]["element"]


# --- answer_message ----------------------------------------------------------------------------


def test_short_answer_is_one_section_plus_sources_and_footer() -> None:
    message = answer_message("Click *Export*.", [_source(), _source(2, "Billing", "Billing")])
    _assert_valid_message(message.blocks)
    assert [b["type"] for b in message.blocks] == ["section", "context"]
    assert message.blocks[0]["text"]["text"] == "Click *Export*."
    footer = [e["text"] for e in message.blocks[-1]["elements"]]
    assert footer == ["Sources: Exporting reports › CSV; Billing", REACH_A_PERSON]
    assert "talk to a person" in REACH_A_PERSON
    assert message.text.startswith("Click *Export*.")
    assert "Exporting reports" in message.text


def test_long_answer_is_split_into_several_sections_keeping_sources_and_footer() -> None:
    paragraphs = [f"Paragraph {i}: " + "some helpful words " * 40 for i in range(20)]
    answer = "\n\n".join(paragraphs)  # ~15,000 chars
    message = answer_message(answer, [_source()])
    _assert_valid_message(message.blocks)
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert len(sections) >= 5
    assert " ".join(s["text"]["text"] for s in sections).split() == answer.split()
    footer = [e["text"] for e in message.blocks[-1]["elements"]]
    assert footer[0].startswith("Sources: Exporting reports")
    assert footer[-1] == REACH_A_PERSON


def test_answer_without_sources_still_offers_a_person() -> None:
    message = answer_message("Yes.", [])
    assert [e["text"] for e in message.blocks[-1]["elements"]] == [REACH_A_PERSON]
    assert message.text == "Yes."


def test_40k_answer_stays_within_block_limits() -> None:
    message = answer_message("x" * 40_000, [_source(i) for i in range(12)])
    _assert_valid_message(message.blocks)
    assert message.blocks[-1]["elements"][-1]["text"] == REACH_A_PERSON


# --- slack_text helpers ------------------------------------------------------------------------


def test_truncate_marks_a_cut_and_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 100, 10)
    assert len(cut) == 10
    assert cut.endswith("…")


@pytest.mark.parametrize("limit", range(40, 80))
def test_truncate_escaped_never_leaves_half_an_entity(limit: int) -> None:
    text = "&<>" * 100
    result = truncate_escaped(text, limit)
    assert len(result) <= limit
    body = result.split("…")[0]
    # Every & starts a whole entity.
    assert re.fullmatch(r"(?:&amp;|&lt;|&gt;)*", body), body
    assert result.endswith("_(300 characters in all)_")


def test_truncate_escaped_short_text_is_just_escaped() -> None:
    assert truncate_escaped("a & b", 100) == "a &amp; b"


def test_truncate_escaped_at_the_boundary_of_an_entity() -> None:
    # Enough x's that a naive cut would end in "&am".
    for pad in range(0, 8):
        result = truncate_escaped("x" * pad + "&" * 200, 60)
        assert not re.search(r"&(?:a|am|l|g|lt|gt)?$", result.split("…")[0]), result


@pytest.mark.parametrize("limit", [50, 200, 3000])
def test_split_for_sections_pieces_fit_and_rejoin_to_the_words(limit: int) -> None:
    words = [f"w{i}" + "o" * (i % 13) for i in range(3000)]
    text = ""
    for i, word in enumerate(words):
        text += word + ("\n\n" if i % 37 == 36 else "\n" if i % 11 == 10 else " ")
    pieces = split_for_sections(text, limit)
    assert len(pieces) > 1
    assert all(0 < len(p) <= limit for p in pieces)
    assert " ".join(pieces).split() == words


def test_split_for_sections_prefers_paragraph_breaks() -> None:
    first = "a " * 30 + "end."
    text = first + "\n\n" + "b " * 30
    pieces = split_for_sections(text, 80)
    assert pieces[0] == first


def test_split_for_sections_hard_cuts_a_word_longer_than_the_limit() -> None:
    text = "y" * 250
    pieces = split_for_sections(text, 100)
    assert pieces == ["y" * 100, "y" * 100, "y" * 50]


def test_split_for_sections_short_text_is_one_piece() -> None:
    assert split_for_sections("hello world") == ["hello world"]
    assert split_for_sections("") == []


# -- /support config --------------------------------------------------------------------


def _config_form(**overrides: Any) -> ConfigForm:
    values: dict[str, Any] = {
        "auto_channels": ["C0SUPPORT"],
        "review_channels": [],
        "escalation_channel": "C0CARDS",
        "reviewers": [],
        "reviewer_groups": [],
        "admins": [],
        "threshold": 0.7,
        "review_reminder": "30m",
        "review_timeout": "1d",
        "hours": "",
        "paused": False,
        "auto_categories": ["simple_faq"],
        "channel_categories": {},
    }
    values.update(overrides)
    return ConfigForm(**values)


def _categories_block(view: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The categories multi-select, and the context line after it."""
    blocks = view["blocks"]
    at = next(i for i, b in enumerate(blocks) if b.get("block_id") == ids.BLOCK_CFG_CATEGORIES)
    return blocks[at]["element"], blocks[at + 1]["elements"][0]["text"]


def test_category_list_reads_as_a_phrase_in_the_usual_order() -> None:
    assert category_list([]) == "nothing"
    assert category_list(["billing_query"]) == "Billing"
    assert category_list({"billing_query", "simple_faq"}) == "Simple FAQ and Billing"
    assert category_list(["unknown", "complex_issue", "simple_faq"]) == (
        "Simple FAQ, Complex issue and Unknown"
    )


def test_config_form_offers_every_category_with_the_default_picked() -> None:
    view = config_modal(_config_form(auto_categories=["billing_query", "unknown"]))
    assert validate_view(view, expect_type="modal") == []
    select, context = _categories_block(view)
    assert select["action_id"] == ids.cfg_action(ids.BLOCK_CFG_CATEGORIES)
    assert [o["value"] for o in select["options"]] == [
        "simple_faq",
        "complex_issue",
        "billing_query",
        "feature_request",
        "unknown",
    ]
    assert [o["value"] for o in select["initial_options"]] == ["billing_query", "unknown"]
    assert all(o in select["options"] for o in select["initial_options"])
    assert "Risky" in select["options"][-1]["description"]["text"]
    assert "Every channel follows this" in context and "/support auto" in context


def test_config_form_with_nothing_answered_automatically_picks_nothing() -> None:
    view = config_modal(_config_form(auto_categories=[]))
    assert validate_view(view, expect_type="modal") == []
    select, _ = _categories_block(view)
    assert "initial_options" not in select  # Slack refuses an empty list


def test_config_form_lists_channel_choices_within_slacks_limits() -> None:
    own = {f"C0{n:08d}": ["simple_faq", "billing_query", "unknown"] for n in range(300)}
    view = config_modal(_config_form(channel_categories=own))
    assert validate_view(view, expect_type="modal") == []
    _, context = _categories_block(view)
    assert context.startswith("Channels with their own choice")
    assert "<#C000000000>: Simple FAQ, Billing and Unknown" in context
    assert "and 280 more" in context and len(context) <= 2000


# -- the satisfaction survey ----------------------------------------------------------------


def test_the_survey_has_five_score_buttons_and_once_rated_a_comment_button() -> None:
    asked = survey_message(7)
    assert validate_blocks(asked.blocks, surface="message") == []
    values = [e["value"] for b in asked.blocks if b["type"] == "actions" for e in b["elements"]]
    assert values == ["7:1", "7:2", "7:3", "7:4", "7:5"]
    action_ids = [
        e["action_id"] for b in asked.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert all(re.match(ids.action_pattern(ids.ACTION_CSAT_RATE), a) for a in action_ids)
    rated = survey_message(7, rated=True)
    assert validate_blocks(rated.blocks, surface="message") == []
    shown = json.dumps(rated.blocks)
    assert "rating was recorded" in shown and ids.ACTION_CSAT_COMMENT in shown
    assert ids.ACTION_CSAT_COMMENT not in json.dumps(asked.blocks)


def test_the_comment_form_caps_what_is_typed_and_carries_its_ticket() -> None:
    view = comment_modal(ticket_id=7, score=4)
    assert validate_view(view, expect_type="modal") == []
    assert json.loads(view["private_metadata"])["ticket_id"] == 7
    element = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert element["max_length"] == CSAT_COMMENT_MAX
    assert validate_view(comment_thanks_view(), expect_type="modal") == []


@pytest.mark.parametrize("code", sorted(STRINGS))
def test_the_survey_and_its_form_are_valid_block_kit_in_every_language(code: str) -> None:
    locale = Locale(code, STRINGS[code])
    asked = survey_message(7, locale=locale)
    rated = survey_message(7, rated=True, locale=locale)
    for message in (asked, rated):
        assert validate_blocks(message.blocks, surface="message") == []
        assert message.text.strip()
    assert STRINGS[code]["csat_question"] in json.dumps(asked.blocks, ensure_ascii=False)
    shown = json.dumps(rated.blocks, ensure_ascii=False)
    assert STRINGS[code]["csat_recorded"] in shown and STRINGS[code]["csat_add_comment"] in shown
    form = comment_modal(ticket_id=7, score=3, locale=locale)
    assert validate_view(form, expect_type="modal") == []
    assert form["title"]["text"] == STRINGS[code]["csat_form_title"]
    assert "3/5" in json.dumps(form["blocks"], ensure_ascii=False)
    thanks = comment_thanks_view(locale)
    assert validate_view(thanks, expect_type="modal") == []
    assert thanks["close"]["text"] == STRINGS[code]["csat_form_close"]


def test_a_survey_in_german_keeps_the_score_buttons_and_their_values() -> None:
    german = Locale("de", STRINGS["de"])
    rated = survey_message(9, rated=True, locale=german)
    assert rated.blocks[0]["text"]["text"].startswith("*Wie war unser Support?*")
    scores = rated.blocks[1]["elements"]
    assert [e["value"] for e in scores] == ["9:1", "9:2", "9:3", "9:4", "9:5"]
    assert [e["text"]["text"] for e in scores] == ["1 😞", "2 🙁", "3 😐", "4 🙂", "5 😄"]
    (comment_button,) = rated.blocks[3]["elements"]
    assert comment_button["action_id"] == ids.ACTION_CSAT_COMMENT
    assert comment_button["text"]["text"] == "💬 Kommentar hinzufügen"
    assert comment_button["value"] == "9"
    assert "How did we do" not in json.dumps(rated.blocks, ensure_ascii=False)


def test_a_rating_line_escapes_the_comment() -> None:
    line = rating_line(score=2, rated_by="U1", comment="<!channel> slow & rude")
    assert line == "⭐ Satisfaction: 2/5 from <@U1>: “&lt;!channel&gt; slow &amp; rude”"
    assert rating_line(score=5, rated_by=None, comment=None) == "⭐ Satisfaction: 5/5"


# --- attached files on the card ------------------------------------------------------------


def test_attached_files_are_links_with_their_outcome_and_names_cannot_ping() -> None:
    message = escalation_card(
        _card(
            attachments=[
                AttachmentLine(
                    "error.png", "https://acme.slack.com/files/U1/F1/error.png", "12 KB", "read"
                ),
                AttachmentLine(
                    HOSTILE, "https://acme.slack.com/files/U1/F2/x|y", "3 MB", "not read: nope"
                ),
                AttachmentLine("crash.zip", None, "12 MB", "not read: zip files are not read"),
            ],
            attachment_notes="The screenshot shows error E42. " + HOSTILE,
            unread_files="1 screenshot and 2 files not read",
        )
    )
    _assert_valid_message(message.blocks)
    text = "\n".join(_texts(message.blocks))
    assert "📎 <https://acme.slack.com/files/U1/F1/error.png|error.png> (12 KB): read" in text
    # A link that would break out of Slack's <url|text> is not made a link; the name is escaped.
    assert "x|y" not in text
    assert "📎 crash.zip (12 MB): not read: zip files are not read" in text
    assert "What the bot made of them: The screenshot shows error E42." in text
    assert "⚠️ 1 screenshot and 2 files not read: open them to see what the customer sent." in text
    hostile = [line for piece in _texts(message.blocks) for line in piece.splitlines()]
    hostile = [line for line in hostile if "Hey" in line]
    assert len(hostile) == 2  # the file's name, and the model's notes
    for line in hostile:
        assert not _MARKUP.search(line), line
        assert "&lt;!channel&gt;" in line


def test_one_unread_screenshot_is_it_and_no_files_add_no_blocks() -> None:
    one = escalation_card(
        _card(
            attachments=[AttachmentLine("a.png", None, None, "not read: no model")],
            unread_files="1 screenshot not read",
        )
    )
    assert "⚠️ 1 screenshot not read: open it to see what the customer sent." in "\n".join(
        _texts(one.blocks)
    )
    plain = escalation_card(_card())
    assert "*Files*" not in "\n".join(_texts(plain.blocks))


def test_many_files_stay_within_the_section_limit() -> None:
    long = "n" * 500
    lines = [
        AttachmentLine(long, f"https://a.slack.com/f/{i}", "1 KB", "x" * 400) for i in range(30)
    ]
    message = escalation_card(_card(attachments=lines, attachment_notes="y" * 5000))
    _assert_valid_message(message.blocks)
    files = next(t for t in _texts(message.blocks) if t.startswith("*Files*"))
    shown = files.count("📎")
    assert 0 < shown <= 10 and files.endswith(f"…and {30 - shown} more")
    few = escalation_card(
        _card(attachments=[AttachmentLine(f"f{i}.log", None, "1 KB", "read") for i in range(12)])
    )
    assert "…and 2 more" in "\n".join(_texts(few.blocks))
