"""What every connector gives the sync: the pages a source has now, each new or changed page
with its text, an unchanged one by its key alone, and one that could not be read with why.

A connector lists every page the source has. After a listing that ran to its end
(``Connector.complete``), the pages it did not name are gone from the source and are retired;
a page that failed keeps what the last sync stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Known:
    """What the last sync stored of a page, for the connector to skip it when unchanged."""

    etag: str | None
    last_modified: str | None
    content_hash: str


@dataclass(frozen=True)
class Page:
    """A new or changed page."""

    key: str  # stable within its source: the page's URL, the tool's article id
    title: str
    text: str  # Markdown: ``#`` headings mark the sections answers are drafted from
    url: str | None  # what answers cite, so customers get a link they can open
    etag: str | None = None
    last_modified: str | None = None
    tags: str = ""


@dataclass(frozen=True)
class Unchanged:
    """A page the source says has not changed since ``Known`` (a 304, the same version)."""

    key: str


@dataclass(frozen=True)
class Failed:
    """A page that exists but could not be read this time; the last sync's version stays."""

    key: str
    reason: str


Found = Page | Unchanged | Failed


class Connector(Protocol):
    @property
    def complete(self) -> bool:
        """True once ``pages`` ran to the end of the source's listing (no page limit, no
        listing error): only then are the pages it did not name retired."""
        ...

    def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        """Every page the source has now, one at a time."""
        ...


def describe_result(result: dict[str, Any]) -> str:
    """A sync's result (``SyncResult`` as stored) in one line, for people."""
    if result.get("skipped"):
        return f"not run: {result['skipped']}"
    words = (
        f"{result.get('added', 0)} added, {result.get('changed', 0)} changed,"
        f" {result.get('removed', 0)} removed, {result.get('unchanged', 0)} unchanged,"
        f" {result.get('failed', 0)} failed"
    )
    if result.get("error"):
        words += f"; stopped: {result['error']}"
    elif not result.get("complete", True):
        words += " (listing incomplete: nothing was removed)"
    return words
