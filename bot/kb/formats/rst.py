"""reStructuredText, read by docutils: sections give the heading path, the prose the chunks.

The doctree is rendered to plain text and filed through the shared ``Sections``, so headings and
chunks have the same shape as Markdown's. The lone top section (or the first top-level one, when
no text comes before it) names the article, as a Markdown "# Title" does.

A knowledge-base file never reaches outside itself: ``.. include::``, ``.. raw::`` and
file-reading table options are refused, and docutils configuration files are not read. Bad markup
never raises or prints, and docutils' error messages never reach an article: directives docutils
does not know are dropped with their content, and unknown roles keep their text. Sphinx's
``code-block`` options and its note-like directives (``versionadded``, ``seealso``...) are
understood; registering them is this module's one side effect on docutils, made at import.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar

from docutils import nodes  # type: ignore[import-untyped]
from docutils.core import publish_doctree  # type: ignore[import-untyped]
from docutils.parsers import rst  # type: ignore[import-untyped]
from docutils.parsers.rst import directives, roles  # type: ignore[import-untyped]
from docutils.parsers.rst.directives.body import CodeBlock  # type: ignore[import-untyped]
from docutils.parsers.rst.states import Inliner  # type: ignore[import-untyped]
from docutils.transforms import Transform  # type: ignore[import-untyped]
from docutils.utils import unescape  # type: ignore[import-untyped]

from bot.kb.formats.common import ParsedSource, Sections, UnsupportedSource, whole_file

_SETTINGS = {
    # Never read docutils.conf files: they could turn file insertion back on.
    "_disable_config": True,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    # Nothing is reported and nothing halts (the worst level is 4); messages stay in the tree
    # as system_message nodes, which the renderer skips.
    "report_level": 5,
    "halt_level": 5,
    "warning_stream": False,
    # Exceptions propagate instead of docutils calling sys.exit().
    "traceback": True,
    # The renderer finds the title itself: docutils' promotion would also turn a lone first
    # subsection into a subtitle and lift its text out of it.
    "doctitle_xform": False,
    "docinfo_xform": False,
    "sectsubtitle_xform": False,
    "syntax_highlight": "none",
    "smart_quotes": False,
    # docutils refuses a whole document with one line longer than 10,000 characters.
    "line_length_limit": 10**9,
    "language_code": "en",
}

_ADMONITION_LABELS = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "tip": "Tip",
    "warning": "Warning",
}

# Nodes whose content is no answer: markup, navigation, pictures, messages and notes aside.
_DROPPED: tuple[type[Any], ...] = (
    nodes.comment,
    nodes.substitution_definition,
    nodes.target,
    nodes.system_message,
    nodes.raw,
    nodes.pending,
    nodes.image,
    nodes.figure,
    nodes.footnote,
    nodes.citation,
    nodes.decoration,
    nodes.transition,
    nodes.meta,
)
# Marks where an inline node was dropped; the spaces before it go with it.
_GAP = "\x00"
_SPACE_BEFORE_GAP = re.compile(r"[ \t]+(?=\x00+(?!\w))")
_DROPPED_INLINE: tuple[type[Any], ...] = (
    nodes.footnote_reference,
    nodes.citation_reference,
    nodes.system_message,
    nodes.raw,
    nodes.image,
)


# docutils keeps process-wide state (its directive and role registries): one parse at a time,
# whichever thread runs it.
_ONE_AT_A_TIME = threading.Lock()


def parse_rst(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    try:
        with _ONE_AT_A_TIME:
            document = publish_doctree(text, parser=_Parser(), settings_overrides=_SETTINGS)
        sections = Sections()
        _file_sections(document, 1, sections)
    except RecursionError:
        raise UnsupportedSource("reStructuredText nested too deeply") from None
    except Exception as exc:
        # A docutils bug on odd input refuses this one file, not the whole import.
        raise UnsupportedSource(f"docutils could not read it ({type(exc).__name__})") from exc
    title = sections.first_title or fallback
    return whole_file(path_label, raw, title, sections.finish(title))


def _file_sections(parent: Any, level: int, sections: Sections) -> None:
    for child in parent.children:
        if isinstance(child, nodes.section):
            title = child.next_node(nodes.title)
            heading = _inline(title) if title is not None else ""
            if heading:  # a title of nothing but an image names nothing
                sections.heading(level, heading)
            _file_sections(child, level + 1, sections)
        elif not isinstance(child, nodes.title):
            for block in _blocks(child):
                sections.body.extend([block, ""])


# --- blocks -----------------------------------------------------------------------------------


def _blocks(node: Any) -> list[str]:
    """The text blocks one body element reads as; blocks are separated by a blank line."""
    if isinstance(node, _DROPPED):
        return []
    if isinstance(node, nodes.topic | nodes.sidebar) and "contents" in node["classes"]:
        return []  # a table of contents repeats the headings
    if isinstance(node, nodes.FixedTextElement):
        # Literal, doctest and math blocks keep their lines and indentation.
        text = node.astext()
        return [text] if text.strip() else []
    if isinstance(node, nodes.Admonition):
        return _admonition(node)
    if isinstance(node, nodes.bullet_list):
        return _list(node, ("- " for _ in node.children))
    if isinstance(node, nodes.enumerated_list):
        return _list(node, _enumeration(node))
    if isinstance(node, nodes.definition_list | nodes.field_list | nodes.option_list):
        return _labelled_list(node)
    if isinstance(node, nodes.line_block):
        return [_line_block(node)]
    if isinstance(node, nodes.table):
        return _table(node)
    if isinstance(node, nodes.attribution):
        return ["— " + _inline(node)]
    if isinstance(node, nodes.TextElement):
        text = _inline(node).strip()
        return [text] if text else []
    return _children_blocks(node)


def _children_blocks(node: Any) -> list[str]:
    return [block for child in node.children for block in _blocks(child)]


def _admonition(node: Any) -> list[str]:
    title = node.next_node(nodes.title) if isinstance(node, nodes.admonition) else None
    label = _inline(title) if title is not None else _ADMONITION_LABELS.get(node.tagname, "")
    blocks = [b for c in node.children if not isinstance(c, nodes.title) for b in _blocks(c)]
    if not blocks:
        return [label] if label else []
    if label:
        blocks[0] = f"{label}: {blocks[0]}"
    return ["\n\n".join(blocks)]


def _list(node: Any, markers: Iterator[str]) -> list[str]:
    items = []
    for marker, item in zip(markers, node.children, strict=False):
        text = ""
        for child in item.children:
            blocks = _blocks(child)
            if not blocks:
                continue
            if isinstance(child, nodes.bullet_list | nodes.enumerated_list) and text:
                # A nested list stays under its item, indented.
                text += "\n" + "\n".join("  " + line for line in blocks[0].split("\n"))
            else:
                text += ("\n\n" if text else "") + "\n\n".join(blocks)
        if text:
            items.append(marker + text)
    return ["\n".join(items)] if items else []


def _enumeration(node: Any) -> Iterator[str]:
    kind = node.get("enumtype", "arabic")
    prefix, suffix = node.get("prefix", ""), node.get("suffix", ".")
    number = node.get("start", 1)
    while True:
        if kind in ("loweralpha", "upperalpha") and 1 <= number <= 26:
            label = chr(ord("a") + number - 1)
        elif kind in ("lowerroman", "upperroman"):
            label = _roman(number)
        else:
            label = str(number)
        label = label.upper() if kind.startswith("upper") else label
        yield f"{prefix}{label}{suffix} "
        number += 1


def _roman(number: int) -> str:
    numerals = [
        (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
        (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
    ]  # fmt: skip
    out = ""
    for value, letters in numerals:
        count, number = divmod(number, value)
        out += letters * count
    return out or str(number)


def _labelled_list(node: Any) -> list[str]:
    """Definition, field and option lists: "label: text", one item after the other."""
    items = []
    for item in node.children:
        if isinstance(item, nodes.definition_list_item):
            term = " : ".join(_inline(c) for c in item.children if isinstance(c, nodes.TextElement))
            body = item.next_node(nodes.definition)
        elif isinstance(item, nodes.field):
            term = _inline(item[0])
            body = item.next_node(nodes.field_body)
        elif isinstance(item, nodes.option_list_item):
            options = item.next_node(nodes.option_group)
            term = ", ".join(o.astext() for o in options.children) if options is not None else ""
            body = item.next_node(nodes.description)
        else:
            items.extend(_blocks(item))
            continue
        blocks = _children_blocks(body) if body is not None else []
        if blocks:
            items.append(f"{term}: " + "\n\n".join(blocks) if term else "\n\n".join(blocks))
        elif term:
            items.append(term)
    return ["\n".join(items)] if items else []


def _line_block(node: Any, indent: str = "") -> str:
    lines = []
    for child in node.children:
        if isinstance(child, nodes.line_block):
            lines.append(_line_block(child, indent + "  "))
        else:
            lines.append(indent + _inline(child))
    return "\n".join(lines)


def _table(node: Any) -> list[str]:
    """A row per line, its cells joined with " | " as in the HTML format; a caption first."""
    lines = [_inline(c) for c in node.children if isinstance(c, nodes.title)]
    groups = [g for g in node.children if isinstance(g, nodes.tgroup)]
    parts = [p for g in groups for p in g.children if isinstance(p, nodes.thead | nodes.tbody)]
    for row in (r for p in parts for r in p.children):
        cells = [" ".join(" ".join(_children_blocks(entry)).split()) for entry in row.children]
        if any(cells):
            lines.append(" | ".join(cells))
    return ["\n".join(lines)] if lines else []


# --- inline text ------------------------------------------------------------------------------


def _inline(node: Any) -> str:
    """The words a reader sees: markup, footnote marks and targets' addresses gone."""
    out: list[str] = []
    _collect_inline(node, out)
    # "here [1]_ and" reads "here and", not "here  and".
    return _SPACE_BEFORE_GAP.sub("", "".join(out)).replace(_GAP, "").strip()


def _collect_inline(node: Any, out: list[str]) -> None:
    for child in node.children:
        if isinstance(child, nodes.Text):
            out.append(child.astext())
        elif (
            isinstance(child, _DROPPED_INLINE)
            or (isinstance(child, nodes.generated) and "sectnum" in child["classes"])
            or not child.astext()
        ):
            out.append(_GAP)
        else:
            _collect_inline(child, out)


# --- docutils extensions ----------------------------------------------------------------------


def _inliner() -> Any:
    """docutils' inliner, except that unknown roles (Sphinx's :ref:, :guilabel:, :kbd:...) read
    as their text instead of as errors, and a role that fails (such as :raw: with raw output
    disabled) leaves nothing behind. docutils builds its inline patterns from the attributes of
    the inliner's exact class, so one method is replaced on an instance instead of subclassing.
    """
    inliner = Inliner()
    inliner.interpreted = partial(_interpreted, inliner)
    return inliner


def _interpreted(inliner: Any, rawsource: str, text: str, role: str, lineno: int) -> Any:
    role_fn, messages = roles.role(role, inliner.language, lineno, inliner.reporter)
    if role_fn is None:
        # `title <target>`: the title; a bare `<target>` or `target`: the target.
        link = inliner.patterns.embedded_link.search(text)
        if link is not None:
            text = text[: link.start(0)] or link.group(2)
        return [nodes.inline(rawsource, unescape(text))], []
    result, more = role_fn(role, rawsource, text, lineno, inliner)
    if any(isinstance(n, nodes.problematic) for n in result):
        return [nodes.inline(rawsource, "")], messages + more  # nothing to read
    return result, messages + more


class _KeepDanglingReferences(Transform):  # type: ignore[misc]
    """A reference to a target the file does not define (`Release notes`_, a Sphinx label) keeps
    its words; docutils would otherwise replace it with its markup. Runs just before docutils'
    own check for dangling references."""

    default_priority = 849

    def apply(self) -> None:
        kinds = nodes.reference | nodes.footnote_reference | nodes.citation_reference
        for node in self.document.findall(lambda n: isinstance(n, kinds)):
            name = node.get("refname")
            if name and not node.resolved and not self.document.nameids.get(name):
                node.resolved = True


class _Parser(rst.Parser):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(inliner=_inliner())

    def get_transforms(self) -> list[type[Any]]:
        return [*super().get_transforms(), _KeepDanglingReferences]


class _SphinxCodeBlock(CodeBlock):  # type: ignore[misc]
    """docutils' code directive, also taking Sphinx's options (which do not change the text)."""

    option_spec: ClassVar[dict[str, Any]] = {
        **CodeBlock.option_spec,
        "linenos": directives.flag,
        "lineno-start": directives.unchanged,
        "emphasize-lines": directives.unchanged,
        "caption": directives.unchanged,
        "dedent": directives.unchanged,
        "force": directives.flag,
    }


class _SeeAlso(rst.Directive):  # type: ignore[misc]
    """Sphinx's ``seealso``: a note labelled "See also"."""

    has_content = True

    def run(self) -> list[Any]:
        return [_labelled_note(self, "See also", "")]


class _VersionNote(rst.Directive):  # type: ignore[misc]
    """Sphinx's ``versionadded:: 2.4 [text]`` and friends: a note labelled with the version."""

    label = ""
    required_arguments = 1
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self) -> list[Any]:
        version, *lead = self.arguments
        return [_labelled_note(self, f"{self.label} {version}", " ".join(lead))]


def _labelled_note(directive: Any, label: str, lead: str) -> Any:
    """An admonition titled ``label``, holding ``lead`` (inline text) and the directive's body."""
    node = nodes.admonition("\n".join(directive.content))
    node += nodes.title(label, label)
    if lead:
        words, messages = directive.state.inline_text(lead, directive.lineno)
        node += nodes.paragraph(lead, "", *words)
        node += messages
    directive.state.nested_parse(directive.content, directive.content_offset, node)
    return node


for _name in ("code", "code-block", "sourcecode"):
    directives.register_directive(_name, _SphinxCodeBlock)
directives.register_directive("seealso", _SeeAlso)
for _name, _label in (
    ("versionadded", "New in version"),
    ("versionchanged", "Changed in version"),
    ("versionremoved", "Removed in version"),
    ("deprecated", "Deprecated since version"),
):
    directives.register_directive(_name, type(_name, (_VersionNote,), {"label": _label}))
