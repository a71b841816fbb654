"""``support-bot kb source``: adding, listing, syncing and removing knowledge sources on the
command line, as an admin would, against real files and a local help-centre site."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.fakes.help_centre import HelpCentre
from tests.scenarios.test_cli import run
from tests.utils.databases import empty_database_url
from tests.utils.harness import KB_DIR
from tests.utils.process import base_env


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
