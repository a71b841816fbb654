"""A small HTTP/1.1 client for one origin: JSON POSTs over kept-alive connections.

Why not aiohttp's client for the model endpoint: every question makes two completion calls, and
aiohttp spends about 240 µs of CPU on each (building a request object, its tracing and cookie
hooks, a task to write the body) where writing the request and parsing the answer here takes
about 85 µs (issue 8; measured against a local server). The model API needs nothing more: no
redirects, cookies or proxies (aiohttp's session used none either), one origin.

What it does: POST with a body, HTTP or HTTPS (the system's certificates), answers with a
Content-Length, chunked, or until the connection closes, in identity, gzip or deflate encoding.
Connections are kept alive and reused; one the server has closed while idle is dropped before
use. Errors: ``ConnectFailed`` (no connection, or it dropped before any answer), ``Truncated``
(it dropped mid-answer), ``Malformed`` (not HTTP, or beyond the size limits); a timeout raises
``TimeoutError`` and discards the connection.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEADER_LINES = 100
MAX_LINE = 16 * 1024
MAX_BODY = 32 * 1024 * 1024
IDLE_CONNECTIONS = 64


class HttpFailure(Exception):
    """The request got no usable answer."""


class ConnectFailed(HttpFailure):
    """No connection, or it closed before the answer began."""


class Truncated(HttpFailure):
    """The connection closed in the middle of the answer."""


class Malformed(HttpFailure):
    """The answer is not HTTP/1.x, or exceeds the size limits."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Origin:
    """Requests to one scheme://host:port, with these headers on every one, each given up
    after ``timeout`` seconds (connecting, sending and reading the whole answer)."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        timeout: float,
        tls: ssl.SSLContext | None = None,  # for https: the system's certificates by default
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        default_port = self.port == (443 if self.tls else 80)
        host_header = self.host if default_port else f"{self.host}:{self.port}"
        if ":" in self.host:  # an IPv6 literal
            host_header = f"[{self.host}]" if default_port else f"[{self.host}]:{self.port}"
        lines = [f"Host: {host_header}", "Accept-Encoding: gzip, deflate"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._headers = "\r\n".join(lines)
        self._ssl = (tls or ssl.create_default_context()) if self.tls else None
        self._idle: list[_Connection] = []
        self.timeout = timeout

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def post(self, path: str, body: bytes) -> Response:
        head = (
            f"POST {path} HTTP/1.1\r\n{self._headers}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        async with asyncio.timeout(self.timeout):
            conn = await self._connection()
            try:
                conn.writer.write(head + body)
                response, reusable = await _read_response(conn.reader)
            except BaseException:
                conn.close()
                raise
        if reusable and len(self._idle) < IDLE_CONNECTIONS:
            self._idle.append(conn)
        else:
            conn.close()
        return response

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()  # closed by the server while idle
        try:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self.tls else None,
                limit=MAX_LINE,
            )
        except OSError as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from None
        return _Connection(reader, writer)


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """The answer, and whether its connection can carry another request."""
    try:
        status_line = await reader.readline()
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise ConnectFailed(type(exc).__name__) from None
    except ValueError:  # a line beyond the limit
        raise Malformed("status line too long") from None
    if not status_line:
        raise ConnectFailed("the connection closed before an answer")
    if not status_line.endswith(b"\n"):
        raise Truncated("the connection closed within the status line")
    version, _, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
    code = rest.partition(" ")[0]
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise Malformed(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    try:
        headers = await _read_headers(reader)
        body, complete_framing = await _read_body(reader, headers)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise Truncated(type(exc).__name__) from None
    except ValueError:
        raise Malformed("a header or chunk line too long") from None
    encoding = headers.get("content-encoding", "identity").lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            body = zlib.decompress(body, wbits=47)  # gzip or zlib, by its header
        except zlib.error:
            try:
                body = zlib.decompress(body, wbits=-15)  # raw deflate
            except zlib.error:
                raise Malformed(f"a {encoding} body that does not decompress") from None
    elif encoding != "identity":
        raise Malformed(f"an answer in an encoding not asked for: {encoding}")
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    return Response(int(code), headers, body), keep and complete_framing


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if not line.endswith(b"\n"):  # the connection closed within the headers
            raise asyncio.IncompleteReadError(line, None)
        if line in (b"\r\n", b"\n"):
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise Malformed(f"not a header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    raise Malformed(f"more than {MAX_HEADER_LINES} header lines")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The body, and whether its end was framed (so the connection is free for another)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader), True
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > MAX_BODY:
            raise Malformed(f"a Content-Length of {length[:20]!r}")
        return await reader.readexactly(int(length)), True
    body = await reader.read(MAX_BODY + 1)  # until the server closes the connection
    while len(body) <= MAX_BODY:
        more = await reader.read(MAX_BODY + 1 - len(body))
        if not more:
            return body, False
        body += more
    raise Malformed(f"a body over {MAX_BODY} bytes")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    size_so_far = 0
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Malformed(f"not a chunk size: {line[:40]!r}") from None
        if size == 0:
            await _read_headers(reader)  # trailers, if any, up to the blank line
            return b"".join(parts)
        size_so_far += size
        if size_so_far > MAX_BODY:
            raise Malformed(f"a body over {MAX_BODY} bytes")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise Malformed("a chunk not followed by CRLF")
