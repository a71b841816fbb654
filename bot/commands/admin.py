"""``/support`` commands that change the configuration, and the ``/support config`` form.

Only bot admins may change anything: listed admins and the workspace's own admins and owners.
Every change goes through ``LiveConfig.change``: stored, audited, in force at once, for every
replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.reply import CommandReply
from bot.ops.health import Check, database_health, llm_health, slack_health
from bot.review.home import config_lines
from bot.settings.categories import CATEGORIES
from bot.settings.durations import DurationError, format_duration, parse_duration
from bot.settings.environment import Settings
from bot.settings.hours import HoursError, parse_hours
from bot.settings.live import (
    DEFAULT,
    DEFAULT_REACTIONS,
    MODE_MEANINGS,
    ConfigSnapshot,
    LiveConfig,
    Mode,
)
from bot.slack import ids
from bot.slack.args import (
    CATEGORIES_FORM,
    ArgError,
    parse_categories,
    parse_channel,
    parse_mode,
    parse_people,
    parse_reactions,
    parse_threshold,
    parse_user,
)
from bot.slack.blocks.common import category_list
from bot.slack.blocks.settings_form import ConfigForm, config_modal
from bot.slack.channel_safety import check_card_channel
from bot.slack.interactions import FormResult, id_number
from bot.slack.people import People, admins_only
from bot.slack.text import escape, slack_date, slack_error
from bot.tickets.handoffs import resume_paused
from persistence.config import ConfigConflict
from persistence.repos import Repositories

log = logging.getLogger(__name__)

STATUS_CHECK_SECONDS = 2.0
USAGE = {
    "channel": "`/support channel add #channel [auto|review|off]`, `/support channel remove"
    " #channel`, `/support channel list`",
    "escalation": "`/support escalation #channel`",
    "reviewers": "`/support reviewers add @person @group…`, `/support reviewers remove @person…`,"
    " `/support reviewers list`",
    "admins": "`/support admins add @person…`, `/support admins remove @person…`,"
    " `/support admins list`",
    "threshold": "`/support threshold 0.7` (a number from 0.0 to 1.0)",
    "hours": "`/support hours Mon-Fri 09:00-17:00 Europe/Berlin`, or `/support hours off`",
    "reminders": "`/support reminders 30m 24h`: first reminder on a waiting card, then when the"
    " customer hears the team is still on it",
    "audit": "`/support audit [N]`",
    "csat": "`/support csat on #channel`, `/support csat off #channel`, `/support csat list`",
    "reactions": "`/support reactions` (what each emoji does), `/support reactions"
    " open=:ticket: claim=:eyes: resolve=:white_check_mark:` (one or more), `/support reactions"
    " reset`",
    "auto": "`/support auto [list]`, `/support auto #channel faq billing`, `/support auto"
    " #channel default` (follow the default), `/support auto #channel none`, `/support auto"
    " default faq`",
}
ADMIN_COMMANDS = frozenset(
    {
        "channel",
        "escalation",
        "reviewers",
        "admins",
        "threshold",
        "hours",
        "reminders",
        "pause",
        "resume",
        "audit",
        "config",
        "auto",
        "csat",
        "reactions",
    }
)


class AdminCommands:
    def __init__(
        self,
        settings: Settings,
        config: LiveConfig,
        people: People,
        repos: Repositories,
        client: AsyncWebClient,
    ) -> None:
        self.settings = settings
        self.config = config
        self.people = people
        self.repos = repos
        self.client = client

    async def run(self, sub: str, words: list[str], *, user_id: str) -> CommandReply:
        if not await self.people.is_admin_anywhere(user_id):
            log.info("refused /support %s by %s", sub, user_id)
            return CommandReply(admins_only("change settings"))
        handler: Callable[[list[str], str], Awaitable[CommandReply]] = {
            "channel": self.channel,
            "escalation": self.escalation,
            "reviewers": self.reviewers,
            "admins": self.admins,
            "threshold": self.threshold,
            "hours": self.hours,
            "reminders": self.reminders,
            "pause": self.pause,
            "resume": self.resume,
            "audit": self.audit,
            "config": self.form,
            "auto": self.auto,
            "csat": self.csat,
            "reactions": self.reactions,
        }[sub]
        try:
            return await handler(words, user_id)
        except ConfigConflict:
            return CommandReply(
                "Someone changed the settings a moment ago, so nothing was changed. Check"
                " `/support status` and run the command again."
            )
        except (ArgError, DurationError, HoursError) as exc:
            # Escaped: the message may repeat what was typed (even <!here>) and shows forms.
            return CommandReply(f"{escape(str(exc))}\nUsage: {USAGE.get(sub, '`/support help`')}")

    # -- channels ------------------------------------------------------------------------

    async def channel(self, words: list[str], user_id: str) -> CommandReply:
        action = words[0].lower() if words else ""
        current = await self.config.refresh()
        if action == "list" and len(words) == 1:
            if not current.channels:
                return CommandReply("No support channels yet. " + USAGE["channel"])
            return CommandReply(
                "*Support channels*\n"
                + "\n".join(
                    f"• <#{c}>: {m} ({MODE_MEANINGS[m]})"
                    for c, m in sorted(current.channels.items())
                )
            )
        if action == "add" and len(words) in (2, 3):
            channel = parse_channel(words[1])
            mode: Mode = parse_mode(words[2]) if len(words) == 3 else "auto"
            if channel == current.escalation_channel and mode != "off":
                return CommandReply(
                    f"<#{channel}> is where review cards go; customers there would see drafts."
                    " Pick another channel, or move the cards first with `/support escalation`."
                )
            await self.config.change(
                user_id=user_id,
                action="channel add",
                expected_version=current.version,
                channels={**current.channels, channel: mode},
            )
            note = await self._membership_note(channel)
            return CommandReply(f"<#{channel}> is now `{mode}`: {MODE_MEANINGS[mode]}.{note}")
        if action == "remove" and len(words) == 2:
            channel = parse_channel(words[1])
            if channel not in current.channels:
                return CommandReply(f"<#{channel}> is not a support channel.")
            remaining = {c: m for c, m in current.channels.items() if c != channel}
            await self.config.change(
                user_id=user_id,
                action="channel remove",
                expected_version=current.version,
                channels=remaining,
                auto_categories=_without(current.auto_categories, channel),
                csat_channels=current.csat_channels - {channel},
            )
            return CommandReply(f"<#{channel}> is no longer a support channel.")
        raise ArgError("That is not a channel command.")

    async def escalation(self, words: list[str], user_id: str) -> CommandReply:
        if len(words) != 1:
            raise ArgError("Name one channel.")
        channel = parse_channel(words[0])
        current = await self.config.refresh()
        # Fail closed: an externally shared channel, a customer channel (even `off`), or one
        # Slack cannot describe would show customers' cards to people outside the team.
        checked = await check_card_channel(self.client, channel, current.channels)
        if checked.problem is not None:
            return CommandReply(checked.problem)
        await self.config.change(user_id=user_id, action="escalation", escalation_channel=channel)
        note = (
            ""
            if checked.info.get("is_member")
            else f" ⚠️ I'm not a member of <#{channel}> yet: invite me with `/invite @Support Bot`."
        )
        return CommandReply(f"New review cards go to <#{channel}>.{note}")

    async def _membership_note(self, channel: str) -> str:
        try:
            info = await self.client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "channel_not_found":
                return (
                    " ⚠️ I can't see that channel: it may be private. Invite me with"
                    " `/invite @Support Bot` there."
                )
            return f" (I could not check that I'm in it: {error}.)"
        except (TimeoutError, OSError):
            return " (I could not reach Slack to check that I'm in it.)"
        if not (info.get("channel") or {}).get("is_member"):
            return (
                f" ⚠️ I'm not a member of <#{channel}> yet: invite me with `/invite @Support Bot`."
            )
        return ""

    # -- people --------------------------------------------------------------------------

    async def reviewers(self, words: list[str], user_id: str) -> CommandReply:
        action = words[0].lower() if words else ""
        current = await self.config.refresh()
        if action == "list" and len(words) == 1:
            await self.people.refresh_groups(force=True)
            return CommandReply(self._reviewers_text(current))
        if action not in ("add", "remove"):
            raise ArgError("Say add, remove or list.")
        users, groups = parse_people(words[1:])
        if action == "add":
            for group in groups:
                if await self.people.group_members(group) is None:
                    return CommandReply(
                        f"I can't read the members of <!subteam^{group}>; check that the app"
                        " has the usergroups:read scope."
                    )
            reviewers = current.reviewers | set(users)
            reviewer_groups = current.reviewer_groups | set(groups)
        else:
            reviewers = current.reviewers - set(users)
            reviewer_groups = current.reviewer_groups - set(groups)
        snapshot = await self.config.change(
            user_id=user_id,
            action=f"reviewers {action}",
            expected_version=current.version,
            reviewers=frozenset(reviewers),
            reviewer_groups=frozenset(reviewer_groups),
        )
        await self.people.refresh_groups(force=True)
        return CommandReply(self._reviewers_text(snapshot))

    def _reviewers_text(self, c: ConfigSnapshot) -> str:
        if not c.reviewers and not c.reviewer_groups:
            return "*Reviewers*: review channel members, guests excepted (no list set)."
        lines = [f"• <@{u}>" for u in sorted(c.reviewers)]
        for group in sorted(c.reviewer_groups):
            size = len(self.people._group_members.get(group, frozenset()))
            lines.append(f"• <!subteam^{group}> ({size} members)")
        return "*Reviewers*\n" + "\n".join(lines)

    async def admins(self, words: list[str], user_id: str) -> CommandReply:
        action = words[0].lower() if words else ""
        current = await self.config.refresh()
        if action == "list" and len(words) == 1:
            listed = ", ".join(f"<@{u}>" for u in sorted(current.admins)) or "nobody listed"
            return CommandReply(f"*Admins*: {listed}, and this workspace's admins and owners.")
        if action not in ("add", "remove") or len(words) < 2:
            raise ArgError("Say add, remove or list, then the people.")
        users = [parse_user(w.strip(",")) for w in words[1:] if w.strip(",")]
        admins = current.admins | set(users) if action == "add" else current.admins - set(users)
        snapshot = await self.config.change(
            user_id=user_id,
            action=f"admins {action}",
            expected_version=current.version,
            admins=frozenset(admins),
        )
        listed = ", ".join(f"<@{u}>" for u in sorted(snapshot.admins)) or "nobody listed"
        return CommandReply(f"*Admins*: {listed}, and this workspace's admins and owners.")

    # -- categories answered automatically -----------------------------------------------

    async def auto(self, words: list[str], user_id: str) -> CommandReply:
        current = await self.config.refresh()
        if not words or (len(words) == 1 and words[0].lower() == "list"):
            return CommandReply(_auto_list(current))
        if words[0].lower() == DEFAULT_WORD:
            chosen = parse_categories(words[1:])
            snapshot = await self.config.change(
                user_id=user_id,
                action="auto default",
                expected_version=current.version,
                auto_categories={**current.auto_categories, DEFAULT: chosen},
            )
            own = sorted(c for c in snapshot.auto_categories if c != DEFAULT)
            kept = f" ({', '.join(f'<#{c}>' for c in own)}: own choice kept.)" if own else ""
            return CommandReply(
                _auto_sentence("In every channel without its own choice", chosen) + kept
            )
        channel = parse_channel(words[0])
        if channel not in current.channels:
            return CommandReply(
                f"<#{channel}> is not a support channel. Add it first: {USAGE['channel']}"
            )
        if len(words) == 2 and words[1].lower() == DEFAULT_WORD:
            overrides, lead = _without(current.auto_categories, channel), "follows the default"
        else:
            chosen = parse_categories(words[1:])
            overrides, lead = {**current.auto_categories, channel: chosen}, "has its own choice"
        snapshot = await self.config.change(
            user_id=user_id,
            action="auto channel",
            expected_version=current.version,
            auto_categories=overrides,
        )
        mode = snapshot.mode(channel)
        note = (
            ""
            if mode == "auto"
            else f" Note: <#{channel}> is `{mode}` ({MODE_MEANINGS[mode]}); this applies once it is"
            f" `auto` (`/support channel add <#{channel}> auto`)."
        )
        sentence = _auto_sentence(f"In <#{channel}>", snapshot.answers_automatically(channel))
        return CommandReply(f"<#{channel}> {lead}. {sentence}{note}")

    # -- customer satisfaction ------------------------------------------------------------

    async def csat(self, words: list[str], user_id: str) -> CommandReply:
        """``/support csat on|off #channel``: ask that channel's customers "How did we do?" when
        a ticket is resolved, or stop; ``/support csat [list]``: where it is on."""
        current = await self.config.refresh()
        action = words[0].lower() if words else "list"
        if action == "list" and len(words) <= 1:
            return CommandReply(_csat_list(current))
        if action not in ("on", "off"):
            raise ArgError("Say on or off, then the channel.")
        if len(words) != 2:
            raise ArgError(f"Name one channel after {action}.")
        channel = parse_channel(words[1])
        if channel not in current.channels:
            return CommandReply(
                f"<#{channel}> is not a support channel, so nothing was changed. Add it first:"
                f" {USAGE['channel']}"
            )
        chosen = (
            current.csat_channels | {channel}
            if action == "on"
            else current.csat_channels - {channel}
        )
        if chosen == current.csat_channels:
            state = "already asked" if action == "on" else "not asked"
            return CommandReply(
                f"Customers in <#{channel}> are {state} “How did we do?”; nothing changed."
            )
        snapshot = await self.config.change(
            user_id=user_id,
            action=f"csat {action}",
            expected_version=current.version,
            csat_channels=frozenset(chosen),
        )
        if action == "off":
            return CommandReply(
                f"Customers in <#{channel}> are no longer asked “How did we do?”. Ratings"
                " already given stay in `/support stats`."
            )
        mode = snapshot.mode(channel)
        note = (
            f" Note: <#{channel}> is `off` ({MODE_MEANINGS['off']}), so nothing is resolved"
            " there until it is switched on."
            if mode == "off"
            else ""
        )
        return CommandReply(
            f"From now on, when a ticket in <#{channel}> is resolved, the customer is asked once"
            " “How did we do?” (1 to 5, and an optional comment). Ratings show in"
            f" `/support stats`, the daily digest and App Home.{note}"
        )

    # -- numbers, times, pause -----------------------------------------------------------

    async def reactions(self, words: list[str], user_id: str) -> CommandReply:
        """``/support reactions``: what each emoji does; with ``ACTION=:emoji:`` pairs or
        ``reset``, change it."""
        current = await self.config.refresh()
        if not words or (len(words) == 1 and words[0].lower() == "list"):
            return CommandReply(reactions_text(current))
        if len(words) == 1 and words[0].lower() == "reset":
            mapping = dict(DEFAULT_REACTIONS)
        else:
            mapping = parse_reactions(words, current.reactions)
        snapshot = await self.config.change(
            user_id=user_id,
            action="reactions",
            expected_version=current.version,
            reactions=mapping,
        )
        return CommandReply("Done. " + reactions_text(snapshot))

    async def threshold(self, words: list[str], user_id: str) -> CommandReply:
        if len(words) != 1:
            raise ArgError("Give one number.")
        value = parse_threshold(words[0])
        await self.config.change(user_id=user_id, action="threshold", threshold=value)
        return CommandReply(
            f"Auto-answer threshold is now {value:.2f}: the bot answers by itself only when its"
            " classification is at least this confident (and the answer is grounded)."
        )

    async def hours(self, words: list[str], user_id: str) -> CommandReply:
        if not words:
            current = await self.config.refresh()
            shown = current.hours.describe() if current.hours else "always (no hours set)"
            return CommandReply(f"Support hours: {shown}. Change: {USAGE['hours']}")
        hours = parse_hours(" ".join(words))
        await self.config.change(user_id=user_id, action="hours", hours=hours)
        if hours is None:
            return CommandReply("Support hours removed: the team counts as always available.")
        return CommandReply(
            f"Support hours are now {hours.describe()}. Outside them the holding reply says when"
            " the team is back, and reminders wait."
        )

    async def reminders(self, words: list[str], user_id: str) -> CommandReply:
        if len(words) not in (1, 2):
            raise ArgError("Give one or two durations.")
        updates: dict[str, Any] = {"review_reminder": parse_duration(words[0])}
        if len(words) == 2:
            updates["review_timeout"] = parse_duration(words[1])
        snapshot = await self.config.change(user_id=user_id, action="reminders", **updates)
        return CommandReply(
            f"Cards get a first reminder after {format_duration(snapshot.review_reminder)};"
            " customers hear the team is still on it after"
            f" {format_duration(snapshot.review_timeout)}. (New cards; waiting cards keep"
            " their timers.)"
        )

    async def pause(self, words: list[str], user_id: str) -> CommandReply:
        current = await self.config.refresh()
        if current.paused:
            return CommandReply("The bot is already paused. `/support resume` to resume.")
        await self.config.change(user_id=user_id, action="pause", paused=True)
        return CommandReply(
            "⏸ Paused: I keep reading and logging the support channels but answer nothing and"
            " escalate nothing. Questions that arrive wait at their decision until"
            " `/support resume`."
        )

    async def resume(self, words: list[str], user_id: str) -> CommandReply:
        current = await self.config.refresh()
        if not current.paused:
            return CommandReply("The bot is not paused.")
        snapshot = await self.config.change(user_id=user_id, action="resume", paused=False)
        waiting = await resume_paused(self.repos, snapshot.version)
        return CommandReply(f"▶️ Resumed. {waiting} question(s) that waited are being handled now.")

    # -- audit, status -------------------------------------------------------------------

    async def audit(self, words: list[str], user_id: str) -> CommandReply:
        limit = 20
        if words:
            number = id_number(words[0]) if len(words) == 1 else None
            if number is None or not 1 <= number <= 100:
                raise ArgError("Give how many changes to show, 1 to 100.")
            limit = number
        changes = await self.repos.config.audit(limit=limit)
        if not changes:
            return CommandReply("No settings have been changed in Slack yet.")
        lines = [
            f"• {slack_date(c.created_at)} <@{c.user_id}> `{c.action}`: {c.key}"
            f" {_short(c.old_value)} → {_short(c.new_value)}"
            for c in changes
        ]
        return CommandReply("*Settings changes, newest first*\n" + "\n".join(lines))

    async def status_text(self) -> str:
        current = await self.config.refresh()
        # Slack wants its answer within 3 seconds: the checks run together, each within a budget.
        names = ("slack", "llm", "database")
        results = await asyncio.gather(
            *(
                asyncio.wait_for(check, STATUS_CHECK_SECONDS)
                for check in (
                    slack_health(self.client),
                    llm_health(self.settings),
                    database_health(self.repos.db),
                )
            ),
            return_exceptions=True,
        )
        checks = [
            r if isinstance(r, Check) else Check(name, False, "no answer within 2 s")
            for name, r in zip(names, results, strict=True)
        ]
        jobs = await self.repos.jobs.counts()
        pending = await self.repos.escalations.count_pending()
        lines = ["*Support bot status*", *config_lines(self.settings, current), "*Health*"]
        lines += [f"• {'✅' if c.ok else '❌'} {c.name}: {c.detail}" for c in checks]
        lines.append(
            f"• Queue: {jobs.get('pending', 0)} waiting, {jobs.get('running', 0)} running,"
            f" {jobs.get('dead', 0)} failed; {pending} card(s) awaiting review"
        )
        return "\n".join(lines)

    # -- the form --------------------------------------------------------------------------

    async def form(self, words: list[str], user_id: str) -> CommandReply:
        c = await self.config.refresh()
        return CommandReply(
            modal=config_modal(
                version=c.version,
                form=ConfigForm(
                    auto_channels=sorted(ch for ch, m in c.channels.items() if m == "auto"),
                    review_channels=sorted(ch for ch, m in c.channels.items() if m == "review"),
                    escalation_channel=c.escalation_channel,
                    reviewers=sorted(c.reviewers),
                    reviewer_groups=sorted(c.reviewer_groups),
                    admins=sorted(c.admins),
                    threshold=c.threshold,
                    review_reminder=format_duration(c.review_reminder),
                    review_timeout=format_duration(c.review_timeout),
                    hours=c.hours.describe() if c.hours else "",
                    paused=c.paused,
                    auto_categories=sorted(c.default_categories),
                    channel_categories={
                        ch: sorted(chosen)
                        for ch, chosen in c.auto_categories.items()
                        if ch != DEFAULT
                    },
                    csat_channels=tuple(
                        sorted(ch for ch in c.csat_channels if c.mode(ch) in ("auto", "review"))
                    ),
                ),
            )
        )

    async def submit_form(
        self, *, user_id: str, values: dict[str, Any], version: int | None = None
    ) -> FormResult:
        """Validate every field; store all of them, or none and say what is wrong where."""
        if not await self.people.is_admin_anywhere(user_id):
            return FormResult(errors={ids.BLOCK_CFG_ESCALATION: admins_only("change settings")})

        def entry(block: str) -> dict[str, Any]:
            found = (values.get(block) or {}).get(ids.cfg_action(block))
            return found if isinstance(found, dict) else {}

        def listed(block: str, key: str) -> list[str]:
            raw = entry(block).get(key) or []
            return [str(v) for v in raw] if isinstance(raw, list) else []

        errors: dict[str, str] = {}
        auto = listed(ids.BLOCK_CFG_AUTO, "selected_conversations")
        review = listed(ids.BLOCK_CFG_REVIEW, "selected_conversations")
        both = set(auto) & set(review)
        if both:
            errors[ids.BLOCK_CFG_REVIEW] = (
                f"<#{sorted(both)[0]}> is in both lists; pick auto or review for each channel."
            )
        escalation = entry(ids.BLOCK_CFG_ESCALATION).get("selected_conversation")
        if not isinstance(escalation, str) or not escalation:
            errors[ids.BLOCK_CFG_ESCALATION] = "Pick the channel for review cards."
        elif escalation in auto or escalation in review:
            errors[ids.BLOCK_CFG_ESCALATION] = (
                "This is also a support channel: customers would see the cards."
            )
        else:
            # Fail closed, as `/support escalation`: not shared outside, not a customer channel
            # (switched-off ones stay listed after the form), and Slack must be able to tell.
            kept = {c: m for c, m in (await self.config.refresh()).channels.items() if m == "off"}
            checked = await check_card_channel(self.client, escalation, kept)
            if checked.problem is not None:
                errors[ids.BLOCK_CFG_ESCALATION] = checked.problem
        threshold = 0.0
        try:
            threshold = parse_threshold(str(entry(ids.BLOCK_CFG_THRESHOLD).get("value") or ""))
        except ArgError as exc:
            errors[ids.BLOCK_CFG_THRESHOLD] = str(exc)
        durations: dict[str, float] = {}
        for block in (ids.BLOCK_CFG_REMINDER, ids.BLOCK_CFG_TIMEOUT):
            try:
                durations[block] = parse_duration(str(entry(block).get("value") or ""))
            except DurationError as exc:
                errors[block] = str(exc)
        hours = None
        try:
            hours = parse_hours(str(entry(ids.BLOCK_CFG_HOURS).get("value") or "off"))
        except HoursError as exc:
            errors[ids.BLOCK_CFG_HOURS] = str(exc)
        default: frozenset[str] | None = None  # None: a form from before the field was on it
        if ids.BLOCK_CFG_CATEGORIES in values:
            try:
                default = _selected_categories(entry(ids.BLOCK_CFG_CATEGORIES))
            except ArgError as exc:
                errors[ids.BLOCK_CFG_CATEGORIES] = str(exc)
        csat: frozenset[str] | None = None  # None: a form from before the field was on it
        if ids.BLOCK_CFG_CSAT in values:
            csat = frozenset(listed(ids.BLOCK_CFG_CSAT, "selected_conversations"))
            outside = sorted(csat - set(auto) - set(review))
            if outside:
                errors[ids.BLOCK_CFG_CSAT] = (
                    f"<#{outside[0]}> is not a support channel: add it to one of the channel"
                    " lists above, or leave it out here."
                )
        if errors:
            return FormResult(errors=errors)
        current = await self.config.refresh()
        channels: dict[str, Mode] = {c: m for c, m in current.channels.items() if m == "off"}
        channels.update({c: "auto" for c in auto})
        channels.update({c: "review" for c in review})
        # A channel no longer listed loses its own choice, as with `/support channel remove`.
        overrides = {c: v for c, v in current.auto_categories.items() if c in channels}
        overrides[DEFAULT] = current.default_categories if default is None else default
        # Channels switched off keep their survey choice (the form lists only the others).
        off = {c for c, m in channels.items() if m == "off"}
        csat_channels = (
            current.csat_channels & set(channels)
            if csat is None
            else csat | (current.csat_channels & off)
        )
        paused_options = entry(ids.BLOCK_CFG_PAUSED).get("selected_options") or []
        paused = any(isinstance(o, dict) and o.get("value") == "paused" for o in paused_options)
        try:
            snapshot = await self.config.change(
                user_id=user_id,
                action="config form",
                expected_version=version,
                channels=channels,
                escalation_channel=escalation,
                reviewers=frozenset(listed(ids.BLOCK_CFG_REVIEWERS, "selected_users")),
                admins=frozenset(listed(ids.BLOCK_CFG_ADMINS, "selected_users")),
                threshold=threshold,
                review_reminder=durations[ids.BLOCK_CFG_REMINDER],
                review_timeout=durations[ids.BLOCK_CFG_TIMEOUT],
                hours=hours,
                paused=paused,
                auto_categories=overrides,
                csat_channels=frozenset(csat_channels),
            )
        except ConfigConflict:
            return FormResult(
                errors={
                    ids.BLOCK_CFG_ESCALATION: "The settings changed since you opened this form:"
                    " close it and run /support config again."
                }
            )
        if current.paused and not paused:
            await resume_paused(self.repos, snapshot.version)
        return FormResult()


DEFAULT_WORD = "default"
UNKNOWN_RISK = (
    " ⚠️ Answering *Unknown* questions automatically is risky: the bot could not tell what"
    " they are about, so a wrong answer is more likely."
)


def _without(overrides: dict[str, frozenset[str]], channel: str) -> dict[str, frozenset[str]]:
    return {k: v for k, v in overrides.items() if k != channel}


def _auto_sentence(where: str, chosen: frozenset[str]) -> str:
    """What now happens, in a sentence: ``In <#C…>, Simple FAQ and Billing questions are
    answered automatically …``, with a warning when Unknown is among them."""
    if not chosen:
        return f"{where}, nothing is answered automatically: every question waits for review."
    rest = "." if chosen >= set(CATEGORIES) else "; everything else waits for review."
    risk = UNKNOWN_RISK if "unknown" in chosen else ""
    return (
        f"{where}, {category_list(chosen)} questions are answered automatically when the answer"
        f" is grounded{rest}{risk}"
    )


def _auto_list(c: ConfigSnapshot) -> str:
    lines = [
        "*Answered automatically* (when the answer is grounded; everything else waits for review)",
        f"• Default: {category_list(c.default_categories)}",
    ]
    for channel, chosen in sorted(c.auto_categories.items()):
        if channel != DEFAULT:
            mode = c.mode(channel)
            note = "" if mode == "auto" else f" (`{mode}`: {MODE_MEANINGS[mode]})"
            lines.append(f"• <#{channel}>: {category_list(chosen)}{note}")
    if any("unknown" in chosen for chosen in c.auto_categories.values()):
        lines.append(UNKNOWN_RISK.strip())
    return "\n".join([*lines, f"Change: {USAGE['auto']}; categories: {CATEGORIES_FORM}"])


def _csat_list(c: ConfigSnapshot) -> str:
    chosen = sorted(ch for ch in c.csat_channels if ch in c.channels)
    if not chosen:
        return (
            "No channel asks customers “How did we do?” yet. Turn it on: "
            + USAGE["csat"].split(", ")[0]
        )
    listed = ", ".join(f"<#{ch}>" for ch in chosen)
    return f"*Satisfaction survey* (“How did we do?” when a ticket is resolved): {listed}"


def _selected_categories(entry: dict[str, Any]) -> frozenset[str]:
    """The categories picked on the form's multi-select (none picked: the empty set)."""
    options = entry.get("selected_options") or []
    if not isinstance(options, list):
        options = [options]
    picked = [o.get("value") if isinstance(o, dict) else None for o in options]
    if any(value not in CATEGORIES for value in picked):
        raise ArgError("Pick the categories from the list.")
    return frozenset(str(value) for value in picked)


REACTION_MEANINGS = {
    "open": "opens a ticket for the message (it goes to review, whatever the channel's mode)",
    "claim": "claims the message's ticket",
    "resolve": "resolves the message's ticket",
}


def reactions_text(c: ConfigSnapshot) -> str:
    """What each emoji does on a customer's message (``/support reactions``)."""
    lines = [
        f"• :{c.reactions[action]}: `{c.reactions[action]}` {meaning}"
        for action, meaning in REACTION_MEANINGS.items()
    ]
    return (
        "*Reactions on a customer's message in a support channel*\n"
        + "\n".join(lines)
        + "\nOnly the support team's reactions count (claim and resolve: reviewers only);"
        " customers' never do. Admins change them with"
        " `/support reactions open=:ticket: claim=:eyes: resolve=:white_check_mark:`."
    )


def _short(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        text = ", ".join(f"{k}: {v}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "none"
    else:
        text = str(value)
    return f"`{text[:120]}`"
