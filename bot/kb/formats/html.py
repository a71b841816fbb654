"""HTML help pages: the article's own text, without the site around it.

Page furniture (navigation, headers and footers outside the article, forms, scripts, hidden
elements) is dropped; <h1>-<h6> give the heading path, lists keep a "- " bullet, table rows
become "cell | cell" lines and <pre> keeps its lines. The title is <title>, else the first <h1>,
else the file name. Built on the standard library's forgiving ``HTMLParser``: broken markup
never raises.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from bot.kb.formats.common import ParsedSource, Sections, whole_file
from persistence.records import KnowledgeChunkInput

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
        self.sections = Sections()

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


def parse_html(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    parser = _HtmlArticle()
    parser.feed(text)
    title, chunks = parser.result(fallback)
    return whole_file(path_label, raw, title, chunks)
