"""Customer satisfaction through the real app: "How did we do?" once a ticket is resolved in a
channel that opted in (by a reviewer, auto-close, or the customer's "Helpful"), rated by the
customer or their colleagues only, with an optional comment; the ratings in the trail, stats,
the digest and App Home; exactly once across a restart."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from bot.slack.blocks.csat import CSAT_COMMENT_MAX, SURVEY_BLOCK
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_admin_config import NEW, admin_bot, form_values, snapshot
from tests.scenarios.test_app_home import home_text, open_home
from tests.scenarios.test_humans_in_the_loop import card_now, escalate, llm_script
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_buttons,
    click,
    draft,
)

EXPORT_ARTICLE = 2
COLLEAGUE = "UCOLLEAGUE"  # the customer's colleague, from the same Slack Connect organisation
STRANGER_TEAM = "TSTRANGER"
Json = dict[str, Any]


async def opt_in(bot: RunningBot, channel: str = SUPPORT) -> None:
    status, body = await bot.send.slash_command(ADMIN, f"csat on <#{channel}|support>")
    assert status == 200 and "From now on" in json.loads(body)["text"], body


def surveys(bot: RunningBot, ts: str) -> list[Json]:
    return [
        m
        for m in bot.thread(ts)
        if any(b.get("block_id") == SURVEY_BLOCK for b in m.get("blocks") or [])
    ]


def survey_now(bot: RunningBot, slack: SlackStandIn, ts: str) -> Json:
    (posted,) = surveys(bot, ts)
    current = slack.find_message(SUPPORT, posted["ts"])
    assert current is not None
    return current


async def rate(
    bot: RunningBot,
    survey: Json,
    score: int,
    *,
    user: str = CUSTOMER,
    team: str = CUSTOMER_TEAM,
) -> None:
    action = ids.home_action(ids.ACTION_CSAT_RATE, score)
    value = card_buttons(survey)[action]
    status, _ = await bot.send.block_action(
        user, action, value, team_id=team, channel=SUPPORT, message=survey
    )
    assert status == 200
    await bot.drained()


async def rating_row(bot: RunningBot) -> Json | None:
    row = await bot.db.fetchone("SELECT * FROM csat_ratings")
    return None if row is None else dict(row)


async def steps(bot: RunningBot) -> list[str]:
    return [r["step"] for r in await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")]


async def resolved_by_reviewer(
    make_bot: BotFactory, llm: FakeOpenAI, *, opted_in: bool = True, **overrides: Any
) -> tuple[RunningBot, str]:
    """A question escalated, approved as drafted, and marked resolved on its card."""
    bot, ts = await escalate(make_bot, llm, support_admins=[ADMIN], **overrides)
    if opted_in:
        await opt_in(bot)
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    await click(bot, ids.ACTION_RESOLVE)
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    return bot, ts


async def comment(
    bot: RunningBot, slack: SlackStandIn, survey: Json, text: str, *, user: str = CUSTOMER
) -> Json:
    button = card_buttons(survey)[ids.ACTION_CSAT_COMMENT]
    opened = len(slack.calls_to("views.open"))
    await bot.send.block_action(
        user,
        ids.ACTION_CSAT_COMMENT,
        button,
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=survey,
    )
    assert len(slack.calls_to("views.open")) == opened + 1, slack.ephemerals[-1:]
    view = slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == ids.VIEW_CSAT_COMMENT
    status, body = await bot.send.view_submission(
        user,
        ids.VIEW_CSAT_COMMENT,
        {ids.BLOCK_CSAT_COMMENT: {ids.ACTION_CSAT_COMMENT_TEXT: text}},
        view["private_metadata"],
        team_id=CUSTOMER_TEAM,
    )
    assert status == 200
    return json.loads(body) if body.strip() else {}


# -- asking ----------------------------------------------------------------------------------


async def test_resolved_by_a_reviewer_the_customer_is_asked_once_and_rates_with_a_comment(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await resolved_by_reviewer(make_bot, llm, digest_hour=0)
    (survey,) = surveys(bot, ts)
    assert "How did we do?" in survey["text"]
    assert [k for k in card_buttons(survey) if k.startswith(ids.ACTION_CSAT_RATE)] == [
        ids.home_action(ids.ACTION_CSAT_RATE, n) for n in range(1, 6)
    ]
    assert "csat_asked" in await steps(bot)

    await rate(bot, survey, 4)
    assert "You rated this conversation 4/5" in slack.ephemerals[-1]["text"]
    row = await rating_row(bot)
    assert row is not None and (row["score"], row["rated_by"], row["answered_by"]) == (
        4,
        CUSTOMER,
        "ai",  # approved as drafted: the bot's own answer
    )
    # The message everyone sees says a rating was recorded, never the score.
    shown = survey_now(bot, slack, ts)
    assert "rating was recorded" in json.dumps(shown)
    assert "4/5" not in json.dumps(shown)
    assert ids.ACTION_CSAT_COMMENT in card_buttons(shown)

    # The comment: empty and too long are refused on the form, nothing recorded.
    reply = await comment(bot, slack, shown, "   ")
    assert "Write a comment" in reply["errors"][ids.BLOCK_CSAT_COMMENT]
    reply = await comment(bot, slack, shown, "x" * (CSAT_COMMENT_MAX + 1))
    assert "keep it to" in reply["errors"][ids.BLOCK_CSAT_COMMENT]
    row = await rating_row(bot)
    assert row is not None and row["comment"] is None
    words = "quick n helpful, thx!! 🙌 export works now"
    reply = await comment(bot, slack, shown, words)
    assert reply["response_action"] == "update" and "Thanks" in json.dumps(reply["view"])
    row = await rating_row(bot)
    assert row is not None and row["comment"] == words

    # The trail has the score and the comment's length, never its words.
    events = await bot.db.fetchall("SELECT step, detail FROM ticket_events ORDER BY id")
    rated = [json.loads(e["detail"]) for e in events if e["step"] == "csat_rated"]
    assert rated == [{"score": 4, "previous_score": None, "comment_length": 0, "answered_by": "ai"}]
    commented = [json.loads(e["detail"]) for e in events if e["step"] == "csat_commented"]
    assert commented[0]["comment_length"] == len(words)
    assert all("helpful, thx" not in (e["detail"] or "") for e in events)
    await bot.send.slash_command(REVIEWER, "trace 1")
    trail = json.dumps(slack.calls_to("views.open")[-1]["view"])
    assert "csat_rated" in trail and "score=4" in trail and "answered_by=ai" in trail
    assert f"comment_length={len(words)}" in trail
    # The team reads the comment at the end of the trace (the trail itself keeps its length).
    assert trail.count("helpful, thx") == 1 and f"Satisfaction: 4/5 from <@{CUSTOMER}>" in trail

    # Stats: overall, by kind of answer, by channel.
    _, body = await bot.send.slash_command(REVIEWER, "stats 1d")
    text = json.loads(body)["text"]
    assert "Satisfaction: 4.0/5 from 1 (100% satisfied)" in text
    assert "AI answer 4.0/5 from 1" in text and f"<#{SUPPORT}> 4.0/5 from 1" in text

    # App Home's numbers for today.
    await open_home(bot, REVIEWER)
    view = slack.calls_to("views.publish")[-1]["view"]
    assert "satisfaction 4.0/5 from 1 (100% satisfied)" in home_text(view)

    # The digest (for the day the rating was given).
    assert bot.runtime is not None and bot.runtime.digest is not None
    day = await bot.runtime.digest.maybe_post(at=time.time() + 86400)
    assert day is not None
    await bot.drained()
    (digest,) = [m for m in slack.posts(channel=ESCALATION) if m["text"].endswith(day)]
    assert "Satisfaction: 4.0/5 from 1" in json.dumps(digest["blocks"])

    # Reopened and resolved again: not asked a second time.
    await bot.ask("one more thing, where is the file saved?", thread_ts=ts)
    await bot.drained()
    _, body = await bot.send.slash_command(REVIEWER, "resolve 1")
    assert "resolved" in json.loads(body)["text"]
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert len(surveys(bot, ts)) == 1


async def test_auto_close_asks_and_an_edited_reply_counts_as_a_human_answer(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm, support_admins=[ADMIN], auto_close_after="1s")
    await opt_in(bot)
    await click(bot, ids.ACTION_EDIT)
    view = slack.calls_to("views.open")[-1]["view"]
    await bot.send.view_submission(
        REVIEWER,
        ids.VIEW_EDIT,
        {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: "Fixed in 2.4.1, pls update :)"}},
        view["private_metadata"],
    )
    # Quiet after the reply: the ticket closes by itself and the survey follows.
    await slack.wait_for(lambda _: len(surveys(bot, ts)) == 1, timeout=10)
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert "auto_closed" in await steps(bot)
    row = await rating_row(bot)
    assert row is not None and row["answered_by"] == "human" and row["score"] is None
    await rate(bot, surveys(bot, ts)[0], 2)
    _, body = await bot.send.slash_command(REVIEWER, "stats 1d")
    text = json.loads(body)["text"]
    assert "Satisfaction: 2.0/5 from 1 (0% satisfied)" in text and "human answer 2.0/5" in text


async def test_the_customers_helpful_resolves_and_asks_but_nobody_elses(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        llm_script(category="simple_faq", drafts=[draft("Click *Export*.", [EXPORT_ARTICLE])])
    )
    bot = await make_bot(support_admins=[ADMIN])
    await opt_in(bot)
    ts = await bot.ask("how do i export a report as csv??")
    await bot.drained()
    answer = bot.thread(ts)[0]
    helpful = card_buttons(answer)[ids.ACTION_HELPFUL]
    # A teammate of ours (or anyone outside the customer's organisation) only gives feedback.
    for user, team in ((REVIEWER, HOME_TEAM), (OUTSIDER, STRANGER_TEAM)):
        await bot.send.block_action(
            user, ids.ACTION_HELPFUL, helpful, team_id=team, channel=SUPPORT, message=answer
        )
        await bot.drained()
    assert await bot.ticket_states() == ["answered"] and surveys(bot, ts) == []
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_HELPFUL,
        helpful,
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert len(surveys(bot, ts)) == 1
    row = await bot.db.fetchone("SELECT resolved_by FROM tickets")
    assert row is not None and row["resolved_by"] == CUSTOMER
    csat = await rating_row(bot)
    assert csat is not None and csat["answered_by"] == "ai"


async def test_a_channel_that_did_not_opt_in_is_never_asked(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await resolved_by_reviewer(make_bot, llm, opted_in=False)
    assert surveys(bot, ts) == [] and await rating_row(bot) is None
    assert "csat_asked" not in await steps(bot)
    # Switched on then off again: still nobody asked.
    await opt_in(bot)
    _, body = await bot.send.slash_command(ADMIN, f"csat off <#{SUPPORT}>")
    assert "no longer asked" in json.loads(body)["text"]
    ts2 = await bot.ask("The CSV export crashes again on the big report")
    await bot.drained()
    await click(bot, ids.ACTION_RESOLVE)
    await bot.drained()
    assert surveys(bot, ts2) == [] and await rating_row(bot) is None


async def test_a_customer_whose_account_is_deactivated_is_not_asked(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm, support_admins=[ADMIN])
    await opt_in(bot)
    slack.users[CUSTOMER] = {"deleted": True}
    await click(bot, ids.ACTION_RESOLVE)
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert surveys(bot, ts) == [] and await rating_row(bot) is None
    assert "csat_skipped" in await steps(bot)


# -- who may rate ----------------------------------------------------------------------------


async def test_only_the_customer_and_their_colleagues_can_rate(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await resolved_by_reviewer(make_bot, llm)
    survey = surveys(bot, ts)[0]
    for user, team in (
        (REVIEWER, HOME_TEAM),  # our own reviewer
        (ADMIN, HOME_TEAM),  # a bot admin
        (OUTSIDER, STRANGER_TEAM),  # someone from another organisation
        (REVIEWER, CUSTOMER_TEAM),  # staff, whatever team a payload names
    ):
        await rate(bot, survey, 1, user=user, team=team)
        assert "Only the person who asked" in slack.ephemerals[-1]["text"], user
        assert slack.ephemerals[-1]["user"] == user
    row = await rating_row(bot)
    assert row is not None and row["score"] is None
    assert "csat_rated" not in await steps(bot)
    assert slack.calls_to("chat.update") == [] or all(
        c.get("channel") != SUPPORT for c in slack.calls_to("chat.update")
    )

    # A colleague from the customer's organisation rates; a second click of theirs changes it.
    await rate(bot, survey, 5, user=COLLEAGUE)
    assert "You rated this conversation 5/5" in slack.ephemerals[-1]["text"]
    await rate(bot, survey, 5, user=COLLEAGUE)
    assert "already rated this conversation 5/5" in slack.ephemerals[-1]["text"]
    await rate(bot, survey, 3, user=COLLEAGUE)
    assert "now rate this conversation 3/5" in slack.ephemerals[-1]["text"]
    # The customer themselves comes later: the ticket's one rating is their colleague's.
    await rate(bot, survey, 1)
    assert "already rated" in slack.ephemerals[-1]["text"]
    row = await rating_row(bot)
    assert row is not None and (row["score"], row["rated_by"]) == (3, COLLEAGUE)
    assert (await steps(bot)).count("csat_rated") == 2
    # The survey message was updated once, whatever the changes.
    updates = [c for c in slack.calls_to("chat.update") if c.get("channel") == SUPPORT]
    assert len(updates) == 1
    # Only the rater adds the comment; the customer hears why not.
    shown = survey_now(bot, slack, ts)
    opened = len(slack.calls_to("views.open"))
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_CSAT_COMMENT,
        card_buttons(shown)[ids.ACTION_CSAT_COMMENT],
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=shown,
    )
    assert len(slack.calls_to("views.open")) == opened
    assert "Only the person who rated" in slack.ephemerals[-1]["text"]


async def test_malformed_survey_clicks_and_forms_record_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await resolved_by_reviewer(make_bot, llm)
    survey = surveys(bot, ts)[0]
    before = len(slack.ephemerals)
    for value in ("1:9", "1", "x:4", "99999999999999:4", ""):
        status, _ = await bot.send.block_action(
            CUSTOMER,
            ids.home_action(ids.ACTION_CSAT_RATE, 4),
            value,
            team_id=CUSTOMER_TEAM,
            channel=SUPPORT,
            message=survey,
        )
        assert status == 200
    # A ticket with no survey: a clear line, nothing recorded.
    await bot.send.block_action(
        CUSTOMER,
        ids.home_action(ids.ACTION_CSAT_RATE, 4),
        "77:4",
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=survey,
    )
    await bot.drained()
    assert len(slack.ephemerals) == before + 1
    assert "can't find this survey" in slack.ephemerals[-1]["text"]
    row = await rating_row(bot)
    assert row is not None and row["score"] is None
    # Comment before any score: refused with a line saying what to do.
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_CSAT_COMMENT,
        "1",
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=survey,
    )
    assert "Pick a score" in slack.ephemerals[-1]["text"]
    # A comment form that names no ticket.
    status, body = await bot.send.view_submission(
        CUSTOMER,
        ids.VIEW_CSAT_COMMENT,
        {ids.BLOCK_CSAT_COMMENT: {ids.ACTION_CSAT_COMMENT_TEXT: "hi"}},
        "{}",
        team_id=CUSTOMER_TEAM,
    )
    assert status == 200 and "out of date" in json.loads(body)["errors"][ids.BLOCK_CSAT_COMMENT]


# -- exactly once ----------------------------------------------------------------------------


async def test_the_survey_is_posted_exactly_once_across_a_restart(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm, support_admins=[ADMIN])
    await opt_in(bot)
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    card = card_now(bot, slack)
    # Slack takes both posts (the resolved note and the survey) but the bot hears a 500, then
    # the bot stops before it can look: the restarted bot finds them and posts neither again.
    slack.fail_next_after_store("chat.postMessage", times=2)
    await click(bot, ids.ACTION_RESOLVE, card=card)
    await bot.restart()
    await bot.drained()
    assert len(surveys(bot, ts)) == 1
    assert len([m for m in bot.thread(ts) if "marked this conversation resolved" in m["text"]]) == 1
    # The survey really was retried and found by its outbox key rather than posted again.
    key = "ticket:1:csat-survey"
    posts = [c for c in slack.calls if c.method == "chat.postMessage" and key in json.dumps(c.args)]
    assert [c.status for c in posts] == [500]  # stored by Slack, never posted again
    assert slack.calls_to("conversations.replies") != []
    job = await bot.db.fetchone("SELECT attempts, state FROM jobs WHERE dedupe_key = ?", (key,))
    assert job is not None and job["state"] == "done" and job["attempts"] >= 2
    await rate(bot, surveys(bot, ts)[0], 5)
    row = await rating_row(bot)
    assert row is not None and row["score"] == 5


# -- the command -------------------------------------------------------------------------------


async def test_the_csat_command_checks_who_and_what(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(support_admins=[ADMIN])

    async def say(user: str, text: str) -> str:
        status, body = await bot.send.slash_command(user, text)
        assert status == 200
        return str(json.loads(body)["text"])

    assert "Only support-bot admins" in await say(REVIEWER, f"csat on <#{SUPPORT}>")
    assert "No channel asks" in await say(ADMIN, "csat")
    assert "Usage: `/support csat on #channel`" in await say(ADMIN, "csat maybe")
    assert "Name one channel" in await say(ADMIN, "csat on")
    assert "must be picked from Slack's channel list" in await say(ADMIN, "csat on #support")
    assert "is not a support channel" in await say(ADMIN, "csat on <#CRANDOM|random>")
    assert "is not a support channel" in await say(ADMIN, f"csat on <#{ESCALATION}>")
    assert "From now on" in await say(ADMIN, f"csat on <#{SUPPORT}|support>")
    assert "already asked" in await say(ADMIN, f"csat ON <#{SUPPORT}>")
    assert f"<#{SUPPORT}>" in await say(ADMIN, "csat list")
    status = await say(REVIEWER, "status")
    assert f"Satisfaction survey (“How did we do?”): <#{SUPPORT}>" in status
    assert "csat on|off" in await say(ADMIN, "help")
    # Removing the channel drops its survey too.
    await say(ADMIN, f"channel remove <#{SUPPORT}>")
    assert "No channel asks" in await say(ADMIN, "csat list")


async def test_in_our_own_workspace_only_the_guest_who_asked_can_rate(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """A customer let in as a workspace guest shares our team id: their fellow guests are not
    "their organisation", so only they rate."""
    guest, other_guest = "UGUEST", "UGUEST2"
    slack.mark_guest(guest)
    slack.mark_guest(other_guest)
    llm.set_responder(
        llm_script(category="simple_faq", drafts=[draft("Click *Export*.", [EXPORT_ARTICLE])])
    )
    bot = await make_bot(support_admins=[ADMIN])
    await opt_in(bot)
    ts = await bot.ask("how do i export to csv", user=guest, team=HOME_TEAM)
    await bot.drained()
    answer = bot.thread(ts)[0]
    await bot.send.block_action(
        guest,
        ids.ACTION_HELPFUL,
        card_buttons(answer)[ids.ACTION_HELPFUL],
        team_id=HOME_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    survey = surveys(bot, ts)[0]
    await rate(bot, survey, 5, user=other_guest, team=HOME_TEAM)
    assert "Only the person who asked" in slack.ephemerals[-1]["text"]
    await rate(bot, survey, 5, user=guest, team=HOME_TEAM)
    row = await rating_row(bot)
    assert row is not None and (row["score"], row["rated_by"]) == (5, guest)


async def test_the_settings_form_shows_and_sets_where_customers_are_asked(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await opt_in(bot)
    await bot.send.slash_command(ADMIN, "config")
    view = slack.calls_to("views.open")[-1]["view"]
    field = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_CFG_CSAT)
    assert field["element"]["initial_conversations"] == [SUPPORT] and field["optional"]

    def picked(*channels: str) -> dict[str, Any]:
        return {
            ids.BLOCK_CFG_CSAT: {
                "type": "multi_conversations_select",
                "selected_conversations": list(channels),
            }
        }

    # Only support channels (the form's auto and review lists: SUPPORT and NEW).
    status, body = await bot.send.view_submission(
        ADMIN, ids.VIEW_CONFIG, form_values(**picked(NEW, "C0RANDOM"))
    )
    assert "<#C0RANDOM> is not a support channel" in json.loads(body)["errors"][ids.BLOCK_CFG_CSAT]
    assert (await snapshot(bot)).csat_channels == {SUPPORT}
    status, body = await bot.send.view_submission(
        ADMIN, ids.VIEW_CONFIG, form_values(**picked(NEW))
    )
    assert status == 200 and body.strip() in ("", "null"), body
    assert (await snapshot(bot)).csat_channels == {NEW}
    # A form opened before the field existed keeps the choice.
    await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values())
    assert (await snapshot(bot)).csat_channels == {NEW}
    # Nothing picked: nobody is asked.
    await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values(**picked()))
    assert (await snapshot(bot)).csat_channels == frozenset()
