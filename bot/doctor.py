"""``support-bot doctor``: checks configuration, the database, Slack and the LLM, and says
precisely what is wrong with each."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.config import Settings, problems_for_start
from bot.database import database_for
from bot.health import Check, llm_health
from bot.live_config import LiveConfig, defaults
from bot.runtime import StartupError, identify, slack_client
from bot.slack_text import slack_error
from persistence.config import ConfigRepository
from persistence.db import DatabaseConfigError, DatabaseUnavailableError
from persistence.migrations import MIGRATIONS


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    problems = problems_for_start(settings)
    checks.append(
        Check("configuration", not problems, "; ".join(problems) or "everything needed is set")
    )
    checks.append(await _database(settings))
    if settings.slack_bot_token is not None:
        checks += await _slack(settings, await _channels_in_force(settings))
    else:
        checks.append(Check("slack", False, "skipped: SLACK_BOT_TOKEN is not set"))
    checks.append(await llm_health(settings))
    return checks


async def _channels_in_force(settings: Settings) -> list[str]:
    """Support and escalation channels as configured now: the environment, overlaid with what
    admins set in Slack when the database has it."""
    snapshot = defaults(settings)
    try:
        db = database_for(settings)
        await db.open(migrate=False)
    except (DatabaseConfigError, DatabaseUnavailableError):
        db = None
    if db is not None:
        try:
            if "0004_admin_config" in await db.applied_migrations():
                snapshot = await LiveConfig(settings, ConfigRepository(db)).load()
        except Exception:  # no schema yet: the database check says so; use the environment
            pass
        finally:
            await db.close()
    wanted = sorted(snapshot.watched)
    if snapshot.escalation_channel:
        wanted.append(snapshot.escalation_channel)
    return wanted


async def _database(settings: Settings) -> Check:
    try:
        db = database_for(settings)
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
    missing = [name for name, _ in MIGRATIONS if name not in applied]
    if missing:
        return Check(
            "database",
            False,
            f"{db.path} lacks {len(missing)} migration(s) ({missing[0]}...): run"
            " `support-bot migrate` (the bot also migrates when it starts)",
        )
    return Check("database", True, f"{db.path} ({db.dialect}), {len(applied)} migration(s) applied")


async def _slack(settings: Settings, wanted: list[str]) -> list[Check]:
    try:
        client = slack_client(settings)
        workspace = await identify(client)
    except StartupError as exc:
        return [Check("slack", False, str(exc))]
    checks = [
        Check("slack", True, f"authenticated as <@{workspace.bot_user_id}> in {workspace.url}")
    ]
    for channel in wanted:
        try:
            info = await client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = slack_error(exc)
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
