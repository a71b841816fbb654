"""Which articles customers may be answered from and shown, by where each came from."""

from __future__ import annotations

import pytest

from bot.kb.provenance import (
    Source,
    customer_citable,
    provenance,
    reviewed_source,
    verified_source,
)
from bot.slack.blocks.answers import answer_message


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("/srv/kb/exporting-reports.md", "imported"),
        ("/srv/kb/faq.csv#12", "imported"),
        ("https://help.example.com/refunds", "imported"),
        ("slack:UADMIN:0123456789abcdef", "written"),
        (reviewed_source(12), "reviewed"),
        (verified_source(7), "verified"),
        ("slack:verified:", "unreviewed"),
        ("slack:verified:7x", "unreviewed"),
        ("slack:escalation:12", "unreviewed"),
        ("slack:reviewed:escalation:", "unreviewed"),
        ("slack:something-else", "unreviewed"),
    ],
)
def test_provenance_from_the_source(source: str, kind: str) -> None:
    assert provenance(source) == kind
    assert customer_citable(source) is (kind != "unreviewed")


def test_an_answer_names_only_articles_customers_may_be_shown() -> None:
    sources = [
        Source(
            article_id=1,
            title="Refund a duplicate charge",
            heading="Refund a duplicate charge",
            source=reviewed_source(3),
            origin=reviewed_source(3),
        ),
        # Saved from one customer's conversation as it stood; its link does not change that.
        Source(
            article_id=2,
            title="Acme Corp invoice INV-4411",
            heading="Acme Corp invoice INV-4411",
            source="https://help.example.com/old",
            origin="slack:escalation:7",
        ),
        Source(
            article_id=3,
            title="Exporting reports",
            heading="Export a report as CSV",
            source="/srv/kb/exporting-reports.md",
            origin="/srv/kb/exporting-reports.md",
        ),
    ]
    message = answer_message("Press Refund duplicate.", sources, ticket_id=1)
    assert "INV-4411" not in message.text and "INV-4411" not in str(message.blocks)
    assert message.text.endswith(
        "Sources: Refund a duplicate charge; Exporting reports › Export a report as CSV"
    )
    # Nothing to name: the answer still goes out, without a Sources line.
    alone = answer_message("Press Refund duplicate.", sources[1:2], ticket_id=1)
    assert alone.text == "Press Refund duplicate." and "Sources" not in str(alone.blocks)


def test_a_verified_answer_is_named_as_such_once() -> None:
    def verified(article_id: int) -> Source:
        return Source(
            article_id=article_id,
            title="What to do when an invoice was charged twice",
            heading="Refund a duplicate charge",
            source=verified_source(article_id),
            origin=verified_source(article_id),
        )

    imported = Source(
        article_id=9,
        title="Invoices",
        heading="Invoices",
        source="https://help.example.com/invoices",
        origin="https://help.example.com/invoices",
    )
    message = answer_message(
        "Press Refund duplicate.", [verified(4), imported, verified(5)], ticket_id=1
    )
    assert message.text.endswith("Sources: Verified answer; Invoices")
    assert "charged twice" not in message.text and "charged twice" not in str(message.blocks)
