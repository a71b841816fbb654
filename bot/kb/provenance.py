"""Where a knowledge-base article came from, and so whether customers may be shown it.

An article's ``source`` (``kb_articles.source``) says where it came from:

- ``imported``: a file (its resolved path, with ``#anchor`` for one entry of a table) or a web
  page, read by ``support-bot kb import``: the team's published help.
- ``written``: ``/support kb add``, ``slack:USERID:HASH``: an admin wrote it for everyone, in a
  form that starts empty and says every customer will see it.
- ``reviewed``: "Save as article" on a review card, ``slack:reviewed:escalation:ID``: the
  reply, generalised (``bot/tickets/redact.py``, ``prompts/generalise.md``) and checked by an
  admin in a form that says every customer will see it.
- ``verified``: a verified answer, ``slack:verified:ID``: a reply a reviewer sent, generalised
  (as for "Save as article") into a question and answer and approved by an admin in App Home
  (``bot/review/verified.py``). Ranked with a small boost, and named "Verified answer" under
  the answers that cite it.
- ``unreviewed``: anything else written from Slack, above all ``slack:escalation:ID``, the
  "Save as article" of before: its form was pre-filled with one customer's question and reply,
  names, account numbers and amounts included, and was saved as it stood.

Customers are answered only from the first four (``customer_citable``): an unreviewed article
is never shown to the model nor drafted from, so neither its text nor its title can reach
another customer; ``/support kb search`` lists it with that note, for an admin to check and add
again with ``/support kb add`` (or remove with ``/support kb remove``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

Provenance = Literal["imported", "written", "reviewed", "verified", "unreviewed"]

REVIEWED_PREFIX = "slack:reviewed:escalation:"
VERIFIED_PREFIX = "slack:verified:"
VERIFIED_LABEL = "Verified answer"
_WRITTEN = re.compile(r"^slack:[UW][A-Z0-9]+:[0-9a-f]{16}$")
_REVIEWED = re.compile(rf"^{re.escape(REVIEWED_PREFIX)}\d+$")
_VERIFIED = re.compile(rf"^{re.escape(VERIFIED_PREFIX)}\d+$")


def reviewed_source(escalation_id: int) -> str:
    """The source of the article saved from a card (one per card)."""
    return f"{REVIEWED_PREFIX}{escalation_id}"


def verified_source(verified_id: int) -> str:
    """The source of an approved verified answer's article (one per proposal)."""
    return f"{VERIFIED_PREFIX}{verified_id}"


def is_verified(source: str) -> bool:
    return bool(_VERIFIED.match(source))


def provenance(source: str) -> Provenance:
    if not source.startswith("slack:"):
        return "imported"
    if _REVIEWED.match(source):
        return "reviewed"
    if _VERIFIED.match(source):
        return "verified"
    if _WRITTEN.match(source):
        return "written"
    return "unreviewed"


def customer_citable(source: str) -> bool:
    """Whether customers may be answered from (and shown the title of) an article of this
    source."""
    return provenance(source) != "unreviewed"


UNREVIEWED_NOTE = (
    "not used in answers: saved from a customer's conversation before saved articles were"
    " generalised and reviewed; check it, add it again with `/support kb add`, and remove this"
    " one"
)


class Source(BaseModel):
    """An article a draft cites, as shown to customers and reviewers."""

    article_id: int
    title: str
    heading: str
    # Where a reader finds it: the article's link, else where it came from.
    source: str
    # Where it came from (``kb_articles.source``), which says whether customers may be shown
    # it: see ``provenance`` above. Empty in drafts stored before it was recorded.
    origin: str = ""
