"""``support-bot kb source ...``: add, list, remove and sync the knowledge base's sources."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.cli.knowledge import open_knowledge
from bot.cli.progress import ProgressBar
from bot.kb.sources.base import describe_result
from bot.kb.sources.connectors import KINDS, TOKEN_ENV, Connectors
from bot.kb.sources.sync import SourceSync, cli_owner
from bot.settings.durations import DurationError, format_duration, parse_duration
from bot.settings.environment import Settings
from persistence.sources import KbSource, SourceExists, SourceRepository

DEFAULT_EVERY = {
    "files": "1h",
    "website": "24h",
    "zendesk": "1h",
    "notion": "1h",
    "confluence": "1h",
}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SUBDOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*", re.IGNORECASE)
WHERE = (
    "files: the files and folders; website: the start URL; zendesk: the subdomain (acme for"
    " acme.zendesk.com); notion: root page ids (none: every page shared with the integration);"
    " confluence: the site URL and the space key"
)


def add_source_commands(kb_sub: Any) -> None:
    source = kb_sub.add_parser("source", help="where knowledge comes from: folders, websites")
    sub = source.add_subparsers(dest="source_command", required=True)
    add = sub.add_parser("add", help="add a source (it syncs on its schedule, or with `sync`)")
    add.add_argument("kind", choices=KINDS)
    add.add_argument("name", help="a short name to refer to it (e.g. help-centre)")
    add.add_argument("where", nargs="*", help=WHERE)
    add.add_argument(
        "--every",
        help="how often it syncs, e.g. 6h or 1d, or 'off' for only when asked"
        " (default: 1h for files, 24h for a website)",
    )
    add.add_argument("--max-pages", type=int, default=500, help="website: pages at most")
    add.add_argument(
        "--crawl-delay", type=float, default=0.5, help="website: seconds between requests"
    )
    add.add_argument(
        "--token-env",
        help="zendesk, notion, confluence: the environment variable holding the API token"
        f" (default {', '.join(f'{k}: {v}' for k, v in TOKEN_ENV.items())}); the token itself"
        " is never stored",
    )
    add.add_argument(
        "--email", help="zendesk, confluence: the account the API token belongs to (Basic auth)"
    )
    add.add_argument("--locale", help="zendesk: the help centre's locale (e.g. en-us)")
    add.add_argument(
        "--api-url",
        help="zendesk, notion: the API's address when it is not the public one"
        " (a gateway, or a test server)",
    )
    add.add_argument(
        "--include-restricted",
        action="store_true",
        help="zendesk: also articles restricted to signed-in users (customers will see them)",
    )
    listing = sub.add_parser("list", help="the sources, their schedules and last syncs")
    listing.add_argument("--json", action="store_true", help="one JSON object per source")
    remove = sub.add_parser("remove", help="remove a source and the articles it brought")
    remove.add_argument("name")
    sync = sub.add_parser("sync", help="sync a source now, showing progress")
    sync.add_argument("name")


def source_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The stored settings of a new source, or ValueError saying what is wrong."""
    if args.kind == "files":
        if not args.where:
            raise ValueError("a files source needs at least one file or folder")
        paths = [str(Path(p).resolve()) for p in args.where]
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        return {"paths": paths}
    if args.kind in TOKEN_ENV:
        return _api_settings(args)
    if len(args.where) != 1:
        raise ValueError("a website source starts from one URL")
    url = args.where[0]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a web address: {url!r} (give https://…)")
    if args.max_pages < 1:
        raise ValueError("--max-pages must be at least 1")
    if args.crawl_delay < 0:
        raise ValueError("--crawl-delay cannot be negative")
    return {"url": url, "max_pages": args.max_pages, "crawl_delay": args.crawl_delay}


def _api_settings(args: argparse.Namespace) -> dict[str, Any]:
    token_env = args.token_env or TOKEN_ENV[args.kind]
    if not ENV_NAME.fullmatch(token_env):
        raise ValueError(f"--token-env takes a variable's name, like {TOKEN_ENV[args.kind]}")
    settings: dict[str, Any] = {"token_env": token_env}
    if args.email:
        settings["email"] = args.email
    if args.api_url:
        parts = urlsplit(args.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--api-url is not a web address: {args.api_url!r}")
        settings["api_url"] = args.api_url.rstrip("/")
    if args.kind == "zendesk":
        if len(args.where) != 1 or not SUBDOMAIN.fullmatch(args.where[0]):
            raise ValueError("a zendesk source takes its subdomain: acme for acme.zendesk.com")
        settings["subdomain"] = args.where[0]
        if args.locale:
            settings["locale"] = args.locale
        settings["include_restricted"] = bool(args.include_restricted)
    elif args.kind == "notion":
        settings["root_page_ids"] = list(args.where)
    else:
        if len(args.where) != 2:
            raise ValueError(
                "a confluence source takes the site and the space key:"
                " https://acme.atlassian.net DOCS"
            )
        url, space = args.where
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not a web address: {url!r} (give https://…)")
        settings["base_url"] = url.rstrip("/")
        settings["space_key"] = space
    return settings


def schedule(text: str) -> float | None:
    if text.strip().lower() in ("off", "never", "manual"):
        return None
    seconds = parse_duration(text)
    if seconds < 60:
        raise DurationError("a source syncs at most once a minute: give 1m or more")
    return seconds


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_source(source: KbSource) -> str:
    every = (
        "only when asked"
        if source.every_seconds is None
        else f"every {format_duration(source.every_seconds)}"
    )
    where = ", ".join(source.settings.get("paths", [])) or source.settings.get("url", "")
    lines = [f"{source.name} ({source.kind}: {where}), {every}"]
    if source.sync_owner is not None:
        lines.append(f"  syncing now (since {_when(source.last_started_at)})")
    result = source.last_result
    if result is None:
        lines.append("  not synced yet")
    else:
        lines.append(f"  last sync {_when(source.last_finished_at)}: {describe_result(result)}")
        for failure in result.get("failures", [])[:5]:
            lines.append(f"    failed: {failure['page']}: {failure['reason']}")
    return "\n".join(lines)


async def run_sources(settings: Settings, args: argparse.Namespace) -> int:
    async with open_knowledge(settings) as kb:
        sources = SourceRepository(kb.repo.db)
        command = args.source_command
        if command == "add":
            try:
                stored = source_settings(args)
                every = schedule(args.every or DEFAULT_EVERY[args.kind])
                added = await sources.add(
                    name=args.name, kind=args.kind, settings=stored, every_seconds=every
                )
            except SourceExists:
                print(f"a source named {args.name!r} exists already", file=sys.stderr)
                return 2
            except (ValueError, DurationError) as exc:
                print(str(exc), file=sys.stderr)
                return 2
            print(f"added {describe_source(added)}")
            print(f"`support-bot kb source sync {added.name}` syncs it now.")
            return 0
        if command == "list":
            listed = await sources.all()
            if args.json:
                for s in listed:
                    print(json.dumps(_json(s), ensure_ascii=False))
                return 0
            for s in listed:
                print(describe_source(s))
            if not listed:
                print("no sources; `support-bot kb source add` adds one")
            return 0
        found = await sources.named(args.name)
        if found is None:
            print(f"no source named {args.name!r}; `support-bot kb source list`", file=sys.stderr)
            return 1
        if command == "remove":
            article_sources = await sources.remove(found.id)
            removed = await kb.repo.remove(await kb.repo.ids_for_sources(article_sources))
            if found.kind == "files":
                removed += await kb.remove_under(found.settings.get("paths", []))
            print(f"removed source {found.name} and its {removed} article(s)")
            return 0
        connectors = Connectors(ca_bundle=settings.support_bot_ca_bundle)
        try:
            sync = SourceSync(sources, kb, connectors.connector_for)
            bar = ProgressBar(unit="pages")
            result = await sync.sync(found, owner=cli_owner(), progress=bar)
            bar.finish()
        finally:
            await connectors.close()
        print(f"{found.name}: {result.describe()}")
        for failure in result.failures[:10]:
            print(f"  failed: {failure['page']}: {failure['reason']}")
        return 0 if not (result.error or result.skipped) else 1


def _json(source: KbSource) -> dict[str, Any]:
    return {
        "name": source.name,
        "kind": source.kind,
        "settings": source.settings,
        "every_seconds": source.every_seconds,
        "syncing": source.sync_owner is not None,
        "last_started_at": source.last_started_at,
        "last_finished_at": source.last_finished_at,
        "last_result": source.last_result,
    }
