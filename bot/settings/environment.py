"""Configuration: one settings class read from the environment and ``.env``, validated at start.

Environment names are the public contract (docs/configuration.md). Nothing else reads
``os.environ``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.settings.categories import CATEGORIES
from bot.settings.durations import FORMS, parse_duration
from bot.settings.hours import Hours, parse_hours

DEFAULT_MODEL = "gpt-5.4-mini"
SLACK_API_DEFAULT = "https://slack.com/api/"
LINEAR_API_DEFAULT = "https://api.linear.app/graphql"
GITHUB_API_DEFAULT = "https://api.github.com"
# Azure OpenAI: an OPENAI_BASE_URL on these hosts (or OPENAI_API_VERSION set) means Azure's
# client, api-key and ?api-version=; this version unless OPENAI_API_VERSION says otherwise.
AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")
DEFAULT_AZURE_API_VERSION = "2024-10-21"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,\s]+", value) if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (tests)
    host: str = "0.0.0.0"  # HTTP mode's /slack/events (Slack must reach it); not /metrics
    slack_api_url: str = SLACK_API_DEFAULT

    database_url: str = "sqlite:///support-bot.db"
    # How long a write waits for another process's lock on the database before giving up.
    database_busy_timeout: float = Field(default=5.0, gt=0, le=600)
    # PostgreSQL: connections each replica keeps (the server's max_connections must cover all
    # replicas' pools, plus two urgent connections each).
    database_pool_size: int = Field(default=10, ge=2, le=200)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    # Azure OpenAI's api-version; set: OPENAI_BASE_URL is an Azure endpoint and
    # SUPPORT_BOT_MODEL the deployment's name.
    openai_api_version: str | None = None
    support_bot_model: str = DEFAULT_MODEL
    # Dense retrieval: an embeddings model of the endpoint, or "local" for all-MiniLM-L6-v2.
    support_bot_embedding_model: str | None = None
    # "Nothing relevant at all" below this retrieval confidence; unset: the floor for the mode.
    kb_fit_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_parse_retries: int = Field(default=2, ge=0, le=5)
    llm_concurrency: int = Field(default=16, ge=1, le=256)
    # The model reads images (screenshots go to it as image input); false for a text-only model.
    llm_vision: bool = True
    # USD per million tokens, for the cost estimates of `stats` (unset: no estimate).
    llm_price_input: float | None = Field(default=None, ge=0)
    llm_price_output: float | None = Field(default=None, ge=0)

    support_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    escalation_channel: str | None = None
    support_reviewers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    support_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    auto_answer_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    # Categories answered without review (when confident and grounded); empty: none at all.
    auto_answer_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["simple_faq"]
    )
    # Hosts an automatic answer may link to besides those its cited passages mention.
    answer_link_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Humans in the loop. Durations accept 45s, 30m, 2h, 1d or plain seconds.
    review_reminder: float = 30 * 60  # first nudge on a card nobody acted on; then backing off
    review_reminders_max: int = Field(default=5, ge=0, le=20)
    review_timeout: float = 24 * 3600  # the customer hears "still on it" once after this
    still_on_it_message: str = (
        "Sorry for the wait! The team is still on your question and will reply in this thread."
    )
    review_max_redrafts: int = Field(default=3, ge=0, le=10)
    # When the team answers, e.g. "Mon-Fri 09:00-17:00 Europe/Berlin"; unset: always.
    support_hours: Hours | None = None
    auto_close_after: float = 7 * 86400  # idle on the customer's side this long: resolved

    # Files customers attach (bot/tickets/attachments.py): how many of a message are read, the
    # largest of each kind downloaded, and how much of a text file or PDF the model is shown.
    files_per_message: int = Field(default=5, ge=0, le=20)
    files_image_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    files_text_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    files_pdf_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    files_text_chars: int = Field(default=6000, ge=200, le=100_000)
    files_pdf_pages: int = Field(default=20, ge=1, le=500)

    job_lease_seconds: float = Field(default=120.0, gt=0)
    # On SIGTERM, how long running jobs may finish; the rest are released for the next start.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    job_max_attempts: int = Field(default=8, ge=1)
    job_retry_base_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # The daily digest goes to the escalation channel after this hour (support-hours time
    # zone, UTC without hours); unset: no digest.
    digest_hour: int | None = Field(default=9, ge=0, le=23)
    # /healthz and Prometheus /metrics on this port (both modes); unset: not served. 0: any.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # The interface /healthz and /metrics listen on: this machine only unless told otherwise
    # (0.0.0.0 in a container whose port a scraper or orchestrator reaches). HOST is Slack's.
    metrics_host: str = "127.0.0.1"
    # Scrub e-mail addresses, phone and card numbers from logs (tokens are always scrubbed).
    log_redact_pii: bool = True
    # Purge message text from tickets resolved this many days ago (numbers are kept); unset:
    # keep everything.
    retention_days: int | None = Field(default=None, ge=1)
    # A PEM file of certificate authorities trusted on top of the system's (a TLS-inspecting
    # proxy's CA); applies to every outbound connection (bot/settings/network.py).
    support_bot_ca_bundle: str | None = None

    # Issue trackers: "Create issue" on review cards files the ticket in exactly one of them
    # (ISSUE_TRACKER names it; unset: no button). Tokens are read from these variables only.
    issue_tracker: Literal["linear", "jira", "github"] | None = None
    linear_api_key: SecretStr | None = None
    linear_team_id: str | None = None
    linear_api_url: str = LINEAR_API_DEFAULT
    jira_url: str | None = None  # the site, https://acme.atlassian.net
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_project_key: str | None = None
    jira_issue_type: str = "Task"
    github_token: SecretStr | None = None
    github_repo: str | None = None  # owner/name
    github_api_url: str = GITHUB_API_DEFAULT
    # The signing secret of the tracker's webhook (/trackers/NAME on PORT, in HTTP mode); unset,
    # or in Socket Mode: the bot asks the tracker every TRACKER_POLL_INTERVAL instead.
    tracker_webhook_secret: SecretStr | None = None
    tracker_poll_interval: float = 5 * 60

    @field_validator(
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "openai_api_key",
        "openai_api_version",
        "support_bot_ca_bundle",
        "linear_api_key",
        "linear_team_id",
        "jira_url",
        "jira_email",
        "jira_api_token",
        "jira_project_key",
        "github_token",
        "github_repo",
        "tracker_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `SLACK_SIGNING_SECRET=` in a .env must not mean "verify signatures with an empty key".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("issue_tracker", mode="before")
    @classmethod
    def _one_tracker(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        names = [n.lower() for n in re.split(r"[,\s]+", value) if n]
        if not names:
            return None
        if len(names) > 1:
            raise ValueError(
                f"name exactly one issue tracker (linear, jira or github), not {value.strip()!r}:"
                " the bot files each ticket's issue in one place"
            )
        return names[0]

    @field_validator("linear_api_url", "jira_url", "github_api_url")
    @classmethod
    def _tracker_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"an http(s) URL, such as https://acme.atlassian.net (got {value!r})")
        return value.rstrip("/") if value else value

    @field_validator("github_repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
            raise ValueError(f"a repository is owner/name, such as acme/support (got {value!r})")
        return value

    @field_validator("tracker_poll_interval", mode="before")
    @classmethod
    def _poll_interval(cls, value: object) -> float:
        if not isinstance(value, str | int | float):
            raise ValueError(f"a duration is {FORMS}")
        seconds = parse_duration(value)
        if seconds < 1:
            raise ValueError("poll at most once a second (e.g. 5m)")
        return seconds

    @field_validator("review_reminder", "review_timeout", "auto_close_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        if not isinstance(value, str | int | float):
            raise ValueError(f"a duration is {FORMS}")
        return parse_duration(value)

    @field_validator("digest_hour", "metrics_port", "retention_days", mode="before")
    @classmethod
    def _blank_number_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("metrics_host", mode="before")
    @classmethod
    def _blank_host_is_local(cls, value: object) -> object:
        return "127.0.0.1" if isinstance(value, str) and not value.strip() else value

    @field_validator("support_hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_hours(value)
        return value

    @field_validator("support_channels", "support_reviewers", "support_admins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("answer_link_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        hosts = _split_ids(value)
        if not isinstance(hosts, list):
            return hosts
        cleaned = [str(h).strip().lower().removeprefix("https://").split("/")[0] for h in hosts]
        bad = [h for h in cleaned if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", h)]
        if bad:
            raise ValueError(f"not host names: {', '.join(bad)} (e.g. help.example.com)")
        return cleaned

    @field_validator("auto_answer_categories", mode="before")
    @classmethod
    def _categories(cls, value: object) -> object:
        names = _split_ids(value)
        if not isinstance(names, list):
            return names
        bad = [str(n) for n in names if str(n).lower() not in CATEGORIES]
        if bad:
            raise ValueError(
                f"unknown categories {', '.join(bad)}: use any of {', '.join(CATEGORIES)},"
                " comma-separated (empty: nothing is answered automatically)"
            )
        return list(dict.fromkeys(str(n).lower() for n in names))

    @field_validator("support_channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _CHANNEL_ID.match(v)]
        if bad:
            raise ValueError(
                f"channel ids look like C0123ABCD (got {', '.join(bad)}); in Slack, open the"
                " channel details and copy the Channel ID at the bottom"
            )
        return value

    @field_validator("escalation_channel")
    @classmethod
    def _escalation_channel(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not _CHANNEL_ID.match(value.strip()):
            raise ValueError(f"a channel id looks like C0123ABCD (got {value!r})")
        return value.strip() if value else None

    @field_validator("support_reviewers", "support_admins")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _USER_ID.match(v)]
        if bad:
            raise ValueError(
                f"user ids look like U0123ABCD (got {', '.join(bad)}); in Slack, open the"
                " person's profile, ⋮ menu, Copy member ID"
            )
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None


# What each setting is and where a user finds it: printed when start-up finds one missing.
WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": "api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token"
    " (starts with xoxb-)",
    "SLACK_APP_TOKEN": "api.slack.com/apps → your app → Basic Information → App-Level Tokens,"
    " with the connections:write scope (starts with xapp-); leave unset to run in HTTP mode",
    "SLACK_SIGNING_SECRET": "api.slack.com/apps → your app → Basic Information → Signing Secret"
    " (needed in HTTP mode, when SLACK_APP_TOKEN is not set)",
    "SUPPORT_CHANNELS": "comma-separated channel ids the bot answers in (channel details →"
    " Channel ID); invite the bot to each with /invite @Support Bot",
    "ESCALATION_CHANNEL": "the channel id where review cards go; invite the bot there too",
}


class ConfigError(Exception):
    """Start-up configuration is missing or invalid; the message says what to set."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = ["The configuration is invalid:"]
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def problems_for_start(settings: Settings) -> list[str]:
    """What must be set before the bot can serve Slack, each with where to find it."""
    missing: list[str] = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN")
    elif not settings.slack_bot_token.get_secret_value().startswith("xoxb-"):
        return ["SLACK_BOT_TOKEN must be a bot token starting with xoxb-"]
    if (
        settings.slack_app_token is not None
        and not settings.slack_app_token.get_secret_value().startswith("xapp-")
    ):
        return ["SLACK_APP_TOKEN must be an app-level token starting with xapp-"]
    if not settings.socket_mode and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET")
    if not settings.support_channels:
        missing.append("SUPPORT_CHANNELS")
    if settings.escalation_channel is None:
        missing.append("ESCALATION_CHANNEL")
    problems = [f"{name} is not set: {WHERE_TO_GET[name]}" for name in missing]
    if settings.openai_api_version and not settings.openai_base_url:
        problems.append(
            "OPENAI_API_VERSION is set (Azure OpenAI) but OPENAI_BASE_URL is not: set it to"
            " your resource's endpoint, https://RESOURCE.openai.azure.com"
        )
    problems += tracker_problems(settings)
    bundle = settings.support_bot_ca_bundle
    if bundle and not Path(bundle).is_file():
        problems.append(f"SUPPORT_BOT_CA_BUNDLE names {bundle}, which is not a readable file")
    if settings.escalation_channel and settings.escalation_channel in settings.support_channels:
        problems.append(
            "ESCALATION_CHANNEL must not be one of SUPPORT_CHANNELS: review cards and drafts"
            " would be visible to customers"
        )
    return problems


def secret_named(name: str) -> str | None:
    """The value of the environment variable ``name`` (or of ``.env``), for a secret a stored
    setting names rather than holds (a knowledge source's API token). None when unset."""
    value = os.environ.get(name)
    if value is None and Path(".env").is_file():
        value = dotenv_values(".env").get(name)
    return value or None


# What each tracker needs besides ISSUE_TRACKER, and where a user finds it.
TRACKER_NEEDS = {
    "linear": {
        "LINEAR_API_KEY": "Linear → Settings → Security & access → Personal API keys",
        "LINEAR_TEAM_ID": "the team's id (Linear → Settings → Teams → the team; or the API's"
        " `teams` query)",
    },
    "jira": {
        "JIRA_URL": "your site, https://YOURSITE.atlassian.net",
        "JIRA_EMAIL": "the Atlassian account's e-mail the API token belongs to",
        "JIRA_API_TOKEN": "id.atlassian.com → Security → API tokens",
        "JIRA_PROJECT_KEY": "the project's key, the letters before an issue's number (SUP-12)",
    },
    "github": {
        "GITHUB_TOKEN": "a fine-grained token with Issues: read and write on the repository",
        "GITHUB_REPO": "the repository issues go to, owner/name",
    },
}


def tracker_problems(settings: Settings) -> list[str]:
    """What the configured issue tracker still lacks, each with where to find it."""
    tracker = settings.issue_tracker
    if tracker is None:
        return []
    problems: list[str] = []
    for name, where in TRACKER_NEEDS[tracker].items():
        if getattr(settings, name.lower()) is None:
            problems.append(f"ISSUE_TRACKER is {tracker} but {name} is not set: {where}")
    return problems
