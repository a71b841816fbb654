"""``support-bot doctor``: checks configuration, the database, Slack and the LLM, and says
precisely what is wrong with each."""

from __future__ import annotations

from dataclasses import dataclass

import openai
from openai import AsyncOpenAI
from slack_sdk.errors import SlackApiError

from bot.config import Settings, problems_for_start
from bot.runtime import StartupError, identify, slack_client
from persistence.db import Database, DatabaseConfigError, DatabaseUnavailableError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"[{'ok' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    problems = problems_for_start(settings)
    checks.append(
        Check("configuration", not problems, "; ".join(problems) or "everything needed is set")
    )
    checks.append(await _database(settings))
    if settings.slack_bot_token is not None:
        checks += await _slack(settings)
    else:
        checks.append(Check("slack", False, "skipped: SLACK_BOT_TOKEN is not set"))
    checks.append(await _llm(settings))
    return checks


async def _database(settings: Settings) -> Check:
    try:
        db = Database.from_url(settings.database_url)
        await db.open(migrate=False)
    except (DatabaseConfigError, DatabaseUnavailableError) as exc:
        return Check("database", False, str(exc))
    try:
        applied = await db.applied_migrations()
    except Exception:
        applied = []
    finally:
        await db.close()
    if not applied:
        return Check("database", False, f"{db.path} has no schema yet: run `support-bot migrate`")
    return Check("database", True, f"{db.path}, {len(applied)} migration(s) applied")


async def _slack(settings: Settings) -> list[Check]:
    try:
        client = slack_client(settings)
        workspace = await identify(client)
    except StartupError as exc:
        return [Check("slack", False, str(exc))]
    checks = [
        Check("slack", True, f"authenticated as <@{workspace.bot_user_id}> in {workspace.url}")
    ]
    wanted = [*settings.support_channels]
    if settings.escalation_channel:
        wanted.append(settings.escalation_channel)
    for channel in wanted:
        try:
            info = await client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error")
            checks.append(Check(f"channel {channel}", False, f"Slack says {error}"))
            continue
        data = info.get("channel") or {}
        if not data.get("is_member"):
            checks.append(
                Check(
                    f"channel {channel}",
                    False,
                    f"the bot is not a member of #{data.get('name', channel)}: /invite it there",
                )
            )
        else:
            checks.append(Check(f"channel {channel}", True, f"#{data.get('name', channel)}"))
    return checks


async def _llm(settings: Settings) -> Check:
    if settings.openai_api_key is None:
        return Check(
            "llm", True, "OPENAI_API_KEY is not set: offline mode, every draft goes to review"
        )
    client = AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=min(settings.llm_timeout, 15.0),
        max_retries=0,
    )
    where = settings.openai_base_url or "api.openai.com"
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
    if names and settings.support_bot_model not in names:
        return Check(
            "llm",
            False,
            f"{where} does not offer SUPPORT_BOT_MODEL={settings.support_bot_model}"
            f" (it offers {', '.join(names[:8])})",
        )
    return Check("llm", True, f"{where} reachable, model {settings.support_bot_model}")
