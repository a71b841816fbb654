"""Making text safe and small enough for Slack: escaping, truncation and splitting."""

from __future__ import annotations

import datetime as dt
import re

from bot.slack.limits import SECTION_TEXT_MAX


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup, so echoed text cannot ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BROADCAST = re.compile(
    r"<(!(?:channel|here|everyone)|!subteam\^[A-Z0-9]+|@[UW][A-Z0-9]+)(\|[^>]*)?>"
)
_BARE_BROADCAST = re.compile(r"(?<![<\w])@(channel|here|everyone)\b")


def neutralize_mentions(text: str) -> str:
    """Keep machine-written text (LLM drafts, article passages) from pinging anyone.

    ``<!channel>``, ``<!here>``, ``<!everyone>``, user-group and user mentions are shown as
    plain words; links and formatting stay. Text a human reviewer typed is never passed here.
    """

    def plain(match: re.Match[str]) -> str:
        label = (match.group(2) or "")[1:]
        token = match.group(1)
        return "@" + (label or token.lstrip("!@").split("^")[0])

    # A label can hold another mention (<@U1|<!channel>>): repeat until nothing changes.
    for _ in range(10):
        replaced = _BROADCAST.sub(plain, text)
        if replaced == text:
            break
        text = replaced
    text = _BARE_BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)
    # Whatever mention syntax is left (malformed, unbalanced) is shown, never parsed.
    return text.replace("<!", "&lt;!").replace("<@", "&lt;@")


def truncate(text: str, limit: int, *, note: str = "…") -> str:
    """Cut to at most ``limit`` characters, ending with ``note`` when anything was dropped."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))].rstrip() + note


def truncate_escaped(text: str, limit: int) -> str:
    """Escape, then cut, without leaving half an entity such as ``&am`` at the end."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    hidden = len(text)
    note = f"… _({hidden:,} characters in all)_"
    if len(note) >= limit:
        note = "…"
    cut = escaped[: max(0, limit - len(note))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + note


def split_for_sections(text: str, limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Split long text at paragraph or line breaks into pieces each within ``limit``."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


def slack_date(epoch: float) -> str:
    """A date Slack renders in each reader's own time zone, with a UTC fallback."""
    fallback = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def message_link(workspace_url: str, channel: str, ts: str) -> str:
    base = workspace_url if workspace_url.endswith("/") else workspace_url + "/"
    return f"{base}archives/{channel}/p{ts.replace('.', '')}"


def clean_text(text: str) -> str:
    """Text from Slack made safe to store and send: lone surrogates (invalid UTF-16 halves in
    the JSON) become U+FFFD instead of failing every write."""
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


def slack_error(exc: Exception) -> str:
    """The ``error`` of a Slack API failure, whatever the response body was (a 5xx from a load
    balancer has plain text, not JSON)."""
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else type(exc).__name__
