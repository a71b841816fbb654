"""Logging set-up: plain lines on stderr, with secrets and personal data scrubbed from every
line, tracebacks included.

Tokens (Slack ``xox…``/``xapp-…``, OpenAI ``sk-…``, the issue trackers') and credentials in
URLs (``user:pass@`` and secret-looking query values such as ``?api-key=…``) are always
redacted. E-mail addresses, card
numbers (13-19 digits passing the Luhn check) and phone numbers are redacted unless
``LOG_REDACT_PII=false``. Phone numbers are international (``+49 30 1234567``), North American
(``555-123-4567``) or national with a trunk 0 (``030 1234567``); bare digit runs, dates and
times are left alone, since Slack timestamps and ids look the same.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from urllib.parse import urlsplit, urlunsplit

# Slack, OpenAI, and the issue trackers' (Linear ``lin_api_``, GitHub ``ghp_``/``github_pat_``
# and the like, Atlassian API tokens ``ATATT``).
_TOKEN = re.compile(
    r"\b(xox[abposr]-|xapp-|sk-|lin_api_|gh[pousr]_|github_pat_|ATATT)[A-Za-z0-9-_]{6,}"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Not part of a longer number, nor of a decimal such as a Slack ts (1795334284.134934).
_CARD = re.compile(r"(?<!\d)(?<!\d\.)(?:\d[ -]?){12,18}\d(?!\d|\.\d)")
# International numbers (+49 30 1234567), North American (555) 123-4567 / 555-123-4567, and
# national numbers with a trunk 0 (030 1234567). Dates and clock times do not match.
_PHONE = re.compile(
    r"(?<![\w.+])(?:\+\d[\d ()-]{6,}\d|\(?\d{3}\)?[ -]\d{3}[ -]\d{4}|0\d{2,4}[ -]\d{5,8})"
    r"(?!\w|\.\d|-\d)"
)


# Query parameters whose values are secrets by their name (api-key, access_token, sig, ...).
_SECRET_NAME = r"[\w.-]*(?:key|token|secret|passw|pwd|sig|auth|credential|session)[\w.-]*"
_SECRET_PARAM = re.compile(rf"(?i){_SECRET_NAME}")
# In free text: the user info of a URL, and secret-named query values.
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@?#]+@")
_URL_SECRET_QUERY = re.compile(rf"(?i)([?&]{_SECRET_NAME}=)[^&\s#'\"<>]+")
# A value that looks like a key whatever its name: long, letters and digits mixed.
_KEYLIKE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-+/=.~%]{24,}")


def safe_url(url: str) -> str:
    """``url`` fit to show or log: its user info and secret-looking query values are ``***``
    (``https://user:pw@host/v1?api-key=k&api-version=1`` gives
    ``https://***@host/v1?api-key=***&api-version=1``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, eq, value = pair.partition("=")
        secret = _SECRET_PARAM.fullmatch(name) or _KEYLIKE.fullmatch(value) or _TOKEN.search(value)
        pairs.append(f"{name}=***" if eq and value and secret else pair)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    return "[phone]" if 9 <= len(digits) <= 15 else text


def redact(text: str, *, pii: bool = True) -> str:
    text = _TOKEN.sub(lambda m: m.group(1) + "[redacted]", text)
    text = _URL_USERINFO.sub("***@", text)
    text = _URL_SECRET_QUERY.sub(lambda m: m.group(1) + "***", text)
    if pii:
        text = _EMAIL.sub("[email]", text)
        text = _CARD.sub(_card, text)
        text = _PHONE.sub(_phone, text)
    return text


# The ticket the current task works on: every log line it writes names it.
current_ticket: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_ticket", default=None
)


class TicketContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ticket = current_ticket.get()
        record.ticket_id = ticket
        record.ticket = f" [ticket {ticket}]" if ticket is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line (LOG_FORMAT=json), redacted like the plain lines."""

    def __init__(self, *, pii: bool = True) -> None:
        super().__init__()
        self.pii = pii

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "ticket_id": getattr(record, "ticket_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False), pii=self.pii)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def __init__(self, fmt: str, *, pii: bool = True) -> None:
        super().__init__(fmt)
        self.pii = pii

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), pii=self.pii)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ticket)s: %(message)s"


def setup_logging(level: str, *, redact_pii: bool = True, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    formatter: logging.Formatter = (
        JsonFormatter(pii=redact_pii)
        if fmt == "json"
        else RedactingFormatter(PLAIN_FORMAT, pii=redact_pii)
    )
    handler.setFormatter(formatter)
    handler.addFilter(TicketContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    for noisy in ("apscheduler", "aiohttp.access", "httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
