"""bot.kb.formats: one file's bytes to articles, for every supported format, and the refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bot.kb.formats.files import (
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    ParsedSource,
    UnsupportedSource,
    parse_source,
)
from persistence.records import ArticleInput, KnowledgeChunkInput

DATA = Path(__file__).resolve().parents[2] / "data" / "kb_formats"


def parse(name: str, raw: bytes | str) -> ParsedSource:
    """Parse bytes as if they came from a file called ``name`` under /kb."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return parse_source(f"/kb/{name}", data, suffix=Path(name).suffix.lower())


def only_article(parsed: ParsedSource) -> ArticleInput:
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def sample(name: str) -> tuple[bytes, ParsedSource]:
    raw = (DATA / name).read_bytes()
    return raw, parse_source(f"/kb/{name}", raw, suffix=Path(name).suffix)


def all_text(article: ArticleInput) -> str:
    return "\n".join([article.title] + [f"{c.heading}\n{c.text}" for c in article.chunks])


def by_title(parsed: ParsedSource) -> dict[str, ArticleInput]:
    return {a.title: a for a in parsed.articles}


def refusal(name: str, raw: bytes | str) -> str:
    with pytest.raises(UnsupportedSource) as info:
        parse(name, raw)
    return str(info.value)


def faq_source(path_label: str, question: str) -> str:
    """The source an FAQ row is stored under: the file plus a digest of its question.

    The question is whitespace-collapsed and case-folded first, so the key never depends on
    the row's line, its url, or how the question was typed.
    """
    key = " ".join(question.split()).casefold()
    return f"{path_label}#q-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


# --- refusals ---------------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert (
        frozenset({".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".csv", ".jsonl"})
        == SUPPORTED_SUFFIXES
    )
    assert MAX_FILE_BYTES == 5_000_000


def test_unknown_suffix_is_refused_and_names_the_supported_ones() -> None:
    message = refusal("manual.pdf", "%PDF-1.7 but pretend text")
    assert message.startswith("unsupported file type .pdf")
    assert ".rst" in message and ".jsonl" in message


def test_a_file_over_the_limit_is_refused_with_its_size() -> None:
    assert (
        refusal("big.txt", b"a" * (MAX_FILE_BYTES + 1))
        == "larger than the 5 MB limit (5000001 bytes)"
    )


def test_a_file_exactly_at_the_limit_is_read() -> None:
    article = only_article(parse("big.txt", b"a" * MAX_FILE_BYTES))
    assert len(article.chunks[0].text) == MAX_FILE_BYTES


def test_nul_bytes_mean_binary() -> None:
    assert refusal("logo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "binary file"


def test_utf16_is_called_out_as_such() -> None:
    message = refusal("notes.txt", "# Notes\nhello\n".encode("utf-16"))
    assert message.startswith("binary file")
    assert "UTF-16" in message


def test_invalid_utf8_reports_the_byte_and_its_offset() -> None:
    assert refusal("cafe.md", b"caf\xe9 au lait") == "not UTF-8 text (byte 0xe9 at offset 3)"


def test_invalid_utf8_offset_counts_the_bom() -> None:
    # The offset is into the file as stored, so someone can find it with a hex editor.
    message = refusal("cafe.md", b"\xef\xbb\xbfcaf\xe9")
    assert message == "not UTF-8 text (byte 0xe9 at offset 6)"


@pytest.mark.parametrize("raw", [b"", b"  \n\t\r\n  ", b"\xef\xbb\xbf\n"])
def test_empty_or_blank_files_are_refused(raw: bytes) -> None:
    assert refusal("blank.md", raw) == "empty file"
    assert refusal("blank.csv", raw) == "empty file"


def test_a_file_with_headings_but_no_text_is_refused() -> None:
    message = refusal("stub.md", "# Coming soon\n\n## Later\n")
    assert message.startswith("no text to import")


# --- Markdown and plain text --------------------------------------------------------------------


def test_markdown_goes_through_chunk_markdown_and_hashes_the_raw_bytes() -> None:
    raw = "\ufeff# Exporting\nIntro.\n## Formats\nCSV.\n".encode()
    article = only_article(parse("exporting.md", raw))
    assert article.source == "/kb/exporting.md"
    assert article.title == "Exporting"  # the BOM is not part of the heading
    assert article.chunks == [
        KnowledgeChunkInput(heading="Exporting", text="Intro."),
        KnowledgeChunkInput(heading="Formats", text="CSV."),
    ]
    assert article.content_hash == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("password-reset.md", "Password reset"),
        ("API_keys.txt", "API keys"),
        ("setup--guide.markdown", "Setup guide"),
        ("notes.text", "Notes"),
    ],
)
def test_the_fallback_title_comes_from_the_file_name(name: str, title: str) -> None:
    article = only_article(parse(name, "Just a paragraph.\n"))
    assert article.title == title
    assert article.chunks == [KnowledgeChunkInput(heading=title, text="Just a paragraph.")]


def test_suffix_is_matched_case_insensitively() -> None:
    parsed = parse_source("/kb/README.MD", b"# Read me\nHello.\n", suffix=".MD")
    assert only_article(parsed).title == "Read me"


# --- reStructuredText -------------------------------------------------------------------------


def test_rst_sample_title_sections_and_heading_paths() -> None:
    raw, parsed = sample("sso-setup.rst")
    article = only_article(parsed)
    assert parsed.problems == []
    assert article.source == "/kb/sso-setup.rst"
    assert article.title == "Single sign-on (SSO)"
    assert article.content_hash == hashlib.sha256(raw).hexdigest()
    assert [c.heading for c in article.chunks] == [
        "Single sign-on (SSO)",
        "Requirements",
        "Requirements › Configuring Okta",
        "Troubleshooting",
        "Troubleshooting › Error codes",
    ]
    chunks = {c.heading: c.text for c in article.chunks}
    assert chunks["Single sign-on (SSO)"] == (
        "Acme supports SAML 2.0 and OpenID Connect single sign-on.\nSee the admin guide for roles."
    )
    assert chunks["Requirements"] == "You need an Owner role and a verified domain."
    assert chunks["Requirements › Configuring Okta"] == (
        "1. Open Settings and choose SSO.\n"
        "2. Paste the metadata URL:\n"
        "\n"
        "https://acme.example.com/saml/metadata\n"
        "\n"
        "Note: Changes take up to five minutes to apply."
    )
    assert chunks["Troubleshooting › Error codes"] == (
        "SSO-403 means the user is not assigned to the app."
    )


def test_rst_line_endings_do_not_matter() -> None:
    raw, parsed = sample("sso-setup.rst")
    crlf = parse("sso-setup.rst", raw.replace(b"\n", b"\r\n"))
    assert only_article(crlf).chunks == only_article(parsed).chunks
    assert only_article(crlf).content_hash != only_article(parsed).content_hash  # raw bytes


def test_rst_sample_drops_directives_comments_and_targets() -> None:
    _, parsed = sample("sso-setup.rst")
    text = all_text(only_article(parsed))
    for dropped in (
        "SECRET-DRAFT-NOTE",  # a comment
        "toctree",
        "maxdepth",
        "okta\n",  # toctree entries
        "azure",
        "sso.png",
        "SSO settings screen",  # the image's :alt:
        "On this page",  # .. contents::
        "sso-setup:",  # the hyperlink target
        "..",
        "``",
        "**",
    ):
        assert dropped not in text, dropped


def test_rst_levels_follow_the_order_styles_first_appear() -> None:
    text = (
        "Title\n~~~~~\n\n"
        "Alpha\n*****\n\nA text.\n\n"
        "Alpha one\n#########\n\nA1 text.\n\n"
        "=========\nOverlined\n=========\n\nO text.\n\n"
        "Plain equals\n============\n\nE text.\n\n"
        "Beta\n*****\n\nB text.\n"
    )
    article = only_article(parse("levels.rst", text))
    assert article.title == "Title"
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Alpha", "A text."),
        ("Alpha › Alpha one", "A1 text."),
        # An overlined style is a different style from the same character without one.
        ("Alpha › Alpha one › Overlined", "O text."),
        ("Alpha › Alpha one › Overlined › Plain equals", "E text."),
        ("Beta", "B text."),
    ]


def test_rst_a_title_skipping_a_level_loses_its_heading_not_its_text() -> None:
    # A new style may only go one level deeper than the current section: docutils refuses the
    # title ("Title level inconsistent") and its text stays in the section before it.
    text = (
        "Title\n=====\n\nAlpha\n-----\n\nA one\n~~~~~\n\nA1 text.\n\n"
        "Beta\n----\n\nB text.\n\nJump\n^^^^\n\nJ text.\n"
    )
    article = only_article(parse("levels.rst", text))
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Alpha › A one", "A1 text."),
        ("Beta", "B text.\n\nJ text."),
    ]
    assert "inconsistent" not in all_text(article)


def test_rst_second_heading_in_the_title_style_is_a_section() -> None:
    text = "Install\n=======\n\nFirst.\n\nConfigure\n=========\n\nSecond.\n"
    article = only_article(parse("guide.rst", text))
    assert article.title == "Install"
    assert article.chunks == [
        KnowledgeChunkInput(heading="Install", text="First."),
        KnowledgeChunkInput(heading="Configure", text="Second."),
    ]


def test_rst_without_headings_uses_the_file_name() -> None:
    article = only_article(parse("release-notes.rst", "Bug fixes only.\n"))
    assert article.title == "Release notes"
    assert article.chunks == [KnowledgeChunkInput(heading="Release notes", text="Bug fixes only.")]


def test_rst_short_underline_or_indented_title_is_not_a_heading() -> None:
    # docutils reads an underline of four or more characters as a title even when it is
    # shorter than the text; a shorter one is text. A title inside an indented block is an
    # error in reST: docutils drops it, words and all.
    text = "Doc\n===\n\nToo long a title\n===\n\n  indented\n  --------\n\nend\n"
    article = only_article(parse("doc.rst", text))
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Doc", "Too long a title\n===\n\nend")
    ]


def test_rst_underline_shorter_than_its_title_still_makes_a_heading() -> None:
    text = "Doc\n===\n\nIntro.\n\nA long title\n====\n\nBody.\n"
    article = only_article(parse("doc.rst", text))
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Doc", "Intro."),
        ("A long title", "Body."),
    ]


def test_rst_transition_lines_are_dropped() -> None:
    article = only_article(parse("t.rst", "Doc\n===\n\nbefore\n\n----------\n\nafter\n"))
    assert article.chunks == [KnowledgeChunkInput(heading="Doc", text="before\n\nafter")]


def test_rst_inline_markup_becomes_plain_text() -> None:
    text = (
        "Doc\n===\n\n"
        "Use ``pip install acme`` with *care* and **speed**.\n"
        "Read `the guide <https://example.com/guide>`_ or `Anon <https://x.example>`__.\n"
        "See :ref:`Setting up <setup-label>`, :doc:`/admin/roles` and :kbd:`Ctrl+C`.\n"
        "Named `Release notes`_ and Python_ references.\n"
        "Footnote here [1]_ and \\*escaped\\* stars.\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks[0].text == (
        "Use pip install acme with care and speed.\n"
        "Read the guide or Anon.\n"
        "See Setting up, /admin/roles and Ctrl+C.\n"
        "Named Release notes and Python references.\n"
        "Footnote here and *escaped* stars."
    )


def test_rst_inline_markup_leaves_identifiers_and_arithmetic_alone() -> None:
    text = "Doc\n===\n\nCall __init__ with snake_case_name; 2 * 3 * 4 and a*b*c stay.\n"
    article = only_article(parse("doc.rst", text))
    assert article.chunks[0].text == (
        "Call __init__ with snake_case_name; 2 * 3 * 4 and a*b*c stay."
    )


def test_rst_literal_blocks_are_kept_verbatim() -> None:
    text = (
        "Doc\n===\n\n"
        "Run this::\n\n"
        "    acme sync --all *.csv ``raw``\n"
        "      --verbose\n\n"
        "Or this ::\n\n"
        "    acme stop\n\n"
        ".. code-block:: bash\n"
        "   :linenos:\n\n"
        "   acme start **now**\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks[0].text == (
        "Run this:\n\n"
        "acme sync --all *.csv ``raw``\n"
        "  --verbose\n\n"
        "Or this\n\n"
        "acme stop\n\n"
        "acme start **now**"
    )


def test_rst_admonitions_keep_their_prose() -> None:
    text = (
        "Doc\n===\n\n"
        ".. warning:: Exports\n   expire after **7 days**.\n\n"
        ".. tip::\n   :class: highlighted\n\n   Schedule them.\n\n"
        ".. versionadded:: 2.4\n   Scheduled exports.\n\n"
        ".. admonition:: Before you start\n\n   Back up first.\n\n"
        ".. |product| replace:: Acme\n"
        ".. figure:: chart.png\n\n   A caption we drop.\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks[0].text == (
        "Warning: Exports\nexpire after 7 days.\n\n"
        "Tip: Schedule them.\n\n"
        "New in version 2.4: Scheduled exports.\n\n"
        "Before you start: Back up first."
    )


def test_rst_nested_sections_give_heading_paths() -> None:
    text = (
        "Intro before any heading.\n\n"
        "Setup\n=====\n\nS text.\n\n"
        "Install\n-------\n\nI text.\n\n"
        "On Linux\n~~~~~~~~\n\nL text.\n\n"
        "Configure\n---------\n\nC text.\n\n"
        "Usage\n=====\n\nU text.\n"
    )
    article = only_article(parse("manual.rst", text))
    # Text before the first heading: the file name names the article, as in Markdown.
    assert article.title == "Manual"
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Manual", "Intro before any heading."),
        ("Setup", "S text."),
        ("Setup › Install", "I text."),
        ("Setup › Install › On Linux", "L text."),
        ("Setup › Configure", "C text."),
        ("Usage", "U text."),
    ]


def test_rst_lone_top_section_is_the_title_and_its_only_subsection_stays_a_section() -> None:
    # docutils' own title promotion would also make "Setup" a subtitle and lift its text out.
    text = ".. _guide:\n\n=====\nGuide\n=====\n\nSetup\n-----\n\nRun the installer.\n"
    article = only_article(parse("guide.rst", text))
    assert article.title == "Guide"
    assert article.chunks == [KnowledgeChunkInput(heading="Setup", text="Run the installer.")]


def test_rst_unknown_directives_and_broken_markup_leave_no_error_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "Doc\n===\n\n"
        "Before.\n\n"
        ".. mermaid::\n\n   graph TD; SECRET-DIAGRAM\n\n"
        ".. toctree::\n   :maxdepth: 2\n\n   intro\n\n"
        ".. note::\n   :bogus-option: yes\n\n   SECRET-BAD-OPTION\n\n"
        "Unclosed *emphasis and ``literal and `ref and |undefined| here.\n\n"
        "Bad title\n=\n\n"
        "- item\nnot indented continuation\n\n"
        "+---+\n| broken table\n\n"
        ".. [1] Footnote nobody cites.\n\n"
        "After.\n"
    )
    article = only_article(parse("doc.rst", text))
    body = all_text(article)
    assert body.startswith("Doc\nDoc\nBefore.\n")
    assert body.endswith("After.")
    assert "Unclosed *emphasis and ``literal and `ref and |undefined| here." in body
    for absent in ("SECRET", "graph TD", "maxdepth", "intro"):
        assert absent not in body, absent
    lowered = body.lower()
    for error in ("unknown", "directive", "error", "warning", "severe", "line ", "malformed"):
        assert error not in lowered, error
    assert capsys.readouterr() == ("", "")  # nothing printed either


def test_rst_include_and_raw_are_not_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-FROM-DISK\n", encoding="utf-8")
    # Even a docutils configuration file switching them back on is not read.
    config = tmp_path / "docutils.conf"
    config.write_text(
        "[general]\nfile_insertion_enabled: yes\nraw_enabled: yes\n", encoding="utf-8"
    )
    monkeypatch.setenv("DOCUTILSCONFIG", str(config))
    text = (
        "Doc\n===\n\n"
        f".. include:: {secret}\n\n"
        f".. literalinclude:: {secret}\n\n"
        f".. csv-table:: Data\n   :file: {secret}\n\n"
        ".. raw:: html\n\n   <script>SECRET-RAW</script>\n\n"
        ".. role:: html(raw)\n   :format: html\n\n"
        "Inline :html:`<b>SECRET-ROLE</b>` and :raw:`SECRET-RAW-ROLE` gone.\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks == [KnowledgeChunkInput(heading="Doc", text="Inline and gone.")]


def test_rst_admonitions_and_literal_blocks_keep_their_structure() -> None:
    text = (
        "Doc\n===\n\n"
        ".. important::\n\n"
        "   Rotate keys yearly.\n\n"
        "   - Open *Settings*.\n"
        "   - Choose **Keys**.\n\n"
        "   ::\n\n"
        "      acme keys rotate\n\n"
        ".. seealso:: The `security guide <https://example.com/sec>`_.\n\n"
        "Config::\n\n"
        "    [keys]\n"
        "    # a comment, not a heading\n"
        "    rotate = yearly\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks == [
        KnowledgeChunkInput(
            heading="Doc",
            text=(
                "Important: Rotate keys yearly.\n\n"
                "- Open Settings.\n"
                "- Choose Keys.\n\n"
                "acme keys rotate\n\n"
                "See also: The security guide.\n\n"
                "Config:\n\n"
                "[keys]\n"
                "# a comment, not a heading\n"
                "rotate = yearly"
            ),
        )
    ]


def test_rst_lists_tables_and_definitions_read_as_text() -> None:
    text = (
        "Doc\n===\n\n"
        "#. First\n#. Second\n\n"
        "   a. Nested\n   b. Letters\n\n"
        "- Parent\n\n  - Child\n\n"
        "SSO-403\n   The user is not assigned.\n"
        "SSO-500\n   The provider is down.\n\n"
        ":Plan: Pro\n:Price: $10\n\n"
        "-v, --verbose  Say more.\n\n"
        "=====  ======\nPlan   Seats\n=====  ======\nPro    10\nTeam   *50*\n=====  ======\n\n"
        ".. list-table:: Limits\n   :header-rows: 1\n\n"
        "   * - Kind\n     - Limit\n   * - Upload\n     - 5 MB\n\n"
        "| Acme Inc.\n| 1 Main St.\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks[0].text == (
        "1. First\n2. Second\n  a. Nested\n  b. Letters\n\n"
        "- Parent\n  - Child\n\n"
        "SSO-403: The user is not assigned.\n"
        "SSO-500: The provider is down.\n\n"
        "Plan: Pro\nPrice: $10\n\n"
        "-v, --verbose: Say more.\n\n"
        "Plan | Seats\nPro | 10\nTeam | 50\n\n"
        "Limits\nKind | Limit\nUpload | 5 MB\n\n"
        "Acme Inc.\n1 Main St."
    )


def test_rst_references_substitutions_and_contents() -> None:
    text = (
        "Doc\n===\n\n"
        ".. contents:: On this page\n\n"
        "Part\n----\n\n"
        "Ask |product| support at https://help.example.com or see `Pricing`_ and\n"
        "`the FAQ <faq_>`_ and :menuselection:`Settings --> SSO`.\n\n"
        ".. |product| replace:: **Acme Cloud**\n"
        ".. _faq: https://example.com/faq\n"
    )
    article = only_article(parse("doc.rst", text))
    assert article.chunks == [
        KnowledgeChunkInput(
            heading="Part",
            text=(
                "Ask Acme Cloud support at https://help.example.com or see Pricing and\n"
                "the FAQ and Settings --> SSO."
            ),
        )
    ]


def test_rst_long_lines_are_read() -> None:
    # docutils refuses a whole document with a line over 10,000 characters unless told not to.
    line = "word " * 5_000
    article = only_article(parse("doc.rst", f"Doc\n===\n\n{line}\n"))
    assert article.chunks[0].text == line.strip()


def test_rst_nested_too_deeply_is_refused() -> None:
    text = "".join("  " * depth + "- item\n\n" for depth in range(400))
    assert "nested too deeply" in refusal("deep.rst", text)


# --- HTML -------------------------------------------------------------------------------------


def test_html_sample_title_chunks_and_heading_paths() -> None:
    raw, parsed = sample("billing-faq.html")
    article = only_article(parsed)
    assert parsed.problems == []
    assert article.source == "/kb/billing-faq.html"
    assert article.title == "Billing FAQ"
    assert article.content_hash == hashlib.sha256(raw).hexdigest()
    assert article.chunks == [
        KnowledgeChunkInput(heading="Billing FAQ", text="Answers about invoices & payments."),
        KnowledgeChunkInput(
            heading="Invoices",
            text="Invoices are emailed on the 1st of each month.\n"
            "Download them from Settings › Billing.",
        ),
        KnowledgeChunkInput(
            heading="Invoices › Changing the billing address",
            text="- Open Settings.\n- Edit the address and save.",
        ),
        KnowledgeChunkInput(heading="Refunds", text="We refund within 14 days."),
    ]


def test_html_sample_drops_page_furniture_and_code() -> None:
    _, parsed = sample("billing-faq.html")
    text = all_text(only_article(parsed))
    for marker in (
        "NAVSTYLE",
        "TRACKINGSCRIPT",
        "SITEHEADER",
        "NAVLINK",
        "ROLENAV",
        "ASIDETEXT",
        "FORMTEXT",
        "FOOTERTEXT",
        "LATESCRIPT",
        "NOSCRIPTTEXT",
        "&amp;",
        "&nbsp;",
        "\xa0",
        "<",
    ):
        assert marker not in text, marker


def test_html_title_falls_back_to_the_first_h1_then_the_file_name() -> None:
    page = "<body><p>Lead.</p><h1>Refund policy</h1><p>Body.</p></body>"
    assert only_article(parse("refunds.html", page)).title == "Refund policy"
    assert only_article(parse("refund-policy.htm", "<p>Only text.</p>")).title == "Refund policy"


def test_html_title_tag_wins_but_text_under_the_h1_keeps_the_h1_as_heading() -> None:
    page = (
        "<html><head><title>Acme Help Center</title></head><body>"
        "<h1>Reset your password</h1><p>Click Forgot password.</p>"
        "<h2>No email?</h2><p>Check spam.</p></body></html>"
    )
    article = only_article(parse("reset.html", page))
    assert article.title == "Acme Help Center"
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Reset your password", "Click Forgot password."),
        ("No email?", "Check spam."),
    ]


def test_html_article_header_is_content_but_the_site_header_is_not() -> None:
    page = (
        "<header>Acme SITE</header>"
        "<article><header><h1>Reset your password</h1><p>Updated May</p></header>"
        "<p>Click Forgot password.</p><footer>Written by Support</footer></article>"
        "<footer>© SITE</footer>"
    )
    article = only_article(parse("reset.html", page))
    assert article.title == "Reset your password"
    assert article.chunks == [
        KnowledgeChunkInput(
            heading="Reset your password",
            text="Updated May\nClick Forgot password.\nWritten by Support",
        )
    ]


def test_html_unclosed_nav_ends_with_its_parent() -> None:
    page = "<div><nav><ul><li>Home MENU</div><p>The answer.</p>"
    article = only_article(parse("page.html", page))
    assert article.chunks == [KnowledgeChunkInput(heading="Page", text="The answer.")]


def test_html_stray_end_tags_do_not_end_a_dropped_element() -> None:
    page = "<nav>Home</p></span>MENU</nav><p>The answer.</p></div>"
    article = only_article(parse("page.html", page))
    assert article.chunks == [KnowledgeChunkInput(heading="Page", text="The answer.")]


def test_html_hidden_elements_and_svg_titles_are_dropped() -> None:
    page = (
        "<p hidden>HIDDEN1</p><span aria-hidden='true'>ICON</span>"
        "<div style='display: none'>HIDDEN2</div>"
        "<svg><title>SVGTITLE</title><path d='M0'/></svg>"
        "<div role='navigation'>ROLENAV</div><template>TEMPLATE</template>"
        "<p>Visible.</p>"
    )
    article = only_article(parse("page.html", page))
    assert article.title == "Page"
    assert article.chunks == [KnowledgeChunkInput(heading="Page", text="Visible.")]


def test_html_heading_paths_skip_levels_and_nested_markup() -> None:
    page = (
        "<h1>Guide</h1><p>Intro.</p>"
        "<h2>Setup <code>v2</code></h2><p>S.</p>"
        "<h4>Deep<br>dive</h4><p>D.</p>"
        "<h3>Middle</h3><p>M.</p>"
        "<h2></h2><p>Still middle.</p>"
        "<h2>Next</h2><p>N.</p>"
    )
    article = only_article(parse("guide.html", page))
    assert [(c.heading, c.text) for c in article.chunks] == [
        ("Guide", "Intro."),
        ("Setup v2", "S."),
        ("Setup v2 › Deep dive", "D."),
        ("Setup v2 › Middle", "M.\nStill middle."),  # an empty heading names nothing
        ("Next", "N."),
    ]


def test_html_text_layout_pre_tables_lists_and_entities() -> None:
    page = (
        "<p>Line one<br/>line   two &lt;b&gt; &#8217;s &copy;</p>"
        "<pre>acme sync\n    --all</pre>"
        "<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>$10</td></tr></table>"
        "<ul><li><p>Nested paragraph</p></li><li>Plain</li></ul>"
        "<p>Inline <b>bold</b><i>italic</i> words</p>"
    )
    article = only_article(parse("layout.html", page))
    assert article.chunks[0].text == (
        "Line one\nline two <b> ’s ©\n"
        "acme sync\n    --all\n"
        "Plan | Price\nPro | $10\n"
        "- Nested paragraph\n- Plain\n"
        "Inline bolditalic words"
    )


def test_html_with_nothing_but_navigation_is_refused() -> None:
    page = "<html><head><title>Menu</title></head><body><nav>Home</nav></body></html>"
    assert refusal("menu.html", page).startswith("no text to import")


# --- CSV FAQ ----------------------------------------------------------------------------------


def test_csv_sample_rows_sources_and_problems() -> None:
    _, parsed = sample("faq.csv")
    assert parsed.problems == ["line 3: missing answer"]
    # Every row is keyed by its question, whether or not it has a url; the url and the tags
    # are kept on the article as they are.
    assert [(a.source, a.title, a.url, a.tags) for a in parsed.articles] == [
        (
            faq_source("/kb/faq.csv", "How do I reset my password?"),
            "How do I reset my password?",
            "https://help.example.com/reset",
            "account, security",
        ),
        (
            # The quoted answer spans lines 4-6; the key does not depend on the lines at all.
            faq_source("/kb/faq.csv", "How do I export data?"),
            "How do I export data?",
            None,
            "reports, export",
        ),
        (faq_source("/kb/faq.csv", "Do you offer refunds?"), "Do you offer refunds?", None, ""),
    ]
    articles = by_title(parsed)
    assert articles["How do I reset my password?"].chunks == [
        KnowledgeChunkInput(
            heading="How do I reset my password?",
            text="Open Settings, then Security, then Reset.\nTags: account, security",
        )
    ]
    assert articles["How do I export data?"].chunks == [
        KnowledgeChunkInput(
            heading="How do I export data?",
            # CRLF inside the quoted field is stored as a plain newline.
            text="Go to Reports.\n\nPick CSV or PDF, then press Export.\nTags: reports, export",
        )
    ]
    assert articles["Do you offer refunds?"].chunks[0].text == "Yes within 14 days."


def test_csv_row_hashes_are_stable_and_per_row() -> None:
    raw, first = sample("faq.csv")
    _, again = sample("faq.csv")
    hashes = {a.source: a.content_hash for a in first.articles}
    assert hashes == {a.source: a.content_hash for a in again.articles}
    assert len(set(hashes.values())) == len(hashes)
    assert hashlib.sha256(raw).hexdigest() not in hashes.values()

    edited = raw.replace(b"Yes within 14 days.", b"Yes within 30 days.")
    assert edited != raw
    changed = {a.source: a.content_hash for a in parse("faq.csv", edited).articles}
    assert changed.keys() == hashes.keys()
    differing = {s for s in hashes if hashes[s] != changed[s]}
    assert differing == {faq_source("/kb/faq.csv", "Do you offer refunds?")}


def test_csv_inserting_a_row_at_the_top_leaves_the_other_rows_alone() -> None:
    raw, before = sample("faq.csv")
    header, rest = raw.split(b"\r\n", 1)
    inserted = header + b"\r\nIs there a mobile app?,Yes for iOS and Android.,,app\r\n" + rest
    after = parse("faq.csv", inserted)
    # Line numbers in problems follow the file, so they move with the insertion...
    assert after.problems == ["line 4: missing answer"]
    new = faq_source("/kb/faq.csv", "Is there a mobile app?")
    assert [a.source for a in after.articles] == [new] + [a.source for a in before.articles]
    assert (after.articles[0].title, after.articles[0].url, after.articles[0].tags) == (
        "Is there a mobile app?",
        None,
        "app",
    )
    # ...but no other row's storage key or hash does, so none of them is re-imported.
    assert {a.source: a.content_hash for a in after.articles[1:]} == {
        a.source: a.content_hash for a in before.articles
    }
    assert after.articles[1:] == before.articles


@pytest.mark.parametrize(
    ("old", "new", "question", "before_url", "url"),
    [
        (  # a different url
            b"https://help.example.com/reset,",
            b"https://help.example.com/password-reset,",
            "How do I reset my password?",
            "https://help.example.com/reset",
            "https://help.example.com/password-reset",
        ),
        (  # a url where there was none
            b"Yes within 14 days.,,",
            b"Yes within 14 days.,https://help.example.com/refunds,",
            "Do you offer refunds?",
            None,
            "https://help.example.com/refunds",
        ),
        (  # the url taken away
            b"https://help.example.com/reset,",
            b",",
            "How do I reset my password?",
            "https://help.example.com/reset",
            None,
        ),
    ],
)
def test_csv_changing_only_a_url_changes_that_rows_hash(
    old: bytes, new: bytes, question: str, before_url: str | None, url: str | None
) -> None:
    raw, before = sample("faq.csv")
    assert raw.count(old) == 1
    after = parse("faq.csv", raw.replace(old, new))
    assert after.problems == before.problems
    hashes = {a.source: a.content_hash for a in before.articles}
    changed = {a.source: a.content_hash for a in after.articles}
    assert changed.keys() == hashes.keys()  # the url is not part of the key
    assert {s for s in hashes if hashes[s] != changed[s]} == {faq_source("/kb/faq.csv", question)}
    old_article, new_article = by_title(before)[question], by_title(after)[question]
    assert (old_article.url, new_article.url) == (before_url, url)
    # Only the url moved: the title, chunks and tags are what they were.
    assert (new_article.title, new_article.chunks, new_article.tags) == (
        old_article.title,
        old_article.chunks,
        old_article.tags,
    )


def test_csv_row_hash_ignores_formatting_but_not_tags() -> None:
    plain = parse("f.csv", "question,answer,tags\nQ?,The answer.,a;b\n").articles[0]
    reformatted = parse(
        "f.csv", 'tags,Answer,QUESTION\r\n"a, b","The answer.  ","  Q?"\r\n'
    ).articles[0]
    retagged = parse("f.csv", "question,answer,tags\nQ?,The answer.,a;c\n").articles[0]
    assert reformatted.content_hash == plain.content_hash
    assert retagged.content_hash != plain.content_hash


def test_csv_needs_a_header_with_question_and_answer() -> None:
    message = refusal("faq.csv", "How do I pay?,By card\nRefunds?,Yes\n")
    assert message.startswith("a CSV FAQ needs a header row with question and answer columns")
    assert "'How do I pay?'" in message
    assert refusal("faq.csv", "question,url\nQ,https://x\n").startswith("a CSV FAQ needs")
    assert refusal("faq.csv", ",,\n,\n") == (
        "a CSV FAQ needs a header row with question and answer columns"
    )


def test_csv_header_only_is_refused() -> None:
    assert refusal("faq.csv", "question,answer\n\n") == (
        "no valid rows: the file has a header but no rows"
    )


def test_csv_with_no_valid_rows_quotes_the_first_problems() -> None:
    text = "question,answer\n" + "".join(f"Q{n},\n" for n in range(5))
    assert refusal("faq.csv", text) == (
        "no valid rows: line 2: missing answer; line 3: missing answer;"
        " line 4: missing answer (and 2 more)"
    )


def test_csv_row_problems_carry_their_line_numbers() -> None:
    text = (
        "question,answer,url\n"  # 1
        ",An answer without a question\n"  # 2
        "\n"  # 3: blank lines are not problems
        ",,\n"  # 4: nor are rows of empty cells
        "How do I pay?,By card, or by invoice\n"  # 5: the comma spills into the url column
        "How do I pay?,By card or invoice\n"  # 6: the first valid one wins
        "Refunds?,Yes,https://help.example.com/refunds\n"  # 7
        "Refund window?,14 days,https://help.example.com/refunds\n"  # 8: may share 7's url
        "Pay?,By card, or invoice, or cash\n"  # 9: more fields than columns
        " how do i   PAY? ,Same question in other case\n"  # 10
        '"Quoted question\nover two lines",Fine\n'  # 11-12
        'Broken,"never closed\nQ,A\n'  # 13-14
    )
    parsed = parse("faq.csv", text)
    assert parsed.problems == [
        "line 2: missing question",
        "line 5: url 'or by invoice' is not a web address",
        "line 9: 4 fields but the header has 3 (quote fields that contain commas)",
        "line 10: duplicate question (first on line 6)",
        "line 13: unreadable CSV (a quoted field starting here is never closed)",
    ]
    assert [(a.source, a.title, a.url) for a in parsed.articles] == [
        (faq_source("/kb/faq.csv", "How do I pay?"), "How do I pay?", None),
        (
            faq_source("/kb/faq.csv", "Refunds?"),
            "Refunds?",
            "https://help.example.com/refunds",
        ),
        (
            faq_source("/kb/faq.csv", "Refund window?"),
            "Refund window?",
            "https://help.example.com/refunds",
        ),
        (
            faq_source("/kb/faq.csv", "Quoted question\nover two lines"),
            "Quoted question over two lines",
            None,
        ),
    ]


def test_csv_missing_both_fields_says_so() -> None:
    parsed = parse("faq.csv", "question,answer,tags\n,,orphan\nQ,A\n")
    assert parsed.problems == ["line 2: missing question and answer"]


def test_csv_short_rows_trailing_commas_and_odd_column_order() -> None:
    text = "Tags , URL,Answer,Question\n,,A1,Q1,,\n,,,Orphan question\n"
    parsed = parse("faq.csv", text)
    assert parsed.problems == ["line 3: missing answer"]
    article = only_article(parsed)
    assert (article.title, article.source, article.url, article.tags) == (
        "Q1",
        faq_source("/kb/faq.csv", "Q1"),
        None,
        "",
    )
    assert article.chunks == [KnowledgeChunkInput(heading="Q1", text="A1")]

    tagged = parse("faq.csv", "question,answer,tags\nQ,A, billing; Billing;;invoices ,\n")
    assert tagged.articles[0].chunks[0].text == "A\nTags: billing, Billing, invoices"
    assert tagged.articles[0].tags == "billing, Billing, invoices"


def test_csv_semicolon_and_tab_exports_are_read() -> None:
    semicolon = parse("faq.csv", "Question;Answer\nHow?;First, then second.\n")
    assert semicolon.articles[0].chunks[0].text == "First, then second."
    tabbed = parse("faq.csv", "question\tanswer\tTags\nHow?\tLike, so.\ta,b\n")
    assert tabbed.articles[0].chunks[0].text == "Like, so.\nTags: a, b"


def test_csv_duplicate_column_is_refused() -> None:
    message = refusal("faq.csv", "question,answer,Answer\nQ,A,B\n")
    assert message == "the CSV header has more than one answer column"


# --- JSON Lines FAQ ---------------------------------------------------------------------------


def test_jsonl_sample_rows_sources_and_problems() -> None:
    _, parsed = sample("faq.jsonl")
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("line 3: invalid JSON (")
    assert [(a.source, a.title, a.url, a.tags) for a in parsed.articles] == [
        (
            faq_source("/kb/faq.jsonl", "How do I invite a teammate?"),
            "How do I invite a teammate?",
            None,
            "team, invites",
        ),
        (
            faq_source("/kb/faq.jsonl", "Where are invoices?"),
            "Where are invoices?",
            "https://help.example.com/invoices",
            "",
        ),
        (
            # Line 4 is blank and line 3 broken; neither changes the next row's key.
            faq_source("/kb/faq.jsonl", "Is there an API?"),
            "Is there an API?",
            None,
            "api, developers",
        ),
    ]
    articles = by_title(parsed)
    assert articles["How do I invite a teammate?"].chunks[0].text == (
        "Open People and press Invite.\nTags: team, invites"
    )
    assert articles["Is there an API?"].chunks[0].text == (
        "Yes, see the developer docs.\nTags: api, developers"
    )
    assert articles["Where are invoices?"].chunks == [
        KnowledgeChunkInput(heading="Where are invoices?", text="Settings › Billing.")
    ]


def test_jsonl_row_hashes_are_stable_and_per_row() -> None:
    raw, first = sample("faq.jsonl")
    hashes = {a.source: a.content_hash for a in first.articles}
    assert hashes == {a.source: a.content_hash for a in sample("faq.jsonl")[1].articles}

    edited = raw.replace(b"press Invite.", b"press Invite people.")
    changed = {a.source: a.content_hash for a in parse("faq.jsonl", edited).articles}
    assert {s for s in hashes if hashes[s] != changed[s]} == {
        faq_source("/kb/faq.jsonl", "How do I invite a teammate?")
    }


def test_jsonl_hash_ignores_key_order_and_spacing() -> None:
    a = parse("f.jsonl", '{"question": "Q?", "answer": "A.", "tags": ["x", "y"]}\n')
    b = parse("f.jsonl", '{ "tags":"x; y" ,"answer":"A.  ","question":"  Q?"}\n')
    assert a.articles[0].content_hash == b.articles[0].content_hash


def test_jsonl_problems_name_the_line_and_the_fault() -> None:
    lines = [
        '{"question": "Good?", "answer": "Yes."}',  # 1
        '{"question": "No answer"}',  # 2
        '{"question": "", "answer": "   "}',  # 3
        '{"question": 42, "answer": "Numbers are not questions"}',  # 4
        '{"question": "Q", "answer": "A", "tags": [1, 2]}',  # 5
        '{"question": "Q", "answer": "A", "url": ["x"]}',  # 6
        '["not", "an", "object"]',  # 7
        "null",  # 8
        "{bad json",  # 9
        "",  # 10
        '{"question": "good?", "answer": "Duplicate, other case"}',  # 11
        "[" * 100_000,  # 12: deeper than the JSON decoder's recursion limit
    ]
    parsed = parse("faq.jsonl", "\n".join(lines) + "\n")
    assert parsed.problems == [
        "line 2: missing answer",
        "line 3: missing question and answer",
        "line 4: question must be a string, not a number",
        "line 5: tags must be a string or a list of strings",
        "line 6: url must be a string, not a list",
        "line 7: expected a JSON object, got a list",
        "line 8: expected a JSON object, got null",
        "line 9: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 11: duplicate question (first on line 1)",
        "line 12: invalid JSON (nested too deeply)",
    ]
    assert [a.title for a in parsed.articles] == ["Good?"]


def test_jsonl_unicode_line_separators_do_not_shift_line_numbers() -> None:
    # JSON allows U+2028 unescaped inside strings; str.splitlines() would split there.
    rows = [
        {"question": "First\u2028question", "answer": "One\u2028two"},
        {"question": "Second", "answer": "Two", "url": None, "tags": None},
        {"question": "Third\u2028one"},
    ]
    text = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n"
    parsed = parse("faq.jsonl", text)
    assert parsed.problems == ["line 3: missing answer"]
    assert [(a.source, a.title, a.url, a.tags) for a in parsed.articles] == [
        # U+2028 is whitespace to the title and to the key alike.
        (faq_source("/kb/faq.jsonl", "First\u2028question"), "First question", None, ""),
        (faq_source("/kb/faq.jsonl", "Second"), "Second", None, ""),
    ]
    assert parsed.articles[0].chunks[0].text == "One\u2028two"


def test_faq_keys_casefold_and_collapse_whitespace_in_the_question() -> None:
    # casefold, not lower: "ß" folds to "ss", so these two are the same question.
    lines = [
        '{"question": "  Größe\\tändern? ", "answer": "A."}',
        '{"question": "GRÖSSE ÄNDERN?", "answer": "B."}',
    ]
    parsed = parse("faq.jsonl", "\n".join(lines) + "\n")
    article = only_article(parsed)
    assert article.title == "Größe ändern?"
    assert article.source == faq_source("/kb/faq.jsonl", "GRÖSSE ÄNDERN?")
    assert parsed.problems == ["line 2: duplicate question (first on line 1)"]


def test_jsonl_with_no_valid_rows_is_refused() -> None:
    message = refusal("faq.jsonl", '{"q": 1}\nnope\n')
    assert message.startswith("no valid rows: line 1: missing question and answer; line 2:")
