"""Durations as people write them: ``45s``, ``30m``, ``2h``, ``1d``, ``1h30m``, or plain seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
FORMS = "a number and a unit, like 45m, 2h, 1d or 1h30m"
MAX_SECONDS = 366 * 86400.0


class DurationError(ValueError):
    pass


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``; raises DurationError with the right form when it is not a duration."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip().lower().replace(" ", "")
        if not raw:
            raise DurationError(f"a duration is {FORMS}")
        try:
            seconds = float(raw)
        except ValueError:
            parts = _PART.findall(raw)
            if not parts or "".join(n + u for n, u in parts) != raw:
                raise DurationError(f"{text!r} is not a duration: use {FORMS}") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(f"a duration must be longer than zero (use {FORMS})")
    if seconds > MAX_SECONDS:
        raise DurationError(f"a duration must be at most {MAX_SECONDS // 86400:.0f}d")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 1800 -> 30m, 5400 -> 1h30m, 0.5 -> 0.5s."""
    if seconds < 1 or seconds != int(seconds):
        return f"{seconds:g}s"
    left, out = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return "".join(out)
