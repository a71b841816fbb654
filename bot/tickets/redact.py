"""Taking one customer's particulars out of a text that every customer may read.

"Save as article" turns a reply written for one customer into knowledge the bot answers
everyone from. Without a model (or when the model fails) these rules write the general version,
and after a model they check its work. They replace, with neutral placeholders such as
"[amount]" or "[account id]":

- the names the bot knows (the customer's Slack names, their Slack Connect team's name), names
  that look like a company's ("Acme Corp", "Globex GmbH", the name in a customer's e-mail
  domain), and names after a greeting or a sign-off ("Hi Dana", "Thanks, Dana");
- account, order and invoice numbers and other ids (the patterns of ``bot/tickets/query.py``), card
  numbers, money amounts, e-mail addresses and phone numbers;
- Slack mentions, and links into a Slack workspace or carrying ids.

What the knowledge base already says publicly (a support address, a plan's price, a partner's
name) stays: ``Known.public`` is that text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from bot.tickets.query import (
    _CARD_NUMBER,
    _CODE_ID,
    _EMAIL,
    _HASH_ID,
    _LABELLED_ID,
    _LONG_NUMBER,
    _NAME_LINE,
    _UUID,
)

NAME = "[name]"
COMPANY = "[company]"
EMAIL = "[email]"
AMOUNT = "[amount]"
CARD = "[card number]"
PHONE = "[phone number]"
NUMBER = "[number]"
ID = "[id]"
LINK = "[link]"
SLACK_LINK = "[Slack link]"
PERSON = "[person]"
CHANNEL = "[channel]"
GROUP = "[group]"

# What a labelled id becomes, by its label (``_LABELLED_ID`` in bot/tickets/query.py).
_ID_PLACEHOLDERS = {
    "order": "[order number]",
    "po": "[order number]",
    "acct": "[account id]",
    "account": "[account id]",
    "invoice": "[invoice number]",
    "inv": "[invoice number]",
    "ticket": "[ticket number]",
    "case": "[case number]",
    "ref": "[reference]",
    "reference": "[reference]",
    "transaction": "[transaction id]",
    "tx": "[transaction id]",
    "customer": "[customer id]",
    "cust": "[customer id]",
    "user": "[user id]",
    "booking": "[booking number]",
    "shipment": "[shipment number]",
    "tracking": "[tracking number]",
}


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Slack markup.
_MARKUP_LINK = re.compile(r"<((?:https?|mailto):[^>|]*)(?:\|([^>]*))?>")
_USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_CHANNEL_MENTION = re.compile(r"<#[CGD][A-Z0-9]+(?:\|[^>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|[^>]*)?>")
_BROADCAST = re.compile(r"<!(?:here|channel|everyone)(?:\|[^>]*)?>")
# A link outside Slack's markup (those are read first, target and label apart).
_BARE_URL = re.compile(r"(?<![<\w])https?://[^\s<>|]+")
_SLACK_HOST = re.compile(r"(?:^|\.)slack(?:-gov)?\.com$", re.IGNORECASE)
# In a link, what makes it one customer's: a run of digits, a UUID, an e-mail address.
_ID_IN_LINK = re.compile(r"\d{4,}|[0-9a-f]{8}-[0-9a-f]{4}-|@", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""

# Money: a currency sign or code before the number, or a code or word after it.
_MONEY = re.compile(
    r"(?:(?<![A-Za-z])(?:US|CA|AU|NZ|HK|S)?\$|[€£¥₹]|\b(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|INR)\s?)"
    r"\s?\d(?:[\d,.]*\d)?(?:\s?(?:k|m|bn|million|thousand)\b)?"
    r"|\b\d(?:[\d,.]*\d)?\s?(?:[€£]|(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|INR|dollars?|euros?|pounds?)"
    r"\b)",
    re.IGNORECASE,
)
# "card 4242", "Visa ending in 4242", "card no. ****4242": the last four digits name a card.
_CARD_DIGITS = re.compile(
    r"\b((?:card|visa|mastercard|amex|cc)(?:\s+(?:number|no\.?|ending(?:\s+in)?|#))?\s*[:#]?\s*)"
    r"(?:[*x•]+\s*)?\d{4}\b",
    re.IGNORECASE,
)
# Phone numbers: "+44 20 7946 0958", "(555) 123-4567", "555-123-4567", "+4930123456".
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d\.)(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,3}"
    r"(?!\w|\.\d)"
    r"|(?<![\w+])\+\d{8,15}\b"
)
_DATE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
PHONE_DIGITS_MIN = 7
# "Acme Corp", "Globex International Ltd.", "Initech GmbH".
_COMPANY = re.compile(
    r"\b((?:[A-Z][\w&'’-]*\s+){0,2}[A-Z][\w&'’-]*),?\s+"
    r"(?:Inc|Incorporated|Corp|Corporation|Ltd|Limited|LLC|LLP|GmbH|AG|PLC|Pty|S\.A\.|SAS|"
    r"B\.V\.|N\.V\.|Co\.)(?![\w])\.?"
)
# Capitalised words that start a sentence or address someone, never a company's name.
_NOT_A_NAME = _wordset(
    "a an and at dear for from hello hey hi i in my on our please since so thanks the their "
    "to we when with yesterday today your all everyone team there again folks guys support "
    "customer client"
)
# "Hi Dana,", "Dear Dana Scully:", "Thanks, Dana", "Cheers Dana!" (at the end of a line).
_GREETED = re.compile(
    r"\b(?:Hi|Hello|Hey|Dear)(,?\s+)([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)(?=\s*[,!:.]|\s*$)",
    re.MULTILINE,
)
_SIGNED = re.compile(
    r"\b(?:Thanks|Thank you|Cheers|Regards|Best regards|Kind regards|Warm regards|Sincerely)"
    r"(,?\s+)([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)(?=\s*[.!]?\s*$)",
    re.MULTILINE,
)
_SIGN_OFF_LINE = re.compile(
    r"(?:thanks|thank you|cheers|regards|best|sincerely)[\s,.!]*$", re.IGNORECASE
)
# E-mail domains that name a provider, not the customer's company.
_MAIL_PROVIDERS = _wordset(
    "gmail googlemail outlook hotmail live msn yahoo icloud me mac aol proton protonmail pm "
    "gmx web zoho yandex mail fastmail hey tutanota qq 163 example"
)
# Words after a company's name that only say it is a company.
_COMPANY_WORDS = _wordset(
    "inc incorporated corp corporation ltd limited llc llp gmbh ag plc pty co company group "
    "labs technologies technology tech software systems solutions holdings international "
    "industries partners studio studios digital global hq"
)
_DOMAIN_FILLER = _wordset("www mail email smtp m co com org net ac gov edu")
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class Known:
    """What the bot knows beyond the text: the customer's people and companies, and the public
    text (knowledge-base passages) whose figures and addresses are nobody's secret."""

    people: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    public: str = ""


def redact(text: str, known: Known | None = None) -> str:
    """``text`` without the customer's particulars (see the module's docstring)."""
    known = known or Known()
    public = known.public
    companies = [*_team_names(known.companies), *company_names(text, public=public)]

    def unless_public(placeholder: str | Callable[[re.Match[str]], str]) -> Callable[..., str]:
        def replace(match: re.Match[str]) -> str:
            if _in_public(match.group(0).strip(), public):
                return match.group(0)
            return placeholder if isinstance(placeholder, str) else placeholder(match)

        return replace

    text = _MARKUP_LINK.sub(lambda m: _markup_link(m, known, companies), text)
    text = _USER_MENTION.sub(PERSON, text)
    text = _CHANNEL_MENTION.sub(CHANNEL, text)
    text = _GROUP_MENTION.sub(GROUP, text)
    text = _BROADCAST.sub("", text)
    text = _BARE_URL.sub(lambda m: _bare_url(m.group(0), known, companies), text)
    text = _EMAIL.sub(unless_public(EMAIL), text)
    text = _CARD_NUMBER.sub(unless_public(CARD), text)
    text = _CARD_DIGITS.sub(unless_public(lambda m: m.group(1) + CARD), text)
    text = _MONEY.sub(unless_public(AMOUNT), text)
    text = _UUID.sub(unless_public(ID), text)
    text = _LABELLED_ID.sub(
        unless_public(lambda m: _ID_PLACEHOLDERS.get(m.group(1).lower(), ID)), text
    )
    text = _PHONE.sub(unless_public(_phone), text)
    text = _HASH_ID.sub(unless_public(NUMBER), text)
    text = _CODE_ID.sub(unless_public(ID), text)
    text = _LONG_NUMBER.sub(unless_public(NUMBER), text)
    text = _COMPANY.sub(lambda m: _company(m, public), text)
    text = _names(text, companies, COMPANY, public=public)
    text = _names(text, known.people, NAME, public="")
    text = _GREETED.sub(lambda m: _addressed(m), text)
    text = _SIGNED.sub(lambda m: _addressed(m), text)
    text = _signature(text)
    return "\n".join(_SPACES.sub(" ", line).rstrip() for line in text.split("\n")).strip()


def company_names(text: str, *, public: str = "") -> list[str]:
    """Company names a text gives away: "Acme Corp" (and "Acme" alone), and the company in a
    customer's e-mail domain ("dana@acme.example" -> "acme"), unless the public text has it."""
    found: list[str] = []
    for match in _COMPANY.finditer(text):
        words = _name_words(match.group(1))
        if words:
            found += [" ".join(words), words[0]]
    for match in _EMAIL.finditer(text):
        if _in_public(match.group(0), public):
            continue
        labels = [p for p in match.group(0).rsplit("@", 1)[1].lower().split(".") if p]
        labels = labels[:-1]  # the top-level domain
        while labels and labels[-1] in _DOMAIN_FILLER and len(labels) > 1:
            labels.pop()
        stem = labels[-1] if labels else ""
        if len(stem) >= 3 and stem not in _MAIL_PROVIDERS and stem not in _DOMAIN_FILLER:
            found.append(stem)
    return [name for name in dict.fromkeys(found) if not _in_public(name, public, anycase=True)]


def person_names(*values: str | None) -> tuple[str, ...]:
    """The names to look for from a Slack profile's fields (real and display names, the user
    name): each whole, and each word of two letters or more."""
    found: list[str] = []
    for value in values:
        value = " ".join((value or "").split())
        if len(value) < 2:
            continue
        found.append(value)
        words = [w for w in re.split(r"[\s]+", value) if len(w) >= 2]
        if len(words) > 1:
            found += words
    return tuple(dict.fromkeys(found))


# -- the pieces -----------------------------------------------------------------------------


def _in_public(token: str, public: str, *, anycase: bool = False) -> bool:
    """The knowledge base says this too (as a whole word: "$4" is not in "$49")."""
    if not public or not token:
        return False
    flags = re.IGNORECASE if anycase else 0
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", public, flags) is not None


def _team_names(names: Iterable[str]) -> list[str]:
    """Each team name, and its first word when the rest only says it is a company ("Acme
    Corp" -> "Acme"; not "The Home Depot" -> "Home")."""
    found: list[str] = []
    for name in names:
        name = " ".join(name.split())
        if len(name) < 2:
            continue
        found.append(name)
        words = name.split()
        if len(words) > 1 and all(w.lower().rstrip(".,") in _COMPANY_WORDS for w in words[1:]):
            found.append(words[0])
    return found


def _markup_link(match: re.Match[str], known: Known, companies: list[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.lower().startswith("mailto:"):
        address = unquote(target[len("mailto:") :])
        if _in_public(address, known.public):
            return match.group(0)
        return EMAIL
    replaced = _url(target, known, companies)
    if replaced is None:
        return match.group(0)
    if label and label.strip() and label.strip() != target and replaced != SLACK_LINK:
        return f"{label.strip()} {replaced}"
    return replaced


def _bare_url(url: str, known: Known, companies: list[str]) -> str:
    core = url.rstrip(_TRAILING)
    tail = url[len(core) :]
    replaced = _url(core, known, companies)
    return (core if replaced is None else replaced) + tail


def _url(url: str, known: Known, companies: list[str]) -> str | None:
    """The placeholder for a link that leads into a Slack workspace or names one customer's
    things; None to keep it (a help-centre page)."""
    if _in_public(url, known.public):
        return None
    host = (urlparse(url).hostname or "").lower()
    if _SLACK_HOST.search(host):
        return SLACK_LINK
    lowered = unquote(url).lower()
    if _ID_IN_LINK.search(unquote(url)):
        return LINK
    for name in [*companies, *known.companies, *known.people]:
        word = name.lower()
        if len(word) >= 3 and re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", lowered):
            return LINK
    return None


def _phone(match: re.Match[str]) -> str:
    """A run of digit groups is a phone number when it has enough digits and looks dialled
    (a country code, an area code in brackets, or three groups ending in three or more
    digits); a date is not one."""
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    groups = re.findall(r"\d+", found)
    dialled = found.startswith(("+", "(")) or "(" in found
    if not dialled:
        dialled = len(groups) >= 3 and len(groups[-1]) >= 3
    if digits < PHONE_DIGITS_MIN or not dialled or _DATE.fullmatch(found):
        return found
    return PHONE


def _name_words(name: str) -> list[str]:
    words = name.split()
    while words and words[0].lower() in _NOT_A_NAME:
        words.pop(0)
    return words


def _company(match: re.Match[str], public: str) -> str:
    name = match.group(1)
    words = _name_words(name)
    if not words or _in_public(match.group(0).rstrip("."), public):
        return match.group(0)
    kept = name[: len(name) - len(" ".join(words))] if name.endswith(" ".join(words)) else ""
    return kept + COMPANY


def _names(text: str, names: Iterable[str], placeholder: str, *, public: str) -> str:
    """Each name as written, capitalised or in capitals (a lower-case "will" or "mark" is a
    word, not a name); in any case when it is no plain word ("dana.s", "dscully42")."""
    patterns: list[str] = []
    for name in sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True):
        if _in_public(name, public, anycase=True):
            continue
        if not name.replace(" ", "").isalpha():
            patterns.append(rf"(?i:{re.escape(name)})")
            continue
        forms = {" ".join(w[:1].upper() + w[1:].lower() for w in name.split()), name.upper()}
        if not name.islower():
            forms.add(name)
        patterns += [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
    if not patterns:
        return text
    pattern = re.compile(rf"(?<![\w.])(?:{'|'.join(patterns)})(?![\w])")
    return pattern.sub(placeholder, text)


def _addressed(match: re.Match[str]) -> str:
    name = match.group(2)
    if name.split()[0].lower() in _NOT_A_NAME:
        return match.group(0)
    return match.group(0)[: match.start(2) - match.start(0)] + NAME


def _signature(text: str) -> str:
    """A name alone on the last line, under a sign-off ("Thanks,\\nDana"), signs the text."""
    lines = text.rstrip().split("\n")
    if (
        len(lines) >= 2
        and _NAME_LINE.match(lines[-1].strip())
        and _SIGN_OFF_LINE.search(lines[-2].strip())
    ):
        lines[-1] = NAME
    return "\n".join(lines)
