"""Socket Mode, the default install: events, clicks and commands over the fake's websocket."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
    RunningBot,
    card_buttons,
    classification,
    draft,
    import_kb,
    scripted_llm,
    settings_for,
)


async def test_socket_mode_answers_escalates_and_takes_clicks_and_commands(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(classification("billing_query", 0.9), draft("Invoices are monthly.", [1]))
    )
    settings = settings_for(
        tmp_path, slack, llm, slack_app_token=slack.app_token, slack_signing_secret=None
    )
    await import_kb(settings)
    bot = RunningBot(settings, slack)
    assert bot.settings.socket_mode
    await bot.start()
    try:
        builder = SlackSender("http://unused", SIGNING_SECRET, team_id=HOME_TEAM, mirror=slack)
        ts = builder.new_ts()
        event = {
            "type": "message",
            "channel": SUPPORT,
            "user": CUSTOMER,
            "text": "When are invoices issued?",
            "ts": ts,
            "team": CUSTOMER_TEAM,
            "user_team": CUSTOMER_TEAM,
        }
        slack.add_message(SUPPORT, ts, event["text"], CUSTOMER, team=CUSTOMER_TEAM)
        envelope = await slack.socket_send(
            "events_api", builder.envelope(event, builder.new_event_id())
        )
        await slack.socket_ack(envelope)
        await bot.drained()
        assert len(slack.posts(channel=SUPPORT, thread_ts=ts)) == 1  # holding reply
        card = slack.posts(channel=ESCALATION)[0]

        click = {
            "type": "block_actions",
            "user": {"id": REVIEWER, "team_id": HOME_TEAM},
            "team": {"id": HOME_TEAM},
            "api_app_id": "AAPP",
            "trigger_id": "T1",
            "channel": {"id": ESCALATION},
            "container": {"type": "message", "channel_id": ESCALATION, "message_ts": card["ts"]},
            "message": card,
            "actions": [
                {
                    "action_id": ids.ACTION_APPROVE,
                    "block_id": "review",
                    "type": "button",
                    "value": card_buttons(card)[ids.ACTION_APPROVE],
                }
            ],
        }
        await slack.socket_ack(await slack.socket_send("interactive", click))
        await bot.drained()
        replies = slack.posts(channel=SUPPORT, thread_ts=ts)
        assert [r["text"].split("\n")[0] for r in replies][-1] == "Invoices are monthly."

        command = {
            "command": "/support",
            "text": "status",
            "user_id": REVIEWER,
            "team_id": HOME_TEAM,
            "channel_id": SUPPORT,
            "api_app_id": "AAPP",
        }
        ack = await slack.socket_ack(await slack.socket_send("slash_commands", command))
        assert "0 card(s) awaiting review" in ack["payload"]["text"]
    finally:
        await bot.stop()
