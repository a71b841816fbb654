"""What the API connectors share about HTTP: how long a ``Retry-After`` asks to wait, the
``Authorization`` header for an API token, and keeping the token out of every message."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number of seconds, or an HTTP date);
    None when it is absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def token_authorization(token: str, *, basic_user: str | None) -> tuple[str, tuple[str, ...]]:
    """The ``Authorization`` header for an API token: HTTP Basic as ``basic_user`` when given,
    else a bearer token; and what must never be shown (the token, and its Basic encoding)."""
    if basic_user:
        encoded = base64.b64encode(f"{basic_user}:{token}".encode()).decode("ascii")
        return f"Basic {encoded}", (token, encoded)
    return f"Bearer {token}", (token,)


def scrub(text: str, secrets: Iterable[str], *, mark: str = "[secret]") -> str:
    """``text`` with every secret replaced by ``mark``, should an error ever echo one."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mark)
    return text
