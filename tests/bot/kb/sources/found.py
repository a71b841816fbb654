"""Reading what a connector found, for the connector tests."""

from __future__ import annotations

import hashlib

from bot.kb.sources.base import Connector, Failed, Found, Known, Page


async def run(connector: Connector, known: dict[str, Known] | None = None) -> list[Found]:
    return [found async for found in connector.pages(known or {})]


def pages(found: list[Found]) -> dict[str, Page]:
    return {f.key: f for f in found if isinstance(f, Page)}


def of_kind(found: list[Found], kind: type) -> set[str]:
    return {f.key for f in found if isinstance(f, kind)}


def failures(found: list[Found]) -> dict[str, str]:
    return {f.key: f.reason for f in found if isinstance(f, Failed)}


def remembered(found: list[Found]) -> dict[str, Known]:
    """What the sync engine would store of a run: each page's validators and text hash."""
    return {
        page.key: Known(
            page.etag, page.last_modified, hashlib.sha256(page.text.encode()).hexdigest()
        )
        for page in pages(found).values()
    }
