"""Ranking metrics, the "nothing fits" decision and its threshold search, percentiles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

THRESHOLD_GRID: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(101))


def distinct(keys: Iterable[str], limit: int = 10) -> list[str]:
    """Article keys in first-seen order, chunks of the same article collapsed."""
    out: list[str] = []
    for key in keys:
        if key not in out:
            out.append(key)
            if len(out) == limit:
                break
    return out


@dataclass(frozen=True)
class Outcome:
    """What one lookup returned, reduced to what the metrics need."""

    ranked: tuple[str, ...]  # distinct article keys, best first (at most 10)
    has_hits: bool
    confidence: float  # Lookup.confidence; 0 for the reference (it has none)


@dataclass(frozen=True)
class RankScores:
    queries: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float


def rank_scores(gold: Sequence[str | None], outcomes: Sequence[Outcome]) -> RankScores:
    """Over in-scope queries only: is the gold article first, in the top 5, and at which rank."""
    r1 = r5 = rr = 0.0
    n = 0
    for key, outcome in zip(gold, outcomes, strict=True):
        if key is None:
            continue
        n += 1
        if key in outcome.ranked[:10]:
            rank = outcome.ranked.index(key) + 1
            rr += 1.0 / rank
            r1 += rank == 1
            r5 += rank <= 5
    if not n:
        return RankScores(0, 0.0, 0.0, 0.0)
    return RankScores(n, r1 / n, r5 / n, rr / n)


@dataclass(frozen=True)
class Decision:
    """Quality of "nothing fits" (the positive class is out of scope) at one threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int


def predicted_out_of_scope(outcome: Outcome, threshold: float) -> bool:
    """The negation of ``Lookup.fits``: no hit, or a confidence below the threshold."""
    return not (outcome.has_hits and outcome.confidence >= threshold)


def decision(gold: Sequence[str | None], outcomes: Sequence[Outcome], threshold: float) -> Decision:
    tp = fp = fn = tn = 0
    for key, outcome in zip(gold, outcomes, strict=True):
        actual = key is None
        predicted = predicted_out_of_scope(outcome, threshold)
        if actual and predicted:
            tp += 1
        elif predicted:
            fp += 1
        elif actual:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return Decision(threshold, precision, recall, f1, tp, fp, fn, tn)


def tune_threshold(gold: Sequence[str | None], outcomes: Sequence[Outcome]) -> Decision:
    """The grid threshold with the best F1 on tuning data; the lowest one among ties."""
    best = decision(gold, outcomes, THRESHOLD_GRID[0])
    for threshold in THRESHOLD_GRID[1:]:
        candidate = decision(gold, outcomes, threshold)
        if candidate.f1 > best.f1 + 1e-12:
            best = candidate
    return best


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0
