"""The rules that take one customer's particulars out of an article every customer reads."""

from __future__ import annotations

import pytest

from bot.tickets.redact import Known, company_names, person_names, redact

DANA = Known(
    people=person_names("Dana Scully", "dana.scully", "Dana", "Dana Scully"),
    companies=("Acme Corp",),
)


def test_the_issue_example_loses_every_identifier() -> None:
    text = (
        "Acme Corp (acct 99812) says invoice INV-4411 for $12,300 was charged twice to card"
        " 4242 4242 4242 4242, contact dana@acme.example"
    )
    assert redact(text) == (
        "[company] ([account id]) says [invoice number] for [amount] was charged twice to card"
        " [card number], contact [email]"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A reply as a teammate writes it, greeting and signature included.
        (
            "Hi Dana,\nI've refunded the duplicate charge on order #55123 (USD 99.50).\n"
            "Thanks,\nSam",
            "Hi [name],\nI've refunded the duplicate charge on [order number] ([amount]).\n"
            "Thanks,\n[name]",
        ),
        # Their name written out, their company's short name, their username.
        (
            "Dana Scully from Acme asked dana.scully to reset the SSO settings.",
            "[name] from [company] asked [name] to reset the SSO settings.",
        ),
        # Last four digits of a card, amounts in several currencies.
        (
            "The Visa ending in 4242 was charged €1.200,00, then 350 EUR, then £15.",
            "The Visa ending in [card number] was charged [amount], then [amount], then [amount].",
        ),
        # Phone numbers, not versions or dates.
        (
            "Call +44 20 7946 0958 or (555) 123-4567 about 2.4.1, released 2024-01-15.",
            "Call [phone number] or [phone number] about 2.4.1, released 2024-01-15.",
        ),
        # Links into their Slack workspace (markup or bare), mentions; help pages stay.
        (
            "See <https://acme.slack.com/archives/C0123/p1700000000000100|this thread>, ask"
            " <@U0DANA> or <#C0BILLING|billing>, and read https://help.example.com/refunds.",
            "See [Slack link], ask [person] or [channel], and read"
            " https://help.example.com/refunds.",
        ),
        # A link that names their account is theirs; its label stays.
        (
            "Open <https://app.example.com/accounts/99812/billing|your billing page>.",
            "Open your billing page [link].",
        ),
        # Ids of every kind; standards' names stay.
        (
            "Ticket 48213, ref: AB-12345, tx 9f3c2a1b-4d5e-4f60-8a7b-1c2d3e4f5a6b, SHA-256 hash.",
            "[ticket number], [reference], tx [id], SHA-256 hash.",
        ),
        (
            "Globex International Ltd. and Initech GmbH both use SAML.",
            "[company] and [company] both use SAML.",
        ),
    ],
)
def test_realistic_replies(text: str, expected: str) -> None:
    assert redact(text, DANA) == expected


def test_what_the_knowledge_base_says_publicly_stays() -> None:
    public = "The Pro plan costs $49 a month. Write to billing@example.com. Works with Stripe Inc."
    text = (
        "The Pro plan costs $49 a month, and you paid $4 extra; write to billing@example.com,"
        " not to me at sam@globex.example. Stripe Inc. sends the receipt."
    )
    assert redact(text, Known(public=public)) == (
        "The Pro plan costs $49 a month, and you paid [amount] extra; write to"
        " billing@example.com, not to me at [email]. Stripe Inc. sends the receipt."
    )


def test_lower_case_words_that_are_also_names_stay() -> None:
    will = Known(people=person_names("Will Mark", "will"))
    assert (
        redact("Will wrote: we will mark it done.", will) == "[name] wrote: we will mark it done."
    )


def test_ordinary_text_is_left_alone() -> None:
    text = (
        "## Export a report as CSV\n"
        "Open the report, click **Export** and choose CSV. Exports stop at 10,000 rows;"
        " scheduled exports run weekly (24/7 support, 2FA required)."
    )
    assert redact(text, DANA) == text


def test_company_names_come_from_suffixes_and_the_customers_mail_domain() -> None:
    text = "Hello Acme Corp team, write to ops@mail.globex.co.uk or to dana@gmail.com."
    assert company_names(text) == ["Acme", "globex"]
    # A company the knowledge base names (a partner, an integration) is not a secret.
    assert company_names(text, public="Connect Acme to your workspace.") == ["globex"]


def test_a_team_name_that_only_adds_a_company_word_also_hides_its_first_word() -> None:
    known = Known(companies=("Initech Software",))
    assert redact("Initech's admins use Initech Software SSO.", known) == (
        "[company]'s admins use [company] SSO."
    )
    # "Depot" says nothing of a company: "Home" alone is an ordinary word and stays.
    assert redact("Go Home, then Settings.", Known(companies=("The Home Depot",))) == (
        "Go Home, then Settings."
    )
