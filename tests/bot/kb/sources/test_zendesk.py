"""bot.kb.sources.zendesk against a fake Zendesk Help Center API on 127.0.0.1
(tests/fakes/zendesk_api.py): the export's pages, credentials, articles' text, skipping what did
not change, what customers may not see, rate limits and errors, locales and the proxy."""

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
from bot.kb.sources.zendesk import ZendeskSource, article_markdown
from bot.settings.network import aiohttp_session, tls_context
from tests.bot.kb.sources.found import of_kind, pages, remembered, run
from tests.fakes.proxy import ForwardProxy
from tests.fakes.zendesk_api import EXPORT_PATHS, FakeArticle, ZendeskAPI

EXPORT = EXPORT_PATHS[0]

GETTING_STARTED = """
<p>Acme turns the data your team already has into reports everyone can read.</p>
<h2>Create your account</h2>
<p>Go to the sign-up page and enter your <strong>work email</strong> address.</p>
<h2>Invite your team</h2>
<p>Open <a href="/hc/en-us/articles/1-Settings">Settings</a>, then Members.</p>
<h3>Roles</h3>
<ul>
<li>Viewers can open and export reports.</li>
<li>Editors can also build reports:
<ul><li>charts</li><li>tables</li></ul>
</li>
<li>Administrators manage billing.</li>
</ul>
<p><img src="https://acme.zendesk.com/hc/article_attachments/1/team.png" alt="Team page"></p>
<iframe src="https://www.youtube.com/embed/abc123" title="Video tour"></iframe>
"""

EXPORT_CSV = """
<h1>Export a report as CSV</h1>
<p>Any report can be downloaded as a CSV file.</p>
<h2>From the report page</h2>
<ol>
<li>Open the report you want to export.</li>
<li>Click <strong>Export</strong> in the top-right corner.</li>
<li>Choose <strong>CSV</strong> and confirm.</li>
</ol>
<div class="callout callout--warning"><p>Exports of more than a million rows are split.</p></div>
<h2>From the API</h2>
<pre><code class="language-bash">curl -H "Authorization: Bearer $TOKEN" https://api.acme.example/reports/42.csv
# the file comes back as text/csv
</code></pre>
<blockquote><p>Tip: schedule exports instead of running them by hand.</p></blockquote>
<h2>Limits</h2>
<table>
<tbody>
<tr><td>Plan</td><td>Rows per export</td></tr>
<tr><td>Starter</td><td>10,000</td></tr>
<tr><td>Business</td><td>1,000,000</td></tr>
</tbody>
</table>
"""

REFUNDS = """
<p>Annual plans cancelled within 30 days are refunded in full.</p>
<h2>How to request a refund</h2>
<p>Write to billing@acme.example with your invoice number.</p>
"""


class HelpCentre:
    """The fake API with a help centre's articles, named for the tests."""

    def __init__(self, api: ZendeskAPI) -> None:
        self.api = api
        self.started = api.add_article(
            "Getting started with Acme", GETTING_STARTED, labels=["onboarding", "basics"]
        )
        self.export = api.add_article("Export a report as CSV", EXPORT_CSV, labels=["reports"])
        self.refunds = api.add_article(
            "Refunds and cancellations", REFUNDS, labels=["billing", "refunds"]
        )
        self.password = api.add_article(
            "Reset your password", "<p>Click <em>Forgot password?</em> on the sign-in page.</p>"
        )
        self.sso = api.add_article("Single sign-on", "<p>SSO is set up by an administrator.</p>")
        self.draft = api.add_article(
            "Dark mode (coming soon)", "<p>Not released yet.</p>", draft=True
        )
        self.runbook = api.add_article(
            "Support runbook (agents only)",
            "<p>Page the on-call engineer.</p>",
            user_segment_id=360000987601,
        )
        self.old = api.add_article("Old pricing", "<p>Prices from 2019.</p>")
        api.archive(self.old.id)

    @property
    def published(self) -> list[FakeArticle]:
        return [self.started, self.export, self.refunds, self.password, self.sso]


@pytest.fixture
async def api() -> AsyncIterator[ZendeskAPI]:
    async with ZendeskAPI(page_size=2) as server:
        yield server


@pytest.fixture
def centre(api: ZendeskAPI) -> HelpCentre:
    return HelpCentre(api)


class Waits(list[float]):
    """A sleep that records how long it was asked to wait, and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source(api: ZendeskAPI, session: aiohttp.ClientSession, **options: Any) -> ZendeskSource:
    options.setdefault("email", api.email)
    options.setdefault("base_url", api.origin)
    options.setdefault("sleep", Waits())
    options.setdefault("page_size", api.page_size)
    token = options.pop("token", api.api_token)
    return ZendeskSource("acme", token, session, **options)


def keys(articles: list[FakeArticle]) -> set[str]:
    return {str(a.id) for a in articles}


def basic(api: ZendeskAPI) -> str:
    return "Basic " + base64.b64encode(f"{api.email}/token:{api.api_token}".encode()).decode()


# ---------------------------------------------------------------------- the listing


async def test_the_export_lists_every_published_article_across_its_pages(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    connector = source(api, session)
    found = await run(connector)

    assert connector.complete
    assert set(pages(found)) == keys(centre.published)
    assert not of_kind(found, Failed) and not of_kind(found, Unchanged)
    assert len(found) == len(centre.published)  # an article listed on two pages comes once
    for article in centre.published:
        page = pages(found)[str(article.id)]
        assert page.title == article.title
        assert page.url == api.html_url(article.id)
        assert page.url.startswith("https://acme.zendesk.com/hc/en-us/articles/")
        assert page.etag == article.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert page.text.startswith(f"# {article.title}\n")
    assert pages(found)[str(centre.refunds.id)].tags == "billing, refunds"
    assert pages(found)[str(centre.password.id)].tags == ""
    # Seven articles an agent sees (the archived one is not listed), two a page.
    assert len(api.export_requests()) >= 4


async def test_the_pages_are_asked_for_by_the_time_of_the_last_change(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    await run(source(api, session))

    starts = [int(seen.query["start_time"]) for seen in api.export_requests()]
    assert starts[0] == 0
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    listed = sorted(
        (a for a in api.articles.values() if not a.archived), key=lambda a: a.updated_at
    )
    # Each next page starts at the last change of the page before (the export's end_time).
    assert starts[1] == int(listed[1].updated_at.timestamp())
    # next_page names https://acme.zendesk.com: the connector asked its own base URL instead.
    assert all(seen.path == EXPORT for seen in api.requests)
    assert all(seen.headers["authorization"] == basic(api) for seen in api.requests)
    assert all(
        seen.headers["user-agent"] == "support-bot (+knowledge sync)" for seen in api.requests
    )


async def test_the_listing_reports_its_progress(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    progress: list[tuple[int, int | None]] = []
    await run(source(api, session, on_progress=lambda done, total: progress.append((done, total))))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert progress[-1] == (7, 7)  # every article an agent sees, drafts and restricted ones too
    assert all(total is not None and done <= total for done, total in progress)


async def test_without_an_email_the_token_is_an_oauth_bearer_token(
    session: aiohttp.ClientSession,
) -> None:
    async with ZendeskAPI(oauth_token="oauth-access-token-0123456789abcdef") as api:
        article = api.add_article("Reset your password", "<p>Use the sign-in page.</p>")
        connector = source(api, session, email=None, token="oauth-access-token-0123456789abcdef")
        found = await run(connector)
    assert set(pages(found)) == {str(article.id)} and connector.complete
    assert {seen.headers["authorization"] for seen in api.requests} == {
        "Bearer oauth-access-token-0123456789abcdef"
    }


async def test_the_base_url_defaults_to_the_subdomain(session: aiohttp.ClientSession) -> None:
    connector = ZendeskSource("Acme-Support", "t0ken", session)
    assert connector.base_url == "https://acme-support.zendesk.com"
    assert connector.export_url == (
        "https://acme-support.zendesk.com/api/v2/help_center/incremental/articles"
    )
    for bad in ("acme.evil.test/x", "", None, "-acme", "acme support"):
        with pytest.raises(ValueError):
            ZendeskSource(bad, "t0ken", session)
    with pytest.raises(ValueError):
        ZendeskSource("acme", "  ", session)
    with pytest.raises(ValueError):
        ZendeskSource("acme", "t0ken", session, locale="en us/../x")


# ---------------------------------------------------------------------- the text


async def test_headings_lists_code_quotes_and_tables_survive_into_the_text(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    found = pages(await run(source(api, session)))

    started = found[str(centre.started.id)]
    title, chunks = chunk_markdown(started.text, fallback_title="unused")
    assert title == "Getting started with Acme"
    sections = {chunk.heading: chunk.text for chunk in chunks}
    assert list(sections) == [
        "Getting started with Acme",
        "Create your account",
        "Invite your team",
        "Invite your team › Roles",
    ]
    assert "enter your **work email** address" in sections["Create your account"]
    assert "Open Settings, then Members." in sections["Invite your team"]  # link text kept
    assert sections["Invite your team › Roles"].splitlines() == [
        "- Viewers can open and export reports.",
        "- Editors can also build reports:",
        "  - charts",
        "  - tables",
        "- Administrators manage billing.",
    ]
    # Images and embedded videos carry no text: nothing of them is left.
    for gone in ("team.png", "Team page", "youtube", "Video tour", "!["):
        assert gone not in started.text

    export = found[str(centre.export.id)]
    _, chunks = chunk_markdown(export.text, fallback_title="unused")
    sections = {chunk.heading: chunk.text for chunk in chunks}
    # The body's <h1> only repeated the title: it is not a section of its own.
    assert list(sections) == [
        "Export a report as CSV",
        "From the report page",
        "From the API",
        "Limits",
    ]
    assert sections["From the report page"].splitlines()[:3] == [
        "1. Open the report you want to export.",
        "2. Click **Export** in the top-right corner.",
        "3. Choose **CSV** and confirm.",
    ]
    assert "> Exports of more than a million rows are split." in sections["From the report page"]
    # A "#" line inside a code block is code, not a heading.
    assert sections["From the API"].startswith(
        '```bash\ncurl -H "Authorization: Bearer $TOKEN" https://api.acme.example/reports/42.csv\n'
        "# the file comes back as text/csv\n```"
    )
    assert "> Tip: schedule exports instead of running them by hand." in sections["From the API"]
    assert sections["Limits"].splitlines() == [
        "| Plan | Rows per export |",
        "| --- | --- |",
        "| Starter | 10,000 |",
        "| Business | 1,000,000 |",
    ]


def test_article_markdown_keeps_text_that_only_looks_like_markdown() -> None:
    text = article_markdown(
        "Limits",
        "<p># of seats depends on the plan.</p><p>Use read_only and *wildcards*.</p>"
        "<h2><strong>Seats</strong> and <em>plans</em></h2><p>&nbsp;</p><p>Ten&nbsp;seats.</p>"
        "<svg><text>chart</text></svg><video src='x.mp4'>Your browser</video>",
    )
    assert text == (
        "# Limits\n\n\\# of seats depends on the plan.\n\nUse read_only and *wildcards*.\n\n"
        "## Seats and plans\n\nTen seats."
    )
    _, chunks = chunk_markdown(text, fallback_title="unused")
    assert [chunk.heading for chunk in chunks] == ["Limits", "Seats and plans"]


async def test_an_article_without_text_fails_plainly(
    api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    empty = api.add_article("Screenshots", '<p><img src="a.png"></p><p>&nbsp;</p>')
    found = await run(source(api, session))
    assert found == [Failed(str(empty.id), "the article has no text")]


# ---------------------------------------------------------------------- what changed


async def test_a_second_sync_skips_unchanged_articles_without_reading_them(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(api, session)))
    api.requests.clear()

    connector = source(api, session)
    second = await run(connector, known)

    assert second == [Unchanged(key) for key in sorted(known, key=int)]
    assert connector.complete
    # The export is all that was read: no article was asked for on its own.
    assert {seen.path for seen in api.requests} == {EXPORT}


async def test_a_changed_article_comes_back_as_a_page(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    first = await run(source(api, session))
    known = remembered(first)
    api.change(
        centre.refunds.id,
        body=REFUNDS + "<p>Refunds reach your card within ten working days.</p>",
        labels=["billing"],
    )

    second = await run(source(api, session), known)

    changed = pages(second)
    assert set(changed) == {str(centre.refunds.id)}
    page = changed[str(centre.refunds.id)]
    assert "Refunds reach your card within ten working days." in page.text
    assert page.etag != known[page.key].etag and page.tags == "billing"
    assert of_kind(second, Unchanged) == set(known) - {page.key}


async def test_deleted_archived_unpublished_and_restricted_articles_are_not_yielded(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    first = await run(source(api, session))
    known = remembered(first)
    api.delete(centre.refunds.id)
    api.archive(centre.password.id)
    api.unpublish(centre.sso.id)
    api.restrict(centre.export.id)

    connector = source(api, session)
    second = await run(connector, known)

    gone = keys([centre.refunds, centre.password, centre.sso, centre.export])
    assert {f.key for f in second} == set(known) - gone == {str(centre.started.id)}
    assert connector.complete  # so the engine retires the four
    # Never listed as anything, first time or second: drafts, restricted, archived articles.
    never = keys([centre.draft, centre.runbook, centre.old])
    assert not never & {f.key for f in first + second}


async def test_include_restricted_lets_restricted_articles_in_but_never_drafts(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    found = await run(source(api, session, include_restricted=True))
    assert set(pages(found)) == keys([*centre.published, centre.runbook])


# ---------------------------------------------------------------------- rate limits and errors


async def test_a_rate_limit_is_waited_out_for_its_retry_after(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.rate_limit(EXPORT, times=2, retry_after="7")
    waits = Waits()
    connector = source(api, session, sleep=waits)
    found = await run(connector)

    assert waits == [7.0, 7.0]
    assert connector.complete and set(pages(found)) == keys(centre.published)
    assert [seen.query["start_time"] for seen in api.export_requests()[:3]] == ["0", "0", "0"]


async def test_a_long_retry_after_is_capped_and_a_missing_one_backs_off(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.rate_limit(EXPORT, times=1, retry_after="3600")
    api.rate_limit(EXPORT, times=1, retry_after=None)
    waits = Waits()
    connector = source(api, session, sleep=waits, max_retry_after=60, backoff=0.5)
    await run(connector)
    assert waits == [60.0, 1.0] and connector.complete


async def test_a_rate_limit_that_does_not_end_gives_up(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.rate_limit(EXPORT, times=100, retry_after="2")
    waits = Waits()
    connector = source(api, session, sleep=waits, rate_limit_retries=3)
    found = await run(connector)
    assert found == [
        Failed(
            connector.export_url,
            "the article listing stopped: Zendesk kept answering 429 Too Many Requests"
            " (rate limited), 4 times in a row",
        )
    ]
    assert waits == [2.0, 2.0, 2.0] and not connector.complete


async def test_a_server_error_is_tried_again(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.fail(EXPORT, 503, times=2)
    waits = Waits()
    connector = source(api, session, sleep=waits)
    found = await run(connector)
    assert waits == [1.0, 2.0]
    assert connector.complete and set(pages(found)) == keys(centre.published)


async def test_a_refusal_is_not_tried_again_and_says_why(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.fail(EXPORT, 403)
    waits = Waits()
    connector = source(api, session, sleep=waits)
    (failure,) = await run(connector)
    assert failure == Failed(
        connector.export_url,
        "the article listing stopped: Zendesk refused access (403): the token's user must be an"
        " agent or admin who can view the articles (and an OAuth token needs the hc:read scope)"
        " (Forbidden: You do not have access to this page. Please contact the account owner of"
        " this help desk for further help.)",
    )
    assert waits == [] and len(api.requests) == 1 and not connector.complete


async def test_a_listing_that_keeps_failing_is_incomplete(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    api.fail(EXPORT, 500)
    waits = Waits()
    connector = source(api, session, sleep=waits)
    found = await run(connector)
    assert found == [
        Failed(
            connector.export_url,
            "the article listing stopped: Zendesk answered HTTP 500 (a server error),"
            " 3 times in a row",
        )
    ]
    assert not connector.complete
    assert waits == [1.0, 2.0] and len(api.requests) == 3


async def test_a_listing_that_fails_on_a_later_page_keeps_what_it_read(
    centre: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    def break_after_first_page(done: int, total: int | None) -> None:
        if done == 2:
            api.fail(EXPORT, 502)

    connector = source(api, session, on_progress=break_after_first_page)
    found = await run(connector)

    assert set(pages(found)) == keys([centre.started, centre.export])
    assert isinstance(found[-1], Failed) and found[-1].key == connector.export_url
    assert "HTTP 502" in found[-1].reason
    assert not connector.complete  # nothing may be retired after half a listing


async def test_a_connection_that_fails_is_tried_again_then_given_up() -> None:
    connector_waits = Waits()
    with socket.socket() as closed:  # a port just free again: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with aiohttp_session(tls_context(), timeout=10) as client:
        connector = ZendeskSource(
            None, "t0ken", client, base_url=f"http://127.0.0.1:{port}", sleep=connector_waits
        )
        found = await run(connector)
    (failure,) = found
    assert isinstance(failure, Failed) and failure.reason.startswith(
        "the article listing stopped: the request failed (ClientConnectorError"
    )
    assert failure.reason.endswith(", 3 times in a row")
    assert connector_waits == [1.0, 2.0] and not connector.complete


async def test_a_time_that_does_not_move_on_stops_the_listing_incomplete(
    api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    moment = api.tick()
    for n in range(3):  # three changes in one second, two to a page
        api.add_article(f"Release note {n}", f"<p>Change {n}.</p>", updated_at=moment)
    connector = source(api, session)
    found = await run(connector)
    assert len(pages(found)) == 2
    assert isinstance(found[-1], Failed) and "changed in the same second" in found[-1].reason
    assert not connector.complete


async def test_the_token_is_sent_as_zendesk_expects_and_never_leaks(
    centre: HelpCentre,
    api: ZendeskAPI,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-d41d8cd98f00b204e9800998ecf8427e"
    connector = source(api, session, token=wrong)
    found = await run(connector)

    assert found == [
        Failed(
            connector.export_url,
            "the article listing stopped: Zendesk did not accept the credentials (401): check"
            " the token and the email (Couldn't authenticate you)",
        )
    ]
    assert not connector.complete
    # It was sent, as HTTP Basic "{email}/token:{token}"...
    expected = base64.b64encode(f"{api.email}/token:{wrong}".encode()).decode()
    assert api.requests[0].headers["authorization"] == f"Basic {expected}"
    # ...and appears nowhere else: not in a reason, a log line or the connector's repr.
    for secret in (wrong, expected, api.api_token):
        assert secret not in caplog.text
        assert all(secret not in f.reason for f in found if isinstance(f, Failed))
        assert secret not in repr(connector)


# ---------------------------------------------------------------------- a locale


@pytest.fixture
def french(centre: HelpCentre, api: ZendeskAPI) -> HelpCentre:
    api.add_translation(
        centre.started.id,
        "fr",
        "Bien démarrer avec Acme",
        "<p>Acme transforme vos données en rapports.</p>"
        "<h2>Créer un compte</h2><p>Inscrivez-vous.</p>",
    )
    api.add_translation(centre.export.id, "fr", "Exporter en CSV", "<p>Bientôt.</p>", draft=True)
    api.add_translation(
        centre.refunds.id, "fr", "Remboursements", "<p>Remboursé sous 30 jours.</p>"
    )
    return centre


async def test_with_a_locale_articles_are_read_in_it(
    french: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    connector = source(api, session, locale="fr")
    found = await run(connector)

    assert connector.complete
    # Translated and published in French: the other articles have no French version (404).
    assert set(pages(found)) == keys([french.started, french.refunds])
    page = pages(found)[str(french.started.id)]
    assert page.title == "Bien démarrer avec Acme"
    assert page.url == api.html_url(french.started.id, "fr")
    assert "/hc/fr/articles/" in page.url
    _, chunks = chunk_markdown(page.text, fallback_title="unused")
    assert [chunk.heading for chunk in chunks] == ["Bien démarrer avec Acme", "Créer un compte"]
    # Each article not restricted was asked for in French, the English draft too: being a
    # draft is a translation's state, and its French version could have been published.
    assert {seen.path for seen in api.requests} - {EXPORT} == {
        api.article_path(a.id, "fr") for a in [*french.published, french.draft]
    }


async def test_with_a_locale_unchanged_articles_are_not_asked_for_again(
    french: HelpCentre, api: ZendeskAPI, session: aiohttp.ClientSession
) -> None:
    known = remembered(await run(source(api, session, locale="fr")))
    api.requests.clear()
    api.add_translation(french.refunds.id, "fr", "Remboursements", "<p>Sous 10 jours.</p>")

    second = await run(source(api, session, locale="fr"), known)

    assert of_kind(second, Unchanged) == {str(french.started.id)}
    assert "Sous 10 jours." in pages(second)[str(french.refunds.id)].text
    asked = {seen.path for seen in api.requests} - {EXPORT}
    assert api.article_path(french.started.id, "fr") not in asked
    assert api.article_path(french.refunds.id, "fr") in asked
    # The marker names the locale: a source switched to another locale reads everything again.
    assert all(k.etag and k.etag.endswith(" fr") for k in known.values())


async def test_an_article_that_cannot_be_read_fails_and_the_listing_goes_on(
    french: HelpCentre,
    api: ZendeskAPI,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail(api.article_path(french.started.id, "fr"), 500)
    waits = Waits()
    connector = source(api, session, locale="fr", sleep=waits)
    found = await run(connector)

    assert (
        Failed(
            str(french.started.id),
            "the article could not be read in fr: Zendesk answered HTTP 500 (a server error),"
            " 3 times in a row",
        )
        in found
    )
    assert set(pages(found)) == {str(french.refunds.id)}
    assert connector.complete  # one article failed, the listing itself ran to its end
    assert waits == [1.0, 2.0]
    assert api.api_token not in caplog.text and basic(api) not in caplog.text


# ---------------------------------------------------------------------- through a proxy


async def test_every_request_goes_through_the_proxy(
    centre: HelpCentre,
    api: ZendeskAPI,
    session: aiohttp.ClientSession,
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    proxy = ForwardProxy()
    await proxy.start()
    try:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        # zendesk.proxied.test resolves only inside the proxy: a direct request could not be made.
        connector = source(api, session, base_url=f"http://zendesk.proxied.test:{api.port}")
        found = await run(connector)
    finally:
        await proxy.stop()
    assert connector.complete and set(pages(found)) == keys(centre.published)
    assert proxy.hosts() == {"zendesk.proxied.test"} and proxy.refused == []
    assert {seen.headers["host"] for seen in api.requests} == {f"zendesk.proxied.test:{api.port}"}
