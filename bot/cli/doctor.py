"""``support-bot doctor``: checks configuration, the database, Slack and the LLM, and says
precisely what is wrong with each."""

from __future__ import annotations

import re
import ssl

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.llm.language import LANGUAGES, Detector
from bot.llm.model import model_url
from bot.ops.health import Check, llm_health
from bot.review.trackers import TrackerError, tracker_from_settings
from bot.runtime.runtime import SOCKET_MODE_URL, StartupError, identify, slack_client
from bot.settings.durations import format_duration
from bot.settings.environment import Settings, problems_for_start, tracker_problems
from bot.settings.live import ConfigSnapshot, LiveConfig, defaults
from bot.settings.network import proxy_for, shown, tls_context
from bot.slack.blocks.locales import STRINGS
from bot.slack.channel_safety import customer_channel_problem, shared_problem
from bot.slack.people import Profile, Workspace
from bot.slack.scopes import BOT_SCOPES, granted_scopes, missing_scopes
from bot.slack.text import slack_error
from persistence.config import ConfigRepository
from persistence.connect import database_for
from persistence.db import DatabaseConfigError, DatabaseUnavailableError
from persistence.migrations import MIGRATIONS


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    problems = problems_for_start(settings)
    checks.append(
        Check("configuration", not problems, "; ".join(problems) or "everything needed is set")
    )
    checks.append(_network(settings))
    checks.append(await _database(settings))
    if settings.slack_bot_token is not None:
        checks += await _slack(settings, await _config_in_force(settings))
    else:
        checks.append(Check("slack", False, "skipped: SLACK_BOT_TOKEN is not set"))
    checks.append(await llm_health(settings))
    if settings.issue_tracker is not None:
        checks.append(await _tracker(settings))
    checks.append(await _languages(settings))
    return checks


async def _tracker(settings: Settings) -> Check:
    """The issue tracker's token works (a cheap authenticated call), and how closes arrive."""
    problems = tracker_problems(settings)
    if problems:
        return Check("issue tracker", False, "; ".join(problems))
    tracker = tracker_from_settings(settings)
    assert tracker is not None
    try:
        works = await tracker.check()
    except TrackerError as exc:
        return Check("issue tracker", False, f"{tracker.label}: {exc.reason}")
    finally:
        await tracker.close()
    if settings.socket_mode or settings.tracker_webhook_secret is None:
        why = "Socket Mode" if settings.socket_mode else "TRACKER_WEBHOOK_SECRET is not set"
        closes = (
            f"closed issues are found by asking {tracker.label} every"
            f" {format_duration(settings.tracker_poll_interval)} ({why})"
        )
    else:
        closes = f"closed issues arrive by webhook at /trackers/{tracker.name} on PORT"
    return Check("issue tracker", True, f"{tracker.label}: {works}; {closes}")


async def _languages(settings: Settings) -> Check:
    """Language detection loads and reads a German sentence (``bot/llm/language.py``)."""
    try:
        found = await Detector().detect_async("Wie exportiere ich einen Bericht als CSV-Datei?")
    except Exception as exc:  # a missing or broken pycld2 wheel
        return Check("languages", False, f"language detection does not load: {exc}")
    if found != "de":
        return Check("languages", False, f"language detection read German as {found!r}")
    others = (
        "translated by the model once"
        if settings.llm_enabled
        else "English (no LLM to translate them)"
    )
    return Check(
        "languages",
        True,
        f"detection works ({len(LANGUAGES)} languages); the bot's own texts in"
        f" {', '.join(sorted(STRINGS))}; for other languages {others}",
    )


def _network(settings: Settings) -> Check:
    """How each outbound connection leaves the machine: its proxy, and the certificates."""
    routes = [
        ("Slack API", settings.slack_api_url),
        ("Socket Mode" if settings.socket_mode else None, SOCKET_MODE_URL),
        ("model" if settings.openai_api_key is not None else None, model_url(settings)),
        ("issue tracker" if settings.issue_tracker else None, _tracker_url(settings)),
    ]
    parts = [f"{name} {shown(proxy_for(url))}" for name, url in routes if name is not None]
    bundle = settings.support_bot_ca_bundle
    try:
        tls_context(bundle)
    except (OSError, ssl.SSLError) as exc:
        return Check("network", False, f"SUPPORT_BOT_CA_BUNDLE={bundle} cannot be read: {exc}")
    parts.append(
        f"certificates: the system's and {bundle}" if bundle else "certificates: the system's"
    )
    return Check("network", True, "; ".join(parts))


def _tracker_url(settings: Settings) -> str:
    return {
        "linear": settings.linear_api_url,
        "jira": settings.jira_url or "",
        "github": settings.github_api_url,
    }.get(settings.issue_tracker or "", "")


async def _config_in_force(settings: Settings) -> ConfigSnapshot:
    """The configuration in force now: the environment, overlaid with what admins set in Slack
    when the database has it."""
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
    return snapshot


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


async def _slack(settings: Settings, snapshot: ConfigSnapshot) -> list[Check]:
    wanted = sorted(snapshot.watched)
    if snapshot.escalation_channel:
        wanted.append(snapshot.escalation_channel)
    try:
        client = slack_client(settings)
        workspace = await identify(client)
    except StartupError as exc:
        return [Check("slack", False, str(exc))]
    checks = [
        Check("slack", True, f"authenticated as <@{workspace.bot_user_id}> in {workspace.url}"),
        await _scopes(client),
    ]
    for channel in wanted:
        try:
            info = await client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = slack_error(exc)
            checks.append(Check(f"channel {channel}", False, f"Slack says {error}"))
            continue
        data = info.get("channel") or {}
        # Review cards only where outsiders and customers cannot read them (bot/channel_safety).
        unsafe = (
            customer_channel_problem(channel, snapshot.channels) or shared_problem(channel, data)
            if channel == snapshot.escalation_channel
            else None
        )
        if unsafe is not None:
            checks.append(
                Check(
                    f"channel {channel}",
                    False,
                    f"review cards go to #{data.get('name', channel)}, but {_plain(unsafe)}"
                    " Move them with `/support escalation #channel` or ESCALATION_CHANNEL.",
                )
            )
        elif not data.get("is_member"):
            checks.append(
                Check(
                    f"channel {channel}",
                    False,
                    f"the bot is not a member of #{data.get('name', channel)}: /invite it there",
                )
            )
        else:
            checks.append(Check(f"channel {channel}", True, f"#{data.get('name', channel)}"))
    if snapshot.escalation_channel:
        checks.append(await _lookup(client, snapshot.escalation_channel, workspace))
    checks.append(await _files(client, settings))
    return checks + await _listed_guests(client, snapshot)


async def _scopes(client: AsyncWebClient) -> Check:
    """The token's scopes (Slack lists them in a response header) against what the bot uses."""
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return Check("scopes", False, f"auth.test says {slack_error(exc)}")
    granted = granted_scopes(response.headers or {})
    if granted is None:
        return Check("scopes", True, "could not tell: Slack did not list the token's scopes")
    missing = missing_scopes(granted)
    if missing:
        needs = "; ".join(f"{scope} ({BOT_SCOPES[scope]})" for scope in missing)
        return Check(
            "scopes",
            False,
            f"the bot token lacks {needs}: add them from manifest.yml (OAuth & Permissions)"
            " and reinstall the app",
        )
    return Check("scopes", True, f"the token has all {len(BOT_SCOPES)} scopes the bot uses")


# No file has this id: files.info answers file_not_found with the scope, missing_scope without.
NO_SUCH_FILE = "F00000000000"


async def _files(client: AsyncWebClient, settings: Settings) -> Check:
    """Whether the bot may read the files customers attach (files:read), and what it does
    with them as configured."""
    try:
        await client.files_info(file=NO_SUCH_FILE)
    except SlackApiError as exc:
        error = slack_error(exc)
        if error == "missing_scope":
            return Check(
                "files",
                False,
                "the bot lacks the files:read scope: screenshots, logs and PDFs customers attach"
                " are listed on cards but not read. Add it (manifest.yml) and reinstall the app",
            )
        if error not in ("file_not_found", "file_deleted"):
            return Check("files", False, f"files.info says {error}")
    if not settings.llm_enabled:
        use = "no model is configured, so cards list attached files unread"
    elif settings.llm_vision:
        use = "screenshots go to the model as images (LLM_VISION), logs and PDFs as text"
    else:
        use = "logs and PDFs go to the model as text; screenshots are not (LLM_VISION=false)"
    return Check("files", True, f"files:read granted; {use}")


LOOKUP = "already-posted look-up"
# usergroups.users.list on Slack's Free plan.
PAID_PLAN_ONLY = "plan_upgrade_required"


async def _lookup(client: AsyncWebClient, channel: str, workspace: Workspace) -> Check:
    """Try once what a delivery interrupted by a crash does (``SlackOutbox._find_posted``):
    read a recent thread of the escalation channel with its message metadata. Two calls of
    methods limited to one a minute for apps outside the Marketplace, so only here."""
    fallback = (
        " A delivery interrupted by a crash is then not posted again blindly: its card, or a"
        " message in the escalation channel, asks a reviewer to check and press Try again."
    )
    try:
        history = await client.conversations_history(
            channel=channel, limit=15, include_all_metadata=True
        )
    except SlackApiError as exc:
        return Check(LOOKUP, False, f"conversations.history says {slack_error(exc)}." + fallback)
    messages = [m for m in history.get("messages") or [] if isinstance(m.get("ts"), str)]
    if not messages:
        return Check(
            LOOKUP, True, f"could not test: no message in {channel} yet (run doctor again later)"
        )
    try:
        await client.conversations_replies(
            channel=channel, ts=messages[0]["ts"], limit=1, include_all_metadata=True
        )
    except SlackApiError as exc:
        return Check(LOOKUP, False, f"conversations.replies says {slack_error(exc)}." + fallback)
    own = [m for m in messages if _own(m, workspace)]
    if not own:
        metadata = "metadata not checked (none of the recent messages is the bot's)"
    elif any("metadata" in m for m in own):
        metadata = "message metadata is returned"
    else:
        metadata = (
            "message metadata is NOT returned (add the metadata.message:read scope); the bot"
            " matches its own message by text instead"
        )
    return Check(LOOKUP, True, f"conversations.history and .replies work; {metadata}")


def _own(message: dict[str, object], workspace: Workspace) -> bool:
    return bool(
        (workspace.bot_id and message.get("bot_id") == workspace.bot_id)
        or (workspace.bot_user_id and message.get("user") == workspace.bot_user_id)
    )


def _plain(problem: str) -> str:
    """A sentence of bot/channel_safety for the terminal: no Slack markup."""
    return re.sub(r"<#([A-Z0-9]+)>", r"\1", problem).replace("`", "")


async def _listed_guests(client: AsyncWebClient, snapshot: ConfigSnapshot) -> list[Check]:
    """A line for each listed reviewer (or reviewer group member) and admin who is a workspace
    guest: the bot refuses them whatever the list says, and the list should say so too."""
    listed: dict[str, set[str]] = {}
    for user in snapshot.reviewers:
        listed.setdefault(user, set()).add("SUPPORT_REVIEWERS")
    for user in snapshot.admins:
        listed.setdefault(user, set()).add("SUPPORT_ADMINS")
    for group in sorted(snapshot.reviewer_groups):
        try:
            response = await client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            error = slack_error(exc)
            detail = f"cannot read its members: Slack says {error}"
            if error == PAID_PLAN_ONLY:
                detail += (
                    " (user groups need a paid Slack plan: list the reviewers by name with"
                    " `/support reviewers add @someone`, or leave the list empty so the"
                    " escalation channel's members review)"
                )
            return [Check(f"reviewer group {group}", False, detail)]
        for user in response.get("users") or []:
            listed.setdefault(str(user), set()).add(f"reviewer group {group}")
    checks: list[Check] = []
    guests = 0
    for user in sorted(listed):
        try:
            response = await client.users_info(user=user)
        except SlackApiError as exc:
            checks.append(Check(f"user {user}", False, f"users.info: {slack_error(exc)}"))
            continue
        info = response.get("user")
        if isinstance(info, dict) and Profile.from_user(user, info).guest:
            guests += 1
            where = " and ".join(sorted(listed[user]))
            checks.append(
                Check(
                    f"guest {user}",
                    False,
                    f"<@{user}> is a workspace guest listed in {where}: guests are never"
                    " reviewers, staff or admins, so the bot refuses them; remove them from"
                    " the list (`/support reviewers remove` / `/support admins remove`)",
                )
            )
    if listed and not guests and not checks:
        checks.append(Check("staff lists", True, f"{len(listed)} listed, no workspace guests"))
    return checks
