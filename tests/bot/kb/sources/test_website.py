"""bot.kb.sources.website against a fake help centre on 127.0.0.1 (tests/fakes/help_centre.py):
the listing (sitemap or crawl), scope, robots.txt, redirects, conditional requests, extraction,
limits, politeness and the proxy."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.kb.formats.markdown import chunk_markdown
from bot.kb.sources.base import Failed, Unchanged
from bot.kb.sources.website import WebsiteSource
from bot.settings.network import aiohttp_session, tls_context
from tests.bot.kb.sources.found import of_kind, pages, remembered, run
from tests.fakes.help_centre import (
    COOKIE_TEXT,
    FEEDBACK_TEXT,
    FOOTER_TEXT,
    NAV_TEXT,
    SIDEBAR_TEXT,
    HelpCentre,
    Redirect,
)
from tests.fakes.proxy import ForwardProxy

ARTICLES = [
    "/docs/",
    "/docs/getting-started",
    "/docs/export-csv",
    "/docs/billing/refunds",
    "/docs/account/reset-password",
]
# Never asked for: outside /docs/, disallowed by robots.txt, or not a page.
NEVER = {"/docs/internal/runbook", "/blog/launch", "/status/", "/legal/cookies"}
PDF = "/docs/guides/acme-guide.pdf"


@pytest.fixture
async def site() -> AsyncIterator[HelpCentre]:
    async with HelpCentre() as server:
        yield server


@pytest.fixture
async def bare_site() -> AsyncIterator[HelpCentre]:
    """The same help centre without a sitemap: the connector has to crawl."""
    async with HelpCentre(sitemap=False) as server:
        yield server


def source(
    site: HelpCentre, session: aiohttp.ClientSession, start: str = "/docs/", **options: Any
) -> WebsiteSource:
    options.setdefault("crawl_delay", 0)
    return WebsiteSource(site.url(start), session, **options)


def urls(site: HelpCentre, paths: list[str] | set[str]) -> set[str]:
    return {site.url(path) for path in paths}


# ---------------------------------------------------------------------- listing


async def test_the_sitemap_lists_the_pages_in_scope(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    connector = source(site, session)
    found = await run(connector)

    assert set(pages(found)) == urls(site, ARTICLES)
    for key, page in pages(found).items():
        assert page.url == key and page.etag and page.last_modified
    # A PDF the sitemap lists is not a page, and the sync is told why.
    assert [(f.key, f.reason) for f in found if isinstance(f, Failed)] == [
        (site.url(PDF), "not an HTML page (application/pdf)")
    ]
    assert connector.complete
    requested = site.paths()
    assert requested[:4] == [
        "/robots.txt",
        "/sitemap.xml",
        "/sitemaps/docs.xml",
        "/sitemaps/blog.xml",
    ]
    assert not NEVER & set(requested)
    assert all(path.startswith("/docs/") for path in requested[4:])
    assert all(
        seen.headers["user-agent"] == "support-bot (+knowledge sync)" for seen in site.requests
    )


async def test_without_a_sitemap_the_crawl_follows_links_in_scope_only(
    bare_site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    connector = source(bare_site, session)
    found = await run(connector)

    assert set(pages(found)) == urls(bare_site, ARTICLES)
    assert not of_kind(found, Failed)
    assert connector.complete
    requested = bare_site.paths()
    assert requested[:3] == ["/robots.txt", "/sitemap.xml", "/docs/"]
    # Links out of /docs/, to other hosts, to the PDF and to robots' no-go area: not followed.
    assert not (NEVER | {PDF}) & set(requested)
    assert all(path.startswith("/docs/") for path in requested[2:])
    # Each page once, the fragment of "export-csv#scheduled-exports" dropped.
    assert len(requested[2:]) == len(set(requested[2:]))
    assert "/docs/export-csv" in requested


async def test_a_start_url_names_its_directory_as_the_scope(
    session: aiohttp.ClientSession,
) -> None:
    connector = WebsiteSource("HTTPS://Help.Example.COM:443/docs/start.html#top", session)
    assert connector.start_url == "https://help.example.com/docs/start.html"
    assert (connector.origin, connector.prefix) == ("https://help.example.com", "/docs/")
    assert connector.in_scope("https://help.example.com/docs/billing/refunds")
    assert not connector.in_scope("https://help.example.com/blog/launch")
    assert not connector.in_scope("http://help.example.com/docs/billing")
    assert not connector.in_scope("https://help.example.com:8443/docs/billing")
    assert not connector.in_scope("https://www.example.com/docs/billing")
    with pytest.raises(ValueError, match="not an http or https URL"):
        WebsiteSource("ftp://help.example.com/docs/", session)


# ---------------------------------------------------------------------- robots.txt


@pytest.mark.parametrize("with_sitemap", [True, False], ids=["sitemap", "crawl"])
async def test_robots_disallow_is_honoured(
    with_sitemap: bool, session: aiohttp.ClientSession
) -> None:
    async with HelpCentre(sitemap=with_sitemap) as site:
        # A redirect into the disallowed area is no way in either.
        site.resources["/docs/staff"] = Redirect("/docs/internal/runbook")
        found = await run(source(site, session))
    assert site.requests_for("/docs/internal/runbook") == []
    assert not any("internal" in f.key or f.key.endswith("/staff") for f in found)


async def test_a_robots_txt_that_fails_stops_the_sync_before_any_page(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    site.robots_status = 503
    connector = source(site, session)
    found = await run(connector)
    assert len(found) == 1 and isinstance(found[0], Failed)
    assert found[0].key == site.url("/docs/")
    assert "robots.txt could not be read (HTTP 503)" in found[0].reason
    assert not connector.complete
    assert site.paths() == ["/robots.txt"]


async def test_no_robots_txt_allows_everything(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    site.robots_status = 404  # and so no Sitemap: line: /sitemap.xml is found by its name
    connector = source(site, session)
    found = await run(connector)
    assert site.url("/docs/internal/runbook") in pages(found)
    assert site.paths()[:2] == ["/robots.txt", "/sitemap.xml"]
    assert connector.complete


# ---------------------------------------------------------------------- redirects and gone pages


async def test_redirects_are_followed_in_scope_and_refused_out_of_it(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    # Reachable only through /docs/password (301), so its key must be where that leads.
    site.page("/docs/account/reset-password").in_sitemap = False
    found = await run(source(site, session))

    moved = pages(found)[site.url("/docs/account/reset-password")]
    assert moved.url == moved.key and moved.title == "Reset your password"
    assert site.url("/docs/password") not in {f.key for f in found}
    # /docs/system-status → /status/ (outside /docs/), /docs/community → another host.
    assert site.requests_for("/docs/system-status") and not site.requests_for("/status/")
    assert site.requests_for("/docs/community")
    assert not {f.key for f in found} & urls(site, ["/docs/system-status", "/docs/community"])
    assert of_kind(found, Failed) == urls(site, [PDF])  # the other host was never tried


async def test_a_listed_page_that_is_not_there_yields_nothing(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    connector = source(site, session)
    found = await run(connector)
    assert [seen.path for seen in site.requests_for("/docs/gone")] == ["/docs/gone"]
    assert site.url("/docs/gone") not in {f.key for f in found}
    assert connector.complete


# ---------------------------------------------------------------------- the next sync


async def test_the_next_sync_asks_conditionally_and_gets_unchanged(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    first = await run(source(site, session, trust_lastmod=False))
    known = remembered(first)
    site.requests.clear()

    connector = source(site, session, trust_lastmod=False)
    second = await run(connector, known)

    assert of_kind(second, Unchanged) == set(known) and not pages(second)
    assert connector.complete
    for key, stored in known.items():
        path = key.removeprefix(site.origin)
        (seen,) = site.requests_for(path)
        assert seen.headers["if-none-match"] == stored.etag == site.page(path).etag
        assert seen.headers["if-modified-since"] == stored.last_modified


async def test_a_sitemap_lastmod_no_later_than_the_stored_page_spares_the_request(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(site, session)))
    site.requests.clear()

    second = await run(source(site, session), known)

    assert of_kind(second, Unchanged) == set(known)
    assert not {key.removeprefix(site.origin) for key in known} & set(site.paths())


async def test_a_changed_page_comes_back_with_its_new_text(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(site, session)))
    old_etag = site.page("/docs/export-csv").etag
    site.change("/docs/export-csv", "Exports over a million rows are split into several files.")

    second = await run(source(site, session), known)

    changed = pages(second)
    assert set(changed) == {site.url("/docs/export-csv")}
    page = changed[site.url("/docs/export-csv")]
    assert "Exports over a million rows are split into several files." in page.text
    assert page.etag == site.page("/docs/export-csv").etag != old_etag
    assert page.last_modified != known[page.key].last_modified
    assert of_kind(second, Unchanged) == set(known) - {page.key}


@pytest.mark.parametrize("with_sitemap", [True, False], ids=["sitemap", "crawl"])
async def test_a_removed_page_is_not_yielded(
    with_sitemap: bool, session: aiohttp.ClientSession
) -> None:
    async with HelpCentre(sitemap=with_sitemap) as site:
        first = await run(source(site, session))
        known = remembered(first)
        assert site.url("/docs/billing/refunds") in known
        site.remove("/docs/billing/refunds")

        connector = source(site, session)
        second = await run(connector, known)

    assert {f.key for f in second} == {f.key for f in first} - {site.url("/docs/billing/refunds")}
    assert connector.complete  # so the engine retires it


async def test_a_crawl_rechecks_the_stored_pages_it_gets_no_links_from(
    bare_site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    first = await run(source(bare_site, session))
    known = remembered(first)
    bare_site.requests.clear()

    connector = source(bare_site, session)
    second = await run(connector, known)

    # The start page answers 304, with no links in it: the stored pages are asked for by name.
    assert of_kind(second, Unchanged) == set(known)
    assert connector.complete
    assert all(
        "if-none-match" in bare_site.requests_for(k.removeprefix(bare_site.origin))[0].headers
        for k in known
    )


# ---------------------------------------------------------------------- extraction


async def test_the_text_keeps_the_headings_and_drops_the_page_furniture(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    found = pages(await run(source(site, session)))
    for page in found.values():
        for furniture in (COOKIE_TEXT, NAV_TEXT, FOOTER_TEXT, FEEDBACK_TEXT, SIDEBAR_TEXT):
            assert furniture not in page.text, (page.key, furniture)
        assert "Updated 3 days ago" not in page.text
        assert "Acme Help Centre" not in page.text or page.key == site.url("/docs/")

    export = found[site.url("/docs/export-csv")]
    assert export.title == "Export a report as CSV"
    title, chunks = chunk_markdown(export.text, fallback_title="unused")
    assert title == "Export a report as CSV"
    sections = {chunk.heading: chunk.text for chunk in chunks}
    assert list(sections) == [
        "Export a report as CSV",
        "From the report page",
        "Scheduled exports",
        "Limits",
    ]
    assert "Click **Export** in the top-right corner." in sections["From the report page"]
    assert "| Business | 1,000,000 |" in sections["Limits"]

    started = found[site.url("/docs/getting-started")]
    _, chunks = chunk_markdown(started.text, fallback_title="unused")
    assert [chunk.heading for chunk in chunks] == [
        "Getting started with Acme",
        "Create your account",
        "Invite your team",
        "Invite your team › Roles",
        "Next steps",
    ]


async def test_aria_headings_and_permalinks_and_escapes(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    site.add_page(
        "/docs/api-tokens",
        """<!doctype html><html><head><title>API tokens | Acme</title></head><body>
        <nav><a href="/docs/">Home</a></nav>
        <main><h1>API tokens</h1>
        <p>Tokens let scripts call Acme on your behalf; each one has scopes such as
        read_reports and write_reports, chosen when it is made.</p>
        <h2 id="create">Create a token<a class="headerlink" href="#create">¶</a></h2>
        <p>Open Settings, then API, and click New token. The token is shown only once.</p>
        <div role="heading" aria-level="2">Troubleshooting</div>
        <p>A 401 answer means the token was revoked or mistyped; make a new one.</p>
        </main></body></html>""",
    )
    found = pages(await run(source(site, session)))
    text = found[site.url("/docs/api-tokens")].text
    _, chunks = chunk_markdown(text, fallback_title="unused")
    assert [chunk.heading for chunk in chunks] == [
        found[site.url("/docs/api-tokens")].title,
        "Create a token",
        "Troubleshooting",
    ]
    assert "read_reports and write_reports" in text and "¶" not in text


async def test_a_page_without_readable_text_fails(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    site.add_page(
        "/docs/empty", "<!doctype html><html><head><title>x</title></head><body></body></html>"
    )
    found = await run(source(site, session))
    assert Failed(site.url("/docs/empty"), "no readable text") in found


# ---------------------------------------------------------------------- limits and politeness


@pytest.mark.parametrize("with_sitemap", [True, False], ids=["sitemap", "crawl"])
async def test_max_pages_stops_the_listing_incomplete(
    with_sitemap: bool, session: aiohttp.ClientSession
) -> None:
    progress: list[tuple[int, int | None]] = []
    async with HelpCentre(sitemap=with_sitemap) as site:
        connector = source(
            site,
            session,
            max_pages=2,
            on_progress=lambda done, total: progress.append((done, total)),
        )
        found = await run(connector)
        page_requests = [p for p in site.paths() if p.startswith("/docs/")]
    assert len(found) == 2 and len(page_requests) == 2
    assert not connector.complete
    assert [done for done, _ in progress] == [1, 2]
    assert progress[-1] == (2, 2)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_oversized_page_fails_without_being_read_through(
    chunked: bool, site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    size = 100_000_000
    site.add_oversized("/docs/huge", size, chunked=chunked)
    found = await run(source(site, session, max_page_bytes=100_000))
    assert Failed(site.url("/docs/huge"), "the page is larger than 100,000 bytes") in found
    # What the server wrote before the connection closed: the limit plus the sockets' buffers.
    assert site.streamed["/docs/huge"].sent < size // 4
    assert len(pages(found)) == len(ARTICLES)  # the rest of the pages were read


async def test_requests_are_spaced_by_the_crawl_delay(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    await run(source(site, session, crawl_delay=0.05))
    arrivals = [seen.at for seen in site.requests]
    assert len(arrivals) > 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.045


async def test_a_longer_robots_crawl_delay_wins(session: aiohttp.ClientSession) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with HelpCentre(robots_extra="Crawl-delay: 3") as site:
        await run(source(site, session, crawl_delay=0.5, sleep=sleep))
        requests = len(site.requests)
    assert len(waits) == requests - 1  # before every request but the first
    assert all(2.9 < wait <= 3 for wait in waits)


# ---------------------------------------------------------------------- sitemaps, refused XML


async def test_a_sitemap_with_entities_is_refused_and_the_listing_incomplete(
    site: HelpCentre, session: aiohttp.ClientSession
) -> None:
    site.add_page(
        "/evil-sitemap.xml",
        '<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url('/docs/')}&b;</loc></url></urlset>",
        content_type="application/xml",
    )
    site.robots_extra = f"Sitemap: {site.url('/evil-sitemap.xml')}"
    connector = source(site, session)
    found = await run(connector)
    (problem,) = [f for f in found if f.key == site.url("/evil-sitemap.xml")]
    assert isinstance(problem, Failed) and "not valid XML" in problem.reason
    assert set(pages(found)) == urls(site, ARTICLES)  # the good sitemap still counts
    assert not connector.complete


# ---------------------------------------------------------------------- through a proxy


async def test_every_request_goes_through_the_proxy(
    site: HelpCentre, session: aiohttp.ClientSession, proxy: ForwardProxy
) -> None:
    # help.proxied.test resolves only inside the proxy: a direct request could not be made.
    start = f"http://help.proxied.test:{site.port}/docs/"
    connector = WebsiteSource(start, session, crawl_delay=0)
    found = await run(connector)
    assert {key.replace("help.proxied.test", "127.0.0.1") for key in pages(found)} == urls(
        site, ARTICLES
    )
    assert connector.complete
    assert proxy.hosts() == {"help.proxied.test"} and proxy.refused == []
    assert {seen.headers["host"] for seen in site.requests} == {f"help.proxied.test:{site.port}"}


# ---------------------------------------------------------------------- pages that fail


async def test_a_page_that_errors_or_times_out_fails_and_the_listing_stays_complete(
    site: HelpCentre,
) -> None:
    site.fail("/docs/billing/refunds", 500)
    site.delay("/docs/export-csv", 5)
    async with aiohttp_session(tls_context(), timeout=0.5) as session:
        connector = source(site, session)
        found = await run(connector)
    failed = {f.key: f.reason for f in found if isinstance(f, Failed)}
    assert failed[site.url("/docs/billing/refunds")] == "the server answered HTTP 500"
    assert failed[site.url("/docs/export-csv")] == "the server did not answer in time"
    # The sync keeps what it had of them; the listing itself ran to its end.
    assert connector.complete
    assert set(pages(found)) == urls(site, ARTICLES) - set(failed)
