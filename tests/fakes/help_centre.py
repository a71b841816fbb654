"""A fake help-centre website on 127.0.0.1 for the website connector's tests.

:class:`HelpCentre` serves what a real help centre serves under ``/docs/``: articles with
headings inside the boilerplate every page carries (a header with navigation, breadcrumbs, a
sidebar, a cookie banner, a "was this helpful?" box and a footer), a category page linking
them, ``robots.txt`` (``/docs/internal/`` disallowed, a ``Sitemap:`` line) and a sitemap index
with a nested sitemap carrying ``<lastmod>``. The traps a crawler must step around are there
too: a page that moved (301 to another article), one that moved out of ``/docs/`` (302 to
``/status/``), one that moved to another site, a listed page that is gone (404), a PDF, and a
blog post outside the prefix, linked from inside.

Every page has an ETag and a Last-Modified date and is answered 304 to a matching
``If-None-Match`` (or, without one, an ``If-Modified-Since`` not older than the page). Tests
change a page (:meth:`HelpCentre.change`: new text, new ETag, a later date), remove one
(:meth:`HelpCentre.remove`), make one fail (:meth:`HelpCentre.fail`) or answer late
(:meth:`HelpCentre.delay`), add their own (:meth:`HelpCentre.add_page`), switch the sitemap
off (``sitemap=False``: no ``Sitemap:`` line and ``/sitemap.xml`` is 404) and make
``robots.txt`` fail (:attr:`HelpCentre.robots_status`). Every request is kept, in order, in
:attr:`HelpCentre.requests` (path with query, headers with lower-case names, arrival time), and
each answer in :attr:`HelpCentre.answered` (status and body size).

Absolute URLs in ``robots.txt``, the sitemaps and redirects are built from the URL each request
came to, so the site works under whatever name it is reached by (``help.proxied.test`` through
a proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from bot.sandbox.local_server import LocalServer

__all__ = ["ARTICLES", "Answered", "HelpCentre", "Seen", "help_page"]

FIRST_PUBLISHED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

# Boilerplate every page carries: none of it may reach the knowledge base.
COOKIE_TEXT = "We use cookies to make this site work and to measure how it is used."
NAV_TEXT = "Contact sales"
FOOTER_TEXT = "© 2024 Acme Analytics Ltd. All rights reserved."
FEEDBACK_TEXT = "Was this article helpful?"
SIDEBAR_TEXT = "Articles in this section"


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str  # with the query string, if any
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Answered:
    """One request as it was answered (streamed bodies count 0 bytes)."""

    path: str
    status: int
    size: int


@dataclass
class FakePage:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    modified: datetime = FIRST_PUBLISHED
    in_sitemap: bool = True
    version: int = 1

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Redirect:
    location: str  # a path on this site, or an absolute URL
    status: int = 301
    in_sitemap: bool = True


@dataclass(frozen=True)
class Oversized:
    """A page far larger than any limit: ``size`` bytes, streamed without Content-Length
    (``chunked``) or announced up front."""

    size: int
    chunked: bool
    in_sitemap: bool = True


Resource = FakePage | Redirect | Oversized


@dataclass
class Streamed:
    sent: int = 0  # bytes of an oversized page written before the client went away


# The articles: path, title, and the article's own HTML (after its <h1>).
ARTICLES: dict[str, tuple[str, str]] = {
    "/docs/getting-started": (
        "Getting started with Acme",
        """
<p>Acme turns the data your team already has into reports everyone can read. This article
walks you through your first day: creating an account, inviting your team and building a
first report.</p>
<h2>Create your account</h2>
<p>Go to the sign-up page and enter your work email address. We send you a confirmation link
that stays valid for 24 hours; open it to choose a password and name your workspace.</p>
<h2>Invite your team</h2>
<p>Open <strong>Settings</strong>, then <strong>Members</strong>, and click
<em>Invite people</em>. Each person you invite gets an email and joins with the Viewer role
until an administrator changes it.</p>
<h3>Roles</h3>
<ul>
<li>Viewers can open and export reports.</li>
<li>Editors can also build and change reports.</li>
<li>Administrators manage billing and members.</li>
</ul>
<h2>Next steps</h2>
<p>Read <a href="/docs/export-csv">how to export a report</a>, download the
<a href="/docs/guides/acme-guide.pdf">printable guide (PDF)</a>, or see what is new on
<a href="/blog/launch">our blog</a>.</p>
""",
    ),
    "/docs/export-csv": (
        "Export a report as CSV",
        """
<p>Any report can be downloaded as a CSV file to open in a spreadsheet. Exports contain the
rows the report shows, with the filters you applied.</p>
<h2>From the report page</h2>
<ol>
<li>Open the report you want to export.</li>
<li>Click <strong>Export</strong> in the top-right corner.</li>
<li>Choose <strong>CSV</strong> and confirm. The download starts at once.</li>
</ol>
<h2>Scheduled exports</h2>
<p>Editors can send an export by email every day, week or month. Open the report, click
<strong>Schedule</strong> and pick the recipients; each of them receives a link that stays
valid for seven days.</p>
<h2>Limits</h2>
<table>
<tr><th>Plan</th><th>Rows per export</th></tr>
<tr><td>Starter</td><td>10,000</td></tr>
<tr><td>Business</td><td>1,000,000</td></tr>
</table>
""",
    ),
    "/docs/billing/refunds": (
        "Refunds and cancellations",
        """
<p>You can cancel your plan at any time from the billing page. Here is when we refund and how
to ask for it.</p>
<h2>Who can get a refund</h2>
<p>Annual plans cancelled within 30 days of purchase are refunded in full. Monthly plans are
not refunded, but they stay active until the end of the month you paid for.</p>
<h2>How to request a refund</h2>
<p>Write to billing@acme.example from the account owner's address with your invoice number.
Refunds reach your card within ten working days.</p>
""",
    ),
    "/docs/account/reset-password": (
        "Reset your password",
        """
<p>If you forgot your password, you can choose a new one from the sign-in page in a couple
of minutes.</p>
<h2>Request a reset link</h2>
<p>On the sign-in page, click <em>Forgot password?</em> and enter your email address. The
link we send stays valid for one hour.</p>
<h2>If the email does not arrive</h2>
<p>Check your spam folder, then ask your administrator whether single sign-on is turned on
for your workspace: with single sign-on, passwords are managed by your company.</p>
""",
    ),
    "/docs/internal/runbook": (
        "Support runbook (staff only)",
        """
<p>Secret escalation steps that robots.txt keeps away from crawlers.</p>
<h2>Escalation</h2>
<p>Page the on-call engineer.</p>
""",
    ),
}

CATEGORY = """
<p>Find answers to the most common questions about Acme.</p>
<h2>Account</h2>
<ul>
<li><a href="getting-started">Getting started with Acme</a></li>
<li><a href="./password">Reset your password</a></li>
</ul>
<h2>Reports</h2>
<ul>
<li><a href="export-csv#scheduled-exports">Export a report as CSV</a></li>
</ul>
<h2>Billing</h2>
<ul>
<li><a href="billing/refunds">Refunds and cancellations</a></li>
</ul>
<p>Staff: <a href="internal/runbook">support runbook</a>.
Service status: <a href="system-status">status page</a>,
or ask the <a href="community">community</a>.</p>
"""

BLOG_POST = """<!doctype html><html><head><title>We launched!</title></head>
<body><h1>We launched!</h1><p>Acme is out of beta; thank you to everyone who tried it.</p>
</body></html>"""

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def help_page(title: str, article_html: str) -> str:
    """A help-centre page: the article inside the site's header, navigation, breadcrumbs,
    sidebar, cookie banner, feedback box and footer."""
    crumb = html.escape(title)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{crumb} – Acme Help Centre</title>
<meta property="og:title" content="{crumb}">
<meta property="og:site_name" content="Acme Help Centre">
<link rel="stylesheet" href="/assets/help.css">
</head>
<body>
<div id="cookie-banner" class="cookie-consent" role="dialog" aria-label="Cookie consent">
  <p>{COOKIE_TEXT} <a href="/legal/cookies">Cookie policy</a></p>
  <button type="button">Accept all cookies</button> <button type="button">Reject</button>
</div>
<header class="site-header">
  <a class="logo" href="/docs/">Acme Help Centre</a>
  <nav class="main-nav" aria-label="Main">
    <ul>
      <li><a href="/docs/">Help home</a></li>
      <li><a href="/docs/getting-started">Getting started</a></li>
      <li><a href="/docs/export-csv">Reports</a></li>
      <li><a href="/docs/billing/refunds">Billing</a></li>
      <li><a href="https://www.acme.example/pricing">Pricing</a></li>
      <li><a href="https://www.acme.example/contact">{NAV_TEXT}</a></li>
    </ul>
  </nav>
  <form class="search" action="/docs/search" method="get" role="search">
    <input type="search" name="q" placeholder="Search the help centre">
  </form>
</header>
<nav class="breadcrumbs" aria-label="Breadcrumb">
  <ol><li><a href="/docs/">Help Centre</a></li><li>{crumb}</li></ol>
</nav>
<div class="page">
  <aside class="sidebar">
    <h3>{SIDEBAR_TEXT}</h3>
    <ul>
      <li><a href="/docs/getting-started">Getting started with Acme</a></li>
      <li><a href="/docs/export-csv">Export a report as CSV</a></li>
      <li><a href="/docs/billing/refunds">Refunds and cancellations</a></li>
    </ul>
  </aside>
  <main id="main-content">
    <article class="article">
      <header class="article-header">
        <h1>{crumb}</h1>
        <p class="article-meta">Updated 3 days ago · 2 min read</p>
      </header>
      <div class="article-body">
{article_html}
      </div>
      <footer class="article-footer">
        <div class="article-votes">
          <span>{FEEDBACK_TEXT}</span>
          <button>Yes</button><button>No</button>
        </div>
      </footer>
    </article>
  </main>
</div>
<footer class="site-footer">
  <ul>
    <li><a href="https://www.acme.example/privacy">Privacy</a></li>
    <li><a href="https://www.acme.example/terms">Terms</a></li>
    <li><a href="https://status.acme.example/">Status</a></li>
  </ul>
  <p>{FOOTER_TEXT}</p>
</footer>
</body>
</html>
"""


class HelpCentre(LocalServer):
    """The fake help centre; see the module docstring."""

    name = "the fake help centre"

    def __init__(
        self,
        *,
        sitemap: bool = True,
        robots_extra: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.sitemap = sitemap  # False: no Sitemap: line, /sitemap.xml is 404
        self.robots_status = 200  # anything else: robots.txt answers with that status
        self.robots_extra = robots_extra  # more lines for the "User-agent: *" group
        self.requests: list[Seen] = []
        self.answered: list[Answered] = []
        self.streamed: dict[str, Streamed] = {}
        self.resources: dict[str, Resource] = {}
        self.resources["/docs/"] = FakePage(_html(help_page("Acme Help Centre", CATEGORY)))
        for path, (title, article) in ARTICLES.items():
            self.resources[path] = FakePage(_html(help_page(title, article)))
        self.resources["/docs/password"] = Redirect("/docs/account/reset-password")
        self.resources["/docs/system-status"] = Redirect("/status/", status=302)
        self.resources["/docs/community"] = Redirect("https://community.acme.example/")
        self.resources["/docs/guides/acme-guide.pdf"] = FakePage(PDF, "application/pdf")
        self.resources["/blog/launch"] = FakePage(_html(BLOG_POST))
        self.resources["/status/"] = FakePage(_html(help_page("Status", "<p>All good.</p>")))
        # Listed in the sitemap, but not there: a 404.
        self.gone: set[str] = {"/docs/gone"}
        self.failing: dict[str, int] = {}  # path → the error status it answers with
        self.slow: dict[str, float] = {}  # path → seconds before it answers
        self._woken = asyncio.Event()

    # ------------------------------------------------------------------ what tests change

    def url(self, path: str) -> str:
        return self.origin + path

    def add_page(
        self, path: str, body: str | bytes, *, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        self.resources[path] = FakePage(_html(body), content_type)
        self.gone.discard(path)

    def add_oversized(self, path: str, size: int, *, chunked: bool) -> None:
        self.resources[path] = Oversized(size, chunked)
        self.streamed[path] = Streamed()

    def change(self, path: str, paragraph: str) -> None:
        """Add ``paragraph`` (plain text) to the end of the article: new ETag, a day later."""
        page = self.resources[path]
        assert isinstance(page, FakePage)
        marker = b'\n      </div>\n      <footer class="article-footer">'
        assert marker in page.body
        addition = f"\n<p>{html.escape(paragraph)}</p>".encode()
        page.body = page.body.replace(marker, addition + marker, 1)
        page.modified += timedelta(days=page.version)
        page.version += 1

    def fail(self, path: str, status: int = 500) -> None:
        """The page answers ``status`` (it stays listed in the sitemap)."""
        self.failing[path] = status

    def delay(self, path: str, seconds: float) -> None:
        """The page answers only after ``seconds`` (or when the server stops)."""
        self.slow[path] = seconds

    async def wake_waiting(self) -> None:
        self._woken.set()

    def remove(self, path: str) -> None:
        """The page is deleted: 404 from now on, and no longer in the sitemap."""
        del self.resources[path]

    def page(self, path: str) -> FakePage:
        page = self.resources[path]
        assert isinstance(page, FakePage)
        return page

    def paths(self) -> list[str]:
        """Every path requested, in order (with query strings)."""
        return [seen.path for seen in self.requests]

    def requests_for(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    # ------------------------------------------------------------------ the server

    def application(self) -> web.Application:
        self._woken = asyncio.Event()

        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.requests.append(Seen(request.method, request.path_qs, headers, time.monotonic()))
            response = await handler(request)
            body = response.body if isinstance(response, web.Response) else None
            size = len(body) if isinstance(body, bytes) else 0
            self.answered.append(Answered(request.path_qs, response.status, size))
            return response

        app = web.Application(middlewares=[record])
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/sitemap.xml", self._sitemap_index)
        app.router.add_get("/sitemaps/docs.xml", self._sitemap_docs)
        app.router.add_get("/sitemaps/blog.xml", self._sitemap_blog)
        app.router.add_get("/{path:.*}", self._resource)
        return app

    @staticmethod
    def _base(request: web.Request) -> str:
        # Not request.host: for a request in absolute form (through a proxy), it has no port.
        return str(request.url.origin())

    async def _robots(self, request: web.Request) -> web.Response:
        if self.robots_status != 200:
            return web.Response(status=self.robots_status, text="robots.txt is unavailable")
        lines = [
            "# Crawlers are welcome in the help centre, not in the staff pages.",
            "User-agent: *",
            "Disallow: /docs/internal/",
            "Disallow: /docs/search",
        ]
        lines += [line for line in self.robots_extra.splitlines() if line.strip()]
        if self.sitemap:
            lines += ["", f"Sitemap: {self._base(request)}/sitemap.xml"]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def _sitemap_index(self, request: web.Request) -> web.Response:
        if not self.sitemap:
            raise web.HTTPNotFound()
        base = self._base(request)
        latest = max(
            (r.modified for r in self.resources.values() if isinstance(r, FakePage)),
            default=FIRST_PUBLISHED,
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"  <sitemap><loc>{base}/sitemaps/docs.xml</loc>"
            f"<lastmod>{latest.isoformat()}</lastmod></sitemap>\n"
            f"  <sitemap><loc>{base}/sitemaps/blog.xml</loc></sitemap>\n"
            "</sitemapindex>\n"
        )
        return web.Response(text=body, content_type="application/xml")

    async def _sitemap_docs(self, request: web.Request) -> web.Response:
        listed: list[tuple[str, Resource | None]] = [
            (path, r)
            for path, r in self.resources.items()
            if path.startswith("/docs/") and r.in_sitemap
        ]
        listed += [(path, None) for path in sorted(self.gone)]
        return self._urlset(request, listed)

    async def _sitemap_blog(self, request: web.Request) -> web.Response:
        listed: list[tuple[str, Resource | None]] = [
            (path, r) for path, r in self.resources.items() if path.startswith("/blog/")
        ]
        return self._urlset(request, listed)

    def _urlset(
        self, request: web.Request, listed: list[tuple[str, Resource | None]]
    ) -> web.Response:
        base = self._base(request)
        entries = []
        for path, resource in listed:
            lastmod = (
                f"<lastmod>{resource.modified.isoformat()}</lastmod>"
                if isinstance(resource, FakePage)
                else ""
            )
            entries.append(f"  <url><loc>{html.escape(base + path)}</loc>{lastmod}</url>")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(entries)
            + "\n</urlset>\n"
        )
        return web.Response(text=body, content_type="application/xml")

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        if request.path in self.slow:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.slow[request.path])
        if request.path in self.failing:
            status = self.failing[request.path]
            return web.Response(status=status, text=f"Something went wrong ({status}).")
        resource = self.resources.get(request.path)
        if resource is None:
            raise web.HTTPNotFound(text="Sorry, we could not find that page.")
        if isinstance(resource, Redirect):
            location = resource.location
            if location.startswith("/"):
                location = self._base(request) + location
            return web.Response(status=resource.status, headers={"Location": location})
        if isinstance(resource, Oversized):
            return await self._oversized(request, resource)
        headers = {
            "ETag": resource.etag,
            "Last-Modified": format_datetime(resource.modified, usegmt=True),
        }
        if _not_modified(request, resource):
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=resource.body, headers={**headers, "Content-Type": resource.content_type}
        )

    async def _oversized(self, request: web.Request, page: Oversized) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        if page.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = page.size
        await response.prepare(request)
        streamed = self.streamed[request.path]
        chunk = b"<p>" + b"All work and no play. " * 2900 + b"</p>\n"
        try:
            while streamed.sent < page.size:
                piece = chunk[: page.size - streamed.sent]
                await response.write(piece)
                streamed.sent += len(piece)
        except (ConnectionError, RuntimeError):
            return response
        await response.write_eof()
        return response


def _html(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _not_modified(request: web.Request, page: FakePage) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return page.etag in {tag.strip() for tag in if_none_match.split(",")}
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return page.modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
