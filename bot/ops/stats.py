"""Statistics over a period: deflection, escalations, how good the drafts are, response times,
feedback, customer satisfaction (CSAT), tokens and cost. One computation behind the CLI,
``/support stats`` and App Home."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from bot.settings.durations import format_duration
from bot.settings.environment import Settings
from persistence.csat import CsatGroup
from persistence.stats import StatsRepository


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass(frozen=True)
class CsatSummary:
    """Satisfaction ratings (1-5) given in a period: how many, their average, and the share
    satisfied (4 or 5)."""

    count: int = 0
    average: float | None = None
    satisfied_share: float | None = None

    @classmethod
    def of(cls, groups: list[CsatGroup]) -> CsatSummary:
        count = sum(g.count for g in groups)
        if not count:
            return cls()
        total = sum(g.total for g in groups)
        satisfied = sum(g.satisfied for g in groups)
        return cls(count=count, average=total / count, satisfied_share=satisfied / count)

    def describe(self) -> str:
        if not self.count:
            return "no ratings"
        assert self.average is not None
        return f"{self.average:.1f}/5 from {self.count} ({_pct(self.satisfied_share)} satisfied)"


# How the kinds of answer are named (``persistence/csat.py``'s ``answered_by``).
ANSWER_KINDS = {"ai": "AI answer", "human": "human answer", "none": "no answer"}


@dataclass(frozen=True)
class Stats:
    since: float
    until: float
    questions: int  # new tickets
    rounds: int  # questions and follow-ups the bot decided on
    auto_answered: int
    escalated: int
    approved: int
    edited: int
    rejected: int
    answered_in_thread: int
    replies_sent: int  # auto answers + approved + edited
    deflection: float | None  # auto-answered share of decided rounds
    escalated_share: float | None
    approved_share: float | None  # of drafts reviewers decided on
    edited_share: float | None
    rejected_share: float | None
    first_response_p50: float | None  # seconds
    first_response_p90: float | None
    approval_p50: float | None
    approval_p90: float | None
    helpful: int
    wants_person: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    cost_per_answered_usd: float | None
    tokens_per_answered: float | None
    # Deliveries the bot gave up on (shown on their cards with "Try again"), by purpose.
    not_delivered: int = 0
    not_delivered_by_purpose: dict[str, int] = field(default_factory=dict)
    # Answers sent as drafted (by the bot, or approved as written) citing a verified answer.
    verified_served: int = 0
    # Customer satisfaction: overall, by channel, and by whose answer (ai, human, none).
    csat: CsatSummary = field(default_factory=CsatSummary)
    csat_by_channel: dict[str, CsatSummary] = field(default_factory=dict)
    csat_by_answer: dict[str, CsatSummary] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def compute(
    repo: StatsRepository, settings: Settings, *, since: float, until: float | None = None
) -> Stats:
    until = time.time() if until is None else until
    steps = await repo.step_counts(since, until)
    tickets = await repo.first_responses(since, until)
    reviews = await repo.review_durations(since, until)
    feedback = await repo.feedback(since, until)
    tokens = await repo.tokens(since, until)
    failures = await repo.delivery_failures(since, until)
    groups = await repo.csat_groups(since, until)
    decided = {
        k: sum(1 for s, _ in reviews if s == k)
        for k in ("approved", "edited", "rejected", "answered_in_thread")
    }
    reviewed = decided["approved"] + decided["edited"] + decided["rejected"]
    auto = steps.get("decided:answer", 0)
    rounds = auto + steps.get("decided:escalate", 0)
    escalated = steps.get("escalated", 0)
    replies = auto + decided["approved"] + decided["edited"]
    first = [t.first_response_at - t.created_at for t in tickets if t.first_response_at]
    approvals = [w for s, w in reviews if s in ("approved", "edited")]
    tokens_in = sum(i for _, i, _ in tokens)
    tokens_out = sum(o for _, _, o in tokens)
    cost = None
    if settings.llm_price_input is not None and settings.llm_price_output is not None:
        cost = (tokens_in * settings.llm_price_input + tokens_out * settings.llm_price_output) / 1e6
    return Stats(
        since=since,
        until=until,
        questions=steps.get("received", 0),
        rounds=rounds,
        auto_answered=auto,
        escalated=escalated,
        approved=decided["approved"],
        edited=decided["edited"],
        rejected=decided["rejected"],
        answered_in_thread=decided["answered_in_thread"],
        replies_sent=replies,
        deflection=share(auto, rounds),
        escalated_share=share(escalated, rounds + steps.get("wants_person", 0)),
        approved_share=share(decided["approved"], reviewed),
        edited_share=share(decided["edited"], reviewed),
        rejected_share=share(decided["rejected"], reviewed),
        first_response_p50=percentile(first, 50),
        first_response_p90=percentile(first, 90),
        approval_p50=percentile(approvals, 50),
        approval_p90=percentile(approvals, 90),
        helpful=feedback.get("helpful", 0),
        wants_person=feedback.get("wants_person", 0),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        cost_per_answered_usd=None if cost is None or not replies else cost / replies,
        tokens_per_answered=None if not replies else (tokens_in + tokens_out) / replies,
        not_delivered=sum(failures.values()),
        not_delivered_by_purpose=failures,
        verified_served=await repo.verified_served(since, until),
        csat=CsatSummary.of(groups),
        csat_by_channel={
            c: CsatSummary.of([g for g in groups if g.channel_id == c])
            for c in sorted({g.channel_id for g in groups})
        },
        csat_by_answer={
            a: CsatSummary.of([g for g in groups if g.answered_by == a])
            for a in sorted({g.answered_by for g in groups})
        },
    )


def csat_line(s: Stats) -> str:
    """``Satisfaction: 4.3/5 from 12 (83% satisfied); AI answer …; human answer …; by channel:
    <#C…> …``."""
    line = f"Satisfaction: {s.csat.describe()}"
    if not s.csat.count:
        return line
    kinds = [f"{ANSWER_KINDS.get(k, k)} {v.describe()}" for k, v in s.csat_by_answer.items()]
    channels = [f"<#{c}> {v.describe()}" for c, v in s.csat_by_channel.items()]
    return "; ".join([line, *kinds]) + "; by channel: " + ", ".join(channels)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _dur(value: float | None) -> str:
    return "–" if value is None else format_duration(max(1, round(value)))


def stats_lines(s: Stats, *, period: str) -> list[str]:
    """Plain lines (Slack mrkdwn-safe: no user text) for the CLI, /support stats and digests."""
    cost = (
        f"${s.cost_usd:.2f} (${s.cost_per_answered_usd:.4f} per answered question)"
        if s.cost_usd is not None and s.cost_per_answered_usd is not None
        else "not estimated (set LLM_PRICE_INPUT and LLM_PRICE_OUTPUT, USD per 1M tokens)"
    )
    per_answer = "–" if s.tokens_per_answered is None else f"{s.tokens_per_answered:,.0f}"
    return [
        f"Questions: {s.questions} new, {s.rounds} decided (with follow-ups)",
        f"Answered by the bot: {s.auto_answered} ({_pct(s.deflection)} deflection);"
        f" escalated: {s.escalated} ({_pct(s.escalated_share)})",
        f"Drafts reviewed: approved {s.approved} ({_pct(s.approved_share)}), edited {s.edited}"
        f" ({_pct(s.edited_share)}), rejected {s.rejected} ({_pct(s.rejected_share)});"
        f" answered in the thread by a teammate: {s.answered_in_thread}",
        f"Time to first response: median {_dur(s.first_response_p50)}, p90"
        f" {_dur(s.first_response_p90)}; to approval: median {_dur(s.approval_p50)}, p90"
        f" {_dur(s.approval_p90)}",
        f"Feedback: {s.helpful} helpful, {s.wants_person} asked for a person",
        f"Verified answers served: {s.verified_served}",
        csat_line(s),
        f"Not delivered: {s.not_delivered}"
        + (
            " ("
            + ", ".join(f"{k} {n}" for k, n in sorted(s.not_delivered_by_purpose.items()))
            + ")"
            if s.not_delivered
            else ""
        ),
        f"Tokens: {s.tokens_in:,} in, {s.tokens_out:,} out ({per_answer} per answered question);"
        f" cost: {cost}",
        f"Period: {period}",
    ]
