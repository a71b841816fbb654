"""Knowledge sources: what a website sync costs, cold and incremental.

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.kb_sources [--pages N] [--changed SHARE] [--removed SHARE]
                                         [--out PATH]

What happens:

* The fake help centre (``tests/fakes/help_centre.py``, on 127.0.0.1) serves its own articles
  plus ``--pages`` generated ones (varied headings and paragraphs, in the same page boilerplate
  as the real ones: header, navigation, sidebar, cookie banner, footer), listed in its sitemap
  (with ``<lastmod>``) and linked from its category page, each with an ETag and a
  Last-Modified date. ``--no-sitemap``: no sitemap, so the crawl follows links and asks for
  every page again, conditionally.
* A fresh SQLite database; the real command line, in a subprocess, as an admin runs it:
  ``support-bot kb source add website help URL --crawl-delay 0``, then three syncs:
  1. *cold*: every page is new;
  2. *unchanged*: nothing changed on the site;
  3. *incremental*: ``--changed`` of the generated pages got a new paragraph and ``--removed``
     were deleted (404, out of the sitemap).
* Figures per sync: wall seconds (the whole command: start-up, migrations check, the crawl,
  chunking, the index), the requests the site received and how many were answered 304 (a
  conditional request that found the page unchanged), the bytes it sent, the command's summary
  line, and the articles and chunks in the database after it. After the last sync, the
  database is checked against what the site holds: one article per live page and no chunk of a
  removed page, no chunk twice.

Figures are from one run on whatever the machine is doing: compare the requests and 304 share
(deterministic) before the seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fakes.help_centre import CATEGORY, HelpCentre, help_page
from tests.utils.process import SUPPORT_BOT, base_env

TOPICS = [
    ("billing", ["invoice", "refund", "card", "plan", "receipt", "VAT"]),
    ("exports", ["CSV", "schedule", "dashboard", "chart", "PDF", "column"]),
    ("access", ["SSO", "password", "two-factor", "role", "guest", "SCIM"]),
    ("integrations", ["webhook", "API key", "Slack", "Zapier", "rate limit", "token"]),
    ("data", ["retention", "region", "backup", "import", "deletion", "audit log"]),
]


def generated_article(n: int, rng: random.Random) -> tuple[str, str]:
    topic, words = TOPICS[n % len(TOPICS)]
    a, b = rng.sample(words, 2)
    title = f"How to manage {a} and {b} ({topic} #{n})"
    sections = []
    for s in range(rng.randint(2, 4)):
        w = rng.choice(words)
        paragraphs = "".join(
            f"<p>To change the {w} settings for {topic}, open Settings, choose {a}, and press"
            f" Save. Step {s}.{p}: the {b} applies within {rng.randint(1, 59)} minutes to every"
            f" member of the workspace, and the audit log records who changed it.</p>"
            for p in range(rng.randint(1, 3))
        )
        sections.append(f"<h2>{w.capitalize()} step {s}</h2>{paragraphs}")
    return title, "".join(sections)


async def cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        SUPPORT_BOT,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return int(proc.returncode or 0), out.decode(), err.decode(), time.perf_counter() - started


def counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        articles = conn.execute("SELECT COUNT(*) FROM kb_articles").fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM kb_chunks").fetchone()[0]
        twice = conn.execute(
            "SELECT COUNT(*) - COUNT(DISTINCT article_id || ':' || position) FROM kb_chunks"
        ).fetchone()[0]
    return {"articles": int(articles), "chunks": int(chunks), "chunks_twice": int(twice)}


def live_urls(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT url FROM kb_articles").fetchall()
    return {str(r[0]) for r in rows if r[0]}


async def run(pages: int, changed: float, removed: float, *, sitemap: bool) -> dict[str, Any]:
    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="kb-sources-bench-"))
    db_path = work / "kb.db"
    env = base_env(work) | {"DATABASE_URL": f"sqlite:///{db_path}"}
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cores": len(os.sched_getaffinity(0))},
        "pages_generated": pages,
        "listing": "sitemap" if sitemap else "links",
        "syncs": [],
    }
    async with HelpCentre(sitemap=sitemap) as site:
        generated = [f"/docs/generated/article-{n}" for n in range(pages)]
        for n, path in enumerate(generated):
            title, body = generated_article(n, rng)
            site.add_page(path, help_page(title, body))
        # The category page links every generated article too, for a crawl without a sitemap.
        links = "".join(f'<li><a href="{p}">Article {n}</a></li>' for n, p in enumerate(generated))
        site.add_page("/docs/", help_page("Acme Help Centre", f"{CATEGORY}<ul>{links}</ul>"))
        code, _, err, _ = await cli(
            env,
            work,
            *("kb", "source", "add", "website", "help", site.url("/docs/")),
            *("--crawl-delay", "0", "--max-pages", str(pages + 100)),
        )
        if code != 0:
            raise SystemExit(f"kb source add failed: {err}")

        async def sync(label: str) -> None:
            before = len(site.answered)
            code, out, err, seconds = await cli(env, work, "kb", "source", "sync", "help")
            if code != 0:
                raise SystemExit(f"sync {label} failed: {err or out}")
            seen = site.answered[before:]
            summary = next((line for line in out.splitlines() if "added" in line), out.strip())
            answered_304 = sum(1 for s in seen if s.status == 304)
            figures = {
                "sync": label,
                "wall_s": round(seconds, 2),
                "requests": len(seen),
                "answered_304": answered_304,
                "share_304": round(answered_304 / max(1, len(seen)), 3),
                "bytes_sent": sum(s.size for s in seen),
                "summary": summary.strip(),
                **counts(db_path),
            }
            results["syncs"].append(figures)
            print(json.dumps(figures))

        await sync("cold")
        await sync("unchanged")
        rng.shuffle(generated)
        n_changed = round(pages * changed)
        n_removed = round(pages * removed)
        for path in generated[:n_changed]:
            site.change(path, "Since this week, the same applies to archived workspaces too.")
        for path in generated[n_changed : n_changed + n_removed]:
            site.remove(path)
        await sync("incremental")
        kept = live_urls(db_path)
        gone = {site.url(p) for p in generated[n_changed : n_changed + n_removed]}
        results["check"] = {
            "removed_pages_still_cited": len(kept & gone),
            "generated_pages_cited": len(
                kept & {site.url(p) for p in generated[n_changed + n_removed :]}
            )
            + len(kept & {site.url(p) for p in generated[:n_changed]}),
            "generated_pages_live": pages - n_removed,
        }
        print(json.dumps(results["check"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--removed", type=float, default=0.05)
    parser.add_argument(
        "--no-sitemap", action="store_true", help="no sitemap: the crawl follows links"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = asyncio.run(run(args.pages, args.changed, args.removed, sitemap=not args.no_sitemap))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
