"""The knowledge base: Markdown chunking, safe FTS5 queries, and importing files into SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.kb.base import KnowledgeBase
from bot.kb.formats.markdown import chunk_markdown
from bot.kb.retrieval import query_terms
from persistence.connect import database_from_url
from persistence.db import Database
from persistence.knowledge import KnowledgeRepository, fts5_match
from persistence.records import KnowledgeChunkInput
from tests.utils.databases import database_url


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = database_from_url(database_url(tmp_path))
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def kb(db: Database) -> KnowledgeBase:
    return KnowledgeBase(KnowledgeRepository(db))


# --- chunk_markdown --------------------------------------------------------------------------


def test_first_h1_is_the_title_and_headings_form_paths() -> None:
    text = (
        "# Exporting reports\n"
        "Intro to exports.\n"
        "## Setup\n"
        "Enable exports.\n"
        "### Install\n"
        "Run the installer.\n"
        "### Configure\n"
        "Edit the config.\n"
        "## Formats\n"
        "CSV and PDF.\n"
    )
    title, chunks = chunk_markdown(text, fallback_title="Fallback")
    assert title == "Exporting reports"
    assert chunks == [
        KnowledgeChunkInput(heading="Exporting reports", text="Intro to exports."),
        KnowledgeChunkInput(heading="Setup", text="Enable exports."),
        KnowledgeChunkInput(heading="Setup › Install", text="Run the installer."),
        KnowledgeChunkInput(heading="Setup › Configure", text="Edit the config."),
        KnowledgeChunkInput(heading="Formats", text="CSV and PDF."),
    ]
    assert all(c.heading != "Exporting reports › Setup" for c in chunks)


def test_no_h1_keeps_the_fallback_title_and_text_before_headings_is_a_chunk() -> None:
    text = "Some preamble.\n\n## Usage\nUse it.\n"
    title, chunks = chunk_markdown(text, fallback_title="Getting started")
    assert title == "Getting started"
    assert chunks == [
        KnowledgeChunkInput(heading="Getting started", text="Some preamble."),
        KnowledgeChunkInput(heading="Usage", text="Use it."),
    ]


def test_a_later_h1_is_a_section_not_the_title() -> None:
    text = "# Title\nA.\n# Second part\nB.\n## Sub\nC.\n"
    title, chunks = chunk_markdown(text, fallback_title="F")
    assert title == "Title"
    assert [c.heading for c in chunks] == ["Title", "Second part", "Second part › Sub"]


def test_fenced_code_with_hash_lines_is_not_a_heading() -> None:
    text = (
        "# Shell tips\n"
        "## Running\n"
        "Run this:\n"
        "```bash\n"
        "# install the tool\n"
        "## not a heading either\n"
        "pip install tool\n"
        "```\n"
        "Done.\n"
    )
    title, chunks = chunk_markdown(text, fallback_title="F")
    assert title == "Shell tips"
    assert len(chunks) == 1
    assert chunks[0].heading == "Running"
    assert "# install the tool" in chunks[0].text
    assert "## not a heading either" in chunks[0].text
    assert chunks[0].text.endswith("Done.")


def test_empty_sections_make_no_chunks_and_closing_hashes_are_dropped() -> None:
    text = "# T\n## Empty ##\n## Full\nx\n#hashtag is text\n"
    _, chunks = chunk_markdown(text, fallback_title="F")
    assert chunks == [KnowledgeChunkInput(heading="Full", text="x\n#hashtag is text")]


def test_plain_text_file_is_one_chunk_under_the_fallback_title() -> None:
    title, chunks = chunk_markdown("line one\nline two\n", fallback_title="Notes")
    assert title == "Notes"
    assert chunks == [KnowledgeChunkInput(heading="Notes", text="line one\nline two")]


def test_heading_ending_in_hash_keeps_it() -> None:
    _, chunks = chunk_markdown("## Using C#\ntext\n", fallback_title="F")
    assert chunks[0].heading == "Using C#"


def test_tilde_fenced_code_with_hash_lines_is_not_a_heading() -> None:
    text = "## Running\n~~~\n# install the tool\n~~~\n"
    _, chunks = chunk_markdown(text, fallback_title="F")
    assert [c.heading for c in chunks] == ["Running"]


# --- fts5_match ---------------------------------------------------------------------------------


def test_fts5_match_quotes_words_drops_stopwords_and_dedupes() -> None:
    assert fts5_match(query_terms('How do I export the "report" report?')) == '"export" OR "report"'


def test_fts5_match_of_only_stopwords_keeps_them() -> None:
    assert fts5_match(query_terms("how do I")) == '"how" OR "do" OR "i"'


def test_fts5_match_empty_and_punctuation_only() -> None:
    assert fts5_match(query_terms("")) == ""
    assert fts5_match(query_terms('"(*)-:')) == ""


def test_fts5_match_caps_the_number_of_terms() -> None:
    query = fts5_match(query_terms(" ".join(f"term{i}" for i in range(100))))
    assert query.count(" OR ") == 31


HOSTILE_QUERIES = [
    '"',
    '""',
    '"unbalanced',
    "NEAR(a b)",
    "NEAR(export report, 2)",
    "a*",
    "export*",
    "-x",
    "-export",
    "col:val",
    "title:export",
    "((",
    "))",
    "AND OR NOT",
    "export AND",
    "NOT export",
    "^export",
    "{title heading}: export",
    "export + report",
    "日本語 のクエリ",
    "crème brûlée",
    "émoji 👋 ✨",
    "___",
    "_",
    "",
    "   ",
    "'; DROP TABLE kb_articles; --",
    "\x00",
    "a" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_search_with_hostile_input_never_raises(
    kb: KnowledgeBase, tmp_path: Path, query: str
) -> None:
    doc = tmp_path / "export.md"
    doc.write_text("# Export\n## CSV\nExport a report as CSV, crème brûlée.\n", encoding="utf-8")
    await kb.import_paths([doc])
    hits = await kb.search(query)
    assert isinstance(hits, list)
    assert await kb.repo.count_articles() == 1


async def test_search_finds_words_even_when_wrapped_in_query_syntax(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    doc = tmp_path / "export.md"
    doc.write_text("# Export\n## CSV\nExport a report as CSV.\n", encoding="utf-8")
    await kb.import_paths([doc])
    for query in ['"csv', "NEAR(csv report)", "csv*", "-csv", "heading:csv", "((csv"]:
        hits = await kb.search(query)
        assert [h.heading for h in hits] == ["CSV"], query


# --- import_paths ---------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_import_search_and_reimport(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "kb"
    export = _write(
        docs / "exporting-reports.md",
        "# Exporting reports\n## Formats\nPick the zanzibar format to download.\n",
    )
    _write(docs / "sub" / "billing_faq.txt", "Invoices arrive monthly by email.\n")
    _write(docs / "image.png", "not imported from a folder")

    first = await kb.import_paths([docs])
    assert (first.added, first.updated, first.unchanged, first.skipped) == (2, 0, 0, [])
    assert await kb.repo.count_articles() == 2

    hits = await kb.search("zanzibar")
    assert len(hits) == 1
    hit = hits[0]
    assert hit.title == "Exporting reports"
    assert hit.heading == "Formats"
    assert hit.source == str(export.resolve())
    assert "zanzibar" in hit.text
    assert hit.score > 0

    billing = await kb.search("invoices")
    assert billing[0].title == "Billing faq"  # from the file name
    assert billing[0].heading == "Billing faq"

    again = await kb.import_paths([docs])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)

    export.write_text("# Exporting reports\n## Formats\nNow the quokka format.\n", "utf-8")
    changed = await kb.import_paths([docs])
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 1)
    assert await kb.repo.count_articles() == 2
    assert await kb.search("zanzibar") == []  # old chunks are gone from the index
    assert [h.heading for h in await kb.search("quokka")] == ["Formats"]
    assert "added 0, updated 1, unchanged 1, removed 0, skipped 0" in changed.describe()


async def test_import_skips_bad_files_with_reasons(kb: KnowledgeBase, tmp_path: Path) -> None:
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"# Title\x00\x01\x02")
    empty = _write(tmp_path / "empty.md", "  \n\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    missing = tmp_path / "nope.md"
    good = _write(tmp_path / "good.md", "Good content.\n")

    summary = await kb.import_paths([binary, empty, latin1, pdf, missing, good])
    assert summary.added == 1
    assert dict(summary.skipped) == {
        str(binary): "binary file",
        str(empty): "empty file",
        str(latin1): "not UTF-8 text (byte 0xe9 at offset 3)",
        str(
            pdf
        ): "not a supported file (.csv, .htm, .html, .jsonl, .markdown, .md, .rst, .text, .txt)",
        str(missing): "no such file or folder",
    }
    described = summary.describe()
    assert "skipped 5" in described
    assert f"skipped {missing}: no such file or folder" in described
    assert await kb.repo.count_articles() == 1


async def test_utf8_bom_is_accepted(kb: KnowledgeBase, tmp_path: Path) -> None:
    doc = tmp_path / "bom.md"
    doc.write_bytes("\ufeff# Titled\nwombat facts\n".encode())
    summary = await kb.import_paths([doc])
    assert summary.added == 1
    assert (await kb.search("wombat"))[0].title == "Titled"


async def test_direct_file_suffix_is_case_insensitive(kb: KnowledgeBase, tmp_path: Path) -> None:
    doc = _write(tmp_path / "README.MD", "capybara\n")
    summary = await kb.import_paths([doc])
    assert summary.added == 1


async def test_folder_import_finds_upper_case_suffixes(kb: KnowledgeBase, tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "Guide.MD", "capybara\n")
    summary = await kb.import_paths([tmp_path / "docs"])
    assert summary.added == 1
