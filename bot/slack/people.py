"""Who is who: the installing workspace, customers versus staff, reviewers and admins.

Reviewers and admins come from the live configuration (environment defaults, changed with
``/support reviewers`` and ``/support admins``); reviewers may also be Slack user groups, whose
members are looked up with ``usergroups.users.list``. The workspace's own admins and owners
(``users.info``) are bot admins too.

With no reviewers listed, the reviewers are the members of the escalation channel (where the
review cards go), looked up with ``conversations.members``: whoever the team let into that
channel already reads every card. Not "anyone in the workspace": a workspace holds guests,
contractors and people from other departments who were never meant to answer customers.

Workspace guests (single- and multi-channel, ``is_restricted`` / ``is_ultra_restricted`` in
``users.info``) are never staff, reviewers or admins, whatever the lists say: guests are how
customers are usually let into a workspace. Their messages stay customers' questions. Every
decision that grants something looks the person up; when Slack cannot say who they are, the
answer is no (fail closed), with a warning in the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings.live import LiveConfig
from bot.slack.text import slack_error

log = logging.getLogger(__name__)

AuthorRole = Literal["customer", "staff"]
# How long a users.info or usergroups answer is trusted.
DIRECTORY_TTL = 300.0
# How long the escalation channel's member list is trusted, and how long a stale one is still
# used while Slack will not answer (after that nobody reviews by membership: fail closed).
MEMBERS_TTL = 60.0
MEMBERS_STALE_MAX = 600.0
# conversations.members pages (1000 members each) read at most.
MEMBERS_MAX_PAGES = 20
# What a failed Slack look-up may raise (transport errors included), logged and treated as "no".
_LOOKUP_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError, OSError, ValueError)


def admins_only(to_do: str) -> str:
    """The refusal for someone who is not a bot admin (``People.is_admin_anywhere``)."""
    return (
        f"Only support-bot admins can {to_do}: those listed with `/support admins list`, and"
        " this workspace's admins and owners."
    )


@dataclass(frozen=True)
class Workspace:
    """The workspace the bot is installed in, from ``auth.test`` at start."""

    team_id: str
    bot_user_id: str
    bot_id: str | None
    url: str


@dataclass(frozen=True)
class Profile:
    """What ``users.info`` says about someone, as far as permissions go."""

    user_id: str
    team_id: str | None
    # Enterprise Grid: every workspace of the organisation the user belongs to.
    teams: frozenset[str]
    guest: bool
    workspace_admin: bool
    inactive: bool

    @classmethod
    def from_user(cls, user_id: str, user: dict[str, Any]) -> Profile:
        enterprise = user.get("enterprise_user")
        teams = enterprise.get("teams") if isinstance(enterprise, dict) else None
        team = user.get("team_id")
        return cls(
            user_id=user_id,
            team_id=team if isinstance(team, str) else None,
            teams=frozenset(t for t in teams or [] if isinstance(t, str)),
            guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
            workspace_admin=bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            ),
            inactive=bool(user.get("deleted") or user.get("is_bot")),
        )

    def member_of(self, team_id: str) -> bool:
        return self.team_id == team_id or team_id in self.teams


class People:
    def __init__(
        self, config: LiveConfig, workspace: Workspace, client: AsyncWebClient | None = None
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.client = client
        self._group_members: dict[str, frozenset[str]] = {}
        self._groups_at = 0.0
        self._profiles: dict[str, tuple[Profile, float]] = {}
        # channel -> (members, when looked up)
        self._channel_members: dict[str, tuple[frozenset[str], float]] = {}

    # -- the lists in force (synchronous; they say nothing about guests) ----------------------

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
        """Listed as an admin (which alone grants nothing: see ``is_admin_anywhere``)."""
        return user_id in self.admins

    def is_listed_staff(self, user_id: str) -> bool:
        return user_id in self.reviewers or user_id in self.admins

    def reviewers_by_membership(self) -> bool:
        """True when no reviewer is listed: the escalation channel's members review."""
        snapshot = self.config.current
        return not snapshot.reviewers and not snapshot.reviewer_groups

    # -- decisions (each looks the person up: guests never pass) ------------------------------

    async def author_role(
        self, *, user_id: str, user_team: str | None, shared_channel: bool
    ) -> AuthorRole:
        """A customer is anyone but staff; in a Slack Connect channel, only outsiders. Guests
        are customers whatever the lists say, and so is anyone Slack will not describe."""
        listed = self.is_listed_staff(user_id)
        outsider = bool(user_team and user_team != self.workspace.team_id)
        if not listed and (outsider or not shared_channel):
            return "customer"
        profile = await self.profile(user_id)
        if profile is None or profile.guest or profile.inactive:
            return "customer"
        if listed:
            return "staff"
        # In a shared channel our own colleagues are the support side of the conversation.
        return "staff" if profile.member_of(self.workspace.team_id) else "customer"

    async def can_review(self, user_id: str) -> bool:
        """May approve, edit or reject answers and see the queue: listed (not a guest), or, with
        nobody listed, a member of this workspace (by ``users.info``, not by whatever team a
        payload names) in the escalation channel."""
        profile = await self.profile(user_id)
        if profile is None or profile.guest or profile.inactive:
            if profile is not None and profile.guest and self.is_listed_staff(user_id):
                log.warning("refusing %s: a workspace guest, listed as support staff", user_id)
            return False
        if user_id in self.admins or user_id in self.reviewers:
            return True
        if not self.reviewers_by_membership():
            return False
        if not profile.member_of(self.workspace.team_id):
            return False
        return user_id in await self.escalation_members()

    def refusal(self) -> str:
        if not self.reviewers_by_membership():
            return (
                "Only support reviewers can approve, edit or reject answers (workspace guests"
                " never can). Ask an admin to add you with `/support reviewers add @you`."
            )
        channel = self.config.current.escalation_channel
        where = f"<#{channel}>" if channel else "the review channel"
        return (
            f"Only members of {where} can review answers (workspace guests never can); ask an"
            " admin to add you to the channel or to `/support reviewers`."
        )

    async def is_admin_anywhere(self, user_id: str) -> bool:
        """A bot admin: listed, or an admin or owner of the installing workspace; never a guest."""
        profile = await self.profile(user_id)
        if profile is None or profile.guest or profile.inactive:
            if profile is not None and profile.guest and self.is_admin(user_id):
                log.warning("refusing %s: a workspace guest, listed as a bot admin", user_id)
            return False
        if self.is_admin(user_id):
            return True
        return profile.workspace_admin and profile.member_of(self.workspace.team_id)

    async def is_workspace_admin(self, user_id: str) -> bool:
        profile = await self.profile(user_id)
        return bool(
            profile is not None
            and not profile.guest
            and profile.workspace_admin
            and profile.member_of(self.workspace.team_id)
        )

    async def listed_guests(self) -> dict[str, list[str]]:
        """Listed reviewers (users and user-group members) and admins who are workspace guests:
        role -> their ids. Someone Slack will not describe is left out (and logged)."""
        found: dict[str, list[str]] = {}
        for role, ids in (("reviewer", self.reviewers), ("admin", self.admins)):
            for user_id in sorted(ids):
                profile = await self.profile(user_id)
                if profile is not None and profile.guest:
                    found.setdefault(role, []).append(user_id)
        return found

    # -- Slack look-ups ------------------------------------------------------------------------

    async def profile(self, user_id: str) -> Profile | None:
        """``users.info``, cached for ``DIRECTORY_TTL``; None (and a warning) when Slack would
        not say, which every caller treats as "not staff"."""
        cached = self._profiles.get(user_id)
        if cached is not None and time.monotonic() - cached[1] < DIRECTORY_TTL:
            return cached[0]
        if self.client is None:
            return None
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning(
                "users.info for %s failed (%s): treated as not staff", user_id, slack_error(exc)
            )
            return None
        except _LOOKUP_ERRORS as exc:
            log.warning("users.info for %s failed (%r): treated as not staff", user_id, exc)
            return None
        user = response.get("user")
        if not isinstance(user, dict):
            log.warning("users.info for %s returned no user: treated as not staff", user_id)
            return None
        profile = Profile.from_user(user_id, user)
        self._profiles[user_id] = (profile, time.monotonic())
        return profile

    async def escalation_members(self, *, force: bool = False) -> frozenset[str]:
        """Members of the escalation channel, cached for ``MEMBERS_TTL``; when Slack will not
        say, the last answer for at most ``MEMBERS_STALE_MAX``, then nobody."""
        channel = self.config.current.escalation_channel
        if not channel:
            return frozenset()
        cached = self._channel_members.get(channel)
        age = time.monotonic() - cached[1] if cached is not None else None
        if cached is not None and age is not None and age < MEMBERS_TTL and not force:
            return cached[0]
        members = await self.channel_members(channel)
        if members is not None:
            self._channel_members[channel] = (members, time.monotonic())
            return members
        if cached is not None and age is not None and age < MEMBERS_STALE_MAX:
            return cached[0]
        return frozenset()

    async def channel_members(self, channel: str) -> frozenset[str] | None:
        """Every member of a channel (``conversations.members``), or None when Slack would not
        say."""
        if self.client is None:
            return None
        members: set[str] = set()
        cursor: str | None = None
        try:
            for _ in range(MEMBERS_MAX_PAGES):
                response = await self.client.conversations_members(
                    channel=channel, limit=1000, cursor=cursor
                )
                members.update(str(m) for m in response.get("members") or [])
                meta = response.get("response_metadata") or {}
                cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
                if not cursor:
                    return frozenset(members)
        except SlackApiError as exc:
            log.warning("conversations.members %s failed: %s", channel, slack_error(exc))
            return None
        except _LOOKUP_ERRORS as exc:
            log.warning("conversations.members %s failed: %r", channel, exc)
            return None
        log.warning("conversations.members %s: more than %d pages", channel, MEMBERS_MAX_PAGES)
        return frozenset(members)

    async def group_members(self, group_id: str) -> frozenset[str] | None:
        """Members of a user group, or None when Slack would not say."""
        if self.client is None:
            return None
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s: %s", group_id, slack_error(exc))
            return None
        except _LOOKUP_ERRORS as exc:
            log.warning("usergroups.users.list %s: %r", group_id, exc)
            return None
        users = response.get("users") or []
        return frozenset(str(u) for u in users)

    async def refresh_groups(self, *, force: bool = False) -> None:
        """Look up the members of every reviewer group, and of the escalation channel when it
        names the reviewers (on a timer, and after changes)."""
        if self.reviewers_by_membership():
            await self.escalation_members(force=force)
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
