"""What a customer's message asks, for searching: the question without the chatter around it.

People write in Slack the way they talk: a greeting, an order number, a sentence of context,
the question, thanks. Every extra word dilutes a lexical search and its confidence, so the
search runs on the message's *substance*: this module removes by rule what never helps find
an article (greetings, thanks and sign-offs, mentions, emoji, links' targets, ids, order and
account numbers, e-mail addresses) and keeps everything else, in order. With a model, the
classification also writes a standalone query that folds in the thread; this is the rule-based
query used beside it, and alone when no model is configured.
"""

from __future__ import annotations

import re

# Slack markup: mentions, channel links and user groups carry no words a help article shares.
_MENTION = re.compile(r"<[@#!][^>]*>")
# A link keeps its label (often the product page's name) and drops its target.
_LINK = re.compile(r"<(?:https?|mailto):[^>|]*(?:\|([^>]*))?>")
_BARE_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\ufe0f\u200d]+"
)
# An id with its label ("order #55123", "acct 99812", "ticket no. 1234", "ref: AB-1234"): the
# label is kept ("invoice" may be what the question is about), the id goes. An id has a run of
# four digits, so a label word before "2FA", "10GB", a count or a status code keeps them.
_LABELLED_ID = re.compile(
    r"\b(order|acct|account|invoice|inv|ticket|case|ref(?:erence)?|transaction|tx|"
    r"customer|cust|user|booking|shipment|tracking|po|id)\b"
    r"\s*(?:no\.?|num(?:ber)?\.?|id|#)?\s*[:#]?\s*(?=[A-Z0-9-]*\d{4})[A-Z0-9][A-Z0-9-]{2,}\b",
    re.IGNORECASE,
)
# "(order 48213)" is an aside: the label goes with its id.
_BRACKETED_ID = re.compile(r"\(\s*" + _LABELLED_ID.pattern + r"\s*\)", re.IGNORECASE)
# Unlabelled ids: "#55123", "INV-4411", "00123842", "a1b2c3d4-…" (a UUID).
_HASH_ID = re.compile(r"#\d{2,}\b")
# Standards' names look the same ("SHA-256", "AES-256", "ISO-8601") and are kept.
_CODE_ID = re.compile(r"\b(?!(?:SHA|AES|RSA|ISO|RFC|TLS|HMAC)-)[A-Z]{2,6}-\d{3,}\b")
_LONG_NUMBER = re.compile(r"\b\d{5,}\b")
_CARD_NUMBER = re.compile(r"\b\d{4}(?:[ -]\d{4}){2,3}\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
# Brackets left empty once their id is gone.
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;:]?\s*\)|\[\s*\]")

# Pleasantries that stand as a sentence of their own, or open or close the message. A greeting
# may follow the comma of a mention removed before it ("<@U0SUPPORT>, hi team!").
# Greetings and thanks in the six languages the bot's own texts are in (bot/slack/blocks/
# locales.py) count as English ones do: "Hallo zusammen! 👋" is asked what it needs.
_GREETING = re.compile(
    r"^[\s,;:.!¡-]*(?:(?:hi|hii+|hey+|hello|hallo|howdy|yo|greetings|good\s+(?:morning|afternoon|"
    r"evening|day)|moin|servus|guten\s+(?:morgen|tag|abend)|bonjour|bonsoir|salut|coucou|hola"
    r"|buen(?:os|as)\s+(?:d[ií]as|tardes|noches)|buenas|ol[aá]|oi|bom\s+dia|boa\s+(?:tarde|noite)"
    r"|こんにちは|こんばんは|おはようございます)"
    r"(?:\s+(?:there|all|everyone|folks|guys|support\s+team|team|support|sir"
    r"|madam|ma'?am|friends|y'?all|again|zusammen|allerseits|[àa]\s+tous|tout\s+le\s+monde"
    r"|l'[ée]quipe|[ée]quipe|team|equipo|a\s+todos|todos|pessoal|gente)){0,2}"
    r"|dear\s+(?:support\s+team|support|team))\b"
    r"[\s,!.:;。！-]*",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"(?:^[¡\s]*|[\s,.!¡;:-])(?:(?:many\s+|thanks\s+a\s+lot|thank\s+you\s+so\s+much|thanks\s+so\s+much)"
    r"|thanks(?:\s+(?:a\s+lot|again|in\s+advance|so\s+much|all|team|guys|everyone))?|thank\s+you"
    r"(?:\s+(?:in\s+advance|so\s+much|very\s+much))?|thx|ty|tia|cheers|regards|best"
    r"(?:\s+regards)?|kind\s+regards|br|much\s+appreciated|appreciate\s+(?:it|the\s+help|any"
    # A name after the sign-off is capitalised ("Thanks Dana"), so "the best plan" stays.
    r"\s+help)|(?:vielen\s+)?dank(?:e(?:\s+(?:sch[öo]n|sehr))?)?|merci(?:\s+beaucoup)?"
    r"|(?:muchas\s+)?gracias|(?:muito\s+)?obrigad[oa]|ありがとう(?:ございます)?)"
    r"\b[\s!.,:;。！-]*(?:(?-i:[A-Z][a-z]+)\s*)?[\s!.。！]*$",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"\b(?:quick\s+question|question\s+for\s+you|sorry\s+to\s+bother(?:\s+you)?|hope\s+you(?:'re|"
    r"\s+are)\s+(?:well|doing\s+well)|hope\s+all\s+is\s+well)\b[\s,!.:;-]*",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_NAME_LINE = re.compile(r"^[-–—~\s]*[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?[.!]?$")


def substance(text: str) -> str:
    """The message with its greetings, sign-offs, mentions, emoji and ids removed.

    Falls back to the message itself (markup removed) when nothing would be left, so a search
    always has words to work with."""
    cleaned = _markup_free(text)
    raw = [line.strip() for line in re.split(r"\n+", cleaned) if line.strip()]
    lines = [_strip_pleasantries(line) for line in raw]
    # A name alone on the last line, under a sign-off ("Thanks,\nDana"), signs the message.
    if len(lines) >= 2 and not lines[-2] and raw[-2] and _NAME_LINE.match(lines[-1]):
        lines.pop()
    result = _SPACES.sub(" ", " ".join(line for line in lines if line))
    result = _SPACE_BEFORE_PUNCT.sub(r"\1", result)
    result = re.sub(r"([,;:])(?=[,.;:!?])", "", result).strip(" ,;:-")
    if re.search(r"\w", result):
        return result
    fallback = _SPACES.sub(" ", cleaned).strip()
    return fallback


# What a customer says when the answer worked: nothing to answer, nothing to escalate.
_ACKNOWLEDGEMENT = re.compile(
    r"^(?:(?:ok(?:ay)?|k|kk|great|perfect|cool|awesome|nice|super|brilliant|amazing|excellent"
    r"|wonderful|fantastic|got\s+it|gotcha|understood|noted|makes\s+sense|sounds\s+good"
    r"|will\s+do|all\s+good|all\s+set|that(?:'s|\s+is)?\s+(?:it|all|great|perfect|helpful)"
    r"|(?:that|it|this)\s+(?:worked|works(?:\s+now)?|helped|helps|did\s+it|fixed\s+it)"
    r"(?:\s+(?:a\s+lot|so\s+much|a\s+ton|perfectly|great))?"
    r"|works\s+now|problem\s+solved|solved|fixed|no\s+problem|np|yes|yep|yeah|sure|lol"
    r"|you(?:'re|\s+are)\s+(?:the\s+best|a\s+star|awesome|great)|much\s+appreciated"
    r"|appreciate\s+it|thx|(?:thanks|thank\s+you)(?:\s+(?:so|very)\s+much|\s+a\s+lot"
    r"|\s+again|\s+all)?|ty|cheers|(?:vielen\s+)?dank(?:e(?:\s+(?:sch[öo]n|sehr))?)?"
    r"|merci(?:\s+beaucoup)?|(?:muchas\s+)?gracias|(?:muito\s+)?obrigad[oa]"
    r"|ありがとう(?:ございます)?)[\s,.!。！]*)+$",
    re.IGNORECASE,
)


def is_pleasantry(text: str) -> bool:
    """Whether a message only thanks, greets or acknowledges ("thanks, that worked! 🙏"):
    a follow-up like that needs no answer, and must not wake a reviewer."""
    plain = _markup_free(text)
    if not re.search(r"[^\W_]", plain):
        return False  # only mentions and emoji: no words at all, so not a pleasantry either
    lines = [line.strip() for line in re.split(r"\n+", plain) if line.strip()]
    if len(lines) > 1 and _NAME_LINE.match(lines[-1]):
        lines.pop()  # a signature
    for line in lines:
        rest = _strip_pleasantries(line)
        if rest and not _ACKNOWLEDGEMENT.match(rest) and re.search(r"[^\W_]", rest):
            return False
    return True


_THANKS_OR_ACK = re.compile(
    r"\b(?:thank|thanks|thx|ty|tnq|cheers|appreciate|ok(?:ay)?|great|perfect|cool|awesome|nice"
    r"|super|got\s+it|worked|works|helped|solved|fixed|yes|yep|yeah|sure|noted|understood"
    r"|dank|merci|gracias|obrigad|ありがとう)",
    re.IGNORECASE,
)


def greeting_only(text: str) -> bool:
    """Whether a message only greets ("hi team! :wave:", "good morning"): a customer opening a
    conversation before asking, who should be asked what they need."""
    # is_pleasantry already requires words: a message of only mentions and emoji is neither.
    return is_pleasantry(text) and _THANKS_OR_ACK.search(_markup_free(text)) is None


def _markup_free(text: str) -> str:
    text = _LINK.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = _MENTION.sub(" ", text)
    text = _BARE_URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _EMOJI_CODE.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = _UUID.sub(" ", text)
    text = _BRACKETED_ID.sub(" ", text)
    text = _LABELLED_ID.sub(lambda m: f" {m.group(1)} ", text)
    text = _HASH_ID.sub(" ", text)
    text = _CODE_ID.sub(" ", text)
    text = _CARD_NUMBER.sub(" ", text)
    text = _LONG_NUMBER.sub(" ", text)
    return _EMPTY_BRACKETS.sub(" ", text)


def _strip_pleasantries(line: str) -> str:
    line = line.strip()
    previous = None
    while previous != line:
        previous = line
        line = _GREETING.sub("", line, count=1).strip()
        line = _FILLER.sub("", line).strip()
        line = _SIGN_OFF.sub("", line).strip()
    return line
