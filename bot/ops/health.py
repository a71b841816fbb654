"""Health checks shared by ``support-bot doctor`` and ``/support status``."""

from __future__ import annotations

from dataclasses import dataclass

import openai
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.llm.model import is_azure, openai_client
from bot.settings.environment import Settings
from bot.settings.logs import safe_url
from bot.slack.text import slack_error
from persistence.db import Database


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"[{'ok' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


async def slack_health(client: AsyncWebClient) -> Check:
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        return Check("slack", False, f"auth.test failed: {slack_error(exc)}")
    except (TimeoutError, OSError) as exc:
        return Check("slack", False, f"cannot reach Slack: {type(exc).__name__}")
    return Check("slack", True, f"connected as <@{auth.get('user_id')}>")


async def database_health(db: Database) -> Check:
    try:
        row = await db.fetchone("SELECT COUNT(*) AS n FROM schema_migrations")
    except Exception as exc:  # any failure is the answer here
        return Check("database", False, f"{type(exc).__name__}: {exc}")
    return Check("database", True, f"{row['n'] if row else 0} migrations applied")


async def llm_health(settings: Settings) -> Check:
    if settings.openai_api_key is None:
        return Check(
            "llm", True, "OPENAI_API_KEY is not set: offline mode, every draft goes to review"
        )
    if is_azure(settings) and not settings.openai_base_url:
        return Check("llm", False, "OPENAI_API_VERSION is set (Azure) but OPENAI_BASE_URL is not")
    client = openai_client(settings, timeout=min(settings.llm_timeout, 15.0), max_retries=0)
    # Shown in /support status and doctor output: never the credentials a URL may carry.
    where = safe_url(settings.openai_base_url) if settings.openai_base_url else "api.openai.com"
    try:
        models = await client.models.list()
        names = [m.id for m in models.data]
    except openai.AuthenticationError:
        return Check("llm", False, f"{where} refused OPENAI_API_KEY (401)")
    except openai.APIStatusError as exc:
        return Check("llm", False, f"{where} answered HTTP {exc.status_code} to GET /models")
    except openai.APIConnectionError:
        return Check("llm", False, f"cannot reach {where}; check OPENAI_BASE_URL")
    finally:
        await client.close()
    # Azure lists models, not deployments: SUPPORT_BOT_MODEL names a deployment there.
    if names and not is_azure(settings) and settings.support_bot_model not in names:
        return Check(
            "llm",
            False,
            f"{where} does not offer SUPPORT_BOT_MODEL={settings.support_bot_model}"
            f" (it offers {', '.join(names[:8])})",
        )
    return Check("llm", True, f"{where} reachable, model {settings.support_bot_model}")
