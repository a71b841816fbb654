"""Seeing every decision: ticket trails (CLI, /support trace, the card's Why?), statistics
(CLI and /support stats) and exports, over tickets made through the real app."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from bot.cli.report import add_report_commands, run_report
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_buttons,
    classification,
    click,
    draft,
)

EXPORT_ARTICLE = 2


def responder(request: dict[str, object]) -> str:
    """simple_faq for questions mentioning CSV (answered), complex otherwise (escalated)."""
    messages = request["messages"]
    assert isinstance(messages, list)
    system, user = messages[0]["content"], messages[1]["content"]
    if "You triage customer questions" in system:
        category = "simple_faq" if "CSV" in user else "complex_issue"
        return json.dumps(classification(category, 0.9))
    return json.dumps(draft("Open the report and click *Export*.", [EXPORT_ARTICLE]))


async def busy_day(make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn) -> RunningBot:
    """Four questions: one answered by the bot, then approved, edited and rejected drafts."""
    llm.set_responder(responder)
    bot = await make_bot(llm_price_input=1.0, llm_price_output=4.0)
    answered = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    answer = bot.thread(answered)[0]
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_HELPFUL,
        card_buttons(answer)[ids.ACTION_HELPFUL],
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    for action in (ids.ACTION_APPROVE, ids.ACTION_EDIT, ids.ACTION_REJECT):
        await bot.ask(f"The export crashes ({action})")
        await bot.drained()
        await click(bot, action)
        if action == ids.ACTION_EDIT:
            view = slack.calls_to("views.open")[-1]["view"]
            await bot.send.view_submission(
                REVIEWER,
                ids.VIEW_EDIT,
                {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: "Fixed in 2.4.1."}},
                view["private_metadata"],
            )
        await bot.drained()
    return bot


async def report(bot: RunningBot, *argv: str) -> str:
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    code = await run_report(bot.settings, args, out)
    assert code == 0
    return out.getvalue()


async def test_trace_prints_every_step_with_model_prompt_tokens_and_reasons(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn
) -> None:
    bot = await busy_day(make_bot, llm, slack)
    text = await report(bot, "trace", "2")
    steps = [line.split("  ")[2] for line in text.splitlines()[1:]]
    for step in (
        "received",
        "classified",
        "searched",
        "drafted",
        "decided",
        "escalated",
        "card_posted",
        "approved",
        "sent",
    ):
        assert step in steps, step
    classified = next(line for line in text.splitlines() if "  classified  " in line)
    assert "classify@v4" in classified and "tokens " in classified and " ms" in classified
    decided = next(line for line in text.splitlines() if "  decided  " in line)
    assert "action=escalate" in decided and "reason=Category is Complex issue" in decided
    assert "UREVIEWER" in next(line for line in text.splitlines() if "  approved  " in line)


async def test_slash_trace_and_the_cards_why_open_the_trail_in_a_modal(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn
) -> None:
    bot = await busy_day(make_bot, llm, slack)
    status, body = await bot.send.slash_command(REVIEWER, "trace 3")
    assert status == 200
    modal = slack.calls_to("views.open")[-1]["view"]
    joined = "\n".join(
        b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in modal["blocks"]
    )
    assert modal["title"]["text"] == "Ticket #3" and "edited" in joined and "<@UREVIEWER>" in joined
    card = slack.posts(channel=ESCALATION)[-1]
    await click(bot, ids.ACTION_WHY, card=card)
    why = slack.calls_to("views.open")[-1]["view"]
    assert why["title"]["text"] == "Ticket #4"
    _, body = await bot.send.slash_command("UOUTSIDER", "trace 3")
    assert "Only the support team" in json.loads(body)["text"]
    _, body = await bot.send.slash_command(REVIEWER, "trace 99")
    assert "can't find a ticket" in json.loads(body)["text"]


async def test_stats_give_deflection_review_quality_times_feedback_and_cost(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn
) -> None:
    bot = await busy_day(make_bot, llm, slack)
    stats = json.loads(await report(bot, "stats", "--since", "1d", "--json"))
    assert stats["questions"] == 4 and stats["rounds"] == 4
    assert stats["auto_answered"] == 1 and stats["deflection"] == 0.25
    assert stats["escalated"] == 3 and stats["escalated_share"] == 0.75
    assert (stats["approved"], stats["edited"], stats["rejected"]) == (1, 1, 1)
    assert stats["approved_share"] == stats["edited_share"] == stats["rejected_share"] == 1 / 3
    assert stats["replies_sent"] == 3 and stats["helpful"] == 1
    assert stats["first_response_p50"] is not None and stats["approval_p90"] is not None
    assert stats["tokens_in"] > 0 and stats["tokens_out"] > 0
    expected = (stats["tokens_in"] * 1.0 + stats["tokens_out"] * 4.0) / 1e6
    assert abs(stats["cost_usd"] - expected) < 1e-12
    assert abs(stats["cost_per_answered_usd"] - expected / 3) < 1e-12
    text = await report(bot, "stats", "--since", "7d")
    assert "25% deflection" in text and "edited 1 (33%)" in text and "1 helpful" in text
    _, body = await bot.send.slash_command(REVIEWER, "stats 1d")
    assert "Answered by the bot: 1 (25% deflection)" in json.loads(body)["text"]
    _, body = await bot.send.slash_command(REVIEWER, "stats soon")
    assert "Usage: `/support stats 7d`" in json.loads(body)["text"]


async def test_export_writes_tickets_with_their_trails_as_jsonl_and_csv(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn, tmp_path: Path
) -> None:
    bot = await busy_day(make_bot, llm, slack)
    out = tmp_path / "tickets.jsonl"
    await report(bot, "export", "--since", "30d", "--format", "jsonl", "--out", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    assert records[0]["classification"]["category"] == "simple_faq"
    assert [e["step"] for e in records[0]["trail"]][:2] == ["received", "classified"]
    out_csv = tmp_path / "tickets.csv"
    await report(bot, "export", "--format", "csv", "--out", str(out_csv))
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["decision"] for r in rows] == ["answer", "escalate", "escalate", "escalate"]
    assert "approved" in rows[1]["steps"] and int(rows[0]["tokens_in"]) > 0
