"""The text of ``/support help``, ``/support kb search`` and ``/support kb sources``: ephemeral
mrkdwn replies, not Block Kit. Article titles and the query are escaped.
"""

from __future__ import annotations

from bot.kb.provenance import UNREVIEWED_NOTE, customer_citable
from bot.kb.retrieval import Lookup
from bot.kb.sources.base import describe_result
from bot.settings.durations import format_duration
from bot.slack.text import escape, slack_date, truncate_escaped
from persistence.sources import KbSource


def help_text(*, is_admin: bool, is_reviewer: bool) -> str:
    lines = [
        "*Support bot*",
        "I answer customer questions in the support channels from the knowledge base, and send"
        " anything I'm unsure of to the escalation channel for a teammate to approve, edit or"
        " reject.",
        "• `/support help`: this message",
    ]
    if is_reviewer:
        lines.append("• `/support status`: settings, health and how much is waiting")
    if is_reviewer:
        lines.append("• `/support kb search QUESTION`: what the knowledge base would answer from")
        lines.append(
            "• `/support handback TICKET`: the bot answers in that thread again;"
            " `/support resolve TICKET`: close it (TICKET is the number on the card or a link"
            " to the customer's message; inside a thread, use the message's ⋯ menu instead)"
        )
        lines.append("• The *Home* tab of this app lists what waits for review, and your tickets")
        lines.append(
            "• React on a customer's message in a support channel: :ticket: opens a ticket for"
            " it, :eyes: claims it, :white_check_mark: resolves it (`/support reactions` shows"
            " the emoji in force)"
        )
        lines.append(
            "• `/support trace TICKET`: every step of a ticket and why;"
            " `/support stats [7d]`: deflection, review quality, response times, satisfaction,"
            " cost"
        )
    if is_admin:
        lines += [
            "*Admin*",
            "• `/support config`: every setting in one form",
            "• `/support channel add #channel [auto|review|off]`, `channel remove #channel`,"
            " `channel list`",
            "• `/support escalation #channel`: where review cards go",
            "• `/support reviewers add|remove|list @person @group…`,"
            " `/support admins add|remove|list @person…`",
            "• `/support threshold 0.7`, `/support hours Mon-Fri 09:00-17:00 Europe/Berlin`,"
            " `/support reminders 30m 24h`",
            "• `/support auto [list]`, `/support auto #channel faq billing|default|none`,"
            " `/support auto default faq`: which categories are answered automatically",
            "• `/support csat on|off #channel`, `/support csat list`: ask that channel's"
            " customers “How did we do?” (1 to 5) when a ticket is resolved",
            "• `/support pause`, `/support resume`, `/support audit`",
            "• `/support reactions open=:ticket: claim=:eyes: resolve=:white_check_mark:`: which"
            " emoji open, claim and resolve tickets; `/support reactions reset`",
            "• `/support kb add`: write an article; `/support kb remove ID`: delete one",
            "• `/support kb sources`: where the knowledge base comes from, and how fresh;"
            " `/support kb sources sync NAME`: sync one now",
        ]
    if is_reviewer:
        lines.append("You are a reviewer: you can approve, edit and reject cards.")
    if is_admin:
        lines.append("You are an admin.")
    return "\n".join(lines)


def kb_search_text(lookup: Lookup) -> str:
    """``/support kb search``: whether anything is relevant, and the best passages."""
    verdict = (
        "relevant passages found: I would draft from these (the model still judges whether"
        " they answer, and my checks verify its facts)"
        if lookup.fits
        else "nothing relevant: I would escalate"
    )
    lines = [
        f"*Knowledge base* for “{truncate_escaped(lookup.query, 200)}”: {verdict}"
        f" (confidence {lookup.confidence:.2f}, threshold {lookup.threshold:.2f})"
    ]
    for hit in lookup.hits:
        snippet = truncate_escaped(" ".join(hit.text.split()), 200)
        note = "" if customer_citable(hit.origin or hit.source) else f" _({UNREVIEWED_NOTE})_"
        lines.append(
            f"• #{hit.article_id} *{escape(hit.title)} › {escape(hit.heading)}*{note}: {snippet}"
        )
    if not lookup.hits:
        lines.append("No article matches at all.")
    return "\n".join(lines)


def source_line(source: KbSource) -> str:
    """One source and its freshness: when it last synced, what that did, when it syncs."""
    where = source.settings.get("url") or ", ".join(source.settings.get("paths", []))
    head = f"*{escape(source.name)}* ({source.kind}: {truncate_escaped(str(where), 200)})"
    if source.sync_owner is not None:
        state = "syncing now"
    elif source.last_result is None or source.last_finished_at is None:
        state = "not synced yet"
    else:
        state = (
            f"synced {slack_date(source.last_finished_at)}:"
            f" {escape(describe_result(source.last_result))}"
        )
    every = source.every_seconds
    schedule = "only when asked" if every is None else f"every {format_duration(every)}"
    return f"{head} · {state} · {schedule}"


def sources_text(sources: list[KbSource]) -> str:
    """``/support kb sources``: every source, how fresh it is, and its failed pages."""
    if not sources:
        return (
            "No knowledge sources yet. An admin adds one on the command line:"
            " `support-bot kb source add website help-centre https://help.example.com/`."
        )
    lines = ["*Knowledge sources*"]
    for source in sources:
        lines.append(f"• {source_line(source)}")
        for failure in (source.last_result or {}).get("failures", [])[:3]:
            lines.append(
                f"    ⚠️ {truncate_escaped(failure['page'], 200)}:"
                f" {truncate_escaped(failure['reason'], 200)}"
            )
    lines.append("`/support kb sources sync NAME` syncs one now (admins).")
    return "\n".join(lines)
