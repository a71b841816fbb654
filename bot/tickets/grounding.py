"""Checking a draft's facts against the passages it cites, before anything is sent unreviewed.

The model says whether its passages answer the question; this module checks the part of that
claim that code can check. The facts a wrong answer hurts most with are concrete: numbers,
durations, prices, percentages, versions and times, and the names of settings, buttons and
menus. Each one the draft states must appear in the text it cites (or in the team's answers it
was given); one that does not is *unsupported*, and the draft goes to a reviewer with that fact
named. Paraphrase is fine ("two weeks" matches "2 weeks"); conversion is not ("14 days" does not
match "2 weeks"): a reviewer can approve that in one click, a customer cannot unread a wrong
number.

Ids the customer gave (an order number echoed back) count as supported: they come from the
question, not from the model's memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}
# "one" is a number only before a unit ("one seat"); otherwise it is a pronoun ("one of").
_NUMBER_WORD = re.compile(r"\b(" + "|".join(w for w in _NUMBER_WORDS if w != "one") + r")\b")
_COMPOUND_NUMBER = re.compile(
    r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ]"
    r"(one|two|three|four|five|six|seven|eight|nine)\b"
)
# Units whose number is a fact: time, money, size, quantity. The stem is what is compared.
_UNITS = {
    "second": "second",
    "sec": "second",
    "minute": "minute",
    "min": "minute",
    "hour": "hour",
    "hr": "hour",
    "h": "hour",
    "day": "day",
    "business day": "day",
    "working day": "day",
    "calendar day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
    "kb": "kb",
    "mb": "mb",
    "gb": "gb",
    "tb": "tb",
    "user": "user",
    "seat": "seat",
    "member": "member",
    "attempt": "attempt",
    "character": "character",
    "file": "file",
    "page": "page",
    "item": "item",
    "project": "project",
    "time": "time",
    "usd": "usd",
    "eur": "eur",
    "gbp": "gbp",
    "dollar": "usd",
    "euro": "eur",
    "pound": "gbp",
    "percent": "%",
    "%": "%",
}
_UNIT_ALTERNATION = "|".join(
    re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if u != "%"
)
_ONE = re.compile(r"\bone\b(?=\s*(?:" + _UNIT_ALTERNATION + r"|percent)(?:e?s)?\b)")
_CURRENCY = {"$": "usd", "€": "eur", "£": "gbp", "¥": "jpy"}
_NUM = r"\d+(?:\.\d+)?"
_FACT = re.compile(
    r"(?P<currency>[$€£¥])\s?(?P<money>" + _NUM + r")"
    r"|\b(?P<version>v?\d+\.\d+(?:\.\d+){1,2})\b"
    r"|\b(?P<version2>v\d+(?:\.\d+)?)\b"
    r"|\b(?P<time>\d{1,2}:\d{2}(?:\s?[ap]m)?|\d{1,2}\s?[ap]m)\b"
    r"|\b(?P<ratio>\d+/\d+)\b"
    r"|(?<![\w.])(?P<value>" + _NUM + r")(?:\s?(?:-|to|–)\s?(?P<upper>" + _NUM + r"))?"
    r"(?:\s?(?P<pct>%)|\s*(?P<unit>" + _UNIT_ALTERNATION + r")(?:e?s)?\b)?"
)
# Names of settings, buttons and menus, as drafts write them: *bold*, `code`, "quoted", and
# menu paths ("Settings > Billing").
_BOLD = re.compile(r"(?<![\w*])\*\*?([^*\n]{2,60})\*\*?(?![\w*])")
_CODE = re.compile(r"`([^`\n]{2,60})`")
_QUOTED = re.compile(r"[\"“]([^\"”\n]{2,60})[\"”]")
_PATH_SEP = re.compile(r"\s*(?:>|›|→|->|»)\s*")
_SEGMENT = r"[A-Z0-9][\w'-]*(?:\s+(?:&|and|of|or|[A-Z0-9][\w'-]*))*"
_PATH = re.compile(r"(?<!\w)" + _SEGMENT + r"(?:\s*(?:>|›|→|->|»)\s*" + _SEGMENT + r")+")
# Words that lead into a menu path without being part of its names ("Open Settings > Billing").
_LEAD_IN = frozenset(
    {"open", "go", "to", "click", "select", "choose", "tap", "press", "navigate", "visit"}
    | {"head", "under", "in", "then", "and", "or", "use", "from", "pick", "hit", "find", "via"}
    | {"see", "check"}
)
_CONNECTORS = ("&", "and", "of", "or")
_MARKUP = re.compile(r"[*_`~]")
_SPACE = re.compile(r"\s+")
# Emphasis that names nothing.
_GENERIC = frozenset(
    {
        "note",
        "important",
        "tip",
        "warning",
        "heads up",
        "yes",
        "no",
        "not",
        "only",
        "before",
        "after",
        "all",
        "any",
        "never",
        "always",
        "both",
        "and",
        "or",
    }
)


@dataclass(frozen=True)
class Fact:
    text: str  # as the draft wrote it
    kind: str  # "number", "money", "version", "time", "name"
    value: str  # normalised
    unit: str = ""


def normalise(text: str) -> str:
    """Lower case, Slack markup and thousands separators removed, number words as digits, menu
    arrows as ">"."""
    text = _MARKUP.sub(" ", text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = text.replace("–", "-").replace("—", "-")
    text = _PATH_SEP.sub(" > ", text)
    text = _COMPOUND_NUMBER.sub(lambda m: str(_NUMBER_WORDS[m[1]] + _NUMBER_WORDS[m[2]]), text)
    text = _ONE.sub("1", text)
    text = _NUMBER_WORD.sub(lambda m: str(_NUMBER_WORDS[m.group(1)]), text)
    return _SPACE.sub(" ", text)


def _number(value: str) -> str:
    return value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"


def _time(value: str) -> str:
    """9am, 9:00 am, 09:00am -> 9:00am; 17:00 -> 17:00 (no conversion between the two)."""
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s?([ap]m)?", value)
    assert m is not None
    return f"{int(m[1])}:{m[2] or '00'}{m[3] or ''}"


def number_facts(text: str) -> list[Fact]:
    found: list[Fact] = []
    # A numbered list's markers ("1. Open Settings") count nothing.
    plain = normalise(re.sub(r"(?m)^[ \t]*\d{1,2}[.)][ \t]", " ", text))
    for m in _FACT.finditer(plain):
        whole = m.group(0).strip()
        if m.group("value") and not m.group("unit") and re.match(r"[a-z]", plain[m.end() :]):
            continue  # part of a word or an id ("2fa", "4th"), not a quantity
        if m.group("money"):
            found.append(Fact(whole, "money", _number(m.group("money")), _CURRENCY[m["currency"]]))
        elif m.group("version") or m.group("version2"):
            version = (m.group("version") or m.group("version2")).lstrip("v")
            found.append(Fact(whole, "version", version))
        elif m.group("time"):
            found.append(Fact(whole, "time", _time(m.group("time"))))
        elif m.group("ratio"):
            found.append(Fact(whole, "number", m.group("ratio")))
        else:
            unit = "%" if m.group("pct") else _UNITS.get((m.group("unit") or "").strip(), "")
            values = [m.group("value")] + ([m.group("upper")] if m.group("upper") else [])
            for value in values:
                found.append(
                    Fact(
                        whole,
                        "money" if unit in _CURRENCY.values() else "number",
                        _number(value),
                        unit,
                    )
                )
    return found


def name_facts(text: str, *, emphasis: bool = True) -> list[Fact]:
    """Names of settings, buttons and menus the text states. ``emphasis`` False: from `code`
    and menu paths only, not from *bold* or "quoted" words (in German every noun is
    capitalised, so bold emphasis would read as a name)."""
    names: list[str] = []
    for pattern in (_BOLD, _CODE, _QUOTED) if emphasis else (_CODE,):
        names += [m.group(1) for m in pattern.finditer(text)]
    plain = _MARKUP.sub("", text)
    for m in _PATH.finditer(plain):
        for segment in _PATH_SEP.split(m.group(0)):
            words = segment.split()
            while words and words[0].lower() in _LEAD_IN:
                words.pop(0)
            while words and words[-1].lower() in _CONNECTORS:
                words.pop()
            if words:
                names.append(" ".join(words))
    facts = []
    for raw in dict.fromkeys(n.strip(" .,:;!?") for n in names):
        value = normalise(raw).strip()
        words = value.split()
        if not words or len(words) > 6 or value in _GENERIC:
            continue
        if not re.search(r"[a-z]", value):
            continue  # a number in bold is checked as a number
        if not (raw[:1].isupper() or raw in _code_spans(text)):
            continue  # lower-case emphasis ("*before* you pay") names no setting
        facts.append(Fact(raw, "name", value))
    return facts


def _code_spans(text: str) -> set[str]:
    return {m.group(1) for m in _CODE.finditer(text)}


def _allowed_ids(question: str) -> set[str]:
    """Numbers of four or more digits the customer wrote (order, account and ticket ids)."""
    return {_number(n) for n in re.findall(r"\d{4,}", normalise(question))}


def _stands_alone(number: str, text: str) -> bool:
    return re.search(r"(?<![\w.,])" + re.escape(number) + r"(?![\w]|[.,]\d)", text) is not None


def unsupported_facts(
    answer: str, sources: Iterable[str], question: str = "", *, english: bool = True
) -> list[str]:
    """The facts of ``answer`` that none of ``sources`` states, as the answer wrote them.

    ``english`` False: the answer is in the customer's language and the passages in English.
    Digits, prices, percentages, versions and times read the same in any language and are
    checked as always (a unit word the rules do not know leaves the bare number, which must
    still be in the passages); names are checked from `code` and menu paths only, which the
    draft prompt tells the model to keep as the articles write them."""
    source_text = normalise(" ¶ ".join(sources))  # a fact cannot span two passages
    source_numbers = number_facts(source_text)
    plain_numbers = {f.value for f in source_numbers}
    with_units = {(f.value, f.unit) for f in source_numbers if f.unit}
    source_times = {f.value for f in source_numbers if f.kind == "time"}
    ids = _allowed_ids(question)
    missing: list[str] = []
    for fact in number_facts(answer):
        if fact.value in ids and fact.kind == "number" and not fact.unit:
            continue  # an id the customer gave, not a quantity ("1000 users" is still checked)
        if fact.kind == "version":
            pattern = r"(?<![\d.])v?" + re.escape(fact.value) + r"(?!\.?\d)"
            ok = re.search(pattern, source_text) is not None
        elif fact.kind == "time":
            # 9:00 is said by "9:00 am" but not by "19:00"; 9am is not said by "9pm".
            ok = fact.value in source_times or (
                fact.value[-1].isdigit() and any(t.startswith(fact.value) for t in source_times)
            )
        elif fact.unit:
            ok = (fact.value, fact.unit) in with_units
        else:
            # Or written in the passage where it reads as no quantity (a list marker "3. ").
            ok = fact.value in plain_numbers or _stands_alone(fact.value, source_text)
        if not ok and fact.text not in missing:
            missing.append(fact.text)
    question_text = normalise(question)
    for fact in name_facts(answer, emphasis=english):
        # From a word's start: *Active* is not said by "Inactive", nor *Locked* by "Unlocked".
        said = re.compile(r"(?<!\w)" + re.escape(fact.value))
        if said.search(source_text) or (question and said.search(question_text)):
            continue
        if fact.text not in missing:
            missing.append(fact.text)
    return missing


# Links as drafts write them: Slack's <url|label> and <url>, Markdown's [label](url), bare URLs.
_SLACK_LINK = re.compile(r"<((?:https?|ftp)://[^|>\s]+)(?:\|([^>]*))?>", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]]*)\]\(((?:https?|ftp)://[^)\s]+)\)", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![<(|\w])((?:https?|ftp)://[^\s<>|)\]]+)", re.IGNORECASE)
_HOST_IN_TEXT = re.compile(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})", re.IGNORECASE)


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.lower().rstrip(".")


def _allowed(host: str, allowed: set[str]) -> bool:
    """A host is allowed when it, or a domain it is under, is allowed."""
    return any(host == a or host.endswith("." + a) for a in allowed)


def unsupported_links(
    answer: str, sources: Iterable[str], allowed_hosts: Iterable[str]
) -> list[str]:
    """Links of ``answer`` a customer must not get unreviewed: to a host neither its cited
    passages (text or source address) mention nor ``allowed_hosts`` lists, and masked links whose
    label shows another address than the one they open."""
    allowed = {h.lower() for h in allowed_hosts}
    allowed |= {m.group(1).lower() for m in _HOST_IN_TEXT.finditer(" ".join(sources))}
    found: list[str] = []

    def check(url: str, label: str | None) -> None:
        host = _host(url)
        shown = _HOST_IN_TEXT.search(label or "")
        if shown and _host("https://" + shown.group(1)) != host and "." in shown.group(1):
            found.append(f"{label} (opens {host})")  # a disguised link
        elif not host or not _allowed(host, allowed):
            found.append(host or url)

    for m in _SLACK_LINK.finditer(answer):
        check(m.group(1), m.group(2))
    for m in _MD_LINK.finditer(answer):
        check(m.group(2), m.group(1))
    rest = _MD_LINK.sub(" ", _SLACK_LINK.sub(" ", answer))
    for m in _BARE_URL.finditer(rest):
        check(m.group(1).rstrip(".,;:!?"), None)
    return list(dict.fromkeys(found))
