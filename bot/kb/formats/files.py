"""Turn one knowledge-base file's bytes into articles ready to store: the formats' entry point.

``parse_source`` decides whether a file can be read at all (size, binary, encoding, emptiness,
suffix) and hands the decoded text to the parser for its suffix. It does no I/O and keeps no
state, so the importer can call it from a worker thread and tests can feed it literal bytes.

Whole-file formats (Markdown, text, reST, HTML) become one article whose ``content_hash`` is the
SHA-256 of the raw bytes. FAQ files (CSV, JSON Lines) become one article per row whose hash covers
only that row's normalised content, so editing one row re-imports one article. A bad row is
reported in ``ParsedSource.problems`` and skipped; a file that cannot be used at all raises
``UnsupportedSource`` with a message meant for the person running the import.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.kb.formats.common import ParsedSource, UnsupportedSource
from bot.kb.formats.faq import parse_csv, parse_jsonl
from bot.kb.formats.html import parse_html
from bot.kb.formats.markdown import parse_markdown

__all__ = [
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "ParsedSource",
    "UnsupportedSource",
    "parse_source",
]

MAX_FILE_BYTES = 5_000_000

_BOM = b"\xef\xbb\xbf"

# (path label, raw bytes, decoded text, title from the file name) -> articles
_Parser = Callable[[str, bytes, str, str], ParsedSource]


def _parse_rst(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    # docutils is large: loaded only when a reStructuredText file is read, never by the
    # running bot's other work (its objects would slow every full garbage collection).
    from bot.kb.formats.rst import parse_rst

    return parse_rst(path_label, raw, text, fallback)


_PARSERS: dict[str, _Parser] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_markdown,
    ".text": parse_markdown,
    ".rst": _parse_rst,
    ".html": parse_html,
    ".htm": parse_html,
    ".csv": parse_csv,
    ".jsonl": parse_jsonl,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)


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
