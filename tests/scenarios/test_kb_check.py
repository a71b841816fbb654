"""``support-bot kb check FILE`` as a real process: sample questions through the real Answerer,
offline and with a scripted model, against a real database with the test knowledge base."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.settings.environment import load_settings
from bot.settings.live import LiveConfig
from bot.tickets.answering import NO_LLM_REASON
from persistence.config import ConfigRepository
from persistence.connect import database_from_url
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_cli import run
from tests.utils.databases import empty_database_url
from tests.utils.harness import KB_DIR, SUPPORT, classification, scripted_llm
from tests.utils.process import base_env, bot_env, free_port

EXPORT = "How do I export a report as CSV?"
RESET = "How long is the password reset link valid?"
INVOICES = "Where can I download my invoices?"
OFFLINE_REASON = NO_LLM_REASON
REVIEWED = "CREVIEWED"


async def offline_env(tmp_path: Path) -> dict[str, str]:
    """No Slack token, no model key: only a database with the knowledge base imported."""
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    code, out, err = await run(env, tmp_path, "kb", "import", str(KB_DIR))
    assert code == 0 and "added 3" in out, out + err
    return env


async def count_rows(url: str, *tables: str) -> dict[str, int]:
    db = database_from_url(url)
    await db.open(migrate=False)
    try:
        counts = {}
        for table in tables:
            row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
            counts[table] = int(row["n"]) if row is not None else -1
        return counts
    finally:
        await db.close()


def lines(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


async def test_offline_text_file_escalates_with_the_card_passage(tmp_path: Path) -> None:
    env = await offline_env(tmp_path)
    questions = tmp_path / "questions.txt"
    questions.write_text(f"# what customers ask most\n{EXPORT}\n\n{RESET}\n:wave:\n")
    code, out, err = await run(env, tmp_path, "kb", "check", str(questions))
    assert code == 0, err
    assert "Traceback" not in err
    assert out.startswith("offline (no LLM); threshold 0.70;")
    blocks = {b.split(". ", 1)[0]: b for b in out.split("\n\n") if re.match(r"^\d+\. ", b)}
    assert set(blocks) == {"2", "4", "5"}  # line numbers: the comment and blank line skipped
    export = blocks["2"]
    assert f"→ escalate: {OFFLINE_REASON}" in export
    assert "cites: Exporting reports › Export a report as CSV (#2)" in export
    assert "searched (message): 'How do I export a report as CSV?'" in export
    # The passage a reviewer would see on the card.
    assert "passage for the reviewer: Open the report, click **Export**" in export
    assert "Resetting your password › Reset from the login page (#3)" in blocks["4"]
    assert "The link is valid for 30 minutes." in blocks["4"]
    assert "→ ignore: The bot ignores it: no words to answer" in blocks["5"]
    assert "3 question(s): 0 answered, 2 escalated, 1 ignored" in out
    assert f"     2  {OFFLINE_REASON}" in out
    assert "expected article" not in out  # nothing was expected


async def test_jsonl_expected_articles_give_a_hit_rate(tmp_path: Path) -> None:
    env = await offline_env(tmp_path)
    questions = tmp_path / "samples.jsonl"
    questions.write_text(
        lines(
            [
                {"question": EXPORT, "expected": "Exporting reports"},  # by title
                {"question": INVOICES, "expected": "billing.txt"},  # by source path
                {"question": RESET, "expected": 3},  # by id
                {"question": "reset my password", "expected": "Exporting reports"},  # wrong
            ]
        )
        + "{not json at all\n"
        + lines([{"question": RESET}, {"expected": 3}])
    )
    code, out, err = await run(env, tmp_path, "kb", "check", str(questions))
    assert code == 0, err
    assert "Traceback" not in err
    assert f"{questions}:5: skipped: not valid JSON" in err
    assert f'{questions}:7: skipped: no "question"' in err
    assert "expected 'Exporting reports': hit (top retrieved)" in out
    assert "expected 'billing.txt': hit (top retrieved)" in out
    assert "expected 3: hit (top retrieved)" in out
    assert "expected 'Exporting reports': miss (top retrieved)" in out
    assert "5 question(s): 0 answered, 5 escalated" in out
    assert "expected article: 3 of 4 hit (75%" in out
    assert "2 line(s) skipped" in out

    # --json: one object per question in input order, then the summary.
    code, out, err = await run(env, tmp_path, "kb", "check", "--json", str(questions))
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    *answers, summary = rows
    assert [r["type"] for r in answers] == ["question"] * 5
    assert [r["line"] for r in answers] == [1, 2, 3, 4, 6]
    first = answers[0]
    assert first["action"] == "escalate" and first["reason"] == OFFLINE_REASON
    assert first["cited"][0]["article_id"] == 2 and first["top"]["title"] == "Exporting reports"
    assert first["queries"][0]["query"] == EXPORT
    assert first["draft"]["origin"] == "knowledge_base"
    assert first["draft"]["text"].startswith("Open the report")
    assert first["hit"] is True and first["expected_ids"] == [2]
    assert answers[3]["hit"] is False and answers[4]["hit"] is None
    assert summary["type"] == "summary"
    assert summary["questions"] == 5 and summary["answered"] == 0 and summary["escalated"] == 5
    assert summary["reasons"] == {OFFLINE_REASON: 5}
    assert (summary["with_expected"], summary["hits"], summary["hit_rate"]) == (4, 3, 0.75)
    assert [s["line"] for s in summary["skipped_lines"]] == [5, 7]


async def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    env = await offline_env(tmp_path)
    code, out, err = await run(env, tmp_path, "kb", "check", str(tmp_path / "missing.txt"))
    assert code == 2 and out == ""
    assert f"cannot read {tmp_path / 'missing.txt'}: No such file or directory" in err
    assert "Traceback" not in err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    code, _, err = await run(env, tmp_path, "kb", "check", str(empty))
    assert code == 2 and f"no questions in {empty}" in err
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    code, _, err = await run(env, tmp_path, "kb", "check", str(binary))
    assert code == 2 and "is not UTF-8 text" in err


def _article_ids(prompt: str) -> dict[str, int]:
    return {m[1]: int(m[0]) for m in re.findall(r"^\[article (\d+)\] (.+?) › ", prompt, re.M)}


def responder(request: dict[str, Any]) -> str:
    """Classifies everything as a confident FAQ; drafts a grounded answer for the export
    question and, for the password question, one with a duration its passage lacks."""
    system = request["messages"][0]["content"]
    prompt = request["messages"][-1]["content"]
    latest = prompt.rpartition("Customer's latest message:")[2].strip()
    if "You triage customer questions" in system:
        return str(scripted_llm(classification(search_query=latest))(request))
    ids = _article_ids(prompt)
    if "export" in latest.lower():
        answer = "Open the report, click **Export** and choose **CSV**."
        reply = {"answer": answer, "used_article_ids": [ids["Exporting reports"]]}
    else:
        answer = "The reset link is valid for 45 minutes."
        reply = {"answer": answer, "used_article_ids": [ids["Resetting your password"]]}
    return json.dumps(reply | {"grounded": True, "missing_information": ""})


async def test_with_the_model_a_grounded_answer_answers_and_an_invented_number_escalates(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    # A full bot configuration, Slack token included: the check still talks to no Slack.
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    code, _, err = await run(env, tmp_path, "kb", "import", str(KB_DIR))
    assert code == 0, err
    # An admin set a second channel to review mode in Slack: the check reads it from the
    # database, as the running bot does.
    db = database_from_url(env["DATABASE_URL"])
    await db.open()
    try:
        settings = load_settings(_env_file=None, support_channels=SUPPORT)
        config = LiveConfig(settings, ConfigRepository(db))
        await config.load()
        await config.change(
            user_id="UADMIN", action="channel add", channels={SUPPORT: "auto", REVIEWED: "review"}
        )
    finally:
        await db.close()
    llm.set_responder(responder)
    questions = tmp_path / "samples.jsonl"
    questions.write_text(
        lines(
            [
                {"question": EXPORT, "expected": "Exporting reports"},
                {"question": RESET, "expected": "Resetting your password"},
                {"question": EXPORT, "channel": REVIEWED},
            ]
        )
    )
    code, out, err = await run(env, tmp_path, "kb", "check", str(questions))
    assert code == 0, err
    assert out.startswith(f"model {llm.model}; threshold 0.70; channel {SUPPORT} (auto mode)")
    blocks = [b for b in out.split("\n\n") if re.match(r"^\d+\. ", b)]
    assert len(blocks) == 3
    assert "→ answer: Simple FAQ with confidence 0.90 ≥ 0.70, grounded in 1" in blocks[0]
    assert "cites: Exporting reports › Export a report as CSV (#2)" in blocks[0]
    assert "reply: Open the report, click **Export** and choose **CSV**." in blocks[0]
    assert "searched (standalone): 'How do I export a report as CSV?'" in blocks[0]
    assert "expected 'Exporting reports': hit (cited)" in blocks[0]
    assert "→ escalate: The draft states “45 minutes”" in blocks[1]
    assert "which its cited passages do not contain" in blocks[1]
    assert "expected 'Resetting your password': hit (top retrieved)" in blocks[1]
    assert "→ escalate: This channel is in review mode" in blocks[2]
    assert "1 answered, 2 escalated" in out
    assert "expected article: 2 of 2 hit (100%" in out

    code, out, err = await run(env, tmp_path, "kb", "check", "--json", str(questions))
    assert code == 0, err
    *rows, summary = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in rows] == ["answer", "escalate", "escalate"]
    assert rows[0]["category"] == "simple_faq" and rows[0]["draft"]["origin"] == "llm"
    assert rows[1]["draft"]["unsupported_facts"] == ["45 minutes"]
    assert rows[2]["channel"] == REVIEWED and rows[2]["mode"] == "review"
    assert summary["model"] == llm.model and summary["answered"] == 1
    assert summary["reasons"] == {
        "The draft states “…”, which its cited passages do not contain.": 1,
        "This channel is in review mode: every draft waits for approval.": 1,
    }

    # Nothing was stored and nothing reached Slack.
    counts = await count_rows(env["DATABASE_URL"], "tickets", "jobs", "escalations")
    assert counts == {"tickets": 0, "jobs": 0, "escalations": 0}
    assert slack.calls == []
    assert len(llm.requests) == 12  # classify and draft for 3 questions, twice


async def test_offline_check_stores_no_ticket(tmp_path: Path) -> None:
    env = await offline_env(tmp_path)
    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join([EXPORT, RESET, INVOICES] * 10) + "\n")
    code, out, err = await run(env, tmp_path, "kb", "check", "--json", str(questions))
    assert code == 0, err
    assert err == ""  # no progress bar when stderr is not a terminal
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["question"] for r in rows[:-1]] == [EXPORT, RESET, INVOICES] * 10  # input order
    counts = await count_rows(env["DATABASE_URL"], "tickets", "jobs", "ticket_events")
    assert counts == {"tickets": 0, "jobs": 0, "ticket_events": 0}


def invoice_responder(request: dict[str, Any]) -> str:
    """A standalone query that names invoices; a grounded answer only when the billing article
    is shown."""
    system = request["messages"][0]["content"]
    prompt = request["messages"][-1]["content"]
    if "You triage customer questions" in system:
        reading = classification(search_query="download monthly invoices", keywords=["invoices"])
        return str(scripted_llm(reading)(request))
    if "Billing" not in _article_ids(prompt):
        reply = {"answer": "I could not find this.", "used_article_ids": [], "grounded": False}
        return json.dumps(reply | {"missing_information": "Where are invoices?"})
    answer = "Invoices are issued on the first day of each month: see Settings > Billing."
    reply = {"answer": answer, "used_article_ids": [1], "grounded": True}
    return json.dumps(reply | {"missing_information": ""})


async def test_the_check_drafts_as_the_bot_does_and_says_when_it_drafted_again(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    code, _, err = await run(env, tmp_path, "kb", "import", str(KB_DIR))
    assert code == 0, err
    llm.set_responder(invoice_responder)
    questions = tmp_path / "questions.txt"
    # The message's words find the export article (PDF); the model's query finds billing.
    questions.write_text("Where do I get the PDF for our accounts team?\n")
    code, out, err = await run(env, tmp_path, "kb", "check", str(questions))
    assert code == 0, err
    assert "→ answer: Simple FAQ" in out and "cites: Billing (#1)" in out
    assert "redrafted: the first draft does not answer" in out
    assert "model calls: 3" in out and "1 of 1 draft(s) written again" in out
    code, out, err = await run(env, tmp_path, "kb", "check", "--json", str(questions))
    assert code == 0, err
    row, summary = [json.loads(line) for line in out.splitlines()]
    assert row["draft_verdict"] == "redrafted" and row["model_calls"] == 3
    assert (summary["drafted_ahead"], summary["redrafted"]) == (1, 1)
