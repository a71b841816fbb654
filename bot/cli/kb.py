"""``support-bot kb ...``: import, search, check, list, show, remove and stats on the command
line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.knowledge import open_knowledge
from bot.cli.progress import ProgressBar
from bot.kb.retrieval import Lookup
from bot.settings.environment import Settings


def add_kb_commands(sub: Any) -> None:
    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    imp = kb_sub.add_parser(
        "import",
        help="import files and folders: Markdown, text, reStructuredText, HTML, FAQ CSV/JSONL",
    )
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument(
        "--prune", action="store_true", help="remove articles whose source file or row is gone"
    )
    search = kb_sub.add_parser("search", help="search the knowledge base")
    search.add_argument("query", nargs="+")
    search.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    check = kb_sub.add_parser(
        "check",
        help="what the bot would do with sample questions (sends nothing, stores nothing)",
        description="Run sample questions through classify, search, draft, check and decide"
        " with the configuration in force, and say for each whether the bot would answer or"
        " escalate, and why. Nothing is sent to Slack and no ticket is stored.",
    )
    check.add_argument(
        "file",
        type=Path,
        help='one question a line (# comments), or JSON Lines: {"question": "...",'
        ' "expected": article id, title or source (optional), "channel": "C0123" (optional)}',
    )
    check.add_argument(
        "--channel", help="the channel whose settings apply (default: the first support channel)"
    )
    check.add_argument(
        "--json", action="store_true", help="one JSON object per question, then a summary"
    )
    kb_sub.add_parser("list", help="list the articles")
    show = kb_sub.add_parser("show", help="show one article with its sections")
    show.add_argument("id", type=int)
    remove = kb_sub.add_parser("remove", help="remove one article")
    remove.add_argument("id", type=int)
    kb_sub.add_parser("stats", help="how big the knowledge base is")
    from bot.cli.kb_sources import add_source_commands

    add_source_commands(kb_sub)


def lookup_json(lookup: Lookup) -> dict[str, Any]:
    return {
        "query": lookup.query,
        "fits": lookup.fits,
        "confidence": lookup.confidence,
        "threshold": lookup.threshold,
        "mode": lookup.mode,
        "results": [
            {
                "article_id": h.article_id,
                "title": h.title,
                "source": h.source,
                "heading": h.heading,
                "score": round(h.score, 4),
                "text": h.text,
            }
            for h in lookup.hits
        ],
    }


async def run_kb(settings: Settings, args: argparse.Namespace) -> int:
    if args.kb_command == "check":
        from bot.cli.kb_check import run_check

        return await run_check(settings, args)
    if args.kb_command == "source":
        from bot.cli.kb_sources import run_sources

        return await run_sources(settings, args)
    async with open_knowledge(settings) as kb:
        command = args.kb_command
        if command == "import":
            bar = ProgressBar()
            summary = await kb.import_paths(args.paths, prune=args.prune, progress=bar)
            bar.finish()
            print(summary.describe())
            return 0 if summary.ok else 1
        if command == "search":
            lookup = await kb.lookup(" ".join(args.query), limit=max(1, args.k))
            if args.json:
                print(json.dumps(lookup_json(lookup), ensure_ascii=False))
                return 0
            print(describe_lookup(lookup))
            return 0
        if command == "list":
            articles = await kb.articles()
            for a in articles:
                print(f"{a.id:>5}  {a.title}  ({a.url or a.source}, {a.chunks} sections)")
            print(f"{len(articles)} article(s)")
            return 0
        if command == "show":
            found = await kb.article(args.id)
            if found is None:
                print(f"no article {args.id}; `support-bot kb list` shows them", file=sys.stderr)
                return 1
            article, sections = found
            print(f"#{article.id} {article.title}\nsource: {article.url or article.source}")
            if article.tags:
                print(f"tags: {article.tags}")
            for section in sections:
                print(f"\n## {section.heading}\n{section.text}")
            return 0
        if command == "remove":
            if not await kb.remove(args.id):
                print(f"no article {args.id}; `support-bot kb list` shows them", file=sys.stderr)
                return 1
            print(f"removed article {args.id}")
            return 0
        stats = await kb.stats()
        print(
            f"{stats['articles']} articles, {stats['chunks']} sections,"
            f" {stats['characters']:,} characters, {stats['embeddings']} vectors;"
            f" search mode {kb.retriever.default_mode}"
        )
        return 0


def describe_lookup(lookup: Lookup) -> str:
    verdict = "relevant" if lookup.fits else "nothing relevant"
    lines = [f"{verdict} (confidence {lookup.confidence:.2f}, threshold {lookup.threshold:.2f})"]
    for rank, h in enumerate(lookup.hits, start=1):
        snippet = " ".join(h.text.split())[:160]
        lines.append(f"{rank}. [{h.score:.2f}] {h.title} › {h.heading}  ({h.source})\n   {snippet}")
    if not lookup.hits:
        lines.append("no matching article")
    return "\n".join(lines)
