"""Privacy: logs never carry tokens and, by default, no e-mail addresses, phone or card numbers;
RETENTION_DAYS purges message text from old resolved tickets, once a day across replicas."""

from __future__ import annotations

import json
import logging
import sys
import time

import pytest

from bot.logs import RedactingFormatter, redact
from bot.sandbox.standin import SlackStandIn
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import REVIEWER, classification, draft, scripted_llm

FORMAT = "%(levelname)s %(name)s: %(message)s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token xoxb-123456-abcdef leaked", "token xoxb-[redacted] leaked"),
        ("app xapp-1-A0B1C2D3E4 and sk-proj-abcdefghij", "app xapp-[redacted] and sk-[redacted]"),
        ("write to ana.maria+support@example.co.uk today", "write to [email] today"),
        ("card 4111 1111 1111 1111 please", "card [card] please"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("card 5500005555555559.", "card [card]."),
        ("call +49 30 1234567 or (555) 123-4567", "call [phone] or [phone]"),
        ("call 555-123-4567 now", "call [phone] now"),
        ("or 030 1234567 in Berlin", "or [phone] in Berlin"),
    ],
)
def test_secrets_and_personal_data_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "outbox key ticket:12:round:3:answer delivered as 1795334284.134934",
        "message:C0123ABCD:1795334284.134934",
        "lookup took 12.5 ms over 100000 chunks",
        "order 1234567890123456 is not a card (fails Luhn)",
        "release 2026-11-22 at 09:00-17:00",
        "ticket #4242, escalation 17, version 2.4.1",
        "2026-11-22 09:02:08,923 INFO bot.runtime: listening",
        "took 1234 567 ms",
    ],
)
def test_ids_timestamps_and_numbers_that_are_not_personal_stay(text: str) -> None:
    assert redact(text) == text


def test_the_formatter_redacts_arguments_and_tracebacks_and_pii_can_be_kept() -> None:
    try:
        raise RuntimeError("Slack said invalid_auth for xoxb-999999-secret")
    except RuntimeError:
        record = logging.LogRecord(
            "bot",
            logging.ERROR,
            __file__,
            1,
            "from %s (%s)",
            ("ana@example.com", "+1 555 123 4567"),
            sys.exc_info(),
        )
    line = RedactingFormatter(FORMAT).format(record)
    assert "ana@example.com" not in line and "555 123 4567" not in line
    assert "xoxb-999999" not in line and "Traceback" in line
    kept = RedactingFormatter(FORMAT, pii=False).format(record)
    assert "ana@example.com" in kept and "xoxb-999999" not in kept


async def test_retention_purges_old_resolved_tickets_once_a_day_across_replicas(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.9, summary="Customer ana@example.com asks"),
            draft("Please retry the export.", [2], grounded=False, missing="Which version?"),
        )
    )
    bot = await make_bot(retention_days=30)
    old = await bot.ask("My card 4111 1111 1111 1111 was charged twice, mail ana@example.com")
    recent = await bot.ask("Another question that stays")
    await bot.drained()
    for ticket in (1, 2):
        _, body = await bot.send.slash_command(REVIEWER, f"resolve {ticket}")
        assert "is resolved" in json.loads(body)["text"]
    await bot.drained()
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE tickets SET resolved_at = ? WHERE id = 1", (time.time() - 40 * 86400,)
        )
    events_before = await bot.db.fetchall("SELECT COUNT(*) AS n FROM ticket_events")
    assert bot.runtime is not None and bot.runtime.retention is not None
    assert await bot.runtime.retention.run_daily(at=time.time() + 86400) == 1
    turns = await bot.db.fetchall("SELECT ticket_id, text FROM ticket_turns ORDER BY id")
    texts = {(r["ticket_id"], r["text"]) for r in turns}
    assert all(text == "[purged]" for ticket, text in texts if ticket == 1)
    assert any("Another question" in text for ticket, text in texts if ticket == 2)
    row = (await bot.db.fetchall("SELECT * FROM tickets WHERE id = 1"))[0]
    classification_left = json.loads(row["classification"])
    assert (
        classification_left["category"] == "complex_issue" and "summary" not in classification_left
    )
    assert "text" not in json.loads(row["draft"]) and row["purged_at"] is not None
    escalation = (await bot.db.fetchall("SELECT draft_text FROM escalations WHERE ticket_id = 1"))[
        0
    ]
    assert escalation["draft_text"] == "[purged]"
    dump = json.dumps(
        [dict(r) for r in await bot.db.fetchall("SELECT * FROM tickets WHERE id = 1")]
    )
    assert "ana@example.com" not in dump and "4111" not in dump
    # The numbers for statistics stay: every event is still there.
    events_after = await bot.db.fetchall("SELECT COUNT(*) AS n FROM ticket_events")
    assert events_after[0]["n"] == events_before[0]["n"]
    # Once a day, whichever replica asks: the same day again does nothing, from any process.
    assert await bot.runtime.retention.run_daily(at=time.time() + 86400) is None
    other = await make_bot(kb=False, retention_days=30)
    assert other.runtime is not None and other.runtime.retention is not None
    assert await other.runtime.retention.run_daily(at=time.time() + 86400) is None
    assert await other.runtime.retention.run_daily(at=time.time() + 2 * 86400) == 0
    assert old and recent
