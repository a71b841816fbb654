"""Health, metrics, the daily digest and structured logs, through the real runtime."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox.standin import SlackStandIn
from bot.settings.logs import JsonFormatter, TicketContext, current_ticket
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ESCALATION,
    RunningBot,
    classification,
    draft,
    import_kb,
    scripted_llm,
    settings_for,
)


async def get(bot: RunningBot, path: str) -> tuple[int, str]:
    assert bot.runtime is not None and bot.runtime.observability is not None
    port = bot.runtime.observability.port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_healthz_is_ready_only_when_slack_the_database_and_the_scheduler_are(
    make_bot: BotFactory, slack: SlackStandIn
) -> None:
    bot = await make_bot(metrics_port=0)
    status, body = await get(bot, "/healthz")
    assert status == 200
    assert json.loads(body) == {"ready": True, "database": True, "scheduler": True, "slack": True}
    # Slack starts refusing the token: the next check makes the bot not ready, and says why.
    slack.error_next("auth.test", "invalid_auth")
    assert bot.runtime is not None
    bot.runtime.readiness.slack_ok_at = time.time() - 3600  # the last success is old
    await bot.runtime._check_slack(bot.runtime.services.client)  # type: ignore[union-attr]
    status, body = await get(bot, "/healthz")
    assert status == 503
    assert json.loads(body)["slack"] is False and json.loads(body)["slack_error"] == "invalid_auth"
    await bot.runtime._check_slack(bot.runtime.services.client)  # type: ignore[union-attr]
    assert (await get(bot, "/healthz"))[0] == 200


async def test_metrics_count_questions_decisions_jobs_and_tokens(
    make_bot: BotFactory, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))
    bot = await make_bot(metrics_port=0)
    await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    status, text = await get(bot, "/metrics")
    assert status == 200
    assert "support_questions_total 1.0" in text
    assert 'support_decisions_total{action="answer"} 1.0' in text
    assert 'support_jobs{kind="slack_post",state="done"} 1.0' in text
    assert 'support_llm_tokens_total{direction="in"}' in text
    assert 'support_job_duration_seconds_count{kind="advance_ticket"} 1.0' in text
    assert 'support_tickets{state="answered"} 1.0' in text


async def test_health_and_metrics_are_served_in_socket_mode_too(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    settings = settings_for(
        tmp_path,
        slack,
        llm,
        slack_app_token=slack.app_token,
        slack_signing_secret=None,
        metrics_port=0,
    )
    await import_kb(settings)
    bot = RunningBot(settings, slack)
    await bot.start()
    try:
        status, body = await get(bot, "/healthz")
        assert status == 200 and json.loads(body)["slack"] is True
        assert (await get(bot, "/metrics"))[0] == 200
    finally:
        await bot.stop()


async def test_the_daily_digest_posts_numbers_and_knowledge_gaps_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.9, keywords=["sso", "okta"]),
            draft("I am not sure.", [2], grounded=False),
        )
    )
    bot = await make_bot(digest_hour=0)
    await bot.ask("Can we log in with Okta <!channel>?")  # nothing in the KB fits
    await bot.drained()
    assert bot.runtime is not None and bot.runtime.digest is not None
    tomorrow = time.time() + 86400  # the digest covers yesterday: from tomorrow, today
    day = await bot.runtime.digest.maybe_post(at=tomorrow)
    assert day is not None
    await bot.drained()
    # (At start the bot also posted the real yesterday's digest, since digest_hour=0 is past.)
    digest = [m for m in slack.posts(channel=ESCALATION) if m["text"].endswith(day)]
    assert len(digest) == 1
    text = "\n".join(b["text"]["text"] for b in digest[0]["blocks"] if "text" in b)
    assert "Questions: 1 new" in text and "escalated: 1" in text
    assert "*sso* (1)" in text and "Okta &lt;!channel&gt;" in text and "<!channel>" not in text
    assert await bot.runtime.digest.maybe_post(at=tomorrow) is None  # once a day
    other = await make_bot(kb=False, digest_hour=0)
    assert other.runtime is not None and other.runtime.digest is not None
    assert await other.runtime.digest.maybe_post(at=tomorrow) is None  # across processes


def test_json_logs_carry_the_ticket_and_stay_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TicketContext())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = current_ticket.set(42)
        logger.warning("mail from %s", "ana@example.com")
        current_ticket.reset(token)
        logger.warning("no ticket here")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["ticket_id"] == 42 and first["message"] == "mail from [email]"
    assert first["level"] == "WARNING" and first["logger"] == "test.json"
    assert second["ticket_id"] is None


def bound_hosts(bot: RunningBot) -> set[str]:
    """The addresses the metrics server's sockets are bound to, as the OS reports them."""
    assert bot.runtime is not None and bot.runtime.observability is not None
    runner = bot.runtime.observability._runner
    assert runner is not None
    return {str(address[0]) for address in runner.addresses}


async def test_metrics_listen_on_loopback_by_default_even_when_slack_listens_everywhere(
    make_bot: BotFactory,
) -> None:
    bot = await make_bot(kb=False, host="0.0.0.0", metrics_port=0)
    assert bound_hosts(bot) == {"127.0.0.1"}
    assert (await get(bot, "/healthz"))[0] == 200
    # HOST still places HTTP mode's Slack endpoint, which Slack must reach.
    assert bot.runtime is not None and bot.runtime._runner is not None
    assert {str(a[0]) for a in bot.runtime._runner.addresses} == {"0.0.0.0"}


async def test_metrics_listen_on_metrics_host_when_set(make_bot: BotFactory) -> None:
    bot = await make_bot(kb=False, metrics_host="0.0.0.0", metrics_port=0)
    assert bound_hosts(bot) == {"0.0.0.0"}
    assert (await get(bot, "/healthz"))[0] == 200


async def test_healthz_on_a_broken_database_says_unavailable_and_logs_the_error(
    make_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot(kb=False, metrics_port=0)
    await bot.db.close()  # every query now fails, with the driver's own words
    try:
        with caplog.at_level(logging.WARNING, logger="bot.ops.observability"):
            status, body = await get(bot, "/healthz")
    finally:
        await bot.db.open(migrate=False)
    assert status == 503
    assert json.loads(body) == {
        "ready": False,
        "database": False,
        "database_error": "unavailable",
        "scheduler": True,
        "slack": True,
    }
    logged = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert "did not answer" in logged and "not open" in logged  # the detail is in the log


async def test_scrapes_within_the_cache_window_count_once(
    make_bot: BotFactory, llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))
    bot = await make_bot(metrics_port=0)
    await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    # Observe the statements the real database runs (whatever runs them).
    executed: list[str] = []
    db = bot.db
    real_fetchall = db.fetchall

    async def observed_fetchall(sql: str, *args: Any, **kwargs: Any) -> Any:
        executed.append(sql)
        return await real_fetchall(sql, *args, **kwargs)

    monkeypatch.setattr(db, "fetchall", observed_fetchall)

    counting = (  # persistence/metrics.py's full-table counts
        "FROM ticket_events GROUP BY k",
        "FROM jobs GROUP BY kind, state",
        "FROM tickets GROUP BY state",
    )

    def counts() -> list[int]:
        return [sum(1 for sql in executed if what in sql) for what in counting]

    first = await get(bot, "/metrics")
    second = await get(bot, "/metrics")
    assert first[0] == second[0] == 200
    assert 'support_tickets{state="answered"} 1.0' in second[1]
    assert counts() == [1, 1, 1]  # once for both scrapes
    # Past the window, a scrape counts again.
    assert bot.runtime is not None and bot.runtime.observability is not None
    bot.runtime.observability.cache_seconds = 0.0
    assert (await get(bot, "/metrics"))[0] == 200
    assert counts() == [2, 2, 2]
