"""Working out an answer: classify, search, draft, check, decide. No database writes, no Slack.

The workflow (``bot/tickets/workflow.py``) runs these steps for a ticket and stores the result;
``support-bot kb check`` and ``bench/decisions.py`` run the very same steps on sample questions.

Retrieval proposes passages, the model judges whether they answer the question and cites them,
and our code checks its work before anything goes out unreviewed (``bot/tickets/grounding.py``): the
citations must be among the passages shown, and the draft's concrete facts must be in them.
Search runs on the question's substance, not the message's words: the model's standalone
query (the thread folded in) and the rule-cleaned message (``bot/tickets/query.py``), fused.

A round waits for one model call, not two (``Answerer.work_out``): the rule-cleaned question (with
the thread's earlier question for a follow-up) is searched at once, and the model classifies the
question and drafts from those passages at the same time. The classification's queries are then
searched; the draft is written again from that search's passages only when they could have
changed it (``draft_stands``), or set aside when the classification changes the handling (it
failed: the reviewer gets the best passage, as without a model; the customer asked for a person:
the reviewer's draft is written from exactly the passages the classification's search found).
A greeting, a request for a person the rules recognise, or no model at all needs no model call
before the search, so nothing is spent ahead: the steps run one after the other.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.kb.base import KnowledgeBase
from bot.kb.provenance import Source, customer_citable
from bot.kb.retrieval import RRF_K, Lookup
from bot.llm.language import ENGLISH, is_english, language_name
from bot.llm.model import LlmFailure, LlmUsage, SupportModel
from bot.llm.prompts import load_prompt
from bot.slack.blocks.answers import GREETING_REPLY
from bot.slack.text import neutralize_mentions
from bot.tickets.attachments import NO_FILES, RoundFiles
from bot.tickets.grounding import unsupported_facts, unsupported_links
from bot.tickets.policy import DEFAULT_AUTO_CATEGORIES, asks_for_a_person, decide
from bot.tickets.query import greeting_only, substance
from bot.tickets.schemas import Classification, Decision, Draft, DraftReply
from persistence.records import KnowledgeHit, TicketNote

QUESTION_CHARS_FOR_LLM = 4000
# Why a ticket a teammate opened with a reaction waits for review whatever the channel's mode.
OPENED_BY_HAND = (
    "A teammate opened this ticket with a reaction: its replies wait for a reviewer, whatever"
    " the channel's mode."
)
FILES_ONLY = "(no text: only the files below)"  # the question, when a message is only files
LEAK_WORDS = 7  # this many of our instructions' words in a row, in a draft, is a leak
PASSAGE_CHARS = 1500
# The passages the model is shown: the best ones, one per article first, while they fit a
# budget of characters (what a draft costs is its tokens): short FAQ entries leave room for
# more candidates than long help-centre sections do.
SEARCH_RESULTS = 10
PASSAGE_BUDGET = 6000
SEARCH_DEPTH = 40  # candidates per query
MAX_QUERIES = 6
JUDGED = 5  # "nothing relevant": none of a query's first five passages reaches the floor
_PART_SPLIT = re.compile(r"(?<=[?!])\s+|\s*[|\n]\s*|(?<=\.)\s+(?=[A-Z0-9])")
_PART_WORDS = re.compile(r"[^\W\d_]{3,}")
OFFLINE_PASSAGE_CHARS = 1200
NO_LLM_REASON = "No LLM is configured (OPENAI_API_KEY is not set), so every answer needs approval."
# A draft that answers stands only if it was shown the first LEADING passages the
# classification's search found (``draft_stands``): those are what a draft is written from; one
# further down that it did not see rarely changes it, and is not worth a second model call.
LEADING = 3
# Search stages, as the trail names them.
QUESTION_STAGE = "question"  # the rule-cleaned question, before the classification is known
CLASSIFICATION_STAGE = "classification"  # with the classification's queries

SAME_PASSAGES = "the classification's search found the very passages it was shown"
WANTS_PERSON_REDRAFT = (
    "the customer asked for a person: the reviewer's draft is written from exactly the"
    " passages the classification's search found"
)

A = TypeVar("A")
B = TypeVar("B")


@dataclass(frozen=True)
class Drafted:
    draft: dict[str, Any] | None
    usage: LlmUsage | None


@dataclass(frozen=True)
class Searched:
    retrieval: dict[str, Any]  # as ``Answerer.search`` returns it, without its duration
    duration_ms: int
    stage: str | None = None  # QUESTION_STAGE, CLASSIFICATION_STAGE; None: the only search


@dataclass(frozen=True)
class Worked:
    """A round worked out: the classification, the searches (the last is the one the decision
    and the review card go by) and the drafts (the last is the one that stands).

    ``verdict`` says what became of the draft written before the classification was known:
    "kept", "redrafted" (written again from the last search's passages) or "discarded" (the
    classification failed: the best passage replaces it), with ``reason``; None when the steps
    ran one after the other (nothing was drafted ahead)."""

    classification: dict[str, Any]
    classify_usage: LlmUsage | None
    searches: tuple[Searched, ...]
    drafts: tuple[Drafted, ...]
    verdict: str | None = None
    reason: str = ""

    @property
    def retrieval(self) -> dict[str, Any]:
        return self.searches[-1].retrieval

    @property
    def draft(self) -> dict[str, Any] | None:
        return self.drafts[-1].draft

    @property
    def usages(self) -> list[LlmUsage]:
        """Every model call the round made (a failed one too, when it cost tokens)."""
        found = [self.classify_usage, *(d.usage for d in self.drafts)]
        return [u for u in found if u is not None]


class Answerer:
    """The steps of one round, each a pure computation over what the previous ones produced."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        model: SupportModel | None,
        *,
        link_hosts: Sequence[str] = (),
    ) -> None:
        self.knowledge = knowledge
        self.model = model
        self.link_hosts = tuple(link_hosts)  # hosts any answer may link to (ANSWER_LINK_HOSTS)
        self.classify_prompt = load_prompt("classify")
        self.draft_prompt = load_prompt("draft")
        self.redraft_prompt = load_prompt("redraft")
        self._instruction_runs = {
            " ".join(words[i : i + LEAK_WORDS])
            for prompt in (self.classify_prompt, self.draft_prompt, self.redraft_prompt)
            for words in [_words(prompt.system)]
            for i in range(len(words) - LEAK_WORDS + 1)
        }

    # -- the round -----------------------------------------------------------------------

    async def work_out(
        self,
        question: str,
        history: str,
        earlier: str = "",
        notes: Sequence[TicketNote] = (),
        files: RoundFiles = NO_FILES,
        language: str = ENGLISH,
    ) -> Worked:
        """Classify, search and draft, waiting for one model call where the rules allow.

        ``earlier``: the customer's turns before this round's (a follow-up is also searched
        with them while no standalone query is known). ``files``: the round's attached files
        as read (``bot/tickets/attachments.py``), shown to the model, never searched.
        ``language``: the customer's (ISO 639-1): the draft is written in it; the search stays
        English (the classification's query is English whatever the customer writes)."""
        draft = functools.partial(
            self.draft,
            question=question,
            history=history,
            notes=list(notes),
            files=files,
            language=language,
        )
        ruled = self.reading_by_rule(question, files)
        if ruled is not None:
            # A greeting, a request for a person, or no model: no model call to wait for
            # before searching, so nothing is spent ahead.
            only = await self.searched(question, ruled, earlier)
            drafted = await draft(classification=ruled, retrieval=only.retrieval)
            return Worked(ruled, None, (only,), (drafted,))
        first = await self.searched(question, {}, earlier, QUESTION_STAGE)
        (classification, usage), guess = await _together(
            self.classify(question, history, files),
            draft(classification={}, retrieval=first.retrieval, first_step=True),
        )
        final = first
        if self.queries(question, classification, earlier) != self.queries(question, {}, earlier):
            final = await self.searched(question, classification, earlier, CLASSIFICATION_STAGE)
        searches = (first,) if final is first else (first, final)
        if classification.get("error"):
            # As without a model: the reviewer gets the best passage (no model call).
            fallback = await draft(classification=classification, retrieval=final.retrieval)
            reason = "the classification failed: the reviewer gets the best passage instead"
            return Worked(classification, usage, searches, (guess, fallback), "discarded", reason)
        shown = citable_hits(first.retrieval.get("hits", []))
        found = citable_hits(final.retrieval.get("hits", []))
        if classification.get("wants_human"):
            # Escalated whatever the draft says: it is the reviewer's, written as it always was,
            # from exactly the passages the classification's search found.
            same = [h["chunk_id"] for h in shown] == [h["chunk_id"] for h in found]
            stands, why = same, SAME_PASSAGES if same else WANTS_PERSON_REDRAFT
        else:
            stands, why = draft_stands(shown, found, guess.draft)
        if stands:
            return Worked(classification, usage, searches, (guess,), "kept", why)
        again = await draft(classification=classification, retrieval=final.retrieval)
        return Worked(classification, usage, searches, (guess, again), "redrafted", why)

    # -- classify ------------------------------------------------------------------------

    def reading_by_rule(self, question: str, files: RoundFiles = NO_FILES) -> dict[str, Any] | None:
        """What the rules know without a model: a lone greeting (without files), a request for
        a person, or no model configured. None: the model is asked."""
        if greeting_only(question) and not files.attachments:
            # Nothing to classify or search yet: the customer is asked what they need.
            return {"greeting": True, "category": None}
        if asks_for_a_person(question):
            return {"wants_human": True, "category": None}
        if self.model is None:
            return {"skipped": NO_LLM_REASON}
        return None

    async def classify(
        self, question: str, history: str, files: RoundFiles = NO_FILES
    ) -> tuple[dict[str, Any], LlmUsage | None]:
        """The model's reading of the question (category, confidence, standalone query), or why
        there is none: the customer asked for a person, no model, or the call failed."""
        ruled = self.reading_by_rule(question, files)
        if ruled is not None:
            return ruled, None
        assert self.model is not None
        result: dict[str, Any] = {}
        try:
            answer = await self.model.structured(
                self.classify_prompt,
                Classification,
                images=files.images,
                question=asked(question, files),
                history=history,
                attachments=files.prompt,
            )
        except LlmFailure as failure:
            result.update(error=failure.reason)
            return result, failure.usage
        result.update(answer.value.model_dump())
        return result, answer.usage

    # -- search --------------------------------------------------------------------------

    def queries(
        self, question: str, classification: dict[str, Any], earlier: str = ""
    ) -> list[tuple[str, str]]:
        """(purpose, query) pairs to search with, the most telling first.

        With a model: its standalone query, then the rule-cleaned message. Without one: the
        cleaned message, and for a message in a thread the cleaned earlier question with it
        (a follow-up such as "and how long does that take?" means nothing alone). A query that
        asks several things is also searched for each of them, so one topic's passages cannot
        crowd out the other's."""
        cleaned = substance(question[:QUESTION_CHARS_FOR_LLM])
        found: list[tuple[str, str]] = []
        # A model that writes no standalone query still names the search terms.
        standalone = str(classification.get("search_query") or "").strip() or " ".join(
            str(k) for k in classification.get("keywords") or []
        )
        if standalone:
            found.append(("standalone", standalone))
            found += [("standalone part", part) for part in _parts(standalone)]
        found.append(("message", cleaned))
        found += [("message part", part) for part in _parts(cleaned)]
        if not standalone and earlier.strip():
            found.append(("thread", substance(earlier[-QUESTION_CHARS_FOR_LLM:]) + " " + cleaned))
        seen: set[str] = set()
        unique = []
        for purpose, query in found:
            key = query.casefold().strip(" ?.!")
            if key and key not in seen:
                seen.add(key)
                unique.append((purpose, query))
        return unique[:MAX_QUERIES] or [("message", question[:QUESTION_CHARS_FOR_LLM])]

    async def searched(
        self,
        question: str,
        classification: dict[str, Any],
        earlier: str = "",
        stage: str | None = None,
    ) -> Searched:
        """``search``, its duration apart."""
        retrieval = await self.search(question, classification, earlier)
        duration = int(retrieval.pop("duration_ms"))
        return Searched(retrieval, duration, stage)

    async def search(
        self, question: str, classification: dict[str, Any], earlier: str = ""
    ) -> dict[str, Any]:
        """The passages to draft from (the queries' results fused), and whether anything is
        relevant at all: the best of the queries' confidences against the floor."""
        started = time.monotonic()
        if classification.get("greeting"):
            return {"query": "", "queries": [], "fits": False, "hits": [], "duration_ms": 0}
        lookups: list[tuple[str, Lookup]] = []
        for purpose, query in self.queries(question, classification, earlier):
            lookup = await self.knowledge.lookup(
                query, limit=SEARCH_DEPTH, judged=JUDGED, customers=True
            )
            lookups.append((purpose, lookup))
        hits = _within_budget(_diverse(_fused([lookup.hits for _, lookup in lookups])))
        best = max(lookups, key=lambda item: item[1].confidence)[1]
        return {
            "query": lookups[0][1].query[:500],
            "queries": [
                {
                    "purpose": purpose,
                    "query": lookup.query[:500],
                    "confidence": lookup.confidence,
                    "top": lookup.hits[0].article_id if lookup.hits else None,
                }
                for purpose, lookup in lookups
            ],
            "mode": best.mode,
            "fits": bool(hits) and best.fits,
            "confidence": best.confidence,
            "threshold": best.threshold,
            "hits": [
                {
                    "chunk_id": h.chunk_id,
                    "article_id": h.article_id,
                    "title": h.title,
                    "heading": h.heading,
                    "source": h.source,
                    "origin": h.origin,
                    "score": round(h.score, 4),
                    "text": h.text[:PASSAGE_CHARS],
                }
                for h in hits
            ],
            "duration_ms": int((time.monotonic() - started) * 1000),
        }

    # -- draft ---------------------------------------------------------------------------

    async def draft(
        self,
        *,
        question: str,
        history: str,
        classification: dict[str, Any],
        retrieval: dict[str, Any],
        notes: list[TicketNote],
        first_step: bool = False,
        files: RoundFiles = NO_FILES,
        language: str = ENGLISH,
    ) -> Drafted:
        """The model's draft from the passages (checked), or offline the best passage for a
        reviewer; None when there is nothing to draft from. ``first_step``: drafted beside the
        classification, so it waits where the classification does (``bot/llm/model.py``)."""
        if classification.get("greeting"):
            return Drafted(
                Draft(text=GREETING_REPLY, grounded=True, origin="canned").model_dump(), None
            )
        hits = citable_hits(retrieval.get("hits", []))
        llm_usable = self.model is not None and not classification.get("error")
        if not hits and not ((notes or files.attachments) and llm_usable):
            # With files, the model still says what they show (and what it would need).
            return Drafted(None, None)
        if not llm_usable and not retrieval.get("fits", True):
            # Offline, a passage that is not relevant would only mislead the reviewer.
            return Drafted(None, None)
        if not llm_usable or self.model is None:
            return Drafted(self.passage_draft(hits[0]).model_dump(), None)
        usage: LlmUsage | None = None
        try:
            ask = self.model.structured_first_step if first_step else self.model.structured
            reply = await ask(
                self.draft_prompt,
                DraftReply,
                images=files.images,
                language=language_name(language),
                question=asked(question, files),
                history=history,
                articles=articles_text(hits),
                team_notes=team_notes_text(notes),
                attachments=files.prompt,
            )
            usage = reply.usage
            written = self.checked_draft(
                reply.value, hits, notes=notes, question=question, language=language
            )
            if self.leaks_instructions(written.text):
                # Never sent, not even on approval: the reviewer gets the best passage.
                raise LlmFailure(
                    "the draft repeated the bot's instructions; it was withheld", usage
                )
            return Drafted(written.model_dump(), usage)
        except LlmFailure as failure:
            draft = self.passage_draft(hits[0]).model_dump() if hits else None
            if draft is not None:
                draft["error"] = failure.reason
            return Drafted(draft, failure.usage)

    def passage_draft(self, hit: dict[str, Any]) -> Draft:
        """Offline draft: the best passage, for a reviewer to approve or edit."""
        text = neutralize_mentions(hit["text"][:OFFLINE_PASSAGE_CHARS])
        return Draft(text=text, sources=[_source(hit)], grounded=False, origin="knowledge_base")

    def checked_draft(
        self,
        reply: DraftReply,
        hits: list[dict[str, Any]],
        *,
        notes: list[TicketNote] = (),  # type: ignore[assignment]
        question: str = "",
        language: str = ENGLISH,
    ) -> Draft:
        """The model's draft with our checks' findings: which citations it was not shown, and
        which of its facts none of its cited passages (nor the team's answers) state (for a
        draft in another language than the English passages, the checks that can apply:
        ``bot/tickets/grounding.py``)."""
        by_article: dict[int, list[dict[str, Any]]] = {}
        for hit in hits:
            by_article.setdefault(hit["article_id"], []).append(hit)
        wanted = list(dict.fromkeys(reply.used_article_ids))
        cited = [i for i in wanted if i in by_article]
        text = neutralize_mentions(reply.answer.strip())
        evidence = [h["text"] for i in cited for h in by_article[i]]
        evidence += [f"{h['title']} › {h['heading']}" for i in cited for h in by_article[i]]
        evidence += [n.answer for n in notes]
        addresses = [h["source"] for i in cited for h in by_article[i]]
        return Draft(
            text=text,
            sources=[_source(by_article[i][0]) for i in cited],
            grounded=reply.grounded and bool(cited),
            origin="llm",
            missing_information=reply.missing_information.strip(),
            attachment_notes=reply.attachments,
            unsupported_facts=(
                unsupported_facts(text, evidence, question, english=is_english(language))
                if reply.grounded
                else []
            ),
            unknown_citations=[i for i in wanted if i not in by_article],
            unsupported_links=unsupported_links(text, evidence + addresses, self.link_hosts),
        )

    def leaks_instructions(self, text: str) -> bool:
        """The draft repeats a run of our own instructions (a prompt-injection asking for
        them): it must never reach a customer, approved or not."""
        words = _words(text)
        return any(
            " ".join(words[i : i + LEAK_WORDS]) in self._instruction_runs
            for i in range(len(words) - LEAK_WORDS + 1)
        )

    # -- decide --------------------------------------------------------------------------

    @staticmethod
    def decide(
        *,
        classification: dict[str, Any],
        retrieval: dict[str, Any],
        draft: dict[str, Any] | None,
        threshold: float,
        mode: str = "auto",
        auto_categories: frozenset[str] = DEFAULT_AUTO_CATEGORIES,
        opened_by_hand: bool = False,
    ) -> Decision:
        decision = decide(
            classification=classification,
            retrieval=retrieval,
            draft=draft,
            threshold=threshold,
            auto_categories=auto_categories,
        )
        if decision.action == "answer" and opened_by_hand:
            # A teammate triaged it (a reaction on the customer's message): they review it.
            return Decision(action="escalate", reason=OPENED_BY_HAND)
        # Asking a greeting what it needs is no answer: review mode does not hold it.
        if decision.action == "answer" and mode == "review" and not classification.get("greeting"):
            return Decision(
                action="escalate",
                reason="This channel is in review mode: every draft waits for approval.",
            )
        return decision


def draft_stands(
    shown: list[dict[str, Any]], found: list[dict[str, Any]], draft: dict[str, Any] | None
) -> tuple[bool, str]:
    """Whether a draft written from the passages ``shown`` stands, now that ``found`` are the
    passages the classification's search would show a draft; and why.

    It stands when those passages could not have changed it in a way that matters: they are the
    very passages it was shown; or it does not answer and was shown every one of them; or it
    answers (grounded, citing, passing our checks), every article it cites is among them, the
    LEADING first of them were shown, and the very first (the one a draft prompt leads with,
    what a model leans on most) is the one it led with or of an article it cites."""
    seen = {h["chunk_id"] for h in shown}
    unseen = [h for h in found if h["chunk_id"] not in seen]
    if [h["chunk_id"] for h in shown] == [h["chunk_id"] for h in found]:
        return True, SAME_PASSAGES
    if not _answers(draft):
        if not unseen:
            return True, "it was shown every passage the classification's search found"
        what = "had nothing to draft from" if not shown else "does not answer"
        return False, (
            f"the first draft {what}, and the classification's search found {len(unseen)}"
            f" passage(s) it was not shown (article(s) {_articles(unseen)})"
        )
    assert draft is not None
    cited = [int(s["article_id"]) for s in draft.get("sources") or []]
    returned = {h["article_id"] for h in found}
    dropped = [a for a in cited if a not in returned]
    if dropped:
        return False, (
            f"it cites article(s) {', '.join(map(str, dropped))}, which the classification's"
            " search does not return"
        )
    leading = [h for h in found[:LEADING] if h["chunk_id"] not in seen]
    if leading:
        return False, (
            f"the classification's search ranks passage(s) of article(s) {_articles(leading)}"
            f" among its first {LEADING}, and it was not shown them"
        )
    best = found[0] if found else None
    if best and best["chunk_id"] != shown[0]["chunk_id"] and best["article_id"] not in cited:
        return False, (
            f"the classification's search puts article {best['article_id']} first, and the"
            f" draft neither led with it nor cites it"
        )
    return True, (
        f"it answers from article(s) {', '.join(map(str, cited))}, which the classification's"
        f" search returns; it was shown that search's first {LEADING} passages, and led with"
        " or cites the first"
    )


def _answers(draft: dict[str, Any] | None) -> bool:
    """A model's draft that cites what it was shown and that our checks let through."""
    return bool(
        draft is not None
        and draft.get("origin") == "llm"
        and draft.get("grounded")
        and draft.get("sources")
        and not draft.get("error")
        and not draft.get("unknown_citations")
        and not draft.get("unsupported_facts")
        and not draft.get("unsupported_links")
    )


def _articles(hits: list[dict[str, Any]]) -> str:
    return ", ".join(str(a) for a in dict.fromkeys(h["article_id"] for h in hits))


async def _together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both at once; if one raises, the other is cancelled rather than left running."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        return await asyncio.gather(one, two)
    except BaseException:
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
        raise


def _fused(rankings: list[list[KnowledgeHit]]) -> list[KnowledgeHit]:
    """Reciprocal rank fusion of the queries' results (the first query wins ties)."""
    if len(rankings) == 1:
        return rankings[0]
    scores: dict[int, float] = {}
    first: dict[int, KnowledgeHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            first.setdefault(hit.chunk_id, hit)
    order = sorted(scores, key=lambda c: -scores[c])
    return [first[c] for c in order]


def _parts(query: str) -> list[str]:
    """The separate questions of a query that asks several (none when it asks one)."""
    parts = [p.strip() for p in _PART_SPLIT.split(query) if len(_PART_WORDS.findall(p)) >= 2]
    return parts[:3] if len(parts) > 1 else []


def _within_budget(ranked: list[KnowledgeHit]) -> list[KnowledgeHit]:
    """The first passages whose text fits PASSAGE_BUDGET (the first always), at most
    SEARCH_RESULTS."""
    kept: list[KnowledgeHit] = []
    used = 0
    for hit in ranked[:SEARCH_RESULTS]:
        size = min(len(hit.text), PASSAGE_CHARS) + len(hit.title) + len(hit.heading)
        if kept and used + size > PASSAGE_BUDGET:
            break
        kept.append(hit)
        used += size
    return kept


def _diverse(ranked: list[KnowledgeHit]) -> list[KnowledgeHit]:
    """The best passage of each article first, best first; then second passages, and so on.
    Five sections of one article would hide the other article that answers the question."""
    rounds: list[list[KnowledgeHit]] = []
    seen: dict[int, int] = {}
    for hit in ranked:
        n = seen.get(hit.article_id, 0)
        seen[hit.article_id] = n + 1
        while len(rounds) <= n:
            rounds.append([])
        rounds[n].append(hit)
    return [hit for level in rounds for hit in level]


def asked(question: str, files: RoundFiles = NO_FILES) -> str:
    """The question as a prompt shows it: capped, and said to be only files when it is."""
    text = question[:QUESTION_CHARS_FOR_LLM]
    return text if text.strip() or not files.attachments else FILES_ONLY


def quoted(text: str) -> str:
    """A message's own line breaks, of every kind (``\r``, ``\u2028``… as well as ``\n``),
    become indented newlines, so a line inside it that looks like "Support (human): …" cannot
    pass for a turn of the conversation in the prompt."""
    lines = text.strip().splitlines()
    return "\n    ".join(lines) if len(lines) > 1 else text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def articles_text(hits: list[dict[str, Any]]) -> str:
    return (
        "\n\n".join(
            f"[article {h['article_id']}] {h['title']} › {h['heading']}\n{h['text']}" for h in hits
        )
        or "(none)"
    )


def team_notes_text(notes: list[TicketNote]) -> str:
    return (
        "\n".join(f"Q: {n.question}\nA (from <@{n.user_id}>): {n.answer}" for n in notes)
        or "(none)"
    )


def citable_hits(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored passages customers may be answered from: a search leaves out the others
    (``bot/kb/provenance.py``), but a retrieval stored before that may hold them."""
    return [h for h in hits if customer_citable(str(h.get("origin") or h.get("source") or ""))]


def _source(hit: dict[str, Any]) -> Source:
    return Source(
        article_id=hit["article_id"],
        title=hit["title"],
        heading=hit["heading"],
        source=hit["source"],
        origin=str(hit.get("origin") or ""),
    )
