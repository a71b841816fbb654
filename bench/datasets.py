"""Loaders that turn the public datasets in ``shared/eval-data`` into knowledge-base articles and
labelled queries for ``bench.retrieval``.

Every loader is deterministic (a fixed seed for each random split) and reads only the files the
folder's SOURCE.md describes. A query's ``gold`` is the key of the article that answers it, or
``None`` when the query is out of scope (the bot should say "nothing fits" and escalate).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20240611
FEEDBACKQA_DOMAINS = ("Australia", "CDC", "UK", "WHO")
HINT3_BOTS = ("curekart", "powerplay11", "sofmattress")
HINT3_OOS = "NO_NODES_DETECTED"
# HINT3 has no out-of-scope training queries, so tuning simulates them: this share of the
# labels is left out of the tuning index, and their sentences become out-of-scope queries.
HINT3_TUNE_HELD_OUT_LABELS = 0.25
# Share of each remaining label's training sentences held out as in-scope tuning queries.
HINT3_TUNE_QUERY_SHARE = 0.2
CLINC_OOS = "oos"
BANKING77_OOS_SPLITS = {"test": "test", "validation": "valid"}
BITEXT_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Article:
    key: str
    title: str
    chunks: tuple[tuple[str, str], ...]  # (heading, text)


@dataclass(frozen=True)
class Query:
    text: str
    gold: str | None  # the answering article's key; None: out of scope
    origin: str = ""  # which file or split it came from, where a task mixes several


@dataclass
class Task:
    """One index to search and the queries to run against it."""

    name: str
    group: str
    articles: list[Article]
    eval_split: str
    queries: list[Query]
    # Out-of-scope tuning: queries run against ``tune_articles`` (or ``articles`` when None).
    tune_split: str | None = None
    tune_queries: list[Query] = field(default_factory=list)
    tune_articles: list[Article] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_oos(self) -> bool:
        return any(q.gold is None for q in self.queries)


def humanise(label: str) -> str:
    """``ORDER_TAKING`` / ``change_accent`` -> ``Order taking`` / ``Change accent``."""
    words = label.replace("_", " ").replace("-", " ").split()
    text = " ".join(w.lower() for w in words)
    return text[:1].upper() + text[1:]


def intent_articles(prefix: str, pairs: Iterable[tuple[str, str]]) -> list[Article]:
    """One article per label; each distinct training sentence is one chunk under the title."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in pairs:
        text = text.strip()
        if text and text not in by_label[label]:
            by_label[label].append(text)
    articles = []
    for label in sorted(by_label):
        title = humanise(label)
        articles.append(
            Article(
                key=f"{prefix}:{label}",
                title=title,
                chunks=tuple((title, s) for s in by_label[label]),
            )
        )
    return articles


def sample(items: Sequence[Any], n: int | None, seed: int = SEED) -> list[Any]:
    """At most ``n`` items, a seeded random choice kept in the original order."""
    if n is None or len(items) <= n:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]


def cap_queries(queries: Sequence[Query], n: int | None) -> list[Query]:
    """At most ``n`` queries, keeping the in-scope/out-of-scope proportion."""
    if n is None or len(queries) <= n:
        return list(queries)
    inside = [q for q in queries if q.gold is not None]
    outside = [q for q in queries if q.gold is None]
    n_out = round(n * len(outside) / len(queries))
    if outside and n_out == 0:
        n_out = 1
    return sample(inside, n - n_out) + sample(outside, n_out, SEED + 1)


# -- FeedbackQA -----------------------------------------------------------------------------------


def _feedbackqa_article(passage: dict[str, Any]) -> Article:
    ref = passage["reference"]
    title = str(ref["page_title"]).strip() or str(passage.get("uri") or "")
    heading = " › ".join(h.strip() for h in ref.get("section_headers") or [] if h.strip())
    return Article(
        key=f"fbqa:{passage['source']}:{passage['passage_id']}",
        title=title,
        chunks=((heading or title, str(ref["section_content"]).strip()),),
    )


def feedbackqa(root: Path, split: str = "test") -> list[Task]:
    tasks = []
    for domain in FEEDBACKQA_DOMAINS:
        data = json.loads((root / "feedbackqa" / domain / f"{split}.json").read_text("utf-8"))
        articles = [_feedbackqa_article(p) for p in data["passages"]]
        queries = [
            Query(str(e["question"]).strip(), f"fbqa:{domain}:{e['passage_id']}")
            for e in data["examples"]
            if str(e["question"]).strip()
        ]
        tasks.append(
            Task(
                name=f"feedbackqa/{domain}",
                group="feedbackqa",
                articles=articles,
                eval_split=split,
                queries=queries,
            )
        )
    return tasks


# -- StackFAQ -------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def stackfaq(root: Path) -> Task:
    data = json.loads((root / "stackfaq" / "stackExchange-FAQ.json").read_text("utf-8"))
    articles = []
    queries = []
    for i, pair in enumerate(data["root"]["qapair"]):
        key = f"stackfaq:{i}"
        question = str(pair["question"]).strip()
        answers = [a.strip() for a in _as_list(pair.get("answer")) if a.strip()]
        articles.append(
            Article(
                key=key, title=question, chunks=((question, "\n\n".join([question, *answers])),)
            )
        )
        for rephrased in _as_list(pair.get("rephr")):
            rephrased = rephrased.strip()
            if rephrased and rephrased != "*":
                queries.append(Query(rephrased, key))
    return Task(
        name="stackfaq",
        group="stackfaq",
        articles=articles,
        eval_split="all",
        queries=queries,
        notes=["no split: every paraphrase is a query"],
    )


# -- HINT3 ----------------------------------------------------------------------------------------


def _csv_pairs(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            (row[text_column] or "", row[label_column] or "")
            for row in csv.DictReader(f)
            if (row[text_column] or "").strip()
        ]


def hint3(root: Path) -> list[Task]:
    tasks = []
    for bot in HINT3_BOTS:
        train = _csv_pairs(
            root / "hint3" / "v2" / "train" / f"{bot}_train.csv", "sentence", "label"
        )
        test = _csv_pairs(root / "hint3" / "v2" / "test" / f"{bot}_test.csv", "sentence", "label")
        prefix = f"hint3:{bot}"
        articles = intent_articles(prefix, train)
        known = {a.key for a in articles}
        queries = []
        unknown_labels = 0
        for text, label in test:
            if label == HINT3_OOS:
                queries.append(Query(text.strip(), None, f"test/{HINT3_OOS}"))
            elif f"{prefix}:{label}" in known:
                queries.append(Query(text.strip(), f"{prefix}:{label}", "test"))
            else:
                unknown_labels += 1
        tune_articles, tune_queries, held_out = _hint3_tuning(prefix, train)
        notes = [
            f"tuning index: {HINT3_TUNE_QUERY_SHARE:.0%} of each label's train sentences held out"
            f" as in-scope tuning queries; {held_out} of {len(articles)} labels"
            f" ({HINT3_TUNE_HELD_OUT_LABELS:.0%}) left out of the tuning index entirely, their"
            " sentences serving as simulated out-of-scope queries; the test index uses all of"
            " train"
        ]
        if unknown_labels:
            notes.append(f"{unknown_labels} test queries whose label has no train sentence skipped")
        tasks.append(
            Task(
                name=f"hint3/{bot}",
                group="hint3",
                articles=articles,
                eval_split="test",
                queries=queries,
                tune_split="train (held-out part)",
                tune_queries=tune_queries,
                tune_articles=tune_articles,
                notes=notes,
            )
        )
    return tasks


def _hint3_tuning(
    prefix: str, train: list[tuple[str, str]]
) -> tuple[list[Article], list[Query], int]:
    rng = random.Random(f"{SEED}:{prefix}")
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in train:
        by_label[label].append(text.strip())
    labels = sorted(by_label)
    held_out = set(rng.sample(labels, round(len(labels) * HINT3_TUNE_HELD_OUT_LABELS)))
    index_pairs: list[tuple[str, str]] = []
    queries: list[Query] = []
    for label in labels:
        sentences = list(by_label[label])
        rng.shuffle(sentences)
        if label in held_out:
            queries += [Query(s, None, "train/held-out label") for s in sentences]
            continue
        n_query = round(len(sentences) * HINT3_TUNE_QUERY_SHARE) if len(sentences) > 1 else 0
        queries += [Query(s, f"{prefix}:{label}", "train/held-out") for s in sentences[:n_query]]
        index_pairs += [(s, label) for s in sentences[n_query:]]
    return intent_articles(prefix, index_pairs), queries, len(held_out)


# -- CLINC150 -------------------------------------------------------------------------------------


def clinc150(root: Path, train_per_intent: int | None = None) -> Task:
    data = json.loads((root / "clinc150" / "data_full.json").read_text("utf-8"))
    train = [(t, label) for t, label in data["train"]]
    notes = ["articles from `train`; threshold tuned on `val` + `oos_val`"]
    if train_per_intent is not None:
        by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for pair in train:
            by_label[pair[1]].append(pair)
        train = [p for label in sorted(by_label) for p in by_label[label][:train_per_intent]]
        notes.append(f"capped: first {train_per_intent} train sentences per intent (--quick)")
    articles = intent_articles("clinc", train)

    def queries(*splits: str) -> list[Query]:
        return [
            Query(t.strip(), None if label == CLINC_OOS else f"clinc:{label}", split)
            for split in splits
            for t, label in data[split]
            if t.strip()
        ]

    return Task(
        name="clinc150",
        group="clinc150",
        articles=articles,
        eval_split="test + oos_test",
        queries=queries("test", "oos_test"),
        tune_split="val + oos_val",
        tune_queries=queries("val", "oos_val"),
        notes=notes,
    )


# -- Bitext customer service -----------------------------------------------------------------------


def bitext(root: Path) -> Task:
    """Articles from ``train`` (one per intent); ``test`` evaluated, ``validation`` for tuning.
    Bitext has no out-of-scope queries; ``contact_human_agent`` asks for a person."""
    folder = root / "bitext-customer-service-intent"
    splits = {s: _csv_pairs(folder / f"{s}.csv", "utterance", "intent") for s in BITEXT_SPLITS}
    articles = intent_articles("bitext", splits["train"])
    known = {a.key for a in articles}

    def queries(split: str) -> list[Query]:
        return [
            Query(t.strip(), f"bitext:{label}", split)
            for t, label in splits[split]
            if f"bitext:{label}" in known
        ]

    return Task(
        name="bitext",
        group="bitext",
        articles=articles,
        eval_split="test",
        queries=queries("test"),
        tune_split="validation",
        tune_queries=queries("validation"),
        notes=["articles from `train`, one per intent; no out-of-scope queries"],
    )


# -- BANKING77-OOS --------------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def _seq_pairs(folder: Path) -> list[tuple[str, str]]:
    texts, labels = _lines(folder / "seq.in"), _lines(folder / "label")
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} queries but {len(labels)} labels")
    return [(t.strip(), label.strip()) for t, label in zip(texts, labels, strict=True) if t.strip()]


def banking77_oos(root: Path) -> Task:
    """50 in-scope intents (``train`` -> articles); evaluated on ``test`` in-scope plus the
    in-domain (``id-oos/test``) and out-of-domain (``ood-oos/test``) out-of-scope queries; the
    ``valid`` splits of the same three for tuning."""
    folder = root / "banking77-oos"
    articles = intent_articles("banking77", _seq_pairs(folder / "train"))
    known = {a.key for a in articles}

    def queries(split: str) -> list[Query]:
        out = [
            Query(t, f"banking77:{label}", split)
            for t, label in _seq_pairs(folder / split)
            if f"banking77:{label}" in known
        ]
        for oos in ("id-oos", "ood-oos"):
            out += [Query(t, None, f"{oos}/{split}") for t, _ in _seq_pairs(folder / oos / split)]
        return out

    return Task(
        name="banking77-oos",
        group="banking77-oos",
        articles=articles,
        eval_split="test + id-oos/test + ood-oos/test",
        queries=queries(BANKING77_OOS_SPLITS["test"]),
        tune_split="valid + id-oos/valid + ood-oos/valid",
        tune_queries=queries(BANKING77_OOS_SPLITS["validation"]),
        notes=["articles from `train` (50 in-scope intents)"],
    )


# -- a large mixed corpus for the latency runs ----------------------------------------------------

LATENCY_GROUP = 10  # sentences per article in the mixed corpus


def _grouped(prefix: str, pairs: Iterable[tuple[str, str]]) -> list[Article]:
    """Intent sentences in articles of at most LATENCY_GROUP chunks, one label per article."""
    out = []
    for article in intent_articles(prefix, pairs):
        for start in range(0, len(article.chunks), LATENCY_GROUP):
            out.append(
                Article(
                    key=f"{article.key}:{start // LATENCY_GROUP}",
                    title=article.title,
                    chunks=article.chunks[start : start + LATENCY_GROUP],
                )
            )
    return out


def latency_corpus(root: Path) -> list[Article]:
    """Every sentence and passage of the datasets as chunks (about 52k), shuffled by article."""
    articles: list[Article] = []
    clinc = json.loads((root / "clinc150" / "data_full.json").read_text("utf-8"))
    articles += _grouped("clinc", [(t, label) for split in clinc.values() for t, label in split])
    for name in ("train", "test"):
        articles += _grouped(
            f"banking77-{name}",
            _csv_pairs(root / "banking77" / f"{name}.csv", "text", "category"),
        )
    for name in ("train", "validation", "test"):
        articles += _grouped(
            f"bitext-{name}",
            _csv_pairs(
                root / "bitext-customer-service-intent" / f"{name}.csv", "utterance", "intent"
            ),
        )
    for bot in HINT3_BOTS:
        for split in ("train", "test"):
            path = root / "hint3" / "v2" / split / f"{bot}_{split}.csv"
            articles += _grouped(f"hint3-{bot}-{split}", _csv_pairs(path, "sentence", "label"))
    data = json.loads((root / "stackfaq" / "stackExchange-FAQ.json").read_text("utf-8"))
    for i, pair in enumerate(data["root"]["qapair"]):
        question = str(pair["question"]).strip()
        texts = [question]
        texts += [a.strip() for a in _as_list(pair.get("answer")) if a.strip()]
        texts += [r.strip() for r in _as_list(pair.get("rephr")) if r.strip() not in ("", "*")]
        articles.append(
            Article(key=f"stackfaq:{i}", title=question, chunks=tuple((question, t) for t in texts))
        )
    for domain in FEEDBACKQA_DOMAINS:
        fbqa = json.loads((root / "feedbackqa" / domain / "test.json").read_text("utf-8"))
        articles += [_feedbackqa_article(p) for p in fbqa["passages"]]
    random.Random(SEED).shuffle(articles)
    return articles


def corpus_of_size(pool: Sequence[Article], chunks: int) -> tuple[list[Article], int]:
    """The first articles of the pool up to ``chunks`` chunks; the pool is repeated with a
    ``(copy N)`` suffix on titles and texts when it is too small. Returns the copies used."""
    out: list[Article] = []
    total = 0
    copy = 1
    while total < chunks:
        for article in pool:
            if total >= chunks:
                break
            if copy > 1:
                suffix = f" (copy {copy})"
                article = Article(
                    key=f"{article.key}#{copy}",
                    title=article.title + suffix,
                    chunks=tuple((h + suffix, t + suffix) for h, t in article.chunks),
                )
            room = chunks - total
            if len(article.chunks) > room:
                article = Article(article.key, article.title, article.chunks[:room])
            out.append(article)
            total += len(article.chunks)
        copy += 1
    return out, copy - 1


def latency_queries(root: Path, n: int) -> list[str]:
    """A seeded mix of real questions from five datasets (in and out of scope)."""
    pools: list[list[str]] = []
    clinc = json.loads((root / "clinc150" / "data_full.json").read_text("utf-8"))
    pools.append([t for t, _ in clinc["test"] + clinc["oos_test"]])
    pools.append([t for t, _ in _csv_pairs(root / "banking77" / "test.csv", "text", "category")])
    fbqa = []
    for domain in FEEDBACKQA_DOMAINS:
        data = json.loads((root / "feedbackqa" / domain / "test.json").read_text("utf-8"))
        fbqa += [str(e["question"]) for e in data["examples"]]
    pools.append(fbqa)
    pools.append([q.text for q in stackfaq(root).queries])
    hint = []
    for bot in HINT3_BOTS:
        path = root / "hint3" / "v2" / "test" / f"{bot}_test.csv"
        hint += [t for t, _ in _csv_pairs(path, "sentence", "label")]
    pools.append(hint)
    per_pool = -(-n // len(pools))
    mixed = [q for i, pool in enumerate(pools) for q in sample(pool, per_pool, SEED + i)]
    random.Random(SEED).shuffle(mixed)
    return mixed[:n]


def replied_questions(root: Path, n: int) -> list[str]:
    """``latency_queries`` the bot replies to, each once: with words in them (an emoji-only
    message is rightly ignored) and not a lone thanks (ignored too), so that counting replies
    never waits for one that will not come."""
    from bot.tickets.query import greeting_only, is_pleasantry

    texts = [
        t
        for t in latency_queries(root, n)
        if re.search(r"[A-Za-z]{2}", t) and not (is_pleasantry(t) and not greeting_only(t))
    ]
    return list(dict.fromkeys(texts))
