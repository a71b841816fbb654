"""``/healthz`` and Prometheus ``/metrics`` on METRICS_PORT, in Socket Mode and HTTP mode.

Readiness: the database answers, the scheduler runs, and Slack accepted the token recently (or,
in Socket Mode, the socket is connected); a failing database is reported as such, its error goes
to the log only. Metrics are read from the database, so every replica reports the same totals for
the shared work (use ``max`` across replicas); the job-duration histogram is this process's own.
The totals are counted at most once per ``METRICS_CACHE_SECONDS``: scrapes in between (several
scrapers, a dashboard refreshing) are answered from the last count, not with new full-table counts.

Both listen on METRICS_HOST (127.0.0.1 unless set), not on HOST, where HTTP mode takes Slack's
requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from persistence.metrics import MetricsRepository

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SLACK_FRESH_SECONDS = 180.0  # a successful auth.test older than this is not "ready"
METRICS_CACHE_SECONDS = 5.0  # scrapes within this of the last count reuse it


class Readiness:
    """What /healthz reports; updated by the runtime's checks."""

    def __init__(self) -> None:
        self.slack_ok_at: float | None = None
        self.slack_error: str | None = None
        self.socket_connected: Callable[[], Awaitable[bool]] | None = None
        self.scheduler_running: Callable[[], bool] = lambda: False


class _Snapshot(Collector):
    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


class Observability:
    def __init__(
        self,
        repo: MetricsRepository,
        readiness: Readiness,
        *,
        cache_seconds: float = METRICS_CACHE_SECONDS,
    ) -> None:
        self.repo = repo
        self.readiness = readiness
        self.cache_seconds = cache_seconds
        self._counted_at: float | None = None  # monotonic time of the last count
        self._counting = asyncio.Lock()  # concurrent scrapes share one count
        self.registry = CollectorRegistry()
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        self.job_seconds = Histogram(
            "support_job_duration_seconds",
            "Time a job took in this process, by kind",
            ["kind"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._job_kinds: dict[str, Any] = {}  # labelled children: .labels() costs a lock
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def observe_job(self, kind: str, seconds: float) -> None:
        child = self._job_kinds.get(kind)
        if child is None:
            child = self._job_kinds[kind] = self.job_seconds.labels(kind=kind)
        child.observe(seconds)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            checks["database"] = await self.repo.ping()
        except Exception:  # the answer to "is it healthy" is no; the reason goes to the log
            # (an unauthenticated endpoint must not show paths, hosts or driver messages)
            log.warning("/healthz: the database did not answer", exc_info=True)
            checks["database"] = False
            checks["database_error"] = "unavailable"
        checks["scheduler"] = self.readiness.scheduler_running()
        if self.readiness.socket_connected is not None:
            checks["slack"] = await self.readiness.socket_connected()
        else:
            at = self.readiness.slack_ok_at
            checks["slack"] = at is not None and time.time() - at < SLACK_FRESH_SECONDS
        if not checks["slack"] and self.readiness.slack_error:
            checks["slack_error"] = self.readiness.slack_error
        ready = bool(checks["database"] and checks["scheduler"] and checks["slack"])
        return ready, checks

    async def fresh_metrics(self) -> None:
        """Count again unless the last count is younger than ``cache_seconds``."""
        async with self._counting:
            at = self._counted_at
            if at is not None and time.monotonic() - at < self.cache_seconds:
                return
            await self.refresh_metrics()
            self._counted_at = time.monotonic()

    async def refresh_metrics(self) -> None:
        steps = await self.repo.step_totals()
        tokens_in, tokens_out = await self.repo.token_totals()
        jobs = await self.repo.jobs_by_kind_and_state()
        tickets = await self.repo.tickets_by_state()
        failures = await self.repo.delivery_failures()
        questions = CounterMetricFamily("support_questions", "Customer questions received")
        questions.add_metric([], steps.get("received", 0))
        decisions = CounterMetricFamily(
            "support_decisions", "Bot decisions on questions", labels=["action"]
        )
        for action in ("answer", "escalate"):
            decisions.add_metric([action], steps.get(f"decided:{action}", 0))
        reviews = CounterMetricFamily("support_reviews", "Reviewer decisions", labels=["verdict"])
        for verdict in ("approved", "edited", "rejected"):
            reviews.add_metric([verdict], steps.get(verdict, 0))
        sent = CounterMetricFamily("support_messages_sent", "Messages delivered to Slack")
        sent.add_metric([], steps.get("sent", 0))
        failed = CounterMetricFamily(
            "support_deliveries_failed",
            "Deliveries given up (retries ran out, Slack refused, or the look-up failed)",
            labels=["purpose"],
        )
        for purpose, n in sorted(failures.items()):
            failed.add_metric([purpose], n)
        llm = CounterMetricFamily("support_llm_tokens", "LLM tokens", labels=["direction"])
        llm.add_metric(["in"], tokens_in)
        llm.add_metric(["out"], tokens_out)
        queue = GaugeMetricFamily(
            "support_jobs", "Jobs by kind and state", labels=["kind", "state"]
        )
        for kind, state, n in jobs:
            queue.add_metric([kind, state], n)
        open_tickets = GaugeMetricFamily("support_tickets", "Tickets by state", labels=["state"])
        for state, n in tickets.items():
            open_tickets.add_metric([state], n)
        self._snapshot.metrics = [
            questions,
            decisions,
            reviews,
            sent,
            failed,
            llm,
            queue,
            open_tickets,
        ]

    # -- the server ---------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        ready, checks = await self.health()
        return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            await self.fresh_metrics()
        except Exception:
            log.exception("could not read metrics from the database")
            return web.Response(status=503, text="database unavailable\n")
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE}
        )

    async def start(
        self,
        host: str,
        port: int,
        *,
        routes: Iterable[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = (),
    ) -> None:
        """Serve /healthz and /metrics, and ``routes`` (POST) beside them: in Socket Mode, the
        issue tracker's webhook, this being the one HTTP port there."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        for path, handler in routes:
            app.router.add_post(path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server: Any = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("health and metrics on http://%s:%s/healthz and /metrics", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
