"""bot/http1.py against a raw TCP server that answers exactly the bytes each test scripts."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.http1 import ConnectFailed, Malformed, Origin, Truncated


@dataclass
class Answer:
    raw: bytes
    close: bool = False  # close the connection after it
    stall: bool = False  # never answer


@dataclass
class Server:
    """Reads each request (head and Content-Length body), records it, sends the next answer."""

    answers: list[Answer] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((line.decode().strip(), headers, body))
                answer = self.answers.pop(0)
                if answer.stall:
                    await asyncio.sleep(30)
                writer.write(answer.raw)
                await writer.drain()
                if answer.close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def close_idle(self) -> None:
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield state
        state.close_idle()


def origin(server: Server, timeout: float = 5.0) -> Origin:
    return Origin(
        f"http://127.0.0.1:{server.port}/v1", {"Authorization": "Bearer k"}, timeout=timeout
    )


def ok(body: bytes, *extra: str) -> Answer:
    head = "\r\n".join(["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra])
    return Answer(head.encode() + b"\r\n\r\n" + body)


async def test_the_request_is_well_formed_and_a_connection_carries_many(server: Server) -> None:
    server.answers = [ok(b'{"n": 1}'), ok(b'{"n": 2}', "Content-Type: application/json")]
    client = origin(server)
    first = await client.post("/v1/chat/completions", b'{"q": 1}')
    second = await client.post("/v1/chat/completions", b'{"q": 2}')
    await client.close()
    assert (first.status, first.body, second.body) == (200, b'{"n": 1}', b'{"n": 2}')
    assert second.headers["content-type"] == "application/json"
    line, headers, body = server.requests[0]
    assert line == "POST /v1/chat/completions HTTP/1.1" and body == b'{"q": 1}'
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["authorization"] == "Bearer k" and headers["content-length"] == "8"
    assert server.connections == 1  # kept alive


async def test_chunked_answers_with_extensions_and_trailers(server: Server) -> None:
    server.answers = [
        Answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'4;ext=1\r\n{"a"\r\n5\r\n: 42}\r\n0\r\nX-Trailer: t\r\n\r\n'
        ),
        ok(b"next"),
    ]
    client = origin(server)
    assert (await client.post("/", b"")).body == b'{"a": 42}'
    assert (await client.post("/", b"")).body == b"next"  # the framing left it reusable
    await client.close()
    assert server.connections == 1


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(b"compressed answer")),
        ("deflate", zlib.compress(b"compressed answer")),
        ("deflate", zlib.compress(b"compressed answer")[2:-4]),  # raw deflate, as some send
    ],
)
async def test_compressed_answers_are_unpacked(
    server: Server, encoding: str, packed: bytes
) -> None:
    server.answers = [ok(packed, f"Content-Encoding: {encoding}")]
    client = origin(server)
    assert (await client.post("/", b"")).body == b"compressed answer"
    await client.close()
    assert server.requests[0][1]["accept-encoding"] == "gzip, deflate"


async def test_connection_close_and_an_idle_close_by_the_server_open_a_new_one(
    server: Server,
) -> None:
    server.answers = [ok(b"1", "Connection: close"), ok(b"2"), ok(b"3")]
    client = origin(server)
    assert (await client.post("/", b"")).body == b"1"
    assert (await client.post("/", b"")).body == b"2"
    assert server.connections == 2
    server.close_idle()  # the server drops the kept-alive connection while it is idle
    await asyncio.sleep(0.05)
    assert (await client.post("/", b"")).body == b"3"
    await client.close()
    assert server.connections == 3


async def test_an_answer_without_length_runs_to_the_close(server: Server) -> None:
    server.answers = [Answer(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", close=True), ok(b"again")]
    client = origin(server)
    assert (await client.post("/", b"")).body == b"until the end"
    assert (await client.post("/", b"")).body == b"again"
    await client.close()
    assert server.connections == 2


async def test_error_statuses_come_back_with_their_headers(server: Server) -> None:
    server.answers = [
        Answer(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n")
    ]
    client = origin(server)
    answer = await client.post("/", b"")
    await client.close()
    assert answer.status == 429 and answer.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close=True), Truncated),
        (Answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nab", True), Truncated),
        (Answer(b"HTTP/1.1 200 OK\r\nContent-", close=True), Truncated),
        (Answer(b"SSH-2.0-OpenSSH\r\n\r\n", close=True), Malformed),
        (Answer(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", close=True), Malformed),
        (Answer(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", close=True), Malformed),
        (Answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True), Malformed),
        (
            Answer(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx"),
            Malformed,
        ),
        (
            Answer(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"),
            Malformed,
        ),
        (Answer(b"", close=True), ConnectFailed),
    ],
)
async def test_broken_answers_fail_clearly_and_leave_no_connection_behind(
    server: Server, answer: Answer, error: type[Exception]
) -> None:
    server.answers = [answer, ok(b"fine")]
    client = origin(server)
    with pytest.raises(error):
        await client.post("/", b"")
    assert (await client.post("/", b"")).body == b"fine"  # on a fresh connection
    await client.close()
    assert server.connections == 2


async def test_a_stalled_answer_times_out_and_its_connection_is_dropped(server: Server) -> None:
    server.answers = [Answer(b"", stall=True), ok(b"after")]
    client = origin(server, timeout=0.2)
    with pytest.raises(TimeoutError):
        await client.post("/", b"")
    client.timeout = 5.0
    assert (await client.post("/", b"")).body == b"after"
    await client.close()
    assert server.connections == 2


async def test_nobody_listening_is_a_connect_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Origin(f"http://127.0.0.1:{port}", {}, timeout=2.0)
    with pytest.raises(ConnectFailed):
        await client.post("/", b"")
    await client.close()


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Origin("ftp://example.com/", {}, timeout=1.0)
    assert Origin("https://api.openai.com/v1", {}, timeout=1.0).port == 443


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (openssl, as on every Debian machine)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def test_https_verifies_the_certificate_and_keeps_the_connection(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    state = Server(answers=[ok(b"secret 1"), ok(b"secret 2")])
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        trusting = ssl.create_default_context(cafile=str(cert))
        client = Origin(f"https://localhost:{port}/v1", {}, timeout=5.0, tls=trusting)
        assert (await client.post("/v1/x", b"{}")).body == b"secret 1"
        assert (await client.post("/v1/x", b"{}")).body == b"secret 2"
        await client.close()
        assert state.connections == 1 and state.requests[0][1]["host"] == f"localhost:{port}"
        # By default only the system's certificate authorities are trusted: this one is not.
        default = Origin(f"https://localhost:{port}/v1", {}, timeout=5.0)
        with pytest.raises(ConnectFailed, match="SSL"):
            await default.post("/v1/x", b"{}")
        await default.close()
        state.close_idle()
