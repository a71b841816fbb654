"""The bot token's OAuth scopes: the ones ``manifest.yml`` asks for (a test checks they agree),
and what each is for, so ``support-bot doctor`` can say what a token without one cannot do."""

from __future__ import annotations

from collections.abc import Mapping

BOT_SCOPES: dict[str, str] = {
    "chat:write": "posting answers, holding replies, review cards and private notices",
    "channels:history": "reading messages in public channels",
    "groups:history": "reading messages in private channels",
    "channels:read": "checking the bot is in each public channel",
    "groups:read": "checking the bot is in each private channel",
    "commands": "the /support command",
    "users:read": "telling workspace admins and guests apart",
    "usergroups:read": "reviewer user groups",
    "team:read": "leaving a Slack Connect customer's workspace out of saved articles",
    "reactions:read": "reactions as commands (:ticket:, :eyes:, :white_check_mark:)",
    "files:read": "reading the screenshots, logs and PDFs customers attach",
}


def granted_scopes(headers: Mapping[str, object]) -> frozenset[str] | None:
    """The scopes Slack says a token has (its ``X-OAuth-Scopes`` response header), or None
    when the answer does not say."""
    for key, value in headers.items():
        if str(key).lower() == "x-oauth-scopes":
            text = ",".join(value) if isinstance(value, list) else str(value)
            return frozenset(s.strip() for s in text.split(",") if s.strip())
    return None


def missing_scopes(granted: frozenset[str]) -> list[str]:
    """The scopes the bot needs that ``granted`` lacks, in the manifest's order."""
    return [scope for scope in BOT_SCOPES if scope not in granted]
