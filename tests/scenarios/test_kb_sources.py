"""``support-bot kb source``: adding, listing, syncing and removing knowledge sources on the
command line, as an admin would, against real files and a local help-centre site."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from persistence.connect import database_from_url
from tests.fakes.confluence_api import EMAIL as CONFLUENCE_EMAIL
from tests.fakes.confluence_api import TOKEN as CONFLUENCE_TOKEN
from tests.fakes.confluence_api import ConfluenceAPI
from tests.fakes.help_centre import HelpCentre
from tests.fakes.notion_api import TOKEN as NOTION_TOKEN
from tests.fakes.notion_api import FakeNotion, bullet, heading, paragraph
from tests.fakes.zendesk_api import ZendeskAPI
from tests.scenarios.test_cli import run
from tests.utils.databases import empty_database_url
from tests.utils.harness import KB_DIR
from tests.utils.process import SUPPORT_BOT, base_env


async def test_a_files_source_syncs_incrementally_and_its_removal_takes_its_articles(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    folder = tmp_path / "kb"
    shutil.copytree(KB_DIR, folder)
    code, out, err = await run(env, tmp_path, "kb", "source", "add", "files", "docs", str(folder))
    assert code == 0, err
    assert "docs (files:" in out and "every 1h" in out and "not synced yet" in out

    code, out, err = await run(env, tmp_path, "kb", "source", "sync", "docs")
    assert code == 0, err
    assert "docs: 3 added, 0 changed, 0 removed, 0 unchanged, 0 failed" in out

    first = sorted(folder.glob("*.md"))[0]
    first.unlink()
    code, out, _ = await run(env, tmp_path, "kb", "source", "sync", "docs")
    assert "0 added, 0 changed, 1 removed, 2 unchanged" in out

    code, out, _ = await run(env, tmp_path, "kb", "source", "list", "--json")
    listed = json.loads(out)
    assert listed["name"] == "docs" and listed["kind"] == "files"
    assert listed["last_result"]["removed"] == 1 and listed["syncing"] is False

    code, out, _ = await run(env, tmp_path, "kb", "source", "remove", "docs")
    assert code == 0 and "its 2 article(s)" in out
    code, out, _ = await run(env, tmp_path, "kb", "list")
    assert "0 article(s)" in out


async def test_bad_source_commands_say_what_is_wrong(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    cases = [
        (("add", "website", "site", "ftp://example.test/"), "not a web address"),
        (("add", "website", "site", "https://a.test/", "https://b.test/"), "one URL"),
        (("add", "files", "docs", str(tmp_path / "missing")), "no such file or folder"),
        (("add", "files", "docs", str(tmp_path), "--every", "soon"), "duration"),
        (("add", "files", "docs", str(tmp_path), "--every", "10s"), "once a minute"),
        (("sync", "nothing-here"), "no source named"),
    ]
    for args, words in cases:
        code, out, err = await run(env, tmp_path, "kb", "source", *args)
        assert code != 0 and words in err, (args, out, err)
        assert "Traceback" not in err
    code, _, _ = await run(env, tmp_path, "kb", "source", "add", "files", "docs", str(tmp_path))
    assert code == 0
    code, _, err = await run(env, tmp_path, "kb", "source", "add", "files", "docs", str(tmp_path))
    assert code == 2 and "exists already" in err


async def test_a_website_source_follows_a_help_centre_as_it_changes(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    async with HelpCentre() as site:
        start = site.url("/docs/")
        code, out, err = await run(
            env, tmp_path, "kb", "source", "add", "website", "help", start, "--crawl-delay", "0"
        )
        assert code == 0, err
        assert f"help (website: {start}), every 1d" in out

        code, out, err = await run(env, tmp_path, "kb", "source", "sync", "help")
        assert code == 0, err
        first = out
        code, out, _ = await run(env, tmp_path, "kb", "search", "export", "report", "CSV", "--json")
        best = json.loads(out)["results"][0]
        # Answers cite the page itself: a link customers can open.
        assert best["title"] == "Export a report as CSV"
        assert best["source"] == site.url("/docs/export-csv")
        assert "Contact sales" not in best["text"] and "cookies" not in best["text"]
        assert not site.requests_for("/docs/internal/runbook")  # robots.txt disallows it

        site.change("/docs/export-csv", "Exports now include your charts as images.")
        site.remove("/docs/getting-started")
        code, out, err = await run(env, tmp_path, "kb", "source", "sync", "help")
        assert code == 0, err
        assert "0 added, 1 changed, 1 removed" in out, (first, out)
        code, out, _ = await run(env, tmp_path, "kb", "search", "charts", "images", "--json")
        assert json.loads(out)["results"][0]["title"] == "Export a report as CSV"
        code, out, _ = await run(env, tmp_path, "kb", "list")
        assert "Getting started with Acme" not in out


async def test_a_confluence_space_syncs_with_a_token_named_not_stored(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    async with ConfluenceAPI() as confluence:
        code, out, err = await run(
            env,
            tmp_path,
            *("kb", "source", "add", "confluence", "wiki", confluence.origin, "DOCS"),
            *("--email", CONFLUENCE_EMAIL, "--token-env", "ACME_WIKI_TOKEN"),
        )
        assert code == 0, err
        # Without the variable, the sync says which one to set, and nothing is stored.
        code, out, _ = await run(env, tmp_path, "kb", "source", "sync", "wiki")
        assert code == 1 and "ACME_WIKI_TOKEN is not set" in out
        assert CONFLUENCE_TOKEN not in out

        with_token = env | {"ACME_WIKI_TOKEN": CONFLUENCE_TOKEN}
        code, out, err = await run(with_token, tmp_path, "kb", "source", "sync", "wiki")
        assert code == 0, err + out
        assert "wiki: 6 added" in out, out
        code, out, _ = await run(env, tmp_path, "kb", "search", "refund", "--json")
        best = json.loads(out)["results"][0]
        assert best["title"] == "Refunds and cancellations"
        assert best["source"].startswith(confluence.origin + "/wiki/")

        confluence.trash(confluence.id_of("Invoices"))
        code, out, _ = await run(with_token, tmp_path, "kb", "source", "sync", "wiki")
        assert "0 added, 0 changed, 1 removed, 5 unchanged" in out, out
        # The token is in no stored setting.
        code, out, _ = await run(env, tmp_path, "kb", "source", "list", "--json")
        assert CONFLUENCE_TOKEN not in out and '"token_env": "ACME_WIKI_TOKEN"' in out


async def test_a_notion_workspace_syncs_the_pages_shared_with_the_integration(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path) | {
        "DATABASE_URL": empty_database_url(tmp_path, "kb.db"),
        "NOTION_TOKEN": NOTION_TOKEN,
    }
    async with FakeNotion() as notion:
        refunds = notion.add_page(
            "Refunds",
            [
                paragraph("Annual plans can be refunded."),
                heading(2, "Within 30 days"),
                bullet("Full refund to the original card."),
                heading(2, "After 30 days"),
                paragraph("A prorated credit for the months left."),
            ],
        )
        notion.add_page("Exports", [paragraph("Reports export as CSV from the Export menu.")])
        code, out, err = await run(
            env,
            tmp_path,
            *("kb", "source", "add", "notion", "notes", "--api-url", notion.origin),
        )
        assert code == 0, err
        code, out, err = await run(env, tmp_path, "kb", "source", "sync", "notes")
        assert code == 0, err + out
        assert "notes: 2 added" in out, out
        code, out, _ = await run(env, tmp_path, "kb", "search", "prorated", "credit", "--json")
        best = json.loads(out)["results"][0]
        assert best["title"] == "Refunds" and best["heading"].endswith("After 30 days")
        assert best["source"] == notion.page_url(refunds)

        notion.trash(refunds)
        code, out, _ = await run(env, tmp_path, "kb", "source", "sync", "notes")
        assert "0 added, 0 changed, 1 removed, 1 unchanged" in out, out


async def test_a_zendesk_help_centre_syncs_its_public_articles_only(tmp_path: Path) -> None:
    async with ZendeskAPI() as zendesk:
        env = base_env(tmp_path) | {
            "DATABASE_URL": empty_database_url(tmp_path, "kb.db"),
            "ZENDESK_API_TOKEN": zendesk.api_token,
        }
        refunds = zendesk.add_article(
            "Refunds", "<p>Annual plans:</p><h2>Within 30 days</h2><p>A full refund.</p>"
        )
        zendesk.add_article("Exports", "<p>Reports export as CSV.</p>", labels=["reports"])
        zendesk.add_article("Unpublished", "<p>Not yet.</p>", draft=True)
        zendesk.add_article("Agents only", "<p>Internal macro list.</p>", user_segment_id=7)
        code, out, err = await run(
            env,
            tmp_path,
            *("kb", "source", "add", "zendesk", "guide", "acme", "--email", zendesk.email),
            *("--api-url", zendesk.origin),
        )
        assert code == 0, err
        code, out, err = await run(env, tmp_path, "kb", "source", "sync", "guide")
        assert code == 0, err + out
        assert "guide: 2 added" in out, out
        code, out, _ = await run(env, tmp_path, "kb", "list")
        assert "Refunds" in out and "Exports" in out
        assert "Unpublished" not in out and "Agents only" not in out
        code, out, _ = await run(env, tmp_path, "kb", "search", "full", "refund", "--json")
        best = json.loads(out)["results"][0]
        assert best["source"] == zendesk.html_url(refunds.id)  # what customers are sent to

        zendesk.delete(refunds.id)
        code, out, _ = await run(env, tmp_path, "kb", "source", "sync", "guide")
        assert "0 added, 0 changed, 1 removed, 1 unchanged" in out, out


async def count_rows(url: str) -> tuple[int, int]:
    db = database_from_url(url)
    await db.open()
    try:
        articles = await db.fetchone("SELECT COUNT(*) AS n FROM kb_articles")
        chunks = await db.fetchone("SELECT COUNT(*) AS n FROM kb_chunks")
        assert articles is not None and chunks is not None
        return int(articles["n"]), int(chunks["n"])
    finally:
        await db.close()


async def test_a_sync_killed_halfway_is_taken_over_at_once_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    killed_url = empty_database_url(tmp_path, "killed.db")
    clean_url = empty_database_url(tmp_path, "clean.db")
    async with HelpCentre() as site:
        start = site.url("/docs/")
        for url in (killed_url, clean_url):
            env = base_env(tmp_path) | {"DATABASE_URL": url}
            args = ("kb", "source", "add", "website", "help", start, "--crawl-delay", "0")
            code, _, err = await run(env, tmp_path, *args)
            assert code == 0, err
        clean_env = base_env(tmp_path) | {"DATABASE_URL": clean_url}
        code, out, err = await run(clean_env, tmp_path, "kb", "source", "sync", "help")
        assert code == 0, err + out
        clean = await count_rows(clean_url)

        parked = "/docs/billing/refunds"
        site.delay(parked, 60.0)  # the sync waits on this page until it is killed
        env = base_env(tmp_path) | {"DATABASE_URL": killed_url}
        proc = await asyncio.create_subprocess_exec(
            SUPPORT_BOT,
            *("kb", "source", "sync", "help"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(600):
            if site.requests_for(parked):
                break
            await asyncio.sleep(0.05)
        assert site.requests_for(parked), "the sync never reached the parked page"
        proc.kill()
        await proc.wait()
        site.slow.pop(parked)

        # The dead process's lease is not waited out: the next sync takes over at once.
        code, out, err = await run(env, tmp_path, "kb", "source", "sync", "help")
        assert code == 0 and "not run" not in out, err + out
        assert await count_rows(killed_url) == clean  # every page once, nothing twice
        code, out, _ = await run(env, tmp_path, "kb", "source", "sync", "help")
        assert "0 added, 0 changed, 0 removed" in out, out
