"""The running bot: database, Slack client, worker, scheduler and the Slack connection.

Socket Mode when ``SLACK_APP_TOKEN`` is set, otherwise an HTTP server on ``PORT`` with events,
interactivity and slash commands all on ``/slack/events``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.admin import AdminCommands
from bot.commands.support import SupportCommands
from bot.jobs import kinds as jobkinds
from bot.jobs.trail import JobTrail
from bot.jobs.worker import JobWorker
from bot.kb.base import KnowledgeBase
from bot.kb.embeddings import embedder_from_settings
from bot.kb.retrieval import Retriever
from bot.kb.sources.connectors import Connectors
from bot.kb.sources.sync import SourceSync
from bot.llm.model import SupportModel
from bot.ops.digest import DigestJob
from bot.ops.observability import Observability, Readiness
from bot.ops.retention import RetentionJob
from bot.review.cards import CardSync
from bot.review.deliveries import DeliveryFailures
from bot.review.desk import ReviewDesk
from bot.review.home import HomeDesk
from bot.review.issues import IssueDesk
from bot.review.redraft import Redrafter
from bot.review.reminders import Reminders
from bot.review.saved_articles import ArticleDesk
from bot.review.trackers import tracker_from_settings
from bot.review.translated_edit import TranslatedEdits
from bot.review.verified import VerifiedAnswers
from bot.runtime.app import build_app
from bot.runtime.services import Services
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.settings.network import proxy_for, tls_context
from bot.slack.api import slack_session, web_client
from bot.slack.files import SlackFiles
from bot.slack.guard import slack_guard
from bot.slack.outbox import SlackOutbox
from bot.slack.people import People, Workspace
from bot.slack.text import slack_error
from bot.tickets.csat import Csat
from bot.tickets.handoffs import Handoffs, resume_paused
from bot.tickets.intake import Intake
from bot.tickets.languages import Languages
from bot.tickets.reactions import Reactions
from bot.tickets.workflow import Workflow
from persistence.connect import database_for
from persistence.db import Database
from persistence.knowledge import KnowledgeRepository
from persistence.metrics import MetricsRepository
from persistence.replays import ReplayRepository
from persistence.repos import Repositories
from persistence.retention import RetentionRepository
from persistence.sources import SourceRepository

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
# Where the issue tracker's webhook is served: /trackers/linear, /trackers/jira, /trackers/github.
TRACKER_WEBHOOK_PATH = "/trackers/{name}"
# Where Socket Mode connects (apps.connections.open names the exact URL): its proxy is chosen
# for this host.
SOCKET_MODE_URL = "wss://wss-primary.slack.com/"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StartupError(Exception):
    """The bot cannot start; the message says why and what to do."""


def slack_client(
    settings: Settings, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The Web API client (``bot/slack/api.py``). With ``session``, every call reuses its pooled
    connections; without one, slack_sdk opens (and closes) a connection for each call."""
    token = settings.slack_bot_token
    if token is None:
        raise StartupError("SLACK_BOT_TOKEN is not set")
    return web_client(
        token.get_secret_value(),
        settings.slack_api_url,
        tls=tls_context(settings.support_bot_ca_bundle),
        session=session,
    )


async def identify(client: AsyncWebClient) -> Workspace:
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = slack_error(exc)
        raise StartupError(
            f"Slack refused the bot token (auth.test: {error}); check SLACK_BOT_TOKEN"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise StartupError(f"cannot reach the Slack API: {exc}") from None
    return Workspace(
        team_id=str(auth["team_id"]),
        bot_user_id=str(auth["user_id"]),
        bot_id=auth.get("bot_id"),
        url=str(auth.get("url") or "https://slack.com/"),
    )


def knowledge_base(settings: Settings, repo: KnowledgeRepository) -> KnowledgeBase:
    retriever = Retriever(
        repo,
        embedder=embedder_from_settings(settings),
        fit_threshold=settings.kb_fit_threshold,
    )
    return KnowledgeBase(repo, retriever)


class BotRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: Database | None = None
        self.services: Services | None = None
        self.model: SupportModel | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self.retention: RetentionJob | None = None
        self.digest: DigestJob | None = None
        self.readiness = Readiness()
        self.observability: Observability | None = None
        self.port: int | None = None
        self._http: aiohttp.ClientSession | None = None
        self._connectors: Connectors | None = None
        self.issues: IssueDesk | None = None

    async def start(self) -> None:
        settings = self.settings
        assert settings.escalation_channel is not None
        self.db = database_for(settings)
        await self.db.open()
        repos = Repositories.over(self.db, internal_kinds=jobkinds.INTERNAL)
        self._http = slack_session(tls_context(settings.support_bot_ca_bundle))
        client = slack_client(settings, self._http)
        workspace = await identify(client)
        self.readiness.slack_ok_at = time.time()
        self.observability = Observability(MetricsRepository(self.db), self.readiness)
        config = LiveConfig(settings, repos.config)
        await config.load()
        people = People(config, workspace, client)
        await people.refresh_groups(force=True)
        self.model = SupportModel(settings) if settings.llm_enabled else None
        knowledge = knowledge_base(settings, repos.knowledge)
        csat = Csat(config, repos, people)
        handoffs = Handoffs(settings, config, repos, people, csat)
        failures = DeliveryFailures(repos, workspace, settings.escalation_channel)
        outbox = SlackOutbox(
            client,
            repos,
            workspace,
            after_reply=handoffs.schedule_auto_close,
            on_failed=failures.failed,
        )
        csat.outbox = outbox  # it updates the survey message once a rating is recorded
        tracker = tracker_from_settings(settings)
        languages = Languages(repos, self.model)
        cards = CardSync(
            outbox,
            repos,
            workspace,
            settings.escalation_channel,
            can_redraft=settings.llm_enabled,
            max_redrafts=settings.review_max_redrafts,
            on_failed=failures.failed,
            tracker=tracker.label if tracker is not None else None,
            languages=languages,
        )
        intake = Intake(repos, people, handoffs)
        reactions = Reactions(repos, people, handoffs, config, client, workspace)
        workflow = Workflow(settings, config, repos, knowledge, self.model)
        files = SlackFiles(
            client,
            token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "",
            api_url=settings.slack_api_url,
            tls=tls_context(settings.support_bot_ca_bundle),
        )
        workflow = Workflow(settings, config, repos, knowledge, self.model, files)
        review = ReviewDesk(repos, people, languages)
        translated_edits = TranslatedEdits(repos, review, languages)
        redrafter = Redrafter(settings, repos, people, workflow, review)
        reminders = Reminders(settings, config, repos, people)
        articles = ArticleDesk(repos, people, knowledge, self.model, workspace, client)
        verified = VerifiedAnswers(repos, people, knowledge, articles)
        issues = self.issues = IssueDesk(settings, repos, people, workspace, tracker, self.model)
        self._connectors = Connectors(ca_bundle=settings.support_bot_ca_bundle)
        source_sync = SourceSync(
            SourceRepository(self.db), knowledge, self._connectors.connector_for
        )
        # Every kind of job, declared by the code that runs it (``jobs()``).
        runs_jobs = (
            intake,
            reactions,
            workflow,
            outbox,
            cards,
            reminders,
            handoffs,
            redrafter,
            articles,
            verified,
            translated_edits,
            source_sync,
            csat,
            issues,
        )
        worker = JobWorker(
            repos.jobs,
            [kind for part in runs_jobs for kind in part.jobs()],
            concurrency=settings.llm_concurrency * 2,
            lease_seconds=settings.job_lease_seconds,
            max_attempts=settings.job_max_attempts,
            retry_base_seconds=settings.job_retry_base_seconds,
            timings=lambda kind, seconds: self._observe_job(kind, seconds),
            on_retry=JobTrail(repos).retried,
        )
        self.services = Services(
            settings=settings,
            workspace=workspace,
            people=people,
            repos=repos,
            knowledge=knowledge,
            intake=intake,
            reactions=reactions,
            review=review,
            handoffs=handoffs,
            redrafter=redrafter,
            worker=worker,
            client=client,
            commands=SupportCommands(
                settings,
                people,
                repos,
                knowledge,
                handoffs,
                config,
                AdminCommands(settings, config, people, repos, client),
                articles=articles,
                sources=source_sync,
            ),
            home=HomeDesk(settings, config, repos, people, client, verified),
            verified=verified,
            config=config,
            csat=csat,
            issues=issues,
            translated_edits=translated_edits,
        )
        app = build_app(self.services)
        await worker.reclaim_from_dead_processes()
        worker.run()
        if not config.current.paused:
            # A resume that crashed between storing "running" and re-queueing the rounds that
            # waited: finish it now (keyed by the settings version, so it happens once).
            await resume_paused(repos, config.current.version)
        self._scheduler = AsyncIOScheduler()
        self._scheduler.add_job(
            worker.reclaim_from_dead_processes, "interval", seconds=10, id="reclaim-leases"
        )
        # Settings changed by an admin on another replica take effect here within seconds.
        self._scheduler.add_job(config.refresh, "interval", seconds=2, id="config-refresh")
        self._scheduler.add_job(people.refresh_groups, "interval", minutes=5, id="user-groups")
        # Daily, and once at start (a replica that was down at 03:00 catches up); the claim in
        # job_runs makes it run once a day across replicas.
        self.retention = RetentionJob(
            RetentionRepository(self.db), days=settings.retention_days, owner=worker.owner
        )
        self._scheduler.add_job(
            self.retention.run_daily, "cron", hour=3, minute=0, id="retention", timezone="UTC"
        )
        self._scheduler.add_job(self.retention.run_daily, id="retention-at-start")
        self.digest = DigestJob(
            settings, config, repos, owner=worker.owner, workspace_url=workspace.url
        )
        self._scheduler.add_job(self.digest.maybe_post, "interval", minutes=10, id="digest")
        self._scheduler.add_job(self.digest.maybe_post, id="digest-at-start")
        self._scheduler.add_job(
            self._check_slack, "interval", seconds=60, args=[client], id="slack-health"
        )
        # Knowledge sources whose schedule says they are due: one job each across replicas.
        self._scheduler.add_job(
            source_sync.enqueue_due, "interval", seconds=60, args=[repos.jobs], id="kb-sources"
        )
        self._scheduler.add_job(
            source_sync.enqueue_due, args=[repos.jobs], id="kb-sources-at-start"
        )
        if issues.polls:
            # No verified webhook reaches the bot: it asks the tracker which issues closed, one
            # poll per interval across replicas (the job's key names the interval).
            self._scheduler.add_job(
                issues.enqueue_poll,
                "interval",
                seconds=settings.tracker_poll_interval,
                id="tracker-poll",
            )
            self._scheduler.add_job(issues.enqueue_poll, id="tracker-poll-at-start")
        self._scheduler.start()
        scheduler = self._scheduler
        self.readiness.scheduler_running = lambda: bool(scheduler.running)
        if settings.metrics_port is not None:
            await self.observability.start(
                settings.metrics_host,
                settings.metrics_port,
                routes=self._tracker_routes(issues) if settings.socket_mode else (),
            )
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            self._socket = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
            # Socket Mode's WebSocket: the Web API client's certificates, and the proxy for
            # Slack's hosts (slack_sdk would read HTTPS_PROXY itself, but not NO_PROXY).
            self._socket.client.proxy = proxy_for(SOCKET_MODE_URL)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            socket_client = self._socket.client
            self.readiness.socket_connected = socket_client.is_connected
            log.info("connected to Slack in Socket Mode as %s", workspace.bot_user_id)
        else:
            assert settings.slack_signing_secret is not None
            web_app = app.server(path=SLACK_PATH, port=settings.port).web_app
            for path, handler in self._tracker_routes(issues):
                web_app.router.add_post(path, handler)
            web_app.middlewares.append(
                slack_guard(
                    settings.slack_signing_secret.get_secret_value(),
                    SLACK_PATH,
                    ReplayRepository(self.db),
                )
            )
            self._runner = web.AppRunner(web_app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, settings.host, settings.port)
            await site.start()
            server: Any = site._server  # the bound port, when PORT=0 asked for a free one
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else settings.port
            log.info("listening for Slack on http://%s:%s/slack/events", settings.host, self.port)

    def _tracker_routes(self, issues: IssueDesk) -> list[tuple[str, Handler]]:
        """The tracker's webhook route, where an HTTP port is served (none without a tracker)."""
        if issues.tracker is None:
            return []

        async def webhook(request: web.Request) -> web.Response:
            name = request.match_info.get("name", "")
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                log.warning("rejected a %s webhook: the body is over aiohttp's 1 MB", name)
                return web.json_response({"ok": False, "error": "too large"}, status=413)
            try:
                status, text = await issues.webhook(name, request.headers, body)
            except Exception:
                # The tracker sends it again after a failure: nothing is lost.
                log.exception("handling a %s webhook failed; answering 503", name)
                return web.json_response({"ok": False, "error": "unavailable"}, status=503)
            return web.json_response({"ok": status == 200, "result": text}, status=status)

        return [(TRACKER_WEBHOOK_PATH, webhook)]

    def _observe_job(self, kind: str, seconds: float) -> None:
        if self.observability is not None:
            self.observability.observe_job(kind, seconds)

    async def _check_slack(self, client: AsyncWebClient) -> None:
        try:
            await client.auth_test()
        except SlackApiError as exc:
            self.readiness.slack_error = slack_error(exc)
            return
        except (TimeoutError, OSError) as exc:
            self.readiness.slack_error = f"unreachable: {type(exc).__name__}"
            return
        self.readiness.slack_ok_at = time.time()
        self.readiness.slack_error = None

    async def stop(self) -> None:
        if self.observability is not None:
            await self.observability.stop()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self.services is not None:
            await self.services.worker.stop(grace_seconds=self.settings.shutdown_grace_seconds)
        if self.model is not None:
            await self.model.close()
        if self.issues is not None:
            await self.issues.close()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._connectors is not None:
            await self._connectors.close()
        if self.services is not None:
            await self.services.knowledge.retriever.close()
        if self.db is not None:
            await self.db.close()

    async def run_forever(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            await self.stop()
