"""A ticket's trail as a readable timeline: every step with time, duration, actor, model,
prompt version, tokens and the reason for each decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.slack.text import escape
from persistence.records import Ticket, TrailEvent

# What each step's detail contributes to its line.
_DETAIL_KEYS = (
    "stage",
    "category",
    "confidence",
    "wants_human",
    "mode",
    "fits",
    "origin",
    "grounded",
    "sources",
    "draft",
    "action",
    "reason",
    "purpose",
    "escalation_id",
    "handling",
    "error",
    "n",
    "verdict",
    "article_id",
    "unsupported_facts",
    # Customer satisfaction: the score and the comment's length (never its words).
    "score",
    "previous_score",
    "comment_length",
    "answered_by",
    "tracker",
    "key",
    "url",
    "resolution",
    "via",
    "language",
    "language_detected",
)


def _detail(detail: dict[str, Any]) -> str:
    parts = []
    for entry in detail.get("queries") or []:
        # A search's queries: [purpose, query, confidence], as the workflow records them.
        if isinstance(entry, list) and len(entry) == 3:
            purpose, query, confidence = entry
            parts.append(f'{purpose}="{str(query)[:120]}" ({float(confidence or 0):.2f})')
    files = detail.get("files")
    if isinstance(files, int):
        parts.append(f"files={files}")  # a message's files, as received
    elif isinstance(files, list):
        # What became of each file of a round (its reason when it was not read).
        for f in files:
            if isinstance(f, dict):
                why = f" ({f['reason']})" if f.get("reason") else ""
                parts.append(f"{f.get('kind') or 'file'}={f.get('status')}{why}")
    for key in _DETAIL_KEYS:
        if key in detail and detail[key] not in (None, "", [], {}):
            value = detail[key]
            if isinstance(value, float):
                value = f"{value:.2f}"
            parts.append(f"{key}={value}")
    return " ".join(parts)


def trace_lines(ticket: Ticket, events: list[TrailEvent], *, slack: bool = False) -> list[str]:
    """One line per step. ``slack`` renders actors as mentions and times for each reader."""
    lines = [
        f"Ticket #{ticket.id} in {'<#' + ticket.channel_id + '>' if slack else ticket.channel_id},"
        f" customer {'<@' + ticket.customer_user_id + '>' if slack else ticket.customer_user_id},"
        f" state {ticket.state}, round {ticket.round}"
    ]
    start = events[0].created_at if events else ticket.created_at
    for e in events:
        when = dt.datetime.fromtimestamp(e.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        offset = f"+{e.created_at - start:.1f}s"
        actor = e.actor
        if slack and actor != "bot":
            actor = f"<@{actor}>"
        cells = [when, offset, e.step, actor]
        if e.duration_ms is not None:
            cells.append(f"{e.duration_ms} ms")
        if e.model:
            cells.append(e.model)
        if e.prompt_name:
            cells.append(f"{e.prompt_name}@v{e.prompt_version}")
        if e.tokens_in is not None or e.tokens_out is not None:
            cells.append(f"tokens {e.tokens_in or 0}→{e.tokens_out or 0}")
        detail = _detail(e.detail)
        if slack:
            detail = escape(detail)
        if detail:
            cells.append(detail)
        lines.append("  ".join(cells))
    return lines
