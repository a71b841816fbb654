"""Dataset questions rewritten the way people write in Slack, for ``bench.decisions``.

Benchmark datasets hold short, clean questions ("how do I cancel my order?"). Customers in a
Slack channel greet the team, paste an order id, add a sentence of context, make typos, sign
off, ask two things at once, and follow up in the thread with messages that only make sense
after the first one ("sorry, how do I do that exactly?"). :func:`slack_messages` turns labelled
questions into such messages, seeded and deterministic: the same questions and seed give the
same messages, whatever else runs.

Every :class:`SlackMessage` keeps the clean question(s) it was made from (``clean``), the gold
article keys (``gold``; empty: out of scope), the thread before it (``thread``; for follow-ups)
and its ``style``. Styles are drawn with the fixed probabilities of :data:`STYLE_WEIGHTS`;
a style that does not suit a question (two questions for one that asks for a person) falls back
to ``mixed``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["answerable", "out_of_scope", "wants_person"]
Role = Literal["customer", "bot", "staff"]

BOT_USER = "U0BOT"

# The style of each message, drawn with these fixed probabilities (they add up to 1).
STYLE_WEIGHTS: dict[str, float] = {
    "plain": 0.08,  # the dataset question as it is
    "greeting": 0.10,  # "Hi team! <question>"
    "account_id": 0.10,  # "<question> (order #55123)"
    "context": 0.10,  # "<question> We're on the Pro plan."
    "typos": 0.10,  # one or two letters swapped or dropped in longer words
    "sign_off": 0.10,  # "<question> thanks!"
    "mixed": 0.20,  # a greeting, an id or context, maybe typos, a sign-off
    "two_questions": 0.11,  # two dataset questions in one message; gold: both
    "follow_up": 0.11,  # a thread: question, reply, then "and if that doesn't work?"
}
STYLES = tuple(STYLE_WEIGHTS)

GREETINGS = (
    "Hi team!",
    "hey :wave:",
    f"<@{BOT_USER}> hello",
    "Hello,",
    "hi all",
    "Good morning!",
    "Hey there 👋",
    "hi folks,",
)
SIGN_OFFS = (
    "thanks!",
    "Cheers, Dana",
    "thx :pray:",
    "Thanks in advance 🙏",
    "ty!",
    "Best, Sam",
    "thank you :slightly_smiling_face:",
)
CONTEXTS = (
    "We're on the Pro plan.",
    "Asking for our finance team.",
    "Not urgent.",
    "Asking on behalf of a colleague.",
    "We've been customers for a while.",
    "Just want to double-check.",
)
# An order or account reference: a template and how many digits go in it.
ACCOUNT_IDS = (
    ("(order #{})", 5),
    ("acct {}", 5),
    ("INV-{}", 4),
    ("(ticket #{})", 4),
    ("customer id {}", 6),
)
JOINERS = ("{a} Also, {b}", "{a}\nAnd one more thing: {b}", "{a} And {b}", "1) {a}\n2) {b}")
FOLLOW_UPS = (
    "sorry, how do I do that exactly?",
    "and if that doesn't work?",
    "ok, where do I find that?",
    "hmm, can you explain that again?",
    "thanks. what's the first step?",
    "and what if I'm on mobile?",
)
BOT_REPLY = (
    "Here's how that works, from our help centre (*{title}*): follow the steps there and tell"
    " me if anything looks different on your screen."
)
STAFF_REPLY = "Hi! That's covered in *{title}*. Let me know if you get stuck."
STAFF_REPLY_NO_ARTICLE = "Thanks for asking! I checked with the team: that's in your settings."
TYPO_MIN_LETTERS = 6
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Question:
    """A labelled dataset question: the gold article key (None: out of scope)."""

    text: str
    gold: str | None
    origin: str = ""


@dataclass(frozen=True)
class ThreadTurn:
    role: Role
    text: str


@dataclass(frozen=True)
class SlackMessage:
    uid: str  # unique within one call of slack_messages
    style: str
    text: str  # the customer's latest message, as written in Slack
    clean: str  # the clean question(s) it was made from (the thread's first, for follow-ups)
    gold: tuple[str, ...]  # article keys that answer it; empty: out of scope
    kind: Kind
    origin: str
    thread: tuple[ThreadTurn, ...] = ()  # earlier turns of the thread, oldest first

    @property
    def answerable(self) -> bool:
        return self.kind == "answerable"


def _sentence(text: str) -> str:
    """The question with end punctuation, so another sentence can follow it."""
    text = text.strip()
    return text if text[-1:] in ".?!" else text + "?"


def typos(text: str, rng: random.Random, n: int | None = None) -> str:
    """One or two letters swapped or dropped in words of at least TYPO_MIN_LETTERS letters
    (never the first letter); text without such words is returned unchanged."""
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= TYPO_MIN_LETTERS]
    if not words:
        return text
    count = min(len(words), n if n is not None else rng.choice((1, 1, 2)))
    chosen = sorted(rng.sample(words, count), key=lambda m: m.start(), reverse=True)
    for match in chosen:
        word = match.group()
        i = rng.randrange(1, len(word) - 1)
        if rng.random() < 0.5 and word[i] != word[i + 1]:
            changed = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            changed = word[:i] + word[i + 1 :]
        text = text[: match.start()] + changed + text[match.end() :]
    return text


def account_id(rng: random.Random) -> str:
    template, digits = rng.choice(ACCOUNT_IDS)
    return template.format(rng.randrange(10 ** (digits - 1), 10**digits))


def _greet(text: str, rng: random.Random) -> str:
    return f"{rng.choice(GREETINGS)}{rng.choice((' ', chr(10)))}{text}"


def _with_id(text: str, rng: random.Random) -> str:
    ref = account_id(rng)
    if ref.startswith("("):
        return f"{text.rstrip()} {ref}"
    return f"{text} {ref[:1].upper()}{ref[1:]}."


def _with_context(text: str, rng: random.Random) -> str:
    context = rng.choice(CONTEXTS)
    return f"{context} {text}" if rng.random() < 0.3 else f"{text} {context}"


def _sign_off(text: str, rng: random.Random) -> str:
    return f"{text}{rng.choice((' ', chr(10)))}{rng.choice(SIGN_OFFS)}"


def _lowercase_start(text: str, rng: random.Random) -> str:
    return text[:1].lower() + text[1:] if rng.random() < 0.3 else text


def decorate(text: str, style: str, rng: random.Random) -> str:
    """One question in a single-message style (not ``two_questions`` or ``follow_up``)."""
    question = _sentence(text)
    if style == "plain":
        return text.strip()
    if style == "greeting":
        return _greet(question, rng)
    if style == "account_id":
        return _with_id(question, rng)
    if style == "context":
        return _with_context(question, rng)
    if style == "typos":
        return typos(text.strip(), rng)
    if style == "sign_off":
        return _sign_off(question, rng)
    if style == "mixed":
        out = typos(question, rng) if rng.random() < 0.4 else question
        out = _with_id(out, rng) if rng.random() < 0.5 else _with_context(out, rng)
        out = _greet(_lowercase_start(out, rng), rng) if rng.random() < 0.8 else out
        return _sign_off(out, rng) if rng.random() < 0.7 else out
    raise ValueError(f"not a single-message style: {style}")


def _kind(question: Question, wants_person: Callable[[str], bool]) -> Kind:
    if question.gold is None:
        return "out_of_scope"
    return "wants_person" if wants_person(question.gold) else "answerable"


def slack_messages(
    questions: Sequence[Question],
    *,
    pool: Sequence[Question],
    seed: int,
    titles: dict[str, str] | None = None,
    wants_person: Callable[[str], bool] = lambda gold: False,
    weights: dict[str, float] | None = None,
) -> list[SlackMessage]:
    """One Slack message per question, in order.

    ``pool`` supplies the second question of ``two_questions`` messages (one of the same kind
    with another gold article); ``titles`` (article key -> title) names the article in the
    reply before a follow-up; ``wants_person(gold)`` tells questions that ask for a person."""
    weights = weights or STYLE_WEIGHTS
    titles = titles or {}
    styles = list(weights)
    style_weights = [weights[s] for s in styles]
    by_kind: dict[Kind, list[Question]] = {"answerable": [], "out_of_scope": [], "wants_person": []}
    for q in pool:
        by_kind[_kind(q, wants_person)].append(q)
    out: list[SlackMessage] = []
    for i, question in enumerate(questions):
        rng = random.Random(f"{seed}:{i}:{question.text}")
        kind = _kind(question, wants_person)
        style = rng.choices(styles, weights=style_weights)[0]
        if kind == "wants_person" and style in ("two_questions", "follow_up"):
            style = "mixed"
        gold = () if question.gold is None else (question.gold,)
        uid = f"m{i}"
        if style == "two_questions":
            others = [
                q for q in by_kind[kind] if q.gold != question.gold and q.text != question.text
            ]
            if not others:
                style = "mixed"
            else:
                other = rng.choice(others)
                first, second = _sentence(question.text), _sentence(other.text)
                text = rng.choice(JOINERS).format(a=first, b=second[:1].lower() + second[1:])
                if rng.random() < 0.5:
                    text = _greet(text, rng)
                both = gold + (() if other.gold is None else (other.gold,))
                out.append(
                    SlackMessage(
                        uid,
                        style,
                        text,
                        f"{first} {second}",
                        both,
                        kind,
                        question.origin,
                    )
                )
                continue
        if style == "follow_up":
            opening = _greet(_sentence(question.text), rng) if rng.random() < 0.5 else question.text
            if question.gold is None:
                reply = ThreadTurn("staff", STAFF_REPLY_NO_ARTICLE)
            else:
                title = titles.get(question.gold, question.gold)
                if rng.random() < 0.5:
                    reply = ThreadTurn("bot", BOT_REPLY.format(title=title))
                else:
                    reply = ThreadTurn("staff", STAFF_REPLY.format(title=title))
            thread = (ThreadTurn("customer", opening), reply)
            text = rng.choice(FOLLOW_UPS)
            out.append(
                SlackMessage(
                    uid, style, text, question.text.strip(), gold, kind, question.origin, thread
                )
            )
            continue
        text = decorate(question.text, style, rng)
        out.append(
            SlackMessage(uid, style, text, question.text.strip(), gold, kind, question.origin)
        )
    return out
