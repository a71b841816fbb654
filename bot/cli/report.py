"""``support-bot trace``, ``stats`` and ``export``: what the bot did, on the command line."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from bot.ops.stats import compute, stats_lines
from bot.ops.trace import trace_lines
from bot.settings.durations import DurationError, format_duration, parse_duration
from bot.settings.environment import Settings
from persistence.connect import database_for
from persistence.db import Database
from persistence.stats import StatsRepository
from persistence.tickets import TicketRepository
from persistence.trail import TrailRepository

REPORT_COMMANDS = ("trace", "stats", "export")


def _since(text: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_report_commands(sub: Any) -> None:
    trace = sub.add_parser("trace", help="a ticket's every step as a timeline")
    trace.add_argument("ticket", type=int)
    stats = sub.add_parser("stats", help="deflection, review quality, response times, cost")
    stats.add_argument("--since", type=_since, default=7 * 86400, help="period, e.g. 7d (default)")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    export = sub.add_parser("export", help="tickets and their trails, for analysis elsewhere")
    export.add_argument("--since", type=_since, default=30 * 86400, help="e.g. 30d (default)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", default="-", help="file to write (default: standard output)")


async def run_report(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    db = database_for(settings)
    await db.open()
    try:
        if args.command == "trace":
            return await _trace(db, args.ticket, out)
        if args.command == "stats":
            return await _stats(db, settings, args, out)
        return await _export(db, args)
    finally:
        await db.close()


async def _trace(db: Database, ticket_id: int, out: TextIO) -> int:
    ticket = await TicketRepository(db).get(ticket_id)
    if ticket is None:
        print(f"There is no ticket #{ticket_id}.", file=sys.stderr)
        return 1
    events = await TrailRepository(db).for_ticket(ticket_id)
    print("\n".join(trace_lines(ticket, events)), file=out)
    return 0


async def _stats(db: Database, settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    now = time.time()
    stats = await compute(StatsRepository(db), settings, since=now - args.since, until=now)
    if args.json:
        print(json.dumps(stats.to_json()), file=out)
    else:
        print("\n".join(stats_lines(stats, period=f"the last {_days(args.since)}")), file=out)
    return 0


def _days(seconds: float) -> str:
    return format_duration(seconds)


EXPORT_COLUMNS = (
    "id",
    "channel_id",
    "thread_ts",
    "customer_user_id",
    "state",
    "round",
    "created_at",
    "updated_at",
    "resolved_at",
    "category",
    "confidence",
    "decision",
    "reason",
    "steps",
    "tokens_in",
    "tokens_out",
)


async def _export(db: Database, args: argparse.Namespace) -> int:
    repo = StatsRepository(db)
    tickets = await repo.tickets_since(time.time() - args.since)
    events = await repo.events_of([int(t["id"]) for t in tickets])
    text = _jsonl(tickets, events) if args.format == "jsonl" else _csv(tickets, events)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
        print(f"wrote {len(tickets)} ticket(s) to {args.out}", file=sys.stderr)
    return 0


def _jsonl(tickets: list[dict[str, Any]], events: dict[int, list[dict[str, Any]]]) -> str:
    lines = []
    for t in tickets:
        record = {k: _json_field(k, v) for k, v in t.items()}
        record["trail"] = [
            {k: _json_field(k, v) for k, v in e.items()} for e in events[int(t["id"])]
        ]
        lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def _csv(tickets: list[dict[str, Any]], events: dict[int, list[dict[str, Any]]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for t in tickets:
        trail = events[int(t["id"])]
        classification = json.loads(t["classification"]) if t["classification"] else {}
        decision = json.loads(t["decision"]) if t["decision"] else {}
        writer.writerow(
            {
                **{k: t.get(k) for k in EXPORT_COLUMNS if k in t},
                "category": classification.get("category"),
                "confidence": classification.get("confidence"),
                "decision": decision.get("action"),
                "reason": decision.get("reason"),
                "steps": " ".join(e["step"] for e in trail),
                "tokens_in": sum(e["tokens_in"] or 0 for e in trail),
                "tokens_out": sum(e["tokens_out"] or 0 for e in trail),
            }
        )
    return buffer.getvalue()


def _json_field(key: str, value: Any) -> Any:
    if key in ("classification", "retrieval", "draft", "decision", "detail") and isinstance(
        value, str
    ):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
