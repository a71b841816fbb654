"""Who is who: the installing workspace, customers versus staff, and who may review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.config import Settings

AuthorRole = Literal["customer", "staff"]


@dataclass(frozen=True)
class Workspace:
    """The workspace the bot is installed in, from ``auth.test`` at start."""

    team_id: str
    bot_user_id: str
    bot_id: str | None
    url: str


class People:
    def __init__(self, settings: Settings, workspace: Workspace) -> None:
        self.workspace = workspace
        self.reviewers = frozenset(settings.support_reviewers)
        self.admins = frozenset(settings.support_admins)

    def is_admin(self, user_id: str) -> bool:
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
        if self.reviewers:
            return False
        return user_team == self.workspace.team_id

    def refusal(self) -> str:
        if self.reviewers:
            return (
                "Only support reviewers can approve, edit or reject answers. Ask an admin to add"
                " you to SUPPORT_REVIEWERS."
            )
        return "Only members of this workspace can review answers."
