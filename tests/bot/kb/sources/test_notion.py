"""bot.kb.sources.notion against a fake Notion API on 127.0.0.1 (tests/fakes/notion_api.py):
the listing (search, root pages), pagination, blocks as Markdown, skipping unchanged pages,
pages that are gone, rate limits and errors, the secret, and the proxy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.kb.formats.markdown import chunk_markdown
from bot.kb.sources.base import Failed, Unchanged
from bot.kb.sources.notion import NotionSource
from tests.bot.kb.sources.found import failures, of_kind, pages, remembered, run
from tests.fakes.notion_api import (
    TOKEN,
    FakeNotion,
    bookmark,
    bullet,
    callout,
    code,
    column_list,
    divider,
    equation,
    heading,
    image,
    mention,
    numbered,
    paragraph,
    quote,
    table,
    text,
    todo,
    toggle,
)
from tests.fakes.proxy import ForwardProxy

GUIDE_MARKDOWN = """\
# Getting started

Welcome to Acme. Run `acme init` first; see the docs.

## Install

1. Download the installer.
2. Run it
   - on macOS: open the .dmg
   - on Linux: `sudo dpkg -i acme.deb`
3. Sign in.

### Requirements

- 64-bit CPU
  - x86-64 or ARM
    - ARMv8 or later
- 4 GB of memory
- [x] Create an account
- [ ] Invite your team

#### Proxy settings

Set HTTPS_PROXY.

Why a proxy?

Some networks only allow a proxy.

```shell
export HTTPS_PROXY=http://proxy:3128
```

> Acme is fast.
>
> — a customer

> Back up first!
>
> - with acme backup

```python
def main():
    # a comment, not a heading
    print("hi")
```

---

| Plan | Seats |
| --- | --- |
| Starter | 5 |
| Business | 50\\|100 |

$$
E = mc^2
$$

\\# not a heading either

Left column

Right column

See Billing FAQ.
"""


@dataclass
class Workspace:
    guide: str
    faq: str  # a child page of the guide
    troubleshooting: str  # a page inside a toggle of the guide
    deep: str  # a child page of the FAQ
    refunds: str  # another page at the top of the workspace
    release: str  # a page of a database


def build(notion: FakeNotion) -> Workspace:
    guide = notion.add_page(
        "Getting started",
        [
            paragraph(
                "Welcome to ",
                text("Acme", bold=True),
                ". Run ",
                text("acme init", code=True),
                " first; see ",
                text("the docs", link="https://acme.example/docs"),
                ".",
            ),
            heading(1, "Install"),
            numbered("Download the installer."),
            numbered(
                "Run it",
                children=[
                    bullet("on macOS: open the .dmg"),
                    bullet("on Linux: ", text("sudo dpkg -i acme.deb", code=True)),
                ],
            ),
            numbered("Sign in."),
            heading(2, "Requirements"),
            bullet(
                "64-bit CPU",
                children=[bullet("x86-64 or ARM", children=[bullet("ARMv8 or later")])],
            ),
            bullet("4 GB of memory"),
            todo("Create an account", checked=True),
            todo("Invite your team"),
            heading(3, "Proxy settings", toggleable=True, children=[paragraph("Set HTTPS_PROXY.")]),
            toggle(
                "Why a proxy?",
                children=[
                    paragraph("Some networks only allow a proxy."),
                    code("export HTTPS_PROXY=http://proxy:3128", "shell"),
                ],
            ),
            quote("Acme is fast.", children=[paragraph("— a customer")]),
            callout("Back up first!", children=[bullet("with acme backup")]),
            code('def main():\n    # a comment, not a heading\n    print("hi")\n', "python"),
            divider(),
            table([["Plan", "Seats"], ["Starter", "5"], ["Business", "50|100"]]),
            image("https://acme.example/screenshot.png", caption="The dashboard"),
            bookmark("https://acme.example/blog"),
            equation("E = mc^2"),
            paragraph("# not a heading either"),
            column_list([paragraph("Left column")], [paragraph("Right column")]),
        ],
    )
    faq = notion.add_page(
        "Billing FAQ",
        [heading(1, "Refunds"), paragraph("Annual plans are refunded within 30 days.")],
        parent=guide,
    )
    notion.append(guide, paragraph("See ", mention(faq, "Billing FAQ"), "."))
    in_toggle = notion.block_ids(guide, "toggle")[0]
    troubleshooting = notion.add_page(
        "Troubleshooting", [paragraph("Restart the app.")], parent_block=in_toggle
    )
    deep = notion.add_page("Invoices", [paragraph("Invoices are emailed monthly.")], parent=faq)
    refunds = notion.add_page(
        "Refund policy", [heading(1, "Who can get a refund"), paragraph("Everyone.")]
    )
    release = notion.add_page(
        "Release 2.0",
        [paragraph("Faster exports.")],
        data_source="0a1b2c3d-0000-4000-8000-000000000001",
        title_property="Name",
    )
    return Workspace(guide, faq, troubleshooting, deep, refunds, release)


class Sleeps(list[float]):
    """A ``sleep`` that records instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def notion() -> AsyncIterator[FakeNotion]:
    # Two items an answer: six pages take three searches, a long page many block lists.
    async with FakeNotion(page_limit=2) as server:
        yield server


@pytest.fixture
def workspace(notion: FakeNotion) -> Workspace:
    return build(notion)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def source(notion: FakeNotion, sleeps: Sleeps, **options: Any) -> NotionSource:
    options.setdefault("request_interval", 0)
    options.setdefault("base_url", notion.origin)
    return NotionSource(options.pop("token", TOKEN), sleep=sleeps, **options)


def everything(ws: Workspace) -> set[str]:
    return {ws.guide, ws.faq, ws.troubleshooting, ws.deep, ws.refunds, ws.release}


# ---------------------------------------------------------------------- the first sync


async def test_the_first_sync_lists_every_shared_page_across_pages_of_results(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    progress: list[tuple[int, int | None]] = []
    connector = source(
        notion, sleeps, on_progress=lambda done, total: progress.append((done, total))
    )
    found = await run(connector)

    assert set(pages(found)) == everything(workspace)
    assert not failures(found) and connector.complete
    assert progress == [(n, 6) for n in range(1, 7)]
    assert sleeps == []
    # The search was followed to its end, two pages an answer, filtered to pages.
    searches = notion.requests_to("/v1/search")
    assert [s.method for s in searches] == ["POST"] * 3
    assert [s.body for s in searches] == [
        {"filter": {"property": "object", "value": "page"}, "page_size": 100},
        {
            "filter": {"property": "object", "value": "page"},
            "page_size": 100,
            "start_cursor": workspace.troubleshooting,
        },
        {
            "filter": {"property": "object", "value": "page"},
            "page_size": 100,
            "start_cursor": workspace.refunds,
        },
    ]
    # So was each list of blocks: the guide's top level alone takes a dozen answers.
    guide_lists = notion.requests_to(f"/v1/blocks/{workspace.guide}/children")
    assert len(notion.pages[workspace.guide].blocks) == 24
    assert len(guide_lists) == 12
    assert guide_lists[0].query == {"page_size": "100"}
    assert all(
        seen.query == {"page_size": "100", "start_cursor": seen.query["start_cursor"]}
        for seen in guide_lists[1:]
    )
    # The secret goes as a bearer token, with the API version, on every request.
    assert {seen.headers["authorization"] for seen in notion.requests} == {f"Bearer {TOKEN}"}
    assert {seen.headers["notion-version"] for seen in notion.requests} == {"2025-09-03"}
    # Child pages are read as pages of their own, not inlined or read again through their
    # parent's child_page block (which has the page's id).
    for page_id in everything(workspace):
        lists = notion.requests_to(f"/v1/blocks/{page_id}/children")
        assert [seen.query.get("start_cursor") for seen in lists].count(None) == 1


async def test_a_page_is_keyed_titled_and_cited_as_notion_names_it(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.pages[workspace.refunds].public_url = "https://acme.notion.site/Refund-policy-1"
    found = pages(await run(source(notion, sleeps)))

    guide = found[workspace.guide]
    assert guide.title == "Getting started"
    assert guide.url == notion.page_url(workspace.guide)
    assert guide.url.startswith("https://www.notion.so/Getting-started-")
    assert (
        guide.etag
        == guide.last_modified
        == notion.pages[workspace.guide].edited.strftime("%Y-%m-%dT%H:%M:00.000Z")
    )
    # A database page's title property has its own name; a published page its public URL.
    assert found[workspace.release].title == "Release 2.0"
    assert found[workspace.refunds].url == "https://acme.notion.site/Refund-policy-1"


async def test_blocks_become_markdown_with_headings_lists_code_and_tables(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    found = pages(await run(source(notion, sleeps)))
    guide = found[workspace.guide]

    assert guide.text == GUIDE_MARKDOWN
    # Nothing of the image, the bookmark, the link targets or the child pages' own text.
    for absent in ("screenshot", "dashboard", "acme.example", "Annual plans", "Restart the app"):
        assert absent not in guide.text

    title, chunks = chunk_markdown(guide.text, fallback_title="?")
    assert title == "Getting started"
    headings = [chunk.heading for chunk in chunks]
    assert headings == [
        "Getting started",
        "Install",
        "Install › Requirements",
        "Install › Requirements › Proxy settings",
    ]
    install = next(c for c in chunks if c.heading == "Install")
    assert "2. Run it" in install.text and "`sudo dpkg -i acme.deb`" in install.text
    requirements = next(c for c in chunks if c.heading.endswith("› Requirements"))
    assert "    - ARMv8 or later" in requirements.text
    # A comment in code and a paragraph starting with "#" are text, not headings.
    assert not any("comment" in h or "not a heading" in h for h in headings)

    faq = found[workspace.faq]
    assert faq.text == (
        "# Billing FAQ\n\n## Refunds\n\nAnnual plans are refunded within 30 days.\n"
    )
    assert [c.heading for c in chunk_markdown(faq.text, fallback_title="?")[1]] == ["Refunds"]


# ---------------------------------------------------------------------- the next sync


async def test_the_next_sync_finds_everything_unchanged_without_reading_a_block(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    known = remembered(await run(source(notion, sleeps)))
    notion.requests.clear()

    connector = source(notion, sleeps)
    second = await run(connector, known)

    assert of_kind(second, Unchanged) == everything(workspace)
    assert not pages(second) and not failures(second) and connector.complete
    assert set(notion.paths()) == {"/v1/search"}


async def test_a_changed_page_is_read_again_and_only_it(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    known = remembered(await run(source(notion, sleeps)))
    notion.change(
        workspace.refunds,
        [heading(1, "Who can get a refund"), paragraph("Annual plans only, within 30 days.")],
        title="Refunds",
    )
    notion.requests.clear()

    second = await run(source(notion, sleeps), known)

    assert set(pages(second)) == {workspace.refunds}
    page = pages(second)[workspace.refunds]
    assert page.title == "Refunds"
    assert (
        page.text == "# Refunds\n\n## Who can get a refund\n\nAnnual plans only, within 30 days.\n"
    )
    assert page.etag != known[workspace.refunds].etag
    assert of_kind(second, Unchanged) == everything(workspace) - {workspace.refunds}
    assert {p for p in notion.paths() if p.startswith("/v1/blocks/")} == {
        f"/v1/blocks/{workspace.refunds}/children"
    }


async def test_an_edit_in_the_last_minutes_is_read_again_next_time(
    notion: FakeNotion, sleeps: Sleeps
) -> None:
    # Notion rounds last_edited_time to the minute: a second edit in that minute keeps it.
    edited = datetime(2025, 3, 4, 10, 15, tzinfo=UTC)
    page_id = notion.add_page("Status", [paragraph("All good.")], edited=edited)
    now = edited + timedelta(seconds=40)
    first = await run(source(notion, sleeps, clock=lambda: now))
    assert pages(first)[page_id].etag is None  # too fresh to vouch for

    notion.change(page_id, [paragraph("Degraded: exports are slow.")], edited=edited)
    now = edited + timedelta(minutes=5)
    second = await run(source(notion, sleeps, clock=lambda: now), remembered(first))
    page = pages(second)[page_id]
    assert "Degraded" in page.text
    assert page.etag == "2025-03-04T10:15:00.000Z"

    third = await run(source(notion, sleeps, clock=lambda: now), remembered(second))
    assert of_kind(third, Unchanged) == {page_id}


# ---------------------------------------------------------------------- gone pages


async def test_trashed_deleted_and_unshared_pages_are_not_yielded(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    known = remembered(await run(source(notion, sleeps)))
    notion.trash(workspace.refunds)  # in the trash: still listed by the search, in_trash
    notion.trash(workspace.release, field="archived")  # the older name for it
    notion.delete(workspace.deep)
    notion.unshare(workspace.troubleshooting)  # the integration lost access to it
    notion.requests.clear()

    connector = source(notion, sleeps)
    found = await run(connector, known)

    gone = {workspace.refunds, workspace.release, workspace.deep, workspace.troubleshooting}
    assert not gone & {f.key for f in found}
    assert of_kind(found, Unchanged) == everything(workspace) - gone
    assert connector.complete  # so the sync engine retires the four
    assert not any(workspace.refunds in path for path in notion.paths())


async def test_a_page_deleted_between_the_listing_and_its_blocks_is_not_yielded(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail(f"/v1/blocks/{workspace.refunds}/children", 404)
    connector = source(notion, sleeps)
    found = await run(connector)
    assert workspace.refunds not in {f.key for f in found}
    assert set(pages(found)) == everything(workspace) - {workspace.refunds}
    assert connector.complete and sleeps == []


# ---------------------------------------------------------------------- root pages


async def test_root_pages_limit_the_source_to_them_and_the_pages_beneath(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    # A root given as a Notion URL is as good as its id.
    connector = source(notion, sleeps, root_page_ids=[notion.page_url(workspace.guide)])
    assert connector.root_page_ids == (workspace.guide,)
    found = await run(connector)

    # The FAQ (a child page), Invoices (its child) and Troubleshooting (in a toggle).
    assert set(pages(found)) == {
        workspace.guide,
        workspace.faq,
        workspace.deep,
        workspace.troubleshooting,
    }
    assert not failures(found) and connector.complete
    # The toggle holding Troubleshooting was looked up once, to find the page above it.
    in_toggle = notion.block_ids(workspace.guide, "toggle")[0]
    assert [s.path for s in notion.requests].count(f"/v1/blocks/{in_toggle}") == 1


async def test_a_root_page_that_is_not_shared_is_reported(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    missing = "0f0f0f0f-1111-4222-8333-444455556666"
    connector = source(notion, sleeps, root_page_ids=[workspace.faq, missing])
    found = await run(connector)

    assert set(pages(found)) == {workspace.faq, workspace.deep}
    assert failures(found) == {
        f"notion:root:{missing}": "the root page was not found: it was deleted, or it is not"
        " shared with the integration (the page's ••• menu → Connections)"
    }
    assert connector.complete  # nothing of it can be read: what it held is gone


async def test_a_root_page_that_cannot_be_read_stops_retiring(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.unshare(workspace.guide)  # not in the search: it is asked for by id
    notion.fail(f"/v1/pages/{workspace.guide}", 503)
    connector = source(notion, sleeps, root_page_ids=[workspace.guide])
    found = await run(connector)
    unsure = "could not tell whether it is beneath a root page: Notion answered HTTP 503"
    unsure += " (service_unavailable), 3 times"
    assert failures(found) == {
        f"notion:root:{workspace.guide}": "the root page could not be read: Notion answered"
        " HTTP 503 (service_unavailable), 3 times",
        # Pages beneath it cannot be told apart from others: they keep what the sync had.
        workspace.faq: unsure,
        workspace.deep: unsure,
        # (The toggle holding this one answers 404, as blocks of a page not shared do.)
    }
    assert not pages(found) and not connector.complete
    assert len(notion.requests_to(f"/v1/pages/{workspace.guide}")) == 3  # tried once a run


# ---------------------------------------------------------------------- rate limits and errors


async def test_a_429_is_waited_out_as_retry_after_says(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.rate_limit(2, retry_after="7", path="/v1/search")
    notion.rate_limit(1, retry_after="3600", path=f"/v1/blocks/{workspace.refunds}/children")
    connector = source(notion, sleeps)
    found = await run(connector)

    assert sleeps == [7.0, 7.0, 60.0]  # an hour is capped at a minute
    assert set(pages(found)) == everything(workspace)
    assert connector.complete
    assert len(notion.requests_to("/v1/search")) == 3 + 2  # three answers, two refusals


async def test_a_429_without_retry_after_backs_off(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.rate_limit(3, retry_after=None, path="/v1/search")
    connector = source(notion, sleeps)
    await run(connector)
    assert sleeps == [1.0, 2.0, 4.0] and connector.complete


async def test_server_errors_are_retried_with_backoff(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail("/v1/search", 502, times=1)  # an HTML page from a load balancer
    notion.fail(f"/v1/blocks/{workspace.faq}/children", 500, times=2)
    connector = source(notion, sleeps)
    found = await run(connector)
    assert sleeps == [1.0, 1.0, 2.0]
    assert set(pages(found)) == everything(workspace) and connector.complete


async def test_a_search_that_keeps_failing_leaves_the_listing_incomplete(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail("/v1/search", 503)
    connector = source(notion, sleeps)
    found = await run(connector)

    assert found == [
        Failed(
            "notion:search",
            "the list of pages could not be read: Notion answered HTTP 503"
            " (service_unavailable), 3 times",
        )
    ]
    assert not connector.complete
    assert len(notion.requests_to("/v1/search")) == 3 and sleeps == [1.0, 2.0]


async def test_a_search_that_fails_halfway_still_reads_the_pages_it_listed(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail("/v1/search", 500, after=1)  # the first answer gets through, no later one
    connector = source(notion, sleeps)
    found = await run(connector)

    assert set(pages(found)) == {workspace.guide, workspace.faq}
    assert "notion:search" in failures(found)
    assert not connector.complete


async def test_a_rate_limit_that_never_lifts_gives_up(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail("/v1/search", 429, retry_after="2")
    connector = source(notion, sleeps)
    found = await run(connector)
    assert failures(found) == {
        "notion:search": "the list of pages could not be read: Notion kept limiting the rate"
        " of requests (HTTP 429) after 5 waits"
    }
    assert sleeps == [2.0] * 5 and len(notion.requests) == 6
    assert not connector.complete


async def test_a_page_whose_blocks_cannot_be_read_fails_and_the_sync_goes_on(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    notion.fail(f"/v1/blocks/{workspace.refunds}/children", 500)
    notion.fail(f"/v1/blocks/{workspace.release}/children", 403)
    connector = source(notion, sleeps)
    found = await run(connector)

    assert failures(found) == {
        workspace.refunds: "its content could not be read: Notion answered HTTP 500"
        " (internal_server_error), 3 times",
        workspace.release: "its content could not be read: the integration may not read this"
        " (HTTP 403 restricted_resource): give it the 'Read content' capability",
    }
    assert set(pages(found)) == everything(workspace) - {workspace.refunds, workspace.release}
    assert connector.complete  # the listing ran to its end; the failed pages keep their text
    assert len(notion.requests_to(f"/v1/blocks/{workspace.release}/children")) == 1


async def test_nested_blocks_that_fail_fail_their_page(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps
) -> None:
    nested = notion.block_ids(workspace.guide, "numbered_list_item")[1]
    notion.fail(f"/v1/blocks/{nested}/children", 500)
    found = await run(source(notion, sleeps))
    assert set(failures(found)) == {workspace.guide}


# ---------------------------------------------------------------------- the secret


async def test_the_secret_is_never_logged_nor_given_as_a_reason(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notion.rate_limit(1, path="/v1/search")
    notion.fail(f"/v1/blocks/{workspace.refunds}/children", 500)
    notion.fail(f"/v1/blocks/{workspace.faq}/children", 400)
    connector = source(notion, sleeps)
    found = await run(connector)
    assert set(failures(found)) == {workspace.refunds, workspace.faq}

    # A wrong secret: Notion refuses it, and the reason says so without repeating it.
    wrong = "ntn_wrong_secret_0987654321"
    refused = source(notion, sleeps, token=wrong)
    refused_found = await run(refused)
    assert failures(refused_found) == {
        "notion:search": "the list of pages could not be read: Notion refused the"
        " integration's secret (HTTP 401): it is wrong, or the integration was removed"
    }
    assert not refused.complete

    assert caplog.records  # the failures were logged...
    for secret in (TOKEN, wrong):  # ...and no line, reason or repr holds a secret
        assert not any(secret in record.getMessage() for record in caplog.records)
        assert secret not in caplog.text
        assert not any(secret in reason for reason in failures(found + refused_found).values())
        assert secret not in repr(connector) + repr(refused)


# ---------------------------------------------------------------------- the proxy


async def test_every_request_goes_through_the_proxy(
    notion: FakeNotion, workspace: Workspace, sleeps: Sleeps, proxy: ForwardProxy
) -> None:
    # notion.proxied.test resolves only inside the proxy: a direct request could not be made.
    base = f"http://notion.proxied.test:{notion.port}"
    connector = source(notion, sleeps, base_url=base)
    found = await run(connector)
    assert set(pages(found)) == everything(workspace) and connector.complete
    assert proxy.hosts() == {"notion.proxied.test"} and proxy.refused == []
    assert {seen.headers["host"] for seen in notion.requests} == {
        f"notion.proxied.test:{notion.port}"
    }


# ---------------------------------------------------------------------- settings


def test_the_constructor_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="secret"):
        NotionSource("  ")
    with pytest.raises(ValueError, match="not a Notion page id"):
        NotionSource(TOKEN, root_page_ids=["the handbook"])
    connector = NotionSource(
        TOKEN, root_page_ids=["0F0F0F0F11114222833344445555666A"], base_url="http://x/"
    )
    assert connector.root_page_ids == ("0f0f0f0f-1111-4222-8333-44445555666a",)
    assert connector.base_url == "http://x" and not connector.complete
