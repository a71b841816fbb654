"""Who is who: the installing workspace, customers versus staff, reviewers and admins.

Reviewers and admins come from the live configuration (environment defaults, changed with
``/support reviewers`` and ``/support admins``); reviewers may also be Slack user groups, whose
members are looked up with ``usergroups.users.list``. The workspace's own admins and owners
(``users.info``) are bot admins too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.live_config import LiveConfig
from bot.slack_text import slack_error

log = logging.getLogger(__name__)

AuthorRole = Literal["customer", "staff"]
# How long a users.info or usergroups answer is trusted.
DIRECTORY_TTL = 300.0


@dataclass(frozen=True)
class Workspace:
    """The workspace the bot is installed in, from ``auth.test`` at start."""

    team_id: str
    bot_user_id: str
    bot_id: str | None
    url: str


class People:
    def __init__(
        self, config: LiveConfig, workspace: Workspace, client: AsyncWebClient | None = None
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.client = client
        self._group_members: dict[str, frozenset[str]] = {}
        self._groups_at = 0.0
        self._workspace_admins: dict[str, tuple[bool, float]] = {}

    # -- synchronous checks over the configuration in force ---------------------------------

    @property
    def reviewers(self) -> frozenset[str]:
        """Listed reviewers and the members of reviewer user groups (as last looked up)."""
        snapshot = self.config.current
        members = [self._group_members.get(g, frozenset()) for g in snapshot.reviewer_groups]
        return snapshot.reviewers.union(*members)

    @property
    def admins(self) -> frozenset[str]:
        return self.config.current.admins

    def is_admin(self, user_id: str) -> bool:
        """A listed admin (see ``is_admin_anywhere`` for workspace admins and owners too)."""
        return user_id in self.admins

    def is_listed_staff(self, user_id: str) -> bool:
        return user_id in self.reviewers or user_id in self.admins

    def author_role(
        self, *, user_id: str, user_team: str | None, shared_channel: bool
    ) -> AuthorRole:
        """A customer is anyone but listed staff; in a Slack Connect channel, only outsiders."""
        if self.is_listed_staff(user_id):
            return "staff"
        if user_team and user_team != self.workspace.team_id:
            return "customer"
        if shared_channel:
            # In a shared channel our own colleagues are the support side of the conversation.
            return "staff"
        return "customer"

    def may_review(self, *, user_id: str, user_team: str | None) -> bool:
        if user_id in self.admins or user_id in self.reviewers:
            return True
        snapshot = self.config.current
        if snapshot.reviewers or snapshot.reviewer_groups:
            return False
        return user_team == self.workspace.team_id

    def refusal(self) -> str:
        snapshot = self.config.current
        if snapshot.reviewers or snapshot.reviewer_groups:
            return (
                "Only support reviewers can approve, edit or reject answers. Ask an admin to add"
                " you with `/support reviewers add @you`."
            )
        return "Only members of this workspace can review answers."

    # -- Slack look-ups ------------------------------------------------------------------------

    async def is_admin_anywhere(self, user_id: str) -> bool:
        """A bot admin: listed, or an admin or owner of the installing workspace."""
        if self.is_admin(user_id):
            return True
        return await self.is_workspace_admin(user_id)

    async def is_workspace_admin(self, user_id: str) -> bool:
        cached = self._workspace_admins.get(user_id)
        if cached is not None and time.monotonic() - cached[1] < DIRECTORY_TTL:
            return cached[0]
        if self.client is None:
            return False
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, slack_error(exc))
            return False
        except (TimeoutError, OSError) as exc:
            log.warning("users.info for %s failed: %s", user_id, exc)
            return False
        user = response.get("user") or {}
        admin = bool(
            user.get("team_id") in (None, self.workspace.team_id)
            and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )
        self._workspace_admins[user_id] = (admin, time.monotonic())
        return admin

    async def group_members(self, group_id: str) -> frozenset[str] | None:
        """Members of a user group, or None when Slack would not say."""
        if self.client is None:
            return None
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s: %s", group_id, slack_error(exc))
            return None
        except (TimeoutError, OSError) as exc:
            log.warning("usergroups.users.list %s: %s", group_id, exc)
            return None
        users = response.get("users") or []
        return frozenset(str(u) for u in users)

    async def refresh_groups(self, *, force: bool = False) -> None:
        """Look up the members of every reviewer group (on a timer, and after changes)."""
        groups = self.config.current.reviewer_groups
        if (
            not force
            and time.monotonic() - self._groups_at < DIRECTORY_TTL
            and set(groups) <= set(self._group_members)
        ):
            return
        for group in groups:
            members = await self.group_members(group)
            if members is not None:
                self._group_members[group] = members
        self._groups_at = time.monotonic()
