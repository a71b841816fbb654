"""bot.kb.sources.confluence against a fake Confluence Cloud API on 127.0.0.1
(tests/fakes/confluence_api.py): the listing and its cursor, the storage format as Markdown,
skipping unchanged pages, pages that are gone, retries, credentials and the proxy."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.kb.formats.markdown import chunk_markdown
from bot.kb.sources.base import Failed, Unchanged
from bot.kb.sources.confluence import ConfluenceSource, storage_to_markdown
from tests.bot.kb.sources.found import failures, of_kind, pages, remembered, run
from tests.fakes.confluence_api import (
    ARTICLES,
    EMAIL,
    RESTRICTED_TITLE,
    TOKEN,
    TRAPS,
    ConfluenceAPI,
)
from tests.fakes.proxy import ForwardProxy


@pytest.fixture
async def api() -> AsyncIterator[ConfluenceAPI]:
    async with ConfluenceAPI() as server:
        yield server


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def source(api: ConfluenceAPI, session: aiohttp.ClientSession, **options: Any) -> ConfluenceSource:
    options.setdefault("email", EMAIL)
    options.setdefault("sleep", Sleeps())
    return ConfluenceSource(api.origin, options.pop("space_key", "DOCS"), TOKEN, session, **options)


def body_reads(api: ConfluenceAPI) -> list[str]:
    """The ids of the pages whose bodies were asked for, in order."""
    prefix = "/wiki/api/v2/pages/"
    return [seen.path[len(prefix) :] for seen in api.requests if seen.path.startswith(prefix)]


def headings(text: str, title: str) -> list[str]:
    _, chunks = chunk_markdown(text, fallback_title=title)
    return [chunk.heading for chunk in chunks]


# ---------------------------------------------------------------------- the first sync


async def test_the_first_sync_lists_every_current_page_across_pages_of_results(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    progress: list[tuple[int, int | None]] = []
    connector = source(api, session, page_size=2, on_progress=lambda *p: progress.append(p))
    found = await run(connector)

    visible = api.visible()
    assert set(pages(found)) == set(visible) and len(visible) == 1 + len(ARTICLES)
    assert not failures(found) and connector.complete
    for key, page in pages(found).items():
        fake = visible[key]
        assert page.title == fake.title
        assert page.etag == "1" and page.last_modified == "2024-05-01T09:30:00.000Z"
        slug = fake.title.replace(" ", "+")
        assert page.url == f"{api.origin}/wiki/spaces/DOCS/pages/{key}/{slug}"
        assert page.text.startswith(f"# {fake.title}\n\n")

    # The space by its key, then the listing (without bodies, current pages only) to the end of
    # its cursor, then one body per page.
    spaces = api.requests_to("/wiki/api/v2/spaces")
    assert [seen.query for seen in spaces] == [{"keys": "DOCS", "limit": "1"}]
    listing = api.requests_to(api.listing_path())
    assert len(listing) == 3  # 6 pages, 2 at a time
    assert listing[0].query == {"status": "current", "limit": "2"}
    assert all("cursor" in seen.query for seen in listing[1:])
    assert not any("body-format" in seen.query for seen in listing)
    assert sorted(body_reads(api)) == sorted(visible)
    assert all(
        seen.query == {"body-format": "storage"}
        for seen in api.requests
        if seen.path.startswith("/wiki/api/v2/pages/")
    )
    assert progress == [(done, len(visible)) for done in range(1, len(visible) + 1)]


async def test_the_link_header_is_followed_when_the_body_names_no_next_page(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    api.next_in_body = False
    connector = source(api, session, page_size=4)
    found = await run(connector)
    assert set(pages(found)) == set(api.visible()) and connector.complete
    assert len(api.requests_to(api.listing_path())) == 2


async def test_headings_lists_and_macros_survive_into_the_text(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    found = pages(await run(source(api, session)))

    start = found[api.id_of("Getting started with Acme")]
    assert headings(start.text, start.title) == [
        "Getting started with Acme",
        "Create your account",
        "Invite your team",
        "Invite your team › Roles",
    ]
    assert "- Viewers can open and export reports." in start.text
    assert "  - Editors of a folder can move its reports." in start.text  # nested
    assert "> **Single sign-on**" in start.text  # the info macro's title and body
    assert "> With single sign-on, people join from your identity provider instead." in (start.text)
    assert "valid for 24 hours" in start.text  # &nbsp;
    assert "maxLevel" not in start.text and "members.png" not in start.text  # toc, image

    export = found[api.id_of("Export a report as CSV")]
    assert headings(export.text, export.title) == [
        "Export a report as CSV",
        "From the report page",
        "From the API",
        "Limits",
    ]
    assert "1. Open the report you want to export.\n2. Click **Export**" in export.text
    assert (
        '```bash\ncurl -H "Accept: text/csv" \\\n'
        '  "https://api.acme.example/reports/42/export?rows=all&sep=;" > report.csv\n```'
    ) in export.text
    assert "| Plan | Rows per export |" in export.text
    assert "| Business | 1,000,000 |" in export.text
    assert "ACME-1234" not in export.text  # the Jira macro carries no text

    refunds = found[api.id_of("Refunds and cancellations")]
    assert "> **Warning**\n>\n> Monthly plans are not refunded." in refunds.text
    assert "see where to find invoices." in refunds.text  # a link keeps its text

    password = found[api.id_of("Reset your password")]
    assert "- [ ] Click *Forgot password?*\n- [ ] Open the link within one hour" in password.text
    assert "> Check your spam folder first." in password.text

    invoices = found[api.id_of("Invoices")]
    assert headings(invoices.text, invoices.title) == [
        "Invoices",
        "Download an invoice",
        "Change the billing address",
    ]


def test_the_storage_format_becomes_markdown() -> None:
    storage = (
        "<h1>Overview</h1><p># of seats is per plan; <code>read_only</code> stays.</p>"
        '<ac:structured-macro ac:name="children" />'
        '<ac:structured-macro ac:name="note"><ac:rich-text-body><p>Careful.</p>'
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[a < b]]>'
        "</ac:plain-text-body></ac:structured-macro></ac:rich-text-body></ac:structured-macro>"
        '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">More</ac:parameter>'
        '<ac:rich-text-body><p>Hidden <ac:inline-comment-marker ac:ref="c1">words</ac:inline-'
        "comment-marker>.</p></ac:rich-text-body></ac:structured-macro>"
        '<ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note'
        "</ac:adf-attribute><ac:adf-content><p>Panel text</p></ac:adf-content></ac:adf-node>"
        "<ac:adf-fallback><div><p>Panel text</p></div></ac:adf-fallback></ac:adf-extension>"
        "<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></tbody></table>"
        '<p>Done: <ac:structured-macro ac:name="status"><ac:parameter ac:name="title">DONE'
        '</ac:parameter></ac:structured-macro> <ac:emoticon ac:name="tick" /></p>'
    )
    markdown = storage_to_markdown(storage)
    assert markdown == (
        "# Overview\n\n"
        "\\# of seats is per plan; `read_only` stays.\n\n"
        "> **Note**\n>\n> Careful.\n>\n> ```\n> a < b\n> ```\n\n"
        "**More**\n\nHidden words.\n\n"
        "> Panel text\n\n"
        "| a | b |\n| --- | --- |\n| c | d |\n\n"
        "Done: [DONE]"
    )
    assert headings(markdown, "x") == ["Overview"]  # the escaped "#" is no heading
    assert storage_to_markdown("") == ""
    assert storage_to_markdown('<ac:structured-macro ac:name="toc" />') == ""


# ---------------------------------------------------------------------- the next sync


async def test_the_next_sync_skips_unchanged_pages_without_reading_them(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(api, session)))
    api.requests.clear()

    connector = source(api, session)
    second = await run(connector, known)

    assert of_kind(second, Unchanged) == set(known) and not pages(second)
    assert connector.complete
    assert body_reads(api) == []  # the listing's version numbers were enough


async def test_a_changed_page_comes_back_and_only_it_is_read(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(api, session)))
    refunds = api.id_of("Refunds and cancellations")
    api.change(refunds, storage="<h2>New policy</h2><p>Refunds within 60 days.</p>")
    renamed = api.id_of("Invoices")
    api.change(renamed, title="Invoices and receipts")
    added = api.add_page("Status page", "<p>All systems go.</p>")
    api.requests.clear()

    connector = source(api, session)
    found = await run(connector, known)

    assert set(pages(found)) == {refunds, renamed, added}
    assert of_kind(found, Unchanged) == set(known) - {refunds, renamed}
    assert sorted(body_reads(api)) == sorted([refunds, renamed, added])
    changed = pages(found)[refunds]
    assert changed.etag == "2" and changed.last_modified == "2024-05-01T10:30:00.000Z"
    assert changed.text == f"# {changed.title}\n\n## New policy\n\nRefunds within 60 days."
    assert pages(found)[renamed].title == "Invoices and receipts"
    assert pages(found)[renamed].url == (
        f"{api.origin}/wiki/spaces/DOCS/pages/{renamed}/Invoices+and+receipts"
    )
    assert connector.complete


async def test_pages_that_are_not_current_or_not_visible_are_not_yielded(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(api, session)))
    trashed = api.id_of("Refunds and cancellations")
    archived = api.id_of("Invoices")
    restricted = api.id_of("Reset your password")
    purged = api.id_of("Export a report as CSV")
    api.trash(trashed)
    api.archive(archived)
    api.restrict(restricted)
    api.purge(purged)

    connector = source(api, session)
    found = await run(connector, known)

    keys = {f.key for f in found}
    assert not keys & {trashed, archived, restricted, purged}
    # The traps that were there from the start: never named either.
    traps = {api.id_of(title) for title in [*TRAPS, RESTRICTED_TITLE, "Deploying the API"]}
    assert not keys & traps
    assert keys == set(api.visible()) and of_kind(found, Unchanged) == keys
    assert set(known) - keys == {trashed, archived, restricted, purged}
    assert connector.complete  # so the sync retires what was not named
    # The listing asked for current pages only: archived ones are listed by default.
    assert all(seen.query["status"] == "current" for seen in api.requests_to(api.listing_path()))


async def test_a_page_gone_between_the_listing_and_its_read_is_not_yielded(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    gone = api.id_of("Invoices")
    api.fail(api.page_path(gone), 404)
    connector = source(api, session)
    found = await run(connector)
    assert gone not in {f.key for f in found}
    assert connector.complete


async def test_a_page_without_readable_text_is_not_yielded(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    empty = api.add_page("Children", '<ac:structured-macro ac:name="children" />')
    found = await run(source(api, session))
    assert empty not in {f.key for f in found}


async def test_another_space_is_read_by_its_own_key(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    connector = source(api, session, space_key="ENG")
    found = await run(connector)
    assert [p.title for p in pages(found).values()] == ["Deploying the API"]
    assert connector.complete


# ---------------------------------------------------------------------- rate limits and errors


async def test_a_429_is_waited_out_and_the_sync_completes(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api.rate_limit(api.listing_path(), times=1, retry_after="7", skip=1)  # the second page
    api.rate_limit(api.page_path(api.id_of("Invoices")), times=2, retry_after="3")
    connector = source(api, session, page_size=2, sleep=sleeps)
    found = await run(connector)

    assert sleeps.waits == [7.0, 3.0, 3.0]
    assert set(pages(found)) == set(api.visible()) and not failures(found)
    assert connector.complete


async def test_a_long_retry_after_is_capped(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api.rate_limit("/wiki/api/v2/spaces", times=1, retry_after="3600")
    connector = source(api, session, sleep=sleeps)
    await run(connector)
    assert sleeps.waits == [60.0] and connector.complete


async def test_a_429_without_retry_after_backs_off(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api.rate_limit(api.listing_path(), times=2, retry_after=None)
    connector = source(api, session, sleep=sleeps)
    found = await run(connector)
    assert sleeps.waits == [4.0, 8.0]
    assert set(pages(found)) == set(api.visible()) and connector.complete


async def test_a_429_that_never_ends_fails_the_page_after_bounded_retries(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    stuck = api.id_of("Invoices")
    api.rate_limit(api.page_path(stuck), times=None, retry_after="2")
    connector = source(api, session, sleep=sleeps, rate_limit_retries=3)
    found = await run(connector)

    assert failures(found) == {
        stuck: "the page could not be read: Confluence kept answering 429 (too many requests)"
        " after 3 retries; the next sync tries again"
    }
    assert sleeps.waits == [2.0, 2.0, 2.0]
    assert len(api.requests_to(api.page_path(stuck))) == 4
    assert set(pages(found)) == set(api.visible()) - {stuck}
    assert connector.complete  # one page failing does not make the listing incomplete


async def test_a_5xx_is_retried_with_backoff(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api.fail(api.listing_path(), 503, times=2)
    connector = source(api, session, sleep=sleeps)
    found = await run(connector)
    assert sleeps.waits == [1.0, 2.0]
    assert set(pages(found)) == set(api.visible()) and connector.complete


async def test_a_listing_that_keeps_failing_is_incomplete(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    api.fail(api.listing_path(), 500, times=None, skip=1)  # the first page of results is read
    connector = source(api, session, page_size=2, sleep=sleeps)
    found = await run(connector)

    assert not connector.complete
    space_url = f"{api.origin}/wiki/spaces/DOCS"
    assert failures(found) == {
        space_url: "the list of pages could not be read: Confluence answered HTTP 500:"
        " Something went wrong (3 tries)"
    }
    assert found[0] == Failed(space_url, failures(found)[space_url])
    assert len(pages(found)) == 2  # what was listed before the failure is still read
    assert sleeps.waits == [1.0, 2.0]  # server_retries=2, then it gives up


async def test_a_space_that_is_not_there_fails_the_listing(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    connector = source(api, session, space_key="NOPE")
    found = await run(connector)
    assert failures(found) == {
        f"{api.origin}/wiki/spaces/NOPE": "there is no space with the key NOPE, or the account"
        " the token belongs to may not view it"
    }
    assert not connector.complete


async def test_a_page_whose_body_fails_is_failed_and_the_rest_go_on(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    sleeps = Sleeps()
    broken = api.id_of("Export a report as CSV")
    api.fail(api.page_path(broken), 502, times=None)
    connector = source(api, session, sleep=sleeps)
    found = await run(connector)

    assert failures(found) == {
        broken: "the page could not be read: Confluence answered HTTP 502: Something went wrong"
        " (3 tries)"
    }
    assert set(pages(found)) == set(api.visible()) - {broken}
    assert connector.complete


async def test_a_site_that_cannot_be_reached_is_retried_then_fails_the_listing(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sleeps = Sleeps()
    connector = ConfluenceSource(
        f"http://127.0.0.1:{port}", "DOCS", TOKEN, session, email=EMAIL, sleep=sleeps
    )
    found = await run(connector)
    ((key, reason),) = failures(found).items()
    assert key == f"http://127.0.0.1:{port}/wiki/spaces/DOCS"
    assert reason.startswith("the space could not be looked up: the request failed (")
    assert reason.endswith("(3 tries)")
    assert sleeps.waits == [1.0, 2.0] and not connector.complete


# ---------------------------------------------------------------------- credentials


async def test_an_api_token_with_an_email_is_sent_as_basic_auth(
    api: ConfluenceAPI, session: aiohttp.ClientSession
) -> None:
    await run(source(api, session))
    expected = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert api.requests and {seen.headers["authorization"] for seen in api.requests} == {expected}
    assert all(seen.headers["accept"] == "application/json" for seen in api.requests)
    assert all(
        seen.headers["user-agent"] == "support-bot (+knowledge sync)" for seen in api.requests
    )


async def test_without_an_email_the_token_is_a_bearer_token(
    session: aiohttp.ClientSession,
) -> None:
    async with ConfluenceAPI(email=None) as api:
        connector = source(api, session, email=None)
        found = await run(connector)
    assert set(pages(found)) == set(api.visible()) and connector.complete
    assert {seen.headers["authorization"] for seen in api.requests} == {f"Bearer {TOKEN}"}


async def test_the_secret_never_appears_in_reasons_or_logs(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    async with ConfluenceAPI(token="a-different-token") as api:
        connector = source(api, session)
        refused = await run(connector)
        # And a sync that goes wrong in every other way, with the right token.
        api.token = TOKEN
        api.fail(api.page_path(api.id_of("Getting started with Acme")), 500, times=None)
        api.rate_limit(api.page_path(api.id_of("Reset your password")), times=None)
        api.fail(api.listing_path(), 503, times=None, skip=1)
        troubled = await run(source(api, session, page_size=5))

    assert failures(refused) == {
        f"{api.origin}/wiki/spaces/DOCS": "the space could not be looked up: Confluence did not"
        " accept the credentials (HTTP 401); check the API token and the email"
    }
    assert not connector.complete
    reasons = [f.reason for f in refused + troubled if isinstance(f, Failed)]
    assert len(reasons) == 4
    logged = caplog.text + " ".join(repr(r.args) for r in caplog.records)
    for text in [*reasons, logged, repr(connector)]:
        assert TOKEN not in text and encoded not in text
    assert "ConfluenceSource(" in repr(connector)


def test_next_links_never_lead_the_credentials_off_the_site(
    session: aiohttp.ClientSession,
) -> None:
    site = ConfluenceSource("https://acme.atlassian.net", "DOCS", TOKEN, session)
    assert site._resolve("/wiki/api/v2/spaces/1/pages?cursor=abc") == (
        "https://acme.atlassian.net/wiki/api/v2/spaces/1/pages?cursor=abc"
    )
    assert site._resolve("https://acme.atlassian.net/wiki/api/v2/x?cursor=1") is not None
    assert site._resolve("https://evil.example/wiki/api/v2/x?cursor=1") is None
    assert site._resolve("//evil.example/wiki/api/v2/x") is None
    gateway = ConfluenceSource(
        "https://api.atlassian.com/ex/confluence/1a2b3c", "DOCS", TOKEN, session
    )
    assert gateway._resolve("/wiki/api/v2/spaces/1/pages?cursor=abc") == (
        "https://api.atlassian.com/ex/confluence/1a2b3c/wiki/api/v2/spaces/1/pages?cursor=abc"
    )


def test_settings_are_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="not an http or https URL"):
        ConfluenceSource("acme.atlassian.net", "DOCS", TOKEN, session)
    with pytest.raises(ValueError, match="space key"):
        ConfluenceSource("https://acme.atlassian.net", " ", TOKEN, session)
    with pytest.raises(ValueError, match="API token"):
        ConfluenceSource("https://acme.atlassian.net", "DOCS", "", session)
    with pytest.raises(ValueError, match="page_size"):
        ConfluenceSource("https://acme.atlassian.net", "DOCS", TOKEN, session, page_size=500)
    # The site's /wiki is optional; the API is under it either way.
    for url in ("https://Acme.atlassian.net/wiki/", "https://acme.atlassian.net"):
        connector = ConfluenceSource(url, "DOCS", TOKEN, session)
        assert connector.api == "https://acme.atlassian.net/wiki/api/v2"
    gateway = ConfluenceSource(
        "https://api.atlassian.com/ex/confluence/1a2b3c", "DOCS", TOKEN, session
    )
    assert gateway.api == "https://api.atlassian.com/ex/confluence/1a2b3c/wiki/api/v2"


# ---------------------------------------------------------------------- through a proxy


async def test_every_request_goes_through_the_proxy(
    api: ConfluenceAPI, session: aiohttp.ClientSession, proxy: ForwardProxy
) -> None:
    # acme.proxied.test resolves only inside the proxy: a direct request could not be made.
    site = f"http://acme.proxied.test:{api.port}"
    connector = ConfluenceSource(site, "DOCS", TOKEN, session, email=EMAIL, page_size=2)
    found = await run(connector)
    assert set(pages(found)) == set(api.visible()) and connector.complete
    assert all(
        page.url and page.url.startswith(site + "/wiki/spaces/DOCS/pages/")
        for page in pages(found).values()
    )
    assert proxy.hosts() == {"acme.proxied.test"} and proxy.refused == []
    assert {seen.headers["host"] for seen in api.requests} == {f"acme.proxied.test:{api.port}"}
