"""Files customers attach: what Slack says of one (``files.info``) and its bytes, fetched with
the bot token from Slack's file host only.

The bot token is sent to one origin only: ``files.slack.com`` (``files.slack-gov.com`` for
GovSlack) over https when the Web API is Slack's own, or else the very origin of the
configured ``SLACK_API_URL`` (the sandbox's and the tests' stand-in). A file URL on any other
host is refused with a logged reason and nothing is sent: a message event is signed by Slack,
but a URL inside it is data, and a token sent to the wrong host is a token given away.

A download streams with a byte cap (never more than the limit is read), each attempt within
``DOWNLOAD_TIMEOUT``; a 429 waits out ``Retry-After`` (up to ``RATE_LIMIT_WAIT``), 5xx answers
and dropped connections are tried again with backoff, ``DOWNLOAD_RETRIES`` times, as the rest
of the bot does with Slack. Redirects are not followed (Slack's login page is not the file).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings.network import proxy_for
from bot.slack.api import RATE_LIMIT_WAIT, retry_after_seconds
from bot.slack.text import slack_error

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 30.0
DOWNLOAD_RETRIES = 2
BACKOFF_SECONDS = 0.5
CHUNK = 64 * 1024
# Slack's own API hosts, and the file host each one serves files from.
_FILE_HOSTS = {"slack.com": "files.slack.com", "slack-gov.com": "files.slack-gov.com"}


class FileUnavailable(Exception):
    """The file could not be fetched; ``reason`` says why in words a reviewer reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLarge(FileUnavailable):
    """The file is larger than the limit: the download stopped there."""


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str  # what the file host said it sent, lower-cased, without parameters


def file_origin(api_url: str) -> tuple[str, str, int]:
    """The (scheme, host, port) the bot token may be sent to for a file download."""
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if host in _FILE_HOSTS:
        return "https", _FILE_HOSTS[host], 443
    scheme = parts.scheme.lower()
    return scheme, host, parts.port or (443 if scheme == "https" else 80)


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


class SlackFiles:
    """``files.info`` through the bot's Web API client, downloads through httpx."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        token: str,
        api_url: str,
        tls: ssl.SSLContext,
        timeout: float = DOWNLOAD_TIMEOUT,
        retries: int = DOWNLOAD_RETRIES,
    ) -> None:
        self.client = client
        self._token = token
        self.origin = file_origin(api_url)
        self.tls = tls
        self.timeout = timeout
        self.retries = retries

    def allowed(self, url: str) -> bool:
        """Whether ``url`` is on the one origin the bot token may be sent to."""
        return _origin(url) == self.origin

    async def info(self, file_id: str) -> dict[str, Any]:
        """The file object ``files.info`` returns (Slack Connect files arrive without one)."""
        try:
            response = await self.client.files_info(file=file_id)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in ("file_not_found", "file_deleted"):
                raise FileUnavailable("the file was deleted or is no longer shared") from None
            if error == "missing_scope":
                raise FileUnavailable(
                    "the bot lacks the files:read scope (reinstall the app)"
                ) from None
            raise FileUnavailable(f"Slack did not describe it (files.info: {error})") from None
        except (TimeoutError, OSError) as exc:
            raise FileUnavailable(f"Slack could not be reached ({type(exc).__name__})") from None
        file = response.get("file")
        if not isinstance(file, dict):
            raise FileUnavailable("Slack did not describe it (files.info had no file)")
        return file

    async def download(self, url: str, *, max_bytes: int) -> Downloaded:
        """The file's bytes (at most ``max_bytes``: ``TooLarge`` beyond), or
        ``FileUnavailable`` with the reason."""
        if not self.allowed(url):
            host = _origin(url)
            log.warning(
                "refused to fetch a file from %s: the bot token goes to %s://%s:%s only",
                f"{host[0]}://{host[1]}:{host[2]}" if host else "an unreadable URL",
                *self.origin,
            )
            raise FileUnavailable("its link is not on Slack's file host, so it was not fetched")
        attempt = 0
        async with httpx.AsyncClient(
            verify=self.tls,
            proxy=proxy_for(url),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.timeout),
        ) as http:
            while True:
                attempt += 1
                try:
                    return await self._fetch(http, url, max_bytes)
                except _Retry as retry:
                    if attempt > self.retries:
                        raise FileUnavailable(retry.reason) from None
                    await asyncio.sleep(retry.wait or BACKOFF_SECONDS * 2 ** (attempt - 1))

    async def _fetch(self, http: httpx.AsyncClient, url: str, max_bytes: int) -> Downloaded:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with http.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status == 429:
                    wait = retry_after_seconds(response.headers.get("retry-after"))
                    if wait is not None and wait > RATE_LIMIT_WAIT:
                        raise FileUnavailable("Slack rate-limited the download")
                    raise _Retry("Slack kept rate-limiting the download", wait or 1.0)
                if status >= 500:
                    raise _Retry(f"Slack's file host answered HTTP {status}")
                if 300 <= status < 400:
                    raise FileUnavailable(
                        "Slack redirected the download (is the files:read scope granted?)"
                    )
                if status in (401, 403):
                    raise FileUnavailable(f"Slack refused the download (HTTP {status})")
                if status == 404:
                    raise FileUnavailable("the file is gone from Slack (HTTP 404)")
                if status != 200:
                    raise FileUnavailable(f"Slack's file host answered HTTP {status}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise TooLarge(f"larger than the {size_text(max_bytes)} limit")
                chunks: list[bytes] = []
                read = 0
                async for chunk in response.aiter_bytes(CHUNK):
                    read += len(chunk)
                    if read > max_bytes:
                        raise TooLarge(f"larger than the {size_text(max_bytes)} limit")
                    chunks.append(chunk)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return Downloaded(b"".join(chunks), kind)
        except httpx.TimeoutException:
            raise _Retry("the download timed out") from None
        except httpx.TransportError as exc:
            raise _Retry(f"the download failed ({type(exc).__name__})") from None


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def size_text(size: int) -> str:
    """A size as people write it: 512 B, 34 KB, 12 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    mb = size / (1024 * 1024)
    return f"{mb:.1f} MB" if mb < 10 else f"{round(mb)} MB"
