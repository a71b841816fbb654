"""Privacy: logs never carry tokens and, by default, no e-mail addresses, phone or card numbers;
RETENTION_DAYS purges message text from old resolved tickets, once a day across replicas."""

from __future__ import annotations

import json
import logging
import sys
import time

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.settings.logs import RedactingFormatter, redact
from bot.slack import ids
from persistence.db import Database
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import REVIEWER, classification, click, draft, scripted_llm

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


async def tables_holding(db: Database, text: str) -> list[str]:
    """Every ``table.column`` of the database whose value, as text, contains ``text`` (any case):
    all tables and all columns, on either backend."""
    if db.dialect == "postgresql":
        rows = await db.fetchall(
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        )
        columns = [(r["t"], r["c"]) for r in rows]
    else:
        tables = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        columns = []
        for table in tables:
            info = await db.fetchall(f'PRAGMA table_info("{table["name"]}")')
            columns += [(table["name"], col["name"]) for col in info]
    assert len(columns) > 50, columns  # the scan saw the whole schema
    found = []
    for table, column in columns:
        row = await db.fetchone(
            f'SELECT COUNT(*) AS n FROM "{table}" WHERE LOWER(CAST("{column}" AS TEXT)) LIKE ?',
            (f"%{text.lower()}%",),
        )
        if row is not None and row["n"]:
            found.append(f"{table}.{column}")
    return found


SECRET = "Quokka-Zanzibar-7731"
KEPT = "Wombat-Ulaanbaatar-4410"


async def test_after_a_retention_purge_no_table_holds_the_customers_text(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """A question answered by a reviewer's approval and resolved, aged past RETENTION_DAYS:
    after the purge its text is nowhere in the database (jobs' payloads included), while a
    recent ticket's text and work still waiting to run are untouched."""
    llm.set_responder(
        scripted_llm(
            classification(
                "complex_issue", 0.9, summary=f"Asks about {SECRET}", keywords=[SECRET, "export"]
            ),
            draft(f"About {SECRET}: retry the export.", [2], grounded=False, missing=SECRET),
        )
    )
    bot = await make_bot(retention_days=30)
    ts = await bot.ask(f"My order {SECRET} fails to export, my mail is ana@example.com")
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    assert SECRET in bot.thread(ts)[-1]["text"]
    await bot.ask(f"Thanks, {SECRET} works now", thread_ts=ts)
    await bot.drained()
    _, body = await bot.send.slash_command(REVIEWER, "resolve 1")
    assert "is resolved" in json.loads(body)["text"]
    await bot.drained()
    holding = await tables_holding(bot.db, SECRET)
    assert "jobs.payload" in holding and "ticket_turns.text" in holding, holding
    # Forty days pass: the ticket and every job of it are older than the retention period.
    aged = time.time() - 40 * 86400
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE tickets SET created_at = ?, updated_at = ?, resolved_at = ?",
            (aged, aged, aged),
        )
        await tx.execute(
            "UPDATE jobs SET created_at = ?, finished_at = ? WHERE state IN ('done', 'dead')",
            (aged, aged),
        )
        # Work not yet done is never purged, however old: a timer that still has to fire.
        await tx.execute(
            "INSERT INTO jobs(kind, dedupe_key, payload, state, available_at, created_at)"
            " VALUES ('remind', 'test:pending', ?, 'pending', ?, ?)",
            (json.dumps({"text": KEPT}), time.time() + 365 * 86400, aged),
        )
    keys_before = {r["dedupe_key"] for r in await bot.db.fetchall("SELECT dedupe_key FROM jobs")}
    # A recent question stays whole.
    llm.set_responder(scripted_llm(classification("complex_issue", 0.9), draft("Retry.", [2])))
    await bot.ask(f"Is {KEPT} supported?")
    await bot.drained()

    assert bot.runtime is not None and bot.runtime.retention is not None
    assert await bot.runtime.retention.run_daily(at=time.time() + 86400) == 1

    assert await tables_holding(bot.db, SECRET) == []
    # The verified answer proposed from the approved reply was waiting: discarded, and blank.
    proposals = await bot.db.fetchall("SELECT state, title, body FROM verified_answers")
    assert [tuple(r) for r in proposals] == [("discarded", "[purged]", "[purged]")]
    assert await tables_holding(bot.db, "ana@example.com") == []
    kept = await tables_holding(bot.db, KEPT)
    assert "ticket_turns.text" in kept and "jobs.payload" in kept, kept
    pending = await bot.db.fetchone("SELECT payload FROM jobs WHERE dedupe_key = 'test:pending'")
    assert pending is not None and KEPT in pending["payload"]
    # The jobs' rows, and so their dedupe keys, stay: a redelivered event is still dropped.
    keys_after = {r["dedupe_key"] for r in await bot.db.fetchall("SELECT dedupe_key FROM jobs")}
    assert keys_before <= keys_after
    counts = await bot.db.fetchall(
        "SELECT COUNT(*) AS n FROM jobs WHERE payload = '{\"purged\": true}' AND state = 'done'"
    )
    assert counts[0]["n"] > 0
