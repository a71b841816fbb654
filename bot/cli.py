"""The ``support-bot`` command line: start, migrate, doctor, kb import, kb search."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings, problems_for_start
from bot.logs import setup_logging

SETUP_HINT = (
    "Set these in the environment or in a .env file next to where you run the bot"
    " (see README.md, 'Set up in Slack')."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="support-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="run the bot (Socket Mode or HTTP mode)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("doctor", help="check configuration, database, Slack and the LLM")
    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_import = kb_sub.add_parser("import", help="import Markdown or text files and folders")
    kb_import.add_argument("paths", nargs="+", type=Path)
    kb_search = kb_sub.add_parser("search", help="search the knowledge base")
    kb_search.add_argument("query", nargs="+")
    kb_search.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    kb_search.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        if args.command == "start":
            return _start(settings)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "doctor":
            return asyncio.run(_doctor(settings))
        if args.kb_command == "import":
            return asyncio.run(_kb_import(settings, args.paths))
        return asyncio.run(_kb_search(settings, " ".join(args.query), args.k, args.json))
    except KeyboardInterrupt:
        return 130


def _start(settings: Settings) -> int:
    from bot.runtime import BotRuntime, StartupError
    from persistence.db import DatabaseConfigError, DatabaseUnavailableError

    problems = problems_for_start(settings)
    if problems:
        print("The bot cannot start yet:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(SETUP_HINT, file=sys.stderr)
        return 2
    try:
        asyncio.run(BotRuntime(settings).run_forever())
    except (StartupError, DatabaseConfigError, DatabaseUnavailableError) as exc:
        print(f"The bot cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


async def _open_db(settings: Settings):  # type: ignore[no-untyped-def]
    from persistence.db import Database

    db = Database.from_url(settings.database_url)
    await db.open()
    return db


async def _migrate(settings: Settings) -> int:
    from persistence.db import Database, DatabaseConfigError, DatabaseUnavailableError

    try:
        db = Database.from_url(settings.database_url)
        await db.open(migrate=False)
    except (DatabaseConfigError, DatabaseUnavailableError) as exc:
        print(f"cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        applied = await db.migrate()
    finally:
        await db.close()
    print("applied: " + ", ".join(applied) if applied else "the schema is up to date")
    return 0


async def _doctor(settings: Settings) -> int:
    from bot.doctor import run_checks

    checks = await run_checks(settings)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0


async def _kb_import(settings: Settings, paths: list[Path]) -> int:
    from bot.knowledge import KnowledgeBase
    from persistence.knowledge import KnowledgeRepository

    db = await _open_db(settings)
    try:
        summary = await KnowledgeBase(KnowledgeRepository(db)).import_paths(paths)
    finally:
        await db.close()
    print(summary.describe())
    return 0 if summary.added + summary.updated + summary.unchanged > 0 else 1


async def _kb_search(settings: Settings, query: str, k: int, as_json: bool) -> int:
    from bot.knowledge import KnowledgeBase
    from persistence.knowledge import KnowledgeRepository

    db = await _open_db(settings)
    try:
        hits = await KnowledgeBase(KnowledgeRepository(db)).search(query, limit=max(1, k))
    finally:
        await db.close()
    if as_json:
        results = [
            {
                "article_id": h.article_id,
                "title": h.title,
                "source": h.source,
                "heading": h.heading,
                "score": round(h.score, 4),
                "text": h.text,
            }
            for h in hits
        ]
        print(json.dumps({"query": query, "results": results}, ensure_ascii=False))
        return 0
    if not hits:
        print("no matching article")
        return 0
    for rank, h in enumerate(hits, start=1):
        snippet = " ".join(h.text.split())[:160]
        print(f"{rank}. [{h.score:.2f}] {h.title} › {h.heading}  ({h.source})\n   {snippet}")
    return 0
