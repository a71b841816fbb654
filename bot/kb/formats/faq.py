"""FAQ tables: CSV and JSON Lines files with one question and answer per row.

Every row becomes its own article, titled by its question and stored under the file plus a
digest of the question, so inserting or editing one row re-imports only that row. Optional
``url`` and ``tags`` columns are kept. A bad row (missing answer, duplicate question, unreadable
CSV, invalid JSON) is reported in ``ParsedSource.problems`` with its line and skipped; a file with
no valid row at all is refused with the first few problems.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.kb.formats.common import ParsedSource, UnsupportedSource, sha256, split_lines
from persistence.records import ArticleInput, KnowledgeChunkInput

# Row hashes are versioned: changing how rows are normalised must re-import them all once.
_ROW_HASH_VERSION = "faq-row/1"
# How many row problems to quote when a whole FAQ file is refused.
_PROBLEMS_IN_REFUSAL = 3


@dataclass
class _FaqRows:
    """Turns validated rows into articles and keeps first-wins bookkeeping for duplicates."""

    path_label: str
    anchor: str  # "row" for CSV, "line" for JSON Lines
    articles: list[ArticleInput] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    questions: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"line {line}: {message}")

    def add(self, line: int, question: str, answer: str, url: str, tags: list[str]) -> None:
        question = " ".join(question.split())  # a title is one line
        answer = "\n".join(part.rstrip() for part in split_lines(answer)).strip()
        url = url.strip()
        if url and not _WEB_ADDRESS.match(url):
            # Usually an answer's unquoted comma pushed words into the url column; storing
            # them as the article's source would file the answer under nonsense.
            self.problem(line, f"url {url!r} is not a web address")
            return
        missing = [
            name for name, value in (("question", question), ("answer", answer)) if not value
        ]
        if missing:
            self.problem(line, "missing " + " and ".join(missing))
            return
        key = question.casefold()
        if key in self.questions:
            self.problem(line, f"duplicate question (first on line {self.questions[key]})")
            return
        # The storage key names the file and the question, not the line: inserting a row
        # does not re-import every row after it, and --prune can tell which file a row came
        # from. The link readers see is kept apart, in ``url``.
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        source = f"{self.path_label}#q-{digest}"
        self.questions[key] = line
        self.sources[source] = line
        tag_list = list(dict.fromkeys(t for t in (t.strip() for t in tags) if t))
        text = answer + (f"\nTags: {', '.join(tag_list)}" if tag_list else "")
        chunks = [KnowledgeChunkInput(heading=question, text=text)]
        # Hash what is stored, not the raw row: reformatting a file (quoting, spacing, column
        # order, CRLF) does not re-import anything, while any visible change does.
        normalised = json.dumps(
            [_ROW_HASH_VERSION, question, [[c.heading, c.text] for c in chunks]],
            ensure_ascii=False,
        )
        self.articles.append(
            ArticleInput(
                source=source,
                title=question,
                content_hash=sha256(normalised.encode("utf-8") + url.encode("utf-8")),
                chunks=chunks,
                url=url or None,
                tags=", ".join(tag_list),
            )
        )

    def result(self, empty_reason: str) -> ParsedSource:
        if not self.articles:
            reasons = self.problems[:_PROBLEMS_IN_REFUSAL] or [empty_reason]
            more = len(self.problems) - _PROBLEMS_IN_REFUSAL
            tail = f" (and {more} more)" if more > 0 else ""
            raise UnsupportedSource("no valid rows: " + "; ".join(reasons) + tail)
        return ParsedSource(articles=self.articles, problems=self.problems)


def _split_tags(value: str) -> list[str]:
    return re.split(r"[,;]", value)


_WEB_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+\Z")
_FAQ_FIELDS = ("question", "answer", "url", "tags")
_CSV_DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
_CSV_HEADER_ERROR = "a CSV FAQ needs a header row with question and answer columns"


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(line where the row starts, fields or the error) for every row, blank ones skipped."""
    # newline="" keeps line breaks inside quoted fields intact, as the csv module requires.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, exc
            continue
        if any(cell.strip() for cell in row):
            yield start, row


def _csv_header(text: str) -> tuple[str, list[str]]:
    """The delimiter and lower-cased header; semicolon and tab files (spreadsheet exports in
    many locales) are accepted when their first row names the columns."""
    first: list[str] = []
    for delimiter in _CSV_DELIMITERS:
        for _, row in _csv_rows(text, delimiter):
            if isinstance(row, csv.Error):
                break
            header = [cell.strip().lower() for cell in row]
            if delimiter == ",":
                first = row
            if "question" in header and "answer" in header:
                return delimiter, header
            break
    found = ", ".join(repr(c.strip()) for c in first[:6])
    raise UnsupportedSource(
        f"{_CSV_HEADER_ERROR} (first row: {found})" if found else _CSV_HEADER_ERROR
    )


def _cell(row: list[str], column: dict[str, int], name: str) -> str:
    # Short rows are fine: some spreadsheets drop trailing empty url/tags cells.
    index = column.get(name)
    return row[index] if index is not None and index < len(row) else ""


def parse_csv(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    delimiter, header = _csv_header(text)
    for name in _FAQ_FIELDS:
        if header.count(name) > 1:
            raise UnsupportedSource(f"the CSV header has more than one {name} column")
    column = {name: index for index, name in enumerate(header) if name}
    rows = _FaqRows(path_label, "row")
    header_seen = False
    for line, row in _csv_rows(text, delimiter):
        if isinstance(row, csv.Error):
            message = str(row)
            if message == "unexpected end of data":
                message = "a quoted field starting here is never closed"
            rows.problem(line, f"unreadable CSV ({message})")
            continue
        if not header_seen:
            header_seen = True
            continue
        extra = [cell for cell in row[len(header) :] if cell.strip()]
        if extra:
            # Usually an unquoted delimiter inside an answer: importing the row would cut the
            # answer short without anyone noticing.
            rows.problem(
                line,
                f"{len(row)} fields but the header has {len(header)}"
                f" (quote fields that contain {_CSV_DELIMITERS[delimiter]})",
            )
            continue

        question, answer, url, tags = (_cell(row, column, n) for n in _FAQ_FIELDS)
        rows.add(line, question, answer, url, _split_tags(tags))
    return rows.result("the file has a header but no rows")


def _jsonl_field(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", bool: "true/false", str: "a string"}
    names[type(None)] = "null"
    return names.get(type(value), "a number")


def parse_jsonl(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    rows = _FaqRows(path_label, "line")
    # Split on "\n" only: str.splitlines() would also break at U+2028 and friends, which JSON
    # allows unescaped inside strings, and the line numbers would stop matching the editor's.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.problem(number, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            rows.problem(number, "invalid JSON (nested too deeply)")
            continue
        if not isinstance(record, dict):
            rows.problem(number, f"expected a JSON object, got {_json_type(record)}")
            continue
        try:
            question = _jsonl_field(record, "question")
            answer = _jsonl_field(record, "answer")
            url = _jsonl_field(record, "url")
            tags = record.get("tags")
            if tags is None:
                tags = []
            elif isinstance(tags, str):
                tags = _split_tags(tags)
            elif not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("tags must be a string or a list of strings")
        except ValueError as exc:
            rows.problem(number, str(exc))
            continue
        rows.add(number, question, answer, url, tags)
    return rows.result("no JSON objects")
