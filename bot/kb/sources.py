"""Turn one knowledge-base file's bytes into articles ready to store.

This module owns the file formats: deciding whether a file can be read at all (size, binary,
encoding, emptiness, suffix), and parsing Markdown/text, reStructuredText, HTML, CSV FAQs and
JSON Lines FAQs into ``ArticleInput`` records with heading-path chunks. It does no I/O and keeps
no state, so the importer can call it from a worker thread and tests can feed it literal bytes.

Whole-file formats (Markdown, text, reST, HTML) become one article whose ``content_hash`` is the
SHA-256 of the raw bytes. FAQ files (CSV, JSON Lines) become one article per row whose hash covers
only that row's normalised content, so editing one row re-imports one article. A bad row is
reported in ``ParsedSource.problems`` and skipped; a file that cannot be used at all raises
``UnsupportedSource`` with a message meant for the person running the import.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from persistence.records import ArticleInput, KnowledgeChunkInput

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".csv", ".jsonl"}
)
MAX_FILE_BYTES = 5_000_000

_BOM = b"\xef\xbb\xbf"
# Joins a heading path, the same in every format.
_PATH_SEPARATOR = " › "
# Row hashes are versioned: changing how rows are normalised must re-import them all once.
_ROW_HASH_VERSION = "faq-row/1"
# How many row problems to quote when a whole FAQ file is refused.
_PROBLEMS_IN_REFUSAL = 3
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ParsedSource:
    articles: list[ArticleInput]
    problems: list[str] = field(default_factory=list)


class UnsupportedSource(ValueError):
    """The whole file was refused; the message says why, in words for the importing user."""


def parse_source(path_label: str, raw: bytes, *, suffix: str) -> ParsedSource:
    """Parse one file. ``path_label`` is stored as the source; ``suffix`` picks the format."""
    suffix = suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = suffix or "(none)"
        raise UnsupportedSource(f"unsupported file type {shown} (supported: {supported})")
    text = _decode(raw)
    return parser(path_label, raw, text, _fallback_title(path_label, suffix))


# --- decoding ---------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    # Cheapest and most telling checks first: size before scanning, NUL before decoding (a
    # binary file is rarely valid UTF-8, and "binary file" says more than a byte offset).
    if len(raw) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES / 1_000_000:g} MB"
        raise UnsupportedSource(f"larger than the {limit} limit ({len(raw)} bytes)")
    if b"\x00" in raw:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            # UTF-16 text is full of NULs; saying so saves the user a puzzled look.
            raise UnsupportedSource("binary file (looks like UTF-16 text; save it as UTF-8)")
        raise UnsupportedSource("binary file")
    # Decode the BOM-less remainder ourselves so the reported offset counts from the file's
    # first byte (the utf-8-sig codec reports offsets after the BOM it removed).
    start = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        text = raw[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise UnsupportedSource(
            f"not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset})"
        ) from None
    if not text.strip():
        raise UnsupportedSource("empty file")
    return text


def _fallback_title(path_label: str, suffix: str) -> str:
    """Title from the file name: "/kb/password-reset.md" -> "Password reset"."""
    name = re.split(r"[/\\]", path_label.rstrip("/\\"))[-1]
    if suffix and name.lower().endswith(suffix):
        name = name[: -len(suffix)]
    words = " ".join(name.replace("-", " ").replace("_", " ").split())
    if not words:
        return path_label
    # Only the first letter is raised: str.capitalize() would turn "API keys" into "Api keys".
    return words[0].upper() + words[1:]


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _whole_file(
    path_label: str, raw: bytes, title: str, chunks: list[KnowledgeChunkInput]
) -> ParsedSource:
    if not chunks:
        # An article without chunks can never be found by search; storing it would hide the
        # fact that nothing was imported.
        raise UnsupportedSource("no text to import (only headings, markup or navigation)")
    return ParsedSource(
        articles=[
            ArticleInput(source=path_label, title=title, content_hash=_sha256(raw), chunks=chunks)
        ],
        problems=[],
    )


class _Sections:
    """Collects body lines under a heading path: every format's sections, Markdown's included.

    The first level-1 heading seen before any text or other heading names the article and is
    not a section; text with no heading above it is filed under the article title.
    """

    def __init__(self, *, squeeze_blank_lines: bool = True) -> None:
        # Markup the parsers drop leaves runs of blank lines behind; Markdown keeps its own.
        self.squeeze_blank_lines = squeeze_blank_lines
        self.first_title: str | None = None
        self.path: list[tuple[int, str]] = []
        # None stands for "the article title", which HTML only knows at the end.
        self.chunks: list[tuple[str | None, str]] = []
        self.body: list[str] = []

    def flush(self) -> None:
        # Dropped blocks leave their blank lines behind; one blank line is enough.
        content = "\n".join(self.body)
        if self.squeeze_blank_lines:
            content = _BLANK_RUNS.sub("\n\n", content)
        content = content.strip()
        if content:
            heading = _PATH_SEPARATOR.join(h for _, h in self.path) or None
            self.chunks.append((heading, content))
        self.body.clear()

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if level == 1 and self.first_title is None and not self.chunks and not self.path:
            self.first_title = text
            return
        self.path = [(lvl, h) for lvl, h in self.path if lvl < level] + [(level, text)]

    def finish(self, title: str) -> list[KnowledgeChunkInput]:
        self.flush()
        return [KnowledgeChunkInput(heading=h or title, text=t) for h, t in self.chunks]


# --- Markdown and plain text ------------------------------------------------------------------


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")


def chunk_markdown(text: str, *, fallback_title: str) -> tuple[str, list[KnowledgeChunkInput]]:
    """Split along headings; each chunk keeps its heading path ("Setup › Install"). The first
    top-level heading names the article; headings inside code fences are text."""
    sections = _Sections(squeeze_blank_lines=False)
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            sections.body.append(line)
        else:
            sections.heading(len(match.group(1)), match.group(2).strip())
    title = sections.first_title or fallback_title
    return title, sections.finish(title)


def _parse_markdown(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    title, chunks = chunk_markdown(text, fallback_title=fallback)
    return _whole_file(path_label, raw, title, chunks)


# --- reStructuredText -------------------------------------------------------------------------

# A section adornment: one punctuation character repeated, nothing else on the line.
_RST_ADORNMENT = re.compile(r"([=\-~^\"'`#*+:._])\1*")
# Explicit markup (directives, comments, targets, footnotes, substitutions) starts with "..".
_RST_EXPLICIT = re.compile(r"^(\s*)\.\.(?:\s|$)")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+([\w.+-]+(?::[\w.+-]+)*)::(.*)$")
_RST_OPTION = re.compile(r"^\s+:[\w .-]+:(\s|$)")
# Directives whose body is prose or code a support answer may need; everything else is dropped
# (toctree, image, figure, include, raw, meta, contents, index, substitutions, comments...).
_RST_ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
}
_RST_LITERAL_DIRECTIVES = {"code", "code-block", "sourcecode", "parsed-literal"}
# Inline markup, one alternation so that text inside ``code`` is never rewritten. Start strings
# must not follow a word character and end strings must not precede one, as in docutils; this
# keeps snake_case_names, 2*3*4 and __init__ intact. No span may run past the next occurrence of
# its own delimiter, so a failed match costs only the distance to that delimiter: the regex stays
# linear on a paragraph full of unmatched markup.
_RST_INLINE = re.compile(
    r"(?<![\w`])``(?P<code>\S(?:(?:(?!``).)*?\S)?)``(?![\w`])"
    r"|(?<!\w):[\w.+-]+(?::[\w.+-]+)*:`(?P<role>(?:[^`\\]|\\.)+?)`(?!\w)"
    r"|(?<![\w`])`(?P<ref>(?:[^`\\]|\\.)+?)`(?:__?|:[\w.+-]+:)?(?![\w`])"
    r"|(?<![\w*])\*\*(?P<strong>[^*\s](?:[^*]*?[^*\s])?)\*\*(?![\w*])"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*?[^*\s])?)\*(?![\w*])"
    r"|(?P<footnote>\s?\[(?:\d+|#[\w-]*|\*|[A-Za-z][\w.-]*)\]_)(?!\w)"
    r"|\b(?P<word>[^\W_]\w*?)__?(?![\w`])"
    r"|\\(?P<escaped>.)",
    re.DOTALL,
)
# `text <target>` inside a reference or role: keep the text, or the target if there is none.
_RST_TARGET = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.DOTALL)


def _rst_adornment(line: str) -> str | None:
    """The adornment character if the line is one (it must start in column 0)."""
    stripped = line.rstrip()
    if stripped and _RST_ADORNMENT.fullmatch(stripped):
        return stripped[0]
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_rst(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    lines = [line.expandtabs(8) for line in _split_lines(text)]
    styles: list[tuple[bool, str]] = []
    sections = _Sections()
    title: str | None = None
    paragraph: list[str] = []

    def add_heading(heading: str, style: tuple[bool, str]) -> None:
        nonlocal title
        end_paragraph()
        if style not in styles:
            styles.append(style)
        if title is None:
            # reST has no level-1 marker: the first heading, whatever its style, is the title.
            title = sections.first_title = heading
            sections.flush()
            return
        sections.heading(styles.index(style) + 1, heading)

    def end_paragraph() -> None:
        if paragraph:
            sections.body.append(_rst_inline("\n".join(paragraph)))
            paragraph.clear()

    previous_blank = True
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            end_paragraph()
            sections.body.append("")
            previous_blank = True
            i += 1
            continue
        char = _rst_adornment(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        # Overlined title: adornment, text, the same adornment again.
        if char is not None and previous_blank and i + 2 < len(lines):
            heading = following.strip()
            if (
                heading
                and _rst_adornment(following) is None
                and _rst_adornment(lines[i + 2]) == char
                and len(line.rstrip()) >= len(heading)
            ):
                add_heading(heading, (True, char))
                i += 3
                previous_blank = True  # a title may be followed directly by another one
                continue
        # Underlined title: text in column 0, then an adornment at least as long.
        under = _rst_adornment(following)
        if (
            char is None
            and under is not None
            and previous_blank
            and _indent(line) == 0
            and len(following.rstrip()) >= len(line.strip())
        ):
            add_heading(line.strip(), (False, under))
            i += 2
            previous_blank = True
            continue
        previous_blank = False
        if char is not None and len(line.rstrip()) >= 4:
            # A transition (horizontal rule) or a stray adornment: no words in it.
            i += 1
            continue
        if _RST_EXPLICIT.match(line):
            end_paragraph()
            i = _rst_explicit(lines, i, sections.body)
            previous_blank = True
            continue
        paragraph.append(line)
        i += 1
        if line.rstrip().endswith("::"):
            # "Example::" introduces an indented literal block: keep it verbatim.
            indent = _indent(paragraph[0])
            paragraph[-1] = _rst_literal_marker(paragraph[-1])
            end_paragraph()
            i = _rst_literal_block(lines, i, indent, sections.body)
    end_paragraph()
    final_title = title or fallback
    return _whole_file(path_label, raw, final_title, sections.finish(final_title))


def _rst_literal_marker(line: str) -> str:
    """The reST literal marker as a reader sees it: "Example::" -> "Example:",
    "Example ::" -> "Example", and a lone "::" -> ""."""
    body = line.rstrip()[:-2]
    if not body.strip():
        return ""
    return body.rstrip() if body.endswith((" ", "\t")) else body + ":"


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the block of blank lines and lines indented deeper than ``indent``."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    # Trailing blank lines separate this block from the next; they are not part of it.
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def _rst_literal_block(lines: list[str], start: int, indent: int, out: list[str]) -> int:
    end = _block_end(lines, start, indent)
    out.extend(_dedent(lines[start:end]))
    return end


def _rst_explicit(lines: list[str], start: int, out: list[str]) -> int:
    """Handle one explicit markup block; returns the index after it."""
    line = lines[start]
    end = _block_end(lines, start + 1, _indent(line))
    directive = _RST_DIRECTIVE.match(line)
    if directive is None:
        return end  # a comment, hyperlink target, footnote or citation: nothing to answer with
    name, argument = directive.group(1).lower(), directive.group(2).strip()
    content = lines[start + 1 : end]
    # Options (":class: tip", ":linenos:") come first and are settings, not content.
    while content and _RST_OPTION.match(content[0]):
        content = content[1:]
    body = _dedent(content)
    if name in _RST_ADMONITIONS or name == "admonition":
        if name == "admonition":
            lead, first = argument, ""  # ".. admonition:: Before you start" names itself
        elif name.startswith(("version", "deprecated")):
            lead, first = f"{_RST_ADMONITIONS[name]} {argument}", ""
        else:
            lead, first = _RST_ADMONITIONS[name], argument  # text may start on the same line
        prose = _rst_inline("\n".join([first, *body]).strip())
        out.extend(["", f"{_rst_inline(lead)}: {prose}" if lead else prose, ""])
    elif name in _RST_LITERAL_DIRECTIVES:
        out.append("")
        out.extend(body)
        out.append("")
    return end


def _dedent(block: list[str]) -> list[str]:
    indents = [_indent(b) for b in block if b.strip()]
    cut = min(indents, default=0)
    return [b[cut:].rstrip() for b in block]


def _rst_inline(text: str) -> str:
    """Reduce reST inline markup to the words a reader sees."""
    return "\n\n".join(_RST_INLINE.sub(_rst_inline_piece, p) for p in text.split("\n\n"))


def _rst_inline_piece(match: re.Match[str]) -> str:
    kind = match.lastgroup
    value = match.group(kind) if kind else match.group(0)
    if kind in ("role", "ref"):
        target = _RST_TARGET.match(value)
        if target is not None:
            value = target.group(1) or target.group(2)
        return value.replace("\\", "")
    if kind == "footnote":
        return ""
    return value


# --- HTML -------------------------------------------------------------------------------------

# Page furniture, code and hidden content: none of it answers a customer's question.
_HTML_DROPPED = frozenset(
    {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg"}
    | {"template", "iframe", "object", "canvas", "button", "select"}
)
_HTML_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
# A <header> or <footer> inside these belongs to the content (an article's own header often
# holds its <h1>), so it is kept; only page-level ones are site furniture.
_HTML_SECTIONING = frozenset({"article", "main", "section"})
_HTML_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    | {"param", "source", "track", "wbr", "keygen"}
)
_HTML_BLOCKS = frozenset(
    {"address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre", "section"}
    | {"summary", "table", "tbody", "tfoot", "thead", "tr", "ul", "br", "html", "head"}
    | {"h1", "h2", "h3", "h4", "h5", "h6"}
)
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACES = re.compile(r"\s+")


class _HtmlArticle(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities arrive already unescaped
        # Open elements and whether each one drops its content. Tracking the whole stack (not
        # just dropped tags) lets a missing </nav> end at its parent's end tag instead of
        # swallowing the rest of the page.
        self.stack: list[tuple[str, bool]] = []
        # How many of each tag are open, so stray end tags and the header/footer rule need no
        # walk over the stack (a deeply nested page would make every walk long).
        self.open: Counter[str] = Counter()
        self.dropping = 0
        self.preformatted = 0
        self.title: str | None = None
        self.title_parts: list[str] | None = None
        self.first_h1: str | None = None
        self.heading: tuple[int, list[str]] | None = None
        self.line: list[str] = []
        self.cells_in_row = 0
        # A list item's "- " waits for its first words, which may sit in a nested <p>.
        self.bullet = False
        self.sections = _Sections()

    # Structure ---------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        drop = self.dropping > 0 or self._drops(tag, dict(attrs))
        if tag not in _HTML_VOID:
            self.stack.append((tag, drop))
            self.open[tag] += 1
            self.dropping += drop
        if drop:
            return
        if tag == "title" and self.title is None and self.title_parts is None:
            self.title_parts = []
        elif tag in _HTML_HEADINGS:
            self._end_heading()
            self._break()
            self.heading = (_HTML_HEADINGS[tag], [])
        elif tag in _HTML_BLOCKS:
            if self.heading is not None and tag != "br":
                self._end_heading()  # an unclosed heading ends where the next block starts
            if tag == "br" and self.heading is not None:
                self.heading[1].append(" ")
            else:
                self._break()
            if tag == "li":
                self.bullet = True
            elif tag == "tr":
                self.cells_in_row = 0
            elif tag == "pre":
                self.preformatted += 1
        elif tag in ("td", "th"):
            if self.cells_in_row:
                self.line.append(" | ")
            self.cells_in_row += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<br/>", "<path/>": opened and closed at once, so nothing stays on the stack.
        self.handle_starttag(tag, attrs)
        if tag not in _HTML_VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open[tag]:
            return  # a stray end tag closes nothing
        # Closing an element closes everything still open inside it, as browsers do.
        while self.stack:
            open_tag, drop = self.stack.pop()
            self.open[open_tag] -= 1
            self.dropping -= drop
            if not drop:
                self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        if tag == "title" and self.title_parts is not None:
            self.title = _SPACES.sub(" ", "".join(self.title_parts)).strip() or None
            self.title_parts = None
        elif tag in _HTML_HEADINGS:
            self._end_heading()
        elif tag in _HTML_BLOCKS:
            self._break()  # before leaving <pre>, so its last line keeps its indentation
            if tag == "pre":
                self.preformatted = max(0, self.preformatted - 1)
            elif tag == "li":
                self.bullet = False

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if self.title_parts is not None:
            self.title_parts.append(data)
        elif self.heading is not None:
            self.heading[1].append(data)
        elif self.preformatted:
            # Code keeps its lines and indentation; each source line becomes a body line.
            first, *rest = data.split("\n")
            self.line.append(first)
            for piece in rest:
                self._break(keep_blank=True)
                self.line.append(piece)
        else:
            if self.bullet and data.strip():
                self.line.append("- ")
                self.bullet = False
            self.line.append(_SPACES.sub(" ", data))

    def _drops(self, tag: str, attrs: dict[str, str | None]) -> bool:
        if tag in ("header", "footer"):
            return not any(self.open[t] for t in _HTML_SECTIONING)
        if tag in _HTML_DROPPED:
            return True
        if (attrs.get("role") or "").strip().lower() in _HTML_DROPPED_ROLES:
            return True
        if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
            return True
        style = (attrs.get("style") or "").replace(" ", "").lower()
        return "display:none" in style

    # Text --------------------------------------------------------------------------------

    def _break(self, *, keep_blank: bool = False) -> None:
        text = "".join(self.line)
        self.line.clear()
        # Code keeps its indentation; elsewhere HTML whitespace is insignificant.
        text = text.rstrip() if self.preformatted else _SPACES.sub(" ", text).strip()
        if text or keep_blank:
            self.sections.body.append(text)

    def _end_heading(self) -> None:
        if self.heading is None:
            return
        level, parts = self.heading
        self.heading = None
        text = _SPACES.sub(" ", "".join(parts)).strip()
        if not text:
            return  # an icon-only or empty heading names nothing
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self.sections.heading(level, text)

    def result(self, fallback: str) -> tuple[str, list[KnowledgeChunkInput]]:
        self.close()
        self._end_heading()
        self._break()
        title = self.title or self.first_h1 or fallback
        # Text under the page's <h1> is filed under that heading, not under <title>: many sites
        # give every page the same <title> ("Acme Help Center"), and the h1 is what names it.
        return title, self.sections.finish(self.sections.first_title or title)


def _parse_html(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    parser = _HtmlArticle()
    parser.feed(text)
    title, chunks = parser.result(fallback)
    return _whole_file(path_label, raw, title, chunks)


# --- FAQ files (CSV, JSON Lines) --------------------------------------------------------------


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
        answer = "\n".join(part.rstrip() for part in _split_lines(answer)).strip()
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
                content_hash=_sha256(normalised.encode("utf-8") + url.encode("utf-8")),
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


def _parse_csv(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
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


def _parse_jsonl(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
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


def _split_lines(text: str) -> list[str]:
    # Only real line breaks: form feeds and Unicode separators stay inside their line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_Parser = Callable[[str, bytes, str, str], ParsedSource]
_PARSERS: dict[str, _Parser] = {
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".txt": _parse_markdown,
    ".text": _parse_markdown,
    ".rst": _parse_rst,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".csv": _parse_csv,
    ".jsonl": _parse_jsonl,
}
