"""The categories a question is sorted into, and their names on screen. Admins route and
configure answering by category; the model classifies into exactly these."""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal["simple_faq", "complex_issue", "billing_query", "feature_request", "unknown"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
CATEGORY_LABELS: dict[str, str] = {
    "simple_faq": "Simple FAQ",
    "complex_issue": "Complex issue",
    "billing_query": "Billing",
    "feature_request": "Feature request",
    "unknown": "Unknown",
}
