"""A forward HTTP proxy on 127.0.0.1 for tests: ``CONNECT host:port`` tunnels (https, wss) and
absolute-form requests (``GET http://host:port/path``, plain http and ws), each connection
recorded with its target.

Names ending in ``.test`` are this proxy's to resolve: they reach 127.0.0.1 and nowhere else.
A client that bypassed the proxy could not resolve them at all, so a test that addresses the
fakes by such names proves that every connection went through here. Any other target is
refused (no test may reach beyond this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

LOCAL_SUFFIX = ".test"


@dataclass(frozen=True)
class Passage:
    method: str  # CONNECT, or the first request's method
    host: str
    port: int
    path: str  # the first request's path ("" for a tunnel)


class ForwardProxy:
    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self.refused: list[str] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def hosts(self) -> set[str]:
        return {p.host for p in self.passages}

    def paths_to(self, host: str) -> list[str]:
        return [p.path for p in self.passages if p.host == host]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._forward(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port, path = int(port_text), ""
        else:
            parts = urlsplit(target)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        address = self._resolve(host)
        if address is None:
            self.refused.append(target)
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(address, port)
        self.passages.append(Passage(method, host, port, path))
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            upstream_writer.write(f"{method} {path or '/'} {version}\r\n".encode("latin-1") + rest)
            await upstream_writer.drain()
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    @staticmethod
    def _resolve(host: str) -> str | None:
        if host.endswith(LOCAL_SUFFIX) or host == "127.0.0.1":
            return "127.0.0.1"
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
