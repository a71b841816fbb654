"""Customers who write in another language, through the real app (signed HTTP, the Slack
stand-in, the fake OpenAI API) with the English test knowledge base (``tests/data/kb``).

The scripted model below answers each prompt by what the prompt says: it searches with the
English query the classify prompt asks for, drafts in the language the draft prompt names, and
translates what the translate prompts give it. Everything else is the bot's own doing: which
language it detects and keeps, which texts it shows in that language, what the card shows, and
that an edit in English goes out in the customer's language only after a reviewer saw it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.jobs.kinds import INTERNAL
from bot.ops.trace import trace_lines
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from bot.slack.blocks.csat import CSAT_COMMENT_MAX
from bot.slack.blocks.locales import STRINGS
from bot.tickets.csat import NOT_YOURS
from persistence.repos import Repositories
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_csat import COLLEAGUE, comment, opt_in, rate, survey_now, surveys
from tests.scenarios.test_review_timers import wait_for_posts
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OTHER_REVIEWER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_buttons,
    card_text,
    click,
)

ARTICLE_LINE = re.compile(r"^\[article (\d+)\] (.+?) › (.+)$", re.MULTILINE)
LATEST = "Customer's latest message:\n"
CSV_SECTION = "Export a report as CSV"

GERMAN_QUESTION = "Hallo zusammen! Wie kann ich einen Bericht als CSV exportieren? Danke :pray:"
GERMAN_ANSWER = (
    "Öffne den Bericht, klicke oben rechts auf **Export** und wähle **CSV**. Die Datei wird"
    " sofort heruntergeladen."
)
GERMAN_BILLING = "Uns wurde diesen Monat doppelt abgebucht, bitte prüft unsere Rechnung."
JAPANESE_BILLING = "今月、二重に請求されました。請求書を確認していただけますか？"
ITALIAN_BILLING = "Ci avete addebitato due volte questo mese, potete controllare la fattura?"
ENGLISH_EDIT = "We refunded the duplicate charge; it reaches your card within 5 days."
GERMAN_EDIT = (
    "Wir haben die doppelte Abbuchung erstattet; sie ist innerhalb von 5 Tagen auf deiner Karte."
)


NO_ANSWER = {
    "English": "A teammate will check the invoice.",
    "German": "Ein Teammitglied prüft die Rechnung.",
    "Japanese": "担当者が請求書を確認します。",
    "Italian": "Un collega controllerà la fattura.",
}


class MultilingualModel:
    """Classifies and drafts as the prompts ask, and translates from a table."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []  # (system, user) of every call
        self.broken_translations = False  # translate prompts get no JSON back
        self.translations: dict[str, str] = {
            GERMAN_BILLING: "We were charged twice this month, please check our invoice.",
            JAPANESE_BILLING: "We were charged twice this month. Could you check the invoice?",
            ENGLISH_EDIT: GERMAN_EDIT,
        }

    def __call__(self, request: dict[str, Any]) -> str:
        system = str(request["messages"][0]["content"])
        user = str(request["messages"][1]["content"])
        self.prompts.append((system, user))
        latest = user.rsplit(LATEST, 1)[-1]
        if "You triage customer questions" in system:
            billing = "Monat" in latest or "請求" in latest or "addebitato" in latest
            return json.dumps(
                {
                    "category": "billing_query" if billing else "simple_faq",
                    "confidence": 0.93,
                    "search_query": "invoice billing" if billing else "export report csv",
                    "keywords": ["csv", "export"],
                    "summary": "The customer asks about their account.",
                    "wants_human": False,
                }
            )
        if "You write replies to customers" in system:
            shown = {heading: int(n) for n, _title, heading in ARTICLE_LINE.findall(user)}
            german = "The customer's language: German" in user
            if CSV_SECTION in shown:
                answer = GERMAN_ANSWER if german else "Click **Export** and choose **CSV**."
                used = [shown[CSV_SECTION]]
            else:
                language = re.search(r"The customer's language: (\w+)", user)
                answer, used = NO_ANSWER[language[1] if language else "English"], []
            return json.dumps(
                {
                    "answer": answer,
                    "used_article_ids": used,
                    "grounded": bool(used),
                    "missing_information": "",
                }
            )
        if "You translate messages" in system:
            if self.broken_translations:
                return "Sorry, I can't translate that."
            text = user.split("Message:\n", 1)[1]
            into = re.search(r"Into: (\w+)", user)
            found = self.translations.get(text, f"[{into[1] if into else '?'}] {text}")
            return json.dumps({"translation": found})
        if "You translate the short messages" in system:
            texts = json.loads(user.split("\n\n", 1)[1])
            return json.dumps({k: f"[it] {v}" for k, v in texts.items()})
        return "{}"

    def calls(self, marker: str) -> list[tuple[str, str]]:
        return [(s, u) for s, u in self.prompts if marker in s]


async def started(make_bot: BotFactory, llm: FakeOpenAI, **kw: Any) -> tuple[RunningBot, Any]:
    model = MultilingualModel()
    llm.set_responder(model)
    bot = await make_bot(**kw)
    return bot, model


async def language_of(bot: RunningBot) -> list[str | None]:
    rows = await bot.db.fetchall("SELECT language FROM tickets ORDER BY id")
    return [r["language"] for r in rows]


def current_card(bot: RunningBot, slack: SlackStandIn) -> dict[str, Any]:
    card = slack.find_message(ESCALATION, bot.cards()[-1]["ts"])
    assert card is not None
    return card


def button(card: dict[str, Any], action: str) -> tuple[str, str]:
    """The full action id (with its checksum) and value of the card's ``action`` button."""
    for full, value in card_buttons(card).items():
        if full == action or full.startswith(action + "."):
            return full, value
    raise AssertionError(f"no {action} on the card: {sorted(card_buttons(card))}")


async def press(
    bot: RunningBot, slack: SlackStandIn, action: str, *, user: str = REVIEWER
) -> tuple[int, str]:
    card = current_card(bot, slack)
    full, value = button(card, action)
    return await bot.send.block_action(user, full, value, channel=ESCALATION, message=card)


async def submit_edit(
    bot: RunningBot, slack: SlackStandIn, text: str, *, english: str | None = None
) -> tuple[int, str]:
    """Edit on the current card; ``english``: the question's translation the modal must show."""
    await click(bot, ids.ACTION_EDIT, card=current_card(bot, slack))
    view = slack.calls_to("views.open")[-1]["view"]
    assert "The customer writes German" in str(view["blocks"])
    if english is not None:
        assert f"*In English:* {english}" in str(view["blocks"])
    return await bot.send.view_submission(
        REVIEWER,
        ids.VIEW_EDIT,
        {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: text}},
        view["private_metadata"],
    )


async def test_a_german_question_is_answered_in_german_from_the_english_kb(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_QUESTION)
    await bot.drained()
    thread = bot.thread(ts)
    assert len(thread) == 1
    answer = thread[0]
    assert GERMAN_ANSWER in answer["text"]
    labels = [
        e["text"]["text"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == [STRINGS["de"]["helpful"], STRINGS["de"]["talk_to_person"]]
    footer = " ".join(
        e["text"] for b in answer["blocks"] if b["type"] == "context" for e in b["elements"]
    )
    assert "Quellen: Exporting reports › Export a report as CSV" in footer
    assert STRINGS["de"]["reach_a_person"] in footer
    assert await language_of(bot) == ["de"]
    # The classifier was told to write an English query, and the search ran on it.
    (classify_system, classify_user), *_ = model.calls("You triage customer questions")
    assert "Always write it in English" in classify_system
    assert GERMAN_QUESTION in classify_user
    queries = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = 'searched' ORDER BY id"
    )
    assert any('"export report csv"' in r["detail"] for r in queries)
    # The draft was asked in German, and our checks passed it (the names are the articles').
    drafts = model.calls("You write replies to customers")
    assert drafts and all("The customer's language: German" in u for _, u in drafts)
    assert await bot.ticket_states() == ["answered"]
    # The customer's buttons answer in German too: Helpful resolves the ticket (the thread's
    # note in German), and Talk to a person escalates with a German holding reply.
    value = card_buttons(answer)[ids.ACTION_HELPFUL]
    for action in (ids.ACTION_HELPFUL, ids.ACTION_TALK_TO_PERSON):
        await bot.send.block_action(
            CUSTOMER, action, value, team_id=CUSTOMER_TEAM, channel=SUPPORT, message=answer
        )
    await bot.drained()
    assert [e["text"] for e in slack.ephemerals] == [
        STRINGS["de"]["thanks_resolved"],
        STRINGS["de"]["person_asked"],
    ]
    assert [m["text"] for m in bot.thread(ts)[-2:]] == [
        STRINGS["de"]["resolved_by_customer"],
        STRINGS["de"]["holding"],
    ]
    assert "Language: German" in card_text(current_card(bot, slack))


async def test_holding_reply_and_card_in_japanese_with_the_english_below(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm)
    ts = await bot.ask(JAPANESE_BILLING)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)] == [STRINGS["ja"]["holding"]]
    card = current_card(bot, slack)
    text = card_text(card)
    assert "Language: Japanese" in text
    assert JAPANESE_BILLING in text  # the customer's own words
    assert "*In English:* We were charged twice this month. Could you check the invoice?" in text
    # The draft (in the customer's language) has its English below it too.
    assert "*In English:* [English] 担当者が請求書を確認します。" in text
    assert await language_of(bot) == ["ja"]
    # A follow-up while the card waits shows on it, with its English too.
    follow_up = "請求書番号は INV-4411 です。よろしくお願いします。"
    await bot.ask(follow_up, thread_ts=ts)
    await bot.drained()
    text = card_text(current_card(bot, slack))
    assert f"*Follow-up 1*\n{follow_up}" in text
    assert f"*In English:* [English] {follow_up}" in text
    assert len(bot.thread(ts)) == 1  # nothing more was posted to the customer


async def test_an_english_edit_is_translated_and_confirmed_before_it_is_sent(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)] == [STRINGS["de"]["holding"]]
    status, body = await submit_edit(
        bot, slack, ENGLISH_EDIT, english=model.translations[GERMAN_BILLING]
    )
    assert status == 200 and "errors" not in body
    await bot.drained()
    # Nothing went to the customer: the card shows the translation to confirm.
    assert len(bot.thread(ts)) == 1
    text = card_text(current_card(bot, slack))
    assert f"edit in German, as the customer will read it:*\n{GERMAN_EDIT}" in text
    assert f"_As written:_\n{ENGLISH_EDIT}" in text
    assert model.calls("You translate messages")
    # A restart before anyone confirms loses nothing.
    await bot.restart()
    await bot.drained()
    status, _ = await press(bot, slack, ids.ACTION_SEND_TRANSLATION)
    assert status == 200
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)[1:]] == [GERMAN_EDIT]
    card = current_card(bot, slack)
    assert "Edited by <@UREVIEWER>" in card_text(card)
    # The sent reply's card shows the reviewer's English below the German that went out.
    assert f"*In English:* {ENGLISH_EDIT}" in card_text(card)
    assert not any(k.startswith(ids.ACTION_SEND_TRANSLATION) for k in card_buttons(card))
    # A second click (a stale card) sends nothing more and says who decided.
    earlier = slack.ephemerals[:]
    await bot.send.block_action(
        OTHER_REVIEWER,
        ids.edit_action(ids.ACTION_SEND_TRANSLATION, GERMAN_EDIT),
        card_buttons(card)[ids.ACTION_RESOLVE],
        channel=ESCALATION,
        message=card,
    )
    await bot.drained()
    assert len(bot.thread(ts)) == 2
    told = [e["text"] for e in slack.ephemerals if e not in earlier]
    assert told and "Already edited and sent by <@UREVIEWER>" in told[-1]


async def test_a_click_on_an_earlier_translation_sends_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    await submit_edit(bot, slack, ENGLISH_EDIT)
    await bot.drained()
    stale = current_card(bot, slack)
    full, value = button(stale, ids.ACTION_SEND_TRANSLATION)
    await submit_edit(bot, slack, "Your refund is on its way.")  # another edit replaces it
    await bot.drained()
    earlier = slack.ephemerals[:]
    await bot.send.block_action(REVIEWER, full, value, channel=ESCALATION, message=stale)
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    told = [e["text"] for e in slack.ephemerals if e not in earlier]
    assert told and "changed since you looked" in told[-1]
    # Discard, and the card has no edit waiting; the draft can still be approved.
    await press(bot, slack, ids.ACTION_DISCARD_EDIT)
    await bot.drained()
    card = current_card(bot, slack)
    assert "as the customer will read it" not in card_text(card)
    assert ids.ACTION_APPROVE in card_buttons(card)


async def test_an_edit_written_in_the_customers_language_is_sent_at_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    await submit_edit(bot, slack, GERMAN_EDIT)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)[1:]] == [GERMAN_EDIT]
    # Nothing was translated into German (the card's English translations go the other way).
    assert not [u for _, u in model.calls("You translate messages") if "Into: German" in u]


async def test_short_messages_keep_the_tickets_language_or_english(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_QUESTION)
    await bot.drained()
    # "CSV export??" says nothing about its language: the ticket stays German.
    await bot.ask("CSV export??", thread_ts=ts)
    await bot.drained()
    assert await language_of(bot) == ["de"]
    steps = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = 'classified' ORDER BY id"
    )
    details = [json.loads(r["detail"]) for r in steps]
    assert [(d["language"], d["language_detected"], d["language_was"]) for d in details] == [
        ("de", True, None),
        ("de", False, "de"),
    ]
    assert GERMAN_ANSWER in bot.thread(ts)[-1]["text"]
    # `support-bot trace` shows each round's reading.
    ticket = (await Repositories.over(bot.db, internal_kinds=INTERNAL).tickets.all())[0]
    events = await Repositories.over(bot.db, internal_kinds=INTERNAL).trail.for_ticket(ticket.id)
    classified = [line for line in trace_lines(ticket, events) if "classified" in line]
    assert "language=de language_detected=True" in classified[0]
    assert "language=de language_detected=False" in classified[1]
    # A new ticket that only says hello is greeted in English.
    hello = await bot.ask("hi :wave:")
    await bot.drained()
    assert [m["text"] for m in bot.thread(hello)] == [STRINGS["en"]["greeting"]]
    assert (await language_of(bot))[-1] == "en"
    # Two German words are too few to believe (real customers' English typos read as German or
    # Dutch that short): greeted in English. Three are enough: greeted in German. A lone
    # "danke!" after an answer wakes no one.
    hallo = await bot.ask("Hallo zusammen! 👋")
    await bot.drained()
    assert [m["text"] for m in bot.thread(hallo)] == [STRINGS["en"]["greeting"]]
    morgen = await bot.ask("Guten Morgen zusammen! 👋")
    await bot.drained()
    assert [m["text"] for m in bot.thread(morgen)] == [STRINGS["de"]["greeting"]]
    await bot.ask("Vielen Dank!", thread_ts=ts)
    await bot.drained()
    assert GERMAN_ANSWER in bot.thread(ts)[-1]["text"] and bot.cards() == []


async def test_a_language_outside_the_table_gets_the_models_translation_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm)
    first = await bot.ask(ITALIAN_BILLING)
    await bot.drained()
    assert [m["text"] for m in bot.thread(first)] == [f"[it] {STRINGS['en']['holding']}"]
    second = await bot.ask("Buongiorno, anche a noi è stato addebitato due volte questo mese!")
    await bot.drained()
    assert [m["text"] for m in bot.thread(second)] == [f"[it] {STRINGS['en']['holding']}"]
    assert len(model.calls("You translate the short messages")) == 1
    assert await language_of(bot) == ["it", "it"]


async def test_offline_the_customer_reads_their_language_and_the_reviewer_decides(
    make_bot: BotFactory, slack: SlackStandIn
) -> None:
    bot = await make_bot(offline=True)
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)] == [STRINGS["de"]["holding"]]
    text = card_text(current_card(bot, slack))
    assert "Language: German" in text
    assert "English translation unavailable: no LLM is configured" in text
    status, body = await submit_edit(bot, slack, ENGLISH_EDIT)
    assert status == 200 and "errors" not in body
    await bot.drained()
    assert len(bot.thread(ts)) == 1  # not sent: the reviewer is told first
    text = card_text(current_card(bot, slack))
    assert "edit could not be translated into German:* no LLM is configured" in text
    assert "use Edit to write it in German" in text
    card = current_card(bot, slack)
    assert not any(k.startswith(ids.ACTION_SEND_TRANSLATION) for k in card_buttons(card))
    await press(bot, slack, ids.ACTION_SEND_AS_WRITTEN)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)[1:]] == [ENGLISH_EDIT]


async def test_a_forged_or_malformed_click_ends_in_a_clear_line(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm)
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    card = current_card(bot, slack)
    value = card_buttons(card)[ids.ACTION_APPROVE]
    earlier = slack.ephemerals[:]
    # No edit waits: a send button without (or with a wrong) checksum sends nothing.
    for action in (ids.ACTION_SEND_TRANSLATION, ids.ACTION_SEND_AS_WRITTEN + ".12345"):
        status, _ = await bot.send.block_action(
            REVIEWER, action, value, channel=ESCALATION, message=card
        )
        assert status == 200
    await bot.send.block_action(
        REVIEWER, ids.ACTION_DISCARD_EDIT, value, channel=ESCALATION, message=card
    )
    await bot.drained()
    told = [e["text"] for e in slack.ephemerals if e not in earlier]
    assert len(told) == 3
    assert "changed since you looked" in told[0] and "changed since you looked" in told[1]
    assert told[2] == "There is no edit waiting on this card."
    assert len(bot.thread(ts)) == 1


async def test_when_the_model_cannot_translate_the_card_and_the_edit_say_so(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm)
    model.broken_translations = True
    ts = await bot.ask(GERMAN_BILLING)
    await bot.drained()
    text = card_text(current_card(bot, slack))
    assert "English translation unavailable: the LLM's reply was malformed" in text
    await submit_edit(bot, slack, ENGLISH_EDIT)
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    card = current_card(bot, slack)
    text = card_text(card)
    assert "edit could not be translated into German:* the LLM's reply was malformed" in text
    assert not any(k.startswith(ids.ACTION_SEND_TRANSLATION) for k in card_buttons(card))
    # The reviewer may write it in German instead: that goes out at once.
    await submit_edit(bot, slack, GERMAN_EDIT)
    await bot.drained()
    assert [m["text"] for m in bot.thread(ts)[1:]] == [GERMAN_EDIT]
    steps = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    assert {"translation_failed", "edit_held", "edit_not_translated", "edited"} <= {
        r["step"] for r in steps
    }


async def test_still_on_it_and_the_resolved_note_in_the_customers_language(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm, review_timeout="1s")
    ts = await bot.ask(GERMAN_BILLING)
    await wait_for_posts(slack, lambda: bot.thread(ts), 2, timeout=20, what="still on it")
    assert [m["text"] for m in bot.thread(ts)] == [
        STRINGS["de"]["holding"],
        STRINGS["de"]["still_on_it"],
    ]
    await bot.drained()
    await click(bot, ids.ACTION_RESOLVE, card=current_card(bot, slack))
    await bot.drained()
    assert bot.thread(ts)[-1]["text"] == STRINGS["de"]["resolved_by_team"]


async def test_a_german_customer_is_asked_rated_and_thanked_in_german(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _model = await started(make_bot, llm, support_admins=[ADMIN])
    await opt_in(bot)
    ts = await bot.ask(GERMAN_QUESTION)
    await bot.drained()
    answer = bot.thread(ts)[0]
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_HELPFUL,
        card_buttons(answer)[ids.ACTION_HELPFUL],
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    # "How did we do?" in German, with the same score buttons.
    (survey,) = surveys(bot, ts)
    assert survey["blocks"][0]["text"]["text"] == STRINGS["de"]["csat_question"]
    assert survey["text"].startswith("Wie war unser Support?")
    assert "How did we do" not in json.dumps(survey)
    scores = [k for k in card_buttons(survey) if k.startswith(ids.ACTION_CSAT_RATE)]
    assert len(scores) == 5

    # The customer rates and is thanked in German; the same score again, and a change, too.
    await rate(bot, survey, 4)
    assert slack.ephemerals[-1]["text"] == STRINGS["de"]["csat_thanks"].format(score=4)
    assert "*Kommentar hinzufügen*" in slack.ephemerals[-1]["text"]
    await rate(bot, survey, 4)
    assert slack.ephemerals[-1]["text"] == STRINGS["de"]["csat_same"].format(score=4)
    await rate(bot, survey, 5)
    assert slack.ephemerals[-1]["text"] == STRINGS["de"]["csat_changed"].format(score=5)
    # Their colleague hears it in German; our own reviewer's refusal stays English.
    await rate(bot, survey, 2, user=COLLEAGUE)
    assert slack.ephemerals[-1]["text"] == STRINGS["de"]["csat_team_rated"]
    await rate(bot, survey, 2, user=REVIEWER, team=HOME_TEAM)
    assert slack.ephemerals[-1]["text"] == NOT_YOURS
    row = await bot.db.fetchone("SELECT score, rated_by FROM csat_ratings")
    assert row is not None and (row["score"], row["rated_by"]) == (5, CUSTOMER)

    # The message everyone sees says, in German, that a rating was recorded.
    shown = survey_now(bot, slack, ts)
    assert shown["text"] == f"{survey['text']} {STRINGS['de']['csat_recorded']}"
    assert STRINGS["de"]["csat_recorded"] in json.dumps(shown, ensure_ascii=False)
    labels = [
        e["text"]["text"] for b in shown["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels[-1] == "💬 Kommentar hinzufügen"
    assert "5/5" not in json.dumps(shown)

    # The comment form in German; its errors and its thanks too.
    reply = await comment(bot, slack, shown, "   ")
    form = slack.calls_to("views.open")[-1]["view"]
    assert (form["title"]["text"], form["submit"]["text"], form["close"]["text"]) == (
        "Dein Feedback",
        "Senden",
        "Abbrechen",
    )
    assert STRINGS["de"]["csat_form_intro"].format(score=5) in json.dumps(
        form["blocks"], ensure_ascii=False
    )
    (field,) = [b for b in form["blocks"] if b["type"] == "input"]
    assert field["label"]["text"] == STRINGS["de"]["csat_form_label"]
    assert reply["errors"][ids.BLOCK_CSAT_COMMENT] == STRINGS["de"]["csat_comment_empty"]
    reply = await comment(bot, slack, shown, "x" * (CSAT_COMMENT_MAX + 3))
    assert reply["errors"][ids.BLOCK_CSAT_COMMENT] == STRINGS["de"]["csat_comment_long"].format(
        max=CSAT_COMMENT_MAX, length=CSAT_COMMENT_MAX + 3
    )
    words = "super schnell, danke!! 🙌 export klappt jetzt"
    reply = await comment(bot, slack, shown, words)
    assert reply["response_action"] == "update"
    assert reply["view"]["title"]["text"] == "Dein Feedback"
    assert reply["view"]["blocks"][0]["text"]["text"] == STRINGS["de"]["csat_comment_thanks"]
    row = await bot.db.fetchone("SELECT comment FROM csat_ratings")
    assert row is not None and row["comment"] == words
    # The team's trace line stays English.
    await bot.send.slash_command(REVIEWER, "trace 1")
    trail = json.dumps(slack.calls_to("views.open")[-1]["view"], ensure_ascii=False)
    assert f"Satisfaction: 5/5 from <@{CUSTOMER}>" in trail


async def test_a_stored_translation_older_than_the_survey_is_made_again(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, model = await started(make_bot, llm, support_admins=[ADMIN])
    await opt_in(bot)
    repos = Repositories.over(bot.db, internal_kinds=INTERNAL)
    older = {k: f"[it, old] {v}" for k, v in STRINGS["en"].items() if not k.startswith("csat_")}
    await repos.languages.save_ui_texts("it", older, "an-older-model")
    ts = await bot.ask(ITALIAN_BILLING)
    await bot.drained()
    # Translated again, once, with the survey's texts; the new translation replaced the old.
    assert len(model.calls("You translate the short messages")) == 1
    assert [m["text"] for m in bot.thread(ts)] == [f"[it] {STRINGS['en']['holding']}"]
    stored = await repos.languages.ui_texts("it")
    assert (
        stored is not None and stored["csat_question"] == f"[it] {STRINGS['en']['csat_question']}"
    )
    # The survey then comes in Italian.
    _, body = await bot.send.slash_command(REVIEWER, "resolve 1")
    assert "resolved" in json.loads(body)["text"]
    await bot.drained()
    (survey,) = surveys(bot, ts)
    assert survey["blocks"][0]["text"]["text"] == f"[it] {STRINGS['en']['csat_question']}"
    # Asked again, the complete translation is kept: no new call.
    await bot.ask("Buongiorno, anche a noi è stato addebitato due volte questo mese!")
    await bot.drained()
    assert len(model.calls("You translate the short messages")) == 1
