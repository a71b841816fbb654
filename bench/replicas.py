"""Replicas: questions/s of one, two and three bot processes sharing one PostgreSQL.

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.replicas [--quick] [--replicas 1,2,3] [--out PATH]
                                       [--questions N] [--rate R] [--chunks N]
                                       [--no-split-lock] [--no-lock-profile]
                                       [--rounds N] [--quiet-wait SECONDS] [--attempts N]
                                       [--workdir DIR]

What happens:

* One throwaway PostgreSQL server (``tests/utils/databases.py``: the machine's initdb/pg_ctl,
  ``fsync=off``, commits otherwise as in production) holds a template database with the schema,
  ``--chunks`` knowledge chunks of real help-centre text (as ``bench/throughput.py``) and the
  job queue of a bot that has run for a while (a day of finished jobs, a week of pending
  auto-close timers), analyzed, so the planner's statistics are not those of an empty queue.
  Each run gets a fresh copy of that template: every replica count starts from the same state.
* The fake Slack and fake OpenAI (``bench/fake_services.py``, a 0 ms model) run in a subprocess
  of their own; this process only sends requests, reads clocks and samples the server.
* For each replica count N, N real ``support-bot start`` processes in HTTP mode share that
  database and the fakes. Signed ``message`` events from customers of another team go to the
  replicas round-robin, as a load balancer would spread them; each replica's worker takes jobs
  from the shared queue. After a warm-up, and once the machine is quiet (``--quiet-wait``: it
  waits for other people's work to end, up to that long), ``--questions`` questions are
  offered open loop at ``--rate`` per second, well above what the machine can answer, so the
  replicas are never idle until the backlog is gone (2,000 questions and 100k chunks; 1,500
  and 10k with ``--quick``). A run during which other work still took more than 20% of a core
  is run again (``--attempts`` in all); the least disturbed counts. Every configuration runs
  ``--rounds`` times, in turn (3; 1 with ``--quick``): the figures vary from run to run (the
  jobs table's churn, the scheduler), so the median round counts and each round is shown.
* Figures per run: *answered/s*, questions over the time from the first question sent to the
  last first reply in a thread (the definition of ``bench/throughput.py``'s fill phase);
  *completed/s*, the same up to the last job finished (cards, completions included);
  the ratio of each to one replica's; the acknowledgement latency.
* CPU: utime + stime from /proc over the run (first question sent to an empty queue) of every
  replica, of PostgreSQL (the postmaster, its live backends and the ones that exited), of the
  fakes and of this load generator, and the machine's busy share from /proc/stat, against the
  machine's cores (``os.sched_getaffinity``). When the sum is near the cores, the figure is
  the machine's ceiling, not the design's; CPU seconds per question show whether more
  replicas cost more per question (contention) or only share the same cores.
* The serial write lock (``persistence/postgres.py``, ``WRITE_LOCK``, a transaction-scoped
  advisory lock every ordinary write transaction of every replica takes): ``pg_locks`` and
  ``pg_stat_activity`` are sampled every 20 ms during the run. The share of samples in which
  it is held, times the run's length, over the questions, is the lock time per question, whose
  inverse is the throughput the lock alone allows; the mean number of backends waiting for it
  gives the wait per question; and the holder's state says whether the server was executing
  (``active``) or waiting for the replica's next statement (``idle in transaction``). The
  server loads ``pg_stat_statements``: the execution time of ``pg_advisory_xact_lock`` is the
  time backends waited for the lock, and the busiest statements are listed.
* Split lock (unless ``--no-split-lock``; for N > 1): the same run with each replica taking an
  advisory lock of its own instead of the shared one (``WRITE_LOCK + replica number``, set in
  the replica's process before it starts). Write transactions then no longer exclude each other
  across replicas. This is unsafe in production (the serial transactions' read-then-write
  assumptions no longer hold across replicas) and is a measurement only: the throughput the
  design would reach if the shared lock cost nothing.
* Lock profile (unless ``--no-lock-profile``): one more run of one replica whose process notes
  every serial write transaction (``install_lock_profile``): the code that opened it, the
  statements (round trips) sent in it, how long opening it took and how long it held the lock.
  It says which transactions make up the lock time per question. The notes cost a little, so
  its throughput is not compared with the others.

It prints a table and writes the JSON to ``bench/results/replicas.json``
(``replicas-quick.json`` with ``--quick``). The fakes, the load generator and PostgreSQL share
the machine with the replicas: on a machine of few cores, read the CPU columns before the
ratios. Load from anything else (``other`` CPU, the load average) depresses every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import datasets as ds
from bench.harness import (
    children_cpu,
    machine_busy,
    process_cpu,
    progress_log,
    result_head,
    run_bench,
    self_cpu,
    stop_process,
    wait_listening,
    work_folder,
)
from bench.metrics import percentile
from bench.retrieval import code_under_test
from bench.throughput import (
    AUTO_ANSWER_MARK,
    EVAL_DATA,
    Customers,
    Fakes,
    app_env,
    distribution,
    fill_knowledge,
    throughput,
    wait_answered,
)
from persistence.postgres import WRITE_LOCK, PostgresDatabase
from tests.utils.databases import TEMPLATE, PostgresServer
from tests.utils.process import SUPPORT_BOT, free_port

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KB_DATABASE = "bench_replicas_kb"
SAMPLE_SECONDS = 0.02
# The files whose state was measured (others edit the tree: their hashes say which version ran).
CODE = (
    "persistence/postgres.py",
    "persistence/jobs.py",
    "persistence/writer_lock.py",
    "bot/jobs/worker.py",
    "bot/tickets/workflow.py",
    "bot/slack/outbox.py",
    "bot/tickets/intake.py",
    "bot/runtime/runtime.py",
)
# Starts the bot with another advisory-lock key (the split-lock experiment) and/or the lock
# profile (``install_lock_profile``): argv is the key, then the profile's path or "".
LAUNCHER = (
    "import sys\n"
    "import persistence.postgres as pg\n"
    "pg.WRITE_LOCK = int(sys.argv[1])\n"
    "if sys.argv[2]:\n"
    "    from bench.replicas import install_lock_profile\n"
    "    install_lock_profile(sys.argv[2])\n"
    "from bot.cli.main import main\n"
    "sys.exit(main(['start']))\n"
)


@dataclass
class BenchConfig:
    replicas: tuple[int, ...] = (1, 2, 3)
    questions: int = 2_000
    rate: float = 400.0
    chunks: int = 100_000
    warmup: int = 60
    split_lock: bool = True
    lock_profile: bool = True
    # Before each run, wait up to this long for the machine to be quiet (shared machines).
    quiet_wait: float = 300.0
    # A run during which other work took more than this share of a core is run again, up to
    # ``attempts`` in all; the least disturbed one is kept.
    max_other_pct: float = 20.0
    attempts: int = 3
    # Every configuration is run this many times, in turn; the median counts.
    rounds: int = 3
    drain_timeout: float = 600.0
    workdir: Path | None = None

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(questions=1_500, chunks=10_000, warmup=30, rounds=1)


# ---------------------------------------------------------------------------- CPU accounting


async def wait_quiet(limit: float, log: Any, busy_share: float = 0.2) -> Json:
    """Wait (up to ``limit`` seconds) until the machine is quiet: less than ``busy_share`` of
    its CPU busy over two seconds, so other people's work does not pollute the next run."""
    began = time.monotonic()
    busy = 1.0
    while True:
        b0, t0 = machine_busy()
        await asyncio.sleep(2.0)
        b1, t1 = machine_busy()
        busy = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        waited = time.monotonic() - began
        if busy < busy_share or waited >= limit:
            if waited > 5:
                log(f"waited {waited:.0f}s for a quiet machine (busy {100 * busy:.0f}%)")
            return {"waited_s": waited, "busy_share_before": busy, "quiet": busy < busy_share}


@dataclass
class CpuSnapshot:
    replicas: list[float]
    postgres: float
    fakes: float
    load_generator: float
    machine_busy: float
    machine_total: float
    at: float


# ---------------------------------------------------------------------------- the lock profile


def _site() -> str:
    """The code that opened the current transaction: its file and function (for a repository
    method, also the bot's function that called it)."""
    skip = ("persistence/postgres.py", "contextlib.py", "bench/replicas.py")
    frame = sys._getframe(1)
    found: list[str] = []
    while frame is not None and len(found) < 2:
        name = frame.f_code.co_filename
        if not name.endswith(skip):
            with contextlib.suppress(ValueError):
                name = str(Path(name).relative_to(ROOT))
            found.append(f"{name}:{frame.f_code.co_name}")
            if not name.startswith("persistence/"):
                break
        frame = frame.f_back  # type: ignore[assignment]
    return " < ".join(found) or "?"


def install_lock_profile(path: str) -> None:
    """In a replica's process, before the bot starts: note every serial write transaction
    (where it was opened, when, how long opening it took, lock included, and how long it held
    the lock, until its commit or rollback returned); written to ``path`` as JSON at exit."""
    import atexit

    from persistence import postgres as pg

    notes: list[tuple[str, float, float, float, int]] = []
    opened: dict[int, tuple[str, float, float, float, pg.PostgresTx]] = {}
    statements: dict[int, int] = {}  # id(PostgresTx): statements sent in it (round trips)
    enter = pg._Transaction.__aenter__
    leave = pg._Transaction.__aexit__

    def counted(method: Any) -> Any:
        async def call(self: pg.PostgresTx, *args: Any) -> Any:
            statements[id(self)] = statements.get(id(self), 0) + 1
            return await method(self, *args)

        return call

    for name in ("execute", "executemany", "fetchone", "fetchall"):
        setattr(pg.PostgresTx, name, counted(getattr(pg.PostgresTx, name)))

    async def profiled_enter(self: pg._Transaction) -> pg.PostgresTx:
        if not self._serial:
            return await enter(self)
        site = _site()
        began = time.perf_counter()
        tx = await enter(self)
        locked = time.perf_counter()
        opened[id(self)] = (site, time.time(), locked, locked - began, tx)
        return tx

    async def profiled_leave(self: pg._Transaction, *exc_info: Any) -> None:
        try:
            await leave(self, *exc_info)
        finally:
            note = opened.pop(id(self), None)
            if note is not None:
                site, at, locked, opening, tx = note
                count = statements.pop(id(tx), 0)
                notes.append((site, at, opening, time.perf_counter() - locked, count))

    def dump() -> None:
        Path(path).write_text(json.dumps(notes))

    setattr(pg._Transaction, "__aenter__", profiled_enter)  # noqa: B010
    setattr(pg._Transaction, "__aexit__", profiled_leave)  # noqa: B010
    atexit.register(dump)


def lock_profile(paths: Sequence[Path], since: float, until: float, questions: int) -> Json:
    """The serial transactions the replicas noted between ``since`` and ``until`` (wall
    clock), by where they were opened: how many per question, and their lock time."""
    by_site: dict[str, list[tuple[float, float, int]]] = {}
    for path in paths:
        if not path.exists():
            continue
        for site, at, opening, held, count in json.loads(path.read_text()):
            if since <= at <= until:
                by_site.setdefault(site, []).append((opening, held, count))
    total_held = sum(h for notes in by_site.values() for _, h, _ in notes)
    sites = []
    for site, notes in sorted(by_site.items(), key=lambda kv: -sum(n[1] for n in kv[1])):
        held = [h for _, h, _ in notes]
        sites.append(
            {
                "site": site,
                "per_question": len(notes) / questions,
                "statements_mean": sum(c for _, _, c in notes) / len(notes),
                "held_ms_mean": 1000 * sum(held) / len(held),
                "held_ms_p99": 1000 * percentile(held, 99),
                "open_ms_mean": 1000 * sum(o for o, _, _ in notes) / len(notes),
                "held_ms_per_question": 1000 * sum(held) / questions,
                "share_of_held": sum(held) / total_held if total_held else 0.0,
            }
        )
    count = sum(len(notes) for notes in by_site.values())
    return {
        "serial_transactions_per_question": count / questions,
        "held_ms_per_question": 1000 * total_held / questions,
        "held_ms_mean": 1000 * total_held / count if count else None,
        "sites": sites,
    }


# ---------------------------------------------------------------------------- the replicas


class Replica:
    """One ``support-bot start`` process in HTTP mode."""

    def __init__(
        self,
        number: int,
        env: dict[str, str],
        workdir: Path,
        lock_key: int,
        profile: Path | None = None,
    ) -> None:
        self.number = number
        self.env = env
        self.workdir = workdir
        self.lock_key = lock_key
        self.profile = profile
        self.port = int(env["PORT"])
        self.log = workdir / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self) -> None:
        if self.lock_key == WRITE_LOCK and self.profile is None:
            command = [SUPPORT_BOT, "start"]
        else:
            profile = "" if self.profile is None else str(self.profile)
            command = [sys.executable, "-c", LAUNCHER, str(self.lock_key), profile]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=self.env, cwd=self.workdir, stdout=log, stderr=log
            )
        await wait_listening(self.proc, self.port, 120, f"replica {self.number}", self.output)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return process_cpu(self.proc.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)


# ---------------------------------------------------------------------------- the database


class BenchServer(PostgresServer):
    """The tests' throwaway server, with ``pg_stat_statements`` loaded."""

    def _initdb(self) -> None:
        super()._initdb()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("shared_preload_libraries = 'pg_stat_statements'\n")


# A queue as a bot that has been running for a while has one: a day of finished jobs, and the
# auto-close timers of the past week's tickets (due within 7 days; none falls due in a run).
JOB_HISTORY = """
INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at, state, finished_at)
SELECT (ARRAY['inbound_message', 'advance_ticket', 'slack_post', 'sync_card'])[1 + g % 4],
       'history-' || g,
       json_build_object('channel_id', 'CHISTORY', 'thread_ts', g || '.000000')::text,
       EXTRACT(EPOCH FROM now()) - 86400 + g, EXTRACT(EPOCH FROM now()) - 86400 + g, 'done',
       EXTRACT(EPOCH FROM now()) - 86400 + g
FROM generate_series(1, 20000) g;
INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at, state)
SELECT 'auto_close', 'history-timer-' || g, json_build_object('ticket_id', 0, 'turn_id', g)::text,
       EXTRACT(EPOCH FROM now()) + 7 * 86400 - g, EXTRACT(EPOCH FROM now()) - g, 'pending'
FROM generate_series(1, 5000) g;
"""


def _psql(server: PostgresServer, database: str, sql: str) -> None:
    subprocess.run(
        [str(server.bin / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-c", sql,
         server.url(database)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def prepare_template(server: PostgresServer, chunks: int) -> Json:
    """The template every run copies: the schema, ``chunks`` knowledge chunks, and a job
    history (``JOB_HISTORY``), analyzed. Without the history the planner's statistics are
    those of an empty queue, and a statement can be planned as a scan of every pending job
    (``wake_waiting_replies``: several ms inside the write lock with a backlog of thousands),
    or not, depending on when autovacuum happens to analyze the table during a run."""
    server.psql(f"CREATE DATABASE {KB_DATABASE} TEMPLATE {TEMPLATE}")
    _psql(server, KB_DATABASE, "CREATE EXTENSION pg_stat_statements")

    began = time.monotonic()
    facts = asyncio.run(fill_knowledge(PostgresDatabase(server.url(KB_DATABASE)), chunks))
    _psql(server, KB_DATABASE, JOB_HISTORY)
    _psql(server, KB_DATABASE, "VACUUM ANALYZE")
    facts["fill_s"] = time.monotonic() - began
    return facts


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().splitlines()[0])


def postgres_cpu(pid: int) -> float:
    return process_cpu(pid, reaped_children=True) + children_cpu(pid)


async def statements(conn: asyncpg.Connection, questions: int, top: int = 10) -> Json:
    """What the server spent executing the bot's statements since the last reset (waiting for
    a lock inside a statement counts: ``pg_advisory_xact_lock`` is the time waited for it)."""
    rows = await conn.fetch(
        "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND query NOT LIKE '%pg_stat_%' AND query NOT LIKE '%pg_locks%'"
        " ORDER BY total_exec_time DESC"
    )
    total = sum(float(r["total_exec_time"]) for r in rows)
    lock = [r for r in rows if "pg_advisory_xact_lock" in str(r["query"])]
    return {
        "exec_ms_per_question": total / questions,
        "write_lock_calls_per_question": sum(int(r["calls"]) for r in lock) / questions,
        "write_lock_wait_ms_per_question": sum(float(r["total_exec_time"]) for r in lock)
        / questions,
        "calls_per_question": sum(int(r["calls"]) for r in rows) / questions,
        "top": [
            {
                "query": " ".join(str(r["query"]).split())[:160],
                "calls_per_question": int(r["calls"]) / questions,
                "mean_ms": float(r["total_exec_time"]) / max(1, int(r["calls"])),
                "ms_per_question": float(r["total_exec_time"]) / questions,
                "share": float(r["total_exec_time"]) / total if total else 0.0,
            }
            for r in rows[:top]
        ],
    }


async def settle(conn: asyncpg.Connection, timeout: float) -> None:
    """Wait until no job is running or due (cards, completions included)."""
    deadline = time.monotonic() + timeout
    while True:
        busy = await conn.fetchval(
            "SELECT COUNT(*) FROM jobs WHERE state = 'running'"
            " OR (state = 'pending' AND available_at <= $1)",
            time.time() + 30,
        )
        if not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replicas did not finish their work within {timeout}s")
        await asyncio.sleep(0.1)


@dataclass
class LockSamples:
    """What ``pg_locks``/``pg_stat_activity`` showed of the write lock(s), sample by sample."""

    keys: list[int]
    samples: int = 0
    held: int = 0  # samples in which some key was held
    held_by_key: dict[int, int] = field(default_factory=dict)
    holder_active: int = 0  # ... and its holder was executing a statement
    holder_idle_in_tx: int = 0  # ... and its holder waited for the replica's next statement
    waiters: int = 0  # summed over samples: backends waiting for a key
    active_backends: int = 0  # summed: bot backends executing something
    began: float = 0.0
    ended: float = 0.0

    async def run(self, url: str, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(url)
        try:
            self.began = time.monotonic()
            while not stop.is_set():
                rows = await conn.fetch(
                    "SELECT l.objid::bigint AS key, l.granted, a.state"
                    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objsubid = 1"
                    " AND l.objid::bigint = ANY($1::bigint[])",
                    self.keys,
                )
                active = await conn.fetchval(
                    "SELECT COUNT(*) FROM pg_stat_activity"
                    " WHERE application_name = 'support-bot' AND state = 'active'"
                )
                self.samples += 1
                self.active_backends += int(active or 0)
                holders = [r for r in rows if r["granted"]]
                if holders:
                    self.held += 1
                    for r in holders:
                        key = int(r["key"])
                        self.held_by_key[key] = self.held_by_key.get(key, 0) + 1
                    if any(r["state"] == "active" for r in holders):
                        self.holder_active += 1
                    elif any(str(r["state"]).startswith("idle in transaction") for r in holders):
                        self.holder_idle_in_tx += 1
                self.waiters += sum(1 for r in rows if not r["granted"])
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            self.ended = time.monotonic()
        finally:
            await conn.close()

    def figures(self, questions: int) -> Json:
        if not self.samples:
            return {"samples": 0}
        seconds = self.ended - self.began
        held = self.held / self.samples
        busiest = max(self.held_by_key.values(), default=0) / self.samples
        hold_ms = 1000 * busiest * seconds / questions
        wait_ms = 1000 * (self.waiters / self.samples) * seconds / questions
        return {
            "samples": self.samples,
            "seconds": seconds,
            "held_share": held,
            "busiest_key_held_share": busiest,
            "holder_active_share": self.holder_active / self.samples,
            "holder_idle_in_transaction_share": self.holder_idle_in_tx / self.samples,
            "mean_waiting_backends": self.waiters / self.samples,
            "mean_active_backends": self.active_backends / self.samples,
            "held_ms_per_question": hold_ms,
            "wait_ms_per_question": wait_ms,
            "lock_ceiling_per_s": 1000 / hold_ms if hold_ms > 0 else None,
        }


# ---------------------------------------------------------------------------- one run


@dataclass
class Run:
    replicas: int
    split_lock: bool = False
    profile: bool = False  # the lock profile (install_lock_profile): slower, figures apart

    def _variants(self) -> list[str]:
        return [
            v for v, on in (("split lock", self.split_lock), ("lock profile", self.profile)) if on
        ]

    @property
    def name(self) -> str:
        """e.g. ``2-split-lock``."""
        return "-".join([str(self.replicas), *(v.replace(" ", "-") for v in self._variants())])

    @property
    def label(self) -> str:
        """e.g. ``2 replicas, split lock``."""
        plural = "s" if self.replicas > 1 else ""
        return ", ".join([f"{self.replicas} replica{plural}", *self._variants()])


async def snapshot(replicas: Sequence[Replica], pg_pid: int, fakes: Fakes) -> CpuSnapshot:
    def take() -> CpuSnapshot:
        assert fakes.proc is not None
        busy, total = machine_busy()
        return CpuSnapshot(
            replicas=[r.cpu_seconds() for r in replicas],
            postgres=postgres_cpu(pg_pid),
            fakes=process_cpu(fakes.proc.pid),
            load_generator=self_cpu(),
            machine_busy=busy,
            machine_total=total,
            at=time.monotonic(),
        )

    return take()


def cpu_figures(before: CpuSnapshot, after: CpuSnapshot, questions: int, cores: int) -> Json:
    wall = after.at - before.at
    replicas = [b - a for a, b in zip(before.replicas, after.replicas, strict=True)]
    postgres = after.postgres - before.postgres
    fakes = after.fakes - before.fakes
    loadgen = after.load_generator - before.load_generator
    machine = after.machine_busy - before.machine_busy
    machine_total = after.machine_total - before.machine_total
    ours = sum(replicas) + postgres + fakes + loadgen

    def pct(seconds: float) -> float:
        return 100 * seconds / wall

    return {
        "wall_s": wall,
        "cores": cores,
        "replica_cpu_s": replicas,
        "replica_cpu_pct": [pct(s) for s in replicas],
        "postgres_cpu_s": postgres,
        "postgres_cpu_pct": pct(postgres),
        "fakes_cpu_pct": pct(fakes),
        "load_generator_cpu_pct": pct(loadgen),
        "ours_cpu_pct": pct(ours),
        "machine_busy_pct": 100 * machine / machine_total * cores if machine_total else None,
        "other_cpu_pct": (
            100 * machine / machine_total * cores - pct(ours) if machine_total else None
        ),
        "machine_capacity_pct": 100 * cores,
        "cpu_ms_per_question": {
            "replicas": 1000 * sum(replicas) / questions,
            "postgres": 1000 * postgres / questions,
            "fakes": 1000 * fakes / questions,
            "load_generator": 1000 * loadgen / questions,
            "all": 1000 * ours / questions,
        },
    }


@dataclass
class Setup:
    """What every run shares: the settings, the server, the fakes, the questions' texts."""

    cfg: BenchConfig
    server: PostgresServer
    fakes: Fakes
    texts: Sequence[str]
    log: Callable[[str], None]


async def measure(run: Run, setup: Setup, workdir: Path) -> Json:
    cfg, server, fakes, log = setup.cfg, setup.server, setup.fakes, setup.log
    database = f"bench_replicas_{run.name.replace('-', '_')}"
    server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    server.psql(f"CREATE DATABASE {database} TEMPLATE {KB_DATABASE}")
    url = server.url(database)
    keys = [WRITE_LOCK + n if run.split_lock else WRITE_LOCK for n in range(1, run.replicas + 1)]
    replicas: list[Replica] = []
    for number, key in enumerate(keys, start=1):
        folder = workdir / run.name / f"replica-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = app_env("bot", folder, fakes, port)
        env["DATABASE_URL"] = url
        env["PYTHONPATH"] = str(ROOT)  # the launcher imports bench.replicas
        profile = folder / "lock-profile.json" if run.profile else None
        replicas.append(Replica(number, env, folder, key, profile))
    await fakes.reset()
    await fakes.set_latency(0.0)
    pg_pid = postmaster_pid(server)
    conn = await asyncpg.connect(url)
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10)
    result: Json = {
        "run": run.name,
        "label": run.label,
        "replicas": run.replicas,
        "split_lock": run.split_lock,
        "lock_profile": run.profile,
        "lock_keys": keys,
    }
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            urls = [r.url for r in replicas]
            balancer = Customers(urls[0], setup.texts, session, spread=urls)
            warm = await balancer.offer(cfg.warmup, 20.0)
            await wait_answered(fakes, warm, 180)
            await settle(conn, 300)
            result["before_run"] = await wait_quiet(cfg.quiet_wait, log)

            log(f"{run.name}: {cfg.questions} questions at {cfg.rate:.0f}/s")
            posts_before = len(await fakes.posts())
            sampler = LockSamples(sorted(set(keys)))
            stop = asyncio.Event()
            sampling = asyncio.create_task(sampler.run(url, stop))
            await conn.execute("SELECT pg_stat_statements_reset()")
            before = await snapshot(replicas, pg_pid, fakes)
            batch = await balancer.offer(cfg.questions, cfg.rate)
            replies = await wait_answered(fakes, batch, cfg.drain_timeout, posts_before)
            await settle(conn, cfg.drain_timeout)
            after = await snapshot(replicas, pg_pid, fakes)
            window_end = time.time()
            stop.set()
            await sampling
            server_side = await statements(conn, cfg.questions)
            completed_at = await conn.fetchval("SELECT MAX(finished_at) FROM jobs")
            dead = await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")
            retried = await conn.fetchval(
                "SELECT COUNT(*) FROM jobs WHERE attempts > 1 AND created_at >= $1",
                min(q.sent_at for q in batch),
            )
        first_sent = min(q.sent_at for q in batch)
        for r in replicas:
            r.stop()  # the profile is written at exit
        if run.profile:
            result["lock_profile_figures"] = lock_profile(
                [r.profile for r in replicas if r.profile is not None],
                first_sent,
                window_end,
                len(batch),
            )
        answered_at = sorted(float(r["at"]) for r in replies.values())
        acks = [q.ack_ms for q in batch if q.ack_ms is not None]
        cores = len(os.sched_getaffinity(0))
        result.update(
            {
                "questions": len(batch),
                "offered_per_s": cfg.rate,
                "offer_s": max(q.sent_at for q in batch) - first_sent,
                "answered_per_s": throughput(batch, replies),
                "answered_s": answered_at[-1] - first_sent,
                "completed_per_s": len(batch) / (float(completed_at) - first_sent),
                "completed_s": float(completed_at) - first_sent,
                "auto_answered": sum(
                    1
                    for r in replies.values()
                    if str(r.get("text", "")).startswith(AUTO_ANSWER_MARK)
                ),
                "ack_ms": distribution(acks),
                "not_200_first_time": sum(1 for q in batch if q.status != 200),
                "jobs_dead": int(dead or 0),
                "jobs_retried": int(retried or 0),
                "cpu": cpu_figures(before, after, len(batch), cores),
                "write_lock": sampler.figures(len(batch)),
                "statements": server_side,
                "replica_log_errors": [
                    sum(1 for line in r.output().splitlines() if "ERROR" in line) for r in replicas
                ],
            }
        )
        log(
            f"{run.name}: answered {result['answered_per_s']:.1f}/s, completed"
            f" {result['completed_per_s']:.1f}/s; CPU {result['cpu']['ours_cpu_pct']:.0f}%"
            f" of {100 * cores}%; lock held {100 * result['write_lock'].get('held_share', 0):.0f}%"
        )
    finally:
        for r in replicas:
            r.stop()
        await conn.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return result


async def measure_quietly(run: Run, setup: Setup, workdir: Path) -> Json:
    """``measure``, again (up to ``cfg.attempts`` in all) while other work took more than
    ``cfg.max_other_pct`` of a core during the run; the least disturbed attempt counts."""
    cfg, log = setup.cfg, setup.log
    tried: list[Json] = []
    for attempt in range(1, cfg.attempts + 1):
        log(f"run {run.name}: starting {run.replicas} replica(s) (attempt {attempt})")
        figures = await measure(run, setup, workdir / f"attempt-{attempt}")
        tried.append(figures)
        other = figures["cpu"]["other_cpu_pct"] or 0.0
        if other <= cfg.max_other_pct:
            break
        log(f"{run.name}: other work took {other:.0f}% of a core during the run")
    best = min(tried, key=lambda f: f["cpu"]["other_cpu_pct"] or 0.0)
    best["attempts"] = [
        {
            "other_cpu_pct": f["cpu"]["other_cpu_pct"],
            "answered_per_s": f["answered_per_s"],
            "kept": f is best,
        }
        for f in tried
    ]
    return best


# ---------------------------------------------------------------------------- report


def machine() -> Json:
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def summarize(runs: Sequence[Json]) -> list[Json]:
    """Per configuration (in the order first run): the median over its rounds of answered/s
    and completed/s, each round's figure, the ratios of the medians to one replica's, and
    which run is the median one (its CPU and lock figures stand for the configuration)."""
    names: dict[str, list[int]] = {}
    for index, r in enumerate(runs):
        names.setdefault(r["run"], []).append(index)
    summary = []
    for name, indices in names.items():
        ranked = sorted(indices, key=lambda i: runs[i]["answered_per_s"])
        middle = ranked[(len(ranked) - 1) // 2]
        answered = [runs[i]["answered_per_s"] for i in indices]
        completed = [runs[i]["completed_per_s"] for i in indices]
        summary.append(
            {
                "run": name,
                "label": runs[middle]["label"],
                "replicas": runs[middle]["replicas"],
                "rounds": len(indices),
                "answered_per_s": answered,
                "completed_per_s": completed,
                "answered_per_s_median": percentile(answered, 50),
                "completed_per_s_median": percentile(completed, 50),
                "median_run": middle,
            }
        )
    base = next((s for s in summary if s["run"] == "1"), None)
    # One replica's figure in each round: the machine's speed drifts between rounds, and a
    # ratio within a round is steadier than a ratio of medians.
    one = {r.get("round"): r["answered_per_s"] for r in runs if r["run"] == "1"}
    for s in summary:
        for key in ("answered_per_s_median", "completed_per_s_median"):
            s[key.replace("_median", "_vs_1")] = (
                s[key] / base[key] if base is not None and base[key] else None
            )
        per_round = [
            r["answered_per_s"] / one[r.get("round")]
            for r in runs
            if r["run"] == s["run"] and one.get(r.get("round"))
        ]
        s["answered_vs_1_each_round"] = per_round
        s["answered_vs_1_median_of_rounds"] = percentile(per_round, 50) if per_round else None
    return summary


def describe(result: Json) -> str:
    runs: list[Json] = result["runs"]
    summary: list[Json] = result["summary"]
    cores = result["machine"]["cpus_usable"]

    def vs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    speed: list[tuple[str, ...]] = [
        (
            "run",
            "answered/s",
            "vs 1",
            "each round",
            "vs 1 each round",
            "completed/s",
            "vs 1",
            "replica CPU %",
            "PG %",
            "fakes %",
            "loadgen %",
            "ours %",
            "other %",
            "CPU ms/q",
        )
    ]
    locks: list[tuple[str, ...]] = [
        (
            "run",
            "lock held %",
            "holder idle in tx %",
            "waiting backends",
            "lock ms/q",
            "wait ms/q",
            "server wait ms/q",
            "PG exec ms/q",
            "lock ceiling/s",
        )
    ]
    for s in summary:
        r = runs[s["median_run"]]
        cpu, lock = r["cpu"], r["write_lock"]
        ceiling = lock.get("lock_ceiling_per_s")
        speed.append(
            (
                r["label"],
                f"{s['answered_per_s_median']:.1f}",
                vs(s["answered_per_s_vs_1"]),
                " / ".join(f"{v:.0f}" for v in s["answered_per_s"]),
                " / ".join(f"{v:.2f}" for v in s["answered_vs_1_each_round"]),
                f"{s['completed_per_s_median']:.1f}",
                vs(s["completed_per_s_vs_1"]),
                " + ".join(f"{p:.0f}" for p in cpu["replica_cpu_pct"]),
                f"{cpu['postgres_cpu_pct']:.0f}",
                f"{cpu['fakes_cpu_pct']:.0f}",
                f"{cpu['load_generator_cpu_pct']:.0f}",
                f"{cpu['ours_cpu_pct']:.0f}",
                "-" if cpu["other_cpu_pct"] is None else f"{cpu['other_cpu_pct']:.0f}",
                f"{cpu['cpu_ms_per_question']['all']:.1f}",
            )
        )
        locks.append(
            (
                r["label"],
                f"{100 * lock.get('busiest_key_held_share', 0):.0f}",
                f"{100 * lock.get('holder_idle_in_transaction_share', 0):.0f}",
                f"{lock.get('mean_waiting_backends', 0):.2f}",
                f"{lock.get('held_ms_per_question', 0):.2f}",
                f"{lock.get('wait_ms_per_question', 0):.2f}",
                f"{r['statements']['write_lock_wait_ms_per_question']:.2f}",
                f"{r['statements']['exec_ms_per_question']:.2f}",
                "-" if ceiling is None else f"{ceiling:.0f}",
            )
        )
    lines = _table(speed)
    lines.append(
        f"machine: {cores} usable core(s) = {100 * cores}% CPU; load average at start"
        f" {result['machine']['load_avg_at_start']}, at end"
        f" {result['machine'].get('load_avg_at_end')}"
    )
    lines.append(
        "answered/s: questions / (first sent -> last first reply in its thread), the median of"
        " the rounds (each round's figure next to it, and its ratio to one replica in the same"
        " round); completed/s: up to the last job done."
        " The other columns are the median round's. CPU %: of one core, over the run (100% ="
        " one core busy); other: the machine's busy time not ours; CPU ms/q: all our processes"
        " per question"
    )
    lines.append("")
    lines += _table(locks)
    lines.append(
        "lock held %: samples in which the write lock (the busiest key) was held; holder idle"
        " in tx: ... while its holder waited for the replica's next statement; lock ms/q: time"
        " held per question, whose inverse is the lock ceiling; wait ms/q: backends' time"
        " waiting for it per question (sampled); server wait: pg_advisory_xact_lock's execution"
        " time (pg_stat_statements); PG exec: all the bot's statements' execution time"
    )
    plain = [
        runs[s["median_run"]]
        for s in summary
        if not runs[s["median_run"]]["split_lock"] and not runs[s["median_run"]]["lock_profile"]
    ]
    for r in {id(x): x for x in plain[:1] + plain[-1:]}.values():
        lines.append("")
        lines.append(f"PostgreSQL's busiest statements ({r['label']}):")
        top = [("statement", "calls/q", "mean ms", "ms/q", "share")]
        for t in r["statements"]["top"][:6]:
            top.append(
                (
                    t["query"][:90],
                    f"{t['calls_per_question']:.2f}",
                    f"{t['mean_ms']:.2f}",
                    f"{t['ms_per_question']:.2f}",
                    f"{100 * t['share']:.0f}%",
                )
            )
        lines += _table(top, "  ")
    limit = result["config"]["max_other_pct"]
    shared = [
        f"{r['label']} (round {r.get('round', 1)})"
        for r in runs
        if (r["cpu"]["other_cpu_pct"] or 0) > limit
    ]
    if shared:
        lines.append(
            f"shared machine: more than {limit:.0f}% of a core busy with other work during "
            + "; ".join(shared)
            + ": those figures are depressed"
        )
    for r in runs:
        attempts = r.get("attempts", [])
        if len(attempts) > 1:
            lines.append(
                f"{r['label']} (round {r.get('round', 1)}): {len(attempts)} attempts, other work "
                + ", ".join(f"{a['other_cpu_pct']:.0f}%" for a in attempts)
                + " of a core; the least disturbed is shown"
            )
    for r in runs:
        profile = r.get("lock_profile_figures")
        if not profile:
            continue
        lines.append("")
        lines.append(
            f"lock profile ({r['label']}): {profile['serial_transactions_per_question']:.1f}"
            f" serial write transactions per question, the lock held"
            f" {profile['held_ms_per_question']:.2f} ms per question (client's view, from the"
            " lock granted to the commit returned)"
        )
        table = [
            ("opened in", "per q", "statements", "held ms mean", "p99", "open ms", "ms/q", "share")
        ]
        for site in profile["sites"][:12]:
            table.append(
                (
                    site["site"],
                    f"{site['per_question']:.2f}",
                    f"{site['statements_mean']:.1f}",
                    f"{site['held_ms_mean']:.2f}",
                    f"{site['held_ms_p99']:.1f}",
                    f"{site['open_ms_mean']:.2f}",
                    f"{site['held_ms_per_question']:.2f}",
                    f"{100 * site['share_of_held']:.0f}%",
                )
            )
        lines += _table(table, "  ")
    return "\n".join(lines)


async def run(cfg: BenchConfig, command: str) -> Json:
    began = time.monotonic()
    log = progress_log(began)
    result = result_head(command, cfg, machine(), code_under_test(CODE))
    result["runs"] = []
    plan = [Run(n) for n in cfg.replicas]
    if cfg.split_lock:
        plan += [Run(n, split_lock=True) for n in cfg.replicas if n > 1]
    rounds: list[tuple[int, Run]] = [(k, item) for k in range(1, cfg.rounds + 1) for item in plan]
    if cfg.lock_profile:
        rounds.append((1, Run(1, profile=True)))
    texts = ds.replied_questions(EVAL_DATA, 4000)
    with contextlib.ExitStack() as stack:
        workdir = work_folder(stack, cfg.workdir, "replicas-")
        log("starting PostgreSQL")
        server = BenchServer()
        server.start()
        stack.callback(server.stop)
        result["postgres"] = {
            "options": "fsync=off full_page_writes=off shared_buffers=64MB (tests/utils)",
            "version": subprocess.run(
                [str(server.bin / "postgres"), "--version"], capture_output=True, text=True
            ).stdout.strip(),
        }
        log(f"knowledge base: {cfg.chunks} chunks")
        result["knowledge"] = await asyncio.to_thread(prepare_template, server, cfg.chunks)
        fakes = Fakes()
        await fakes.start()
        setup = Setup(cfg, server, fakes, texts, log)
        try:
            for number, item in rounds:
                log(f"round {number} of {cfg.rounds}")
                figures = await measure_quietly(item, setup, workdir / f"round-{number}")
                figures["round"] = number
                result["runs"].append(figures)
        finally:
            await fakes.stop()
    result["summary"] = summarize(result["runs"])
    result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = time.monotonic() - began
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,500 questions, 10k chunks, one round"
    )
    parser.add_argument("--replicas", default="1,2,3", help="replica counts (1,2,3)")
    parser.add_argument("--questions", type=int, default=None, help="per run (2,000)")
    parser.add_argument("--rate", type=float, default=None, help="offered per second (400)")
    parser.add_argument("--chunks", type=int, default=None, help="knowledge chunks (100,000)")
    parser.add_argument(
        "--no-split-lock", action="store_true", help="skip the split-lock experiment (N > 1)"
    )
    parser.add_argument(
        "--no-lock-profile", action="store_true", help="skip the lock profile (one replica)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be quiet (300)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="runs of each configuration, in turn (3; 1)"
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="runs of each configuration, at most, while other work disturbs them (3)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the replicas' logs here")
    args = parser.parse_args(argv)
    cfg = BenchConfig.quick() if args.quick else BenchConfig()
    cfg.replicas = tuple(int(n) for n in args.replicas.split(",") if n.strip())
    if args.questions is not None:
        cfg.questions = args.questions
    if args.rate is not None:
        cfg.rate = args.rate
    if args.chunks is not None:
        cfg.chunks = args.chunks
    cfg.split_lock = not args.no_split_lock
    cfg.lock_profile = not args.no_lock_profile
    cfg.quiet_wait = args.quiet_wait
    cfg.attempts = max(1, args.attempts)
    if args.rounds is not None:
        cfg.rounds = max(1, args.rounds)
    cfg.workdir = args.workdir
    out = args.out or RESULTS / ("replicas-quick.json" if args.quick else "replicas.json")
    return run_bench(
        "bench.replicas", argv, "replicas", lambda command: run(cfg, command), describe, out
    )


if __name__ == "__main__":
    sys.exit(main())
