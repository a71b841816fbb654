"""A request as a fake API received it, for tests to assert on (auth headers, pagination)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any] | None = None  # a JSON body, where the API takes one
