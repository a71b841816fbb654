"""bench.kb_sources: a small run gives every figure, and the checks it reports hold."""

from __future__ import annotations

import pytest

from bench.kb_sources import run

# The real command line against a SQLite file; one backend is enough.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize("sitemap", [True, False])
async def test_a_small_run_syncs_cold_then_unchanged_then_incrementally(sitemap: bool) -> None:
    results = await run(8, 0.25, 0.25, sitemap=sitemap)
    cold, unchanged, incremental = results["syncs"]
    assert [s["sync"] for s in results["syncs"]] == ["cold", "unchanged", "incremental"]
    assert f"{cold['articles']} added, 0 changed" in cold["summary"] and cold["articles"] > 8
    assert " 0 added, 0 changed, 0 removed" in unchanged["summary"]
    assert "0 added, 2 changed, 2 removed" in incremental["summary"]
    assert all(s["chunks_twice"] == 0 for s in results["syncs"])
    assert unchanged["chunks"] == cold["chunks"] and incremental["articles"] == cold["articles"] - 2
    if sitemap:
        # The sitemap's <lastmod> spares the unchanged pages any request at all.
        assert unchanged["requests"] < cold["requests"] / 2
    else:
        assert unchanged["share_304"] > 0.9 and unchanged["bytes_sent"] < cold["bytes_sent"] / 100
    assert results["check"] == {
        "removed_pages_still_cited": 0,
        "generated_pages_cited": 6,
        "generated_pages_live": 6,
    }
