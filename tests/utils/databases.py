"""The database tests run on: SQLite files, or a throwaway PostgreSQL server.

``SUPPORT_BOT_TEST_BACKEND=postgresql`` runs the suite against PostgreSQL: the first test that
needs a database starts a server of its own from the ``initdb``/``pg_ctl`` binaries on the
machine, in a temporary directory on a free port (as the ``postgres`` user when the tests run
as root, which PostgreSQL refuses to run as), migrates a template database once, and gives
every test a fresh copy of it. The server stops when the test session ends.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import asyncpg

from persistence.postgres import PostgresDatabase

BACKEND = os.environ.get("SUPPORT_BOT_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"SUPPORT_BOT_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")
TEMPLATE = "support_bot_template"
# What a statement that breaks a constraint raises, on either backend.
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def _binaries() -> Path:
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"):
        for folder in sorted(glob.glob(pattern), reverse=True):
            if os.path.exists(os.path.join(folder, "pg_ctl")):
                return Path(folder)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL's pg_ctl was not found (apt-get install postgresql)")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server of the test session's own: fast and unsafe (no fsync)."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="support-bot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL will not run as root: as the postgres user (Debian's package makes
            # it; else nobody), in a folder it owns.
            name = "postgres" if _user_exists("postgres") else "nobody"
            user = pwd.getpwnam(name)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", name, "--"]
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._initdb()
        self.resume()
        atexit.register(self.stop)
        self.psql(f"CREATE DATABASE {TEMPLATE}")
        _in_thread(_migrate(self.url(TEMPLATE)))

    def pause(self, *, check: bool = True) -> None:
        """Stop the server as a crash would (its data stays, for ``resume``)."""
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            check=check, capture_output=True, timeout=60,
        )  # fmt: skip

    def _initdb(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip

    def resume(self) -> None:
        options = (
            # No fsync (fast), but commits as in production otherwise: synchronous_commit stays
            # on, so only the bot's durable=False transactions are asynchronous.
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off -c max_connections=400"
            " -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "start",
        )  # fmt: skip

    def psql(self, sql: str) -> None:
        subprocess.run(
            [str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-X", "-c", sql,
             self.url("postgres")],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def fresh_database(self, *, migrated: bool = True) -> str:
        """A new database holding the migrated schema (or nothing at all); its URL."""
        with self._lock:
            name = f"test_{os.getpid()}_{next(self._counter)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE if migrated else 'template0'}")
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server and delete its files (it may be stopped already)."""
        if self.data.exists():
            self.pause(check=False)
        shutil.rmtree(self.root, ignore_errors=True)


async def _migrate(url: str) -> None:
    db = PostgresDatabase(url)
    await db.open()
    await db.close()


def _in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end on a loop of its own (callers may be inside a running loop)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # pragma: no cover - re-raised below
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


_server: PostgresServer | None = None
_server_lock = threading.Lock()
# The database of each test folder, so a restarted bot finds its data again.
_urls: dict[str, str] = {}


def postgres_server() -> PostgresServer:
    global _server
    with _server_lock:
        if _server is None:
            server = PostgresServer()
            server.start()
            _server = server
        return _server


def database_url(tmp_path: Path) -> str:
    """The database URL of the test that owns ``tmp_path``: the same one at every call."""
    key = str(tmp_path)
    if key not in _urls:
        if BACKEND == "postgresql":
            _urls[key] = postgres_server().fresh_database()
        else:
            _urls[key] = f"sqlite:///{tmp_path / 'bot.db'}"
    return _urls[key]


def empty_database_url(tmp_path: Path, name: str) -> str:
    """Another database of the test's, with no schema yet (for ``migrate`` and ``doctor``)."""
    key = f"{tmp_path}#{name}"
    if key not in _urls:
        if BACKEND == "postgresql":
            _urls[key] = postgres_server().fresh_database(migrated=False)
        else:
            _urls[key] = f"sqlite:///{tmp_path / name}"
    return _urls[key]


def forget_databases() -> None:
    """Drop the databases tests made (after each test: a copy of the template costs disk)."""
    urls = list(_urls.values())
    _urls.clear()
    if _server is not None:
        for url in urls:
            if url.startswith("postgresql://"):
                _server.drop(url)
