"""The ``support-bot`` command line: start, sandbox, migrate, doctor, copy-db, kb, trace, stats,
export."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.kb import add_kb_commands, run_kb
from bot.cli.report import REPORT_COMMANDS, add_report_commands, run_report
from bot.settings.environment import ConfigError, Settings, load_settings, problems_for_start
from bot.settings.logs import setup_logging

SETUP_HINT = (
    "Set these in the environment or in a .env file next to where you run the bot"
    " (see README.md, 'Set up in Slack')."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="support-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="run the bot (Socket Mode or HTTP mode)")
    sandbox = sub.add_parser(
        "sandbox", help="try the bot without Slack: a local workspace in the browser"
    )
    sandbox.add_argument("--port", type=int, default=8080, help="the page's port (8080)")
    sandbox.add_argument("--host", default="127.0.0.1", help="the page's address (127.0.0.1)")
    sandbox.add_argument(
        "--dir",
        type=Path,
        default=Path("sandbox"),
        help="where the sandbox keeps its database (./sandbox; each run starts afresh)",
    )
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("doctor", help="check configuration, database, Slack and the LLM")
    copy = sub.add_parser(
        "copy-db",
        help="copy a whole installation to another database (e.g. SQLite to PostgreSQL)",
        description="Copy every ticket, card, job, article and setting from FROM to TO, keeping"
        " their ids. Stop every bot process first; TO must be empty (it is migrated first)."
        " Then point DATABASE_URL at TO.",
    )
    copy.add_argument("source", metavar="FROM", help="database URL, e.g. sqlite:///support-bot.db")
    copy.add_argument("target", metavar="TO", help="database URL, e.g. postgresql://u:p@host/db")
    add_kb_commands(sub)
    add_report_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    setup_logging(settings.log_level, redact_pii=settings.log_redact_pii, fmt=settings.log_format)
    try:
        if args.command == "start":
            return _start(settings)
        if args.command == "sandbox":
            from bot.sandbox.run import run_sandbox

            llm_key = (
                settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            )
            return asyncio.run(run_sandbox(args.dir, args.host, args.port, llm_key))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "doctor":
            return asyncio.run(_doctor(settings))
        if args.command == "copy-db":
            return asyncio.run(_copy_db(settings, args.source, args.target))
        if args.command in REPORT_COMMANDS:
            return asyncio.run(run_report(settings, args))
        return asyncio.run(_kb(settings, args))
    except KeyboardInterrupt:
        return 130


def _start(settings: Settings) -> int:
    from bot.runtime.runtime import BotRuntime, StartupError
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


async def _migrate(settings: Settings) -> int:
    from persistence.connect import database_for
    from persistence.db import DatabaseConfigError, DatabaseUnavailableError

    try:
        db = database_for(settings)
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


async def _copy_db(settings: Settings, source_url: str, target_url: str) -> int:
    from persistence.connect import database_from_url
    from persistence.copy import CopyError, copy_database
    from persistence.db import DatabaseConfigError, DatabaseUnavailableError

    timeout = int(settings.database_busy_timeout * 1000)
    opened = []
    try:
        source = database_from_url(source_url, busy_timeout_ms=timeout)
        target = database_from_url(target_url, busy_timeout_ms=timeout)
        await source.open(migrate=False)
        opened.append(source)
        await target.open()
        opened.append(target)
        print(f"copying {source.path} to {target.path}")
        copied = await copy_database(source, target)
    except (DatabaseConfigError, DatabaseUnavailableError, CopyError) as exc:
        print(f"cannot copy: {exc}", file=sys.stderr)
        return 2
    finally:
        for db in opened:
            await db.close()
    for table, n in copied.items():
        print(f"  {table:<20} {n:>9}")
    print(f"copied {sum(copied.values())} rows; point DATABASE_URL at {target.path} and start")
    return 0


async def _doctor(settings: Settings) -> int:
    from bot.cli.doctor import run_checks

    checks = await run_checks(settings)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0


async def _kb(settings: Settings, args: argparse.Namespace) -> int:
    from persistence.db import DatabaseConfigError, DatabaseUnavailableError

    try:
        return await run_kb(settings, args)
    except (DatabaseConfigError, DatabaseUnavailableError) as exc:
        print(f"cannot open the database: {exc}", file=sys.stderr)
        return 2
