"""Fuzzing the real app over HTTP with signed requests: Hypothesis writes the payloads.

Events (message events with missing fields, wrong types, unknown subtypes, unicode, strings up
to 50,000 characters, nested junk), block_actions (bad action ids, non-digit and huge values,
missing user or channel), view_submission (missing private_metadata, garbage state, wrong
types), message shortcuts and ``/support`` forms with random text, mentions and markup.

Each surface is fuzzed in several shapes by separate tests, so one kind of bug cannot hide
another: the near ones keep the shape Slack sends and put wrong values inside it (one defect on
an otherwise valid customer message; a click with a bad value; a channel id where a user id
goes; a form whose state holds the wrong types), ``junk`` puts any JSON anywhere, wrong types
at the top level included.

The bot is started once per test function; every example is one signed request. For each:
the app answers with a status it documents (200; 400 from the front door for an unparseable
body; 404 from Bolt for a type, action, callback or command it does not handle) and never 5xx;
the invalid request is not processed (no ticket, escalation or job, no config change, nothing
posted anywhere but a private notice to whoever clicked); whatever it says back is escaped and
pings no one; a reason is logged or told to the sender; and the bot still answers
``/support help`` right after. When a test's examples are done, a real customer question must
still get its answer. A last test sends valid customer messages with random text: each gets one
outcome, and the bot posts only in that ticket's thread and the escalation channel.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.sandbox.signed import FORM_TYPE
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OTHER_REVIEWER,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    classification,
    draft,
    scripted_llm,
)

EXPORT_ARTICLE = 2
CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "corpus.jsonl"

# Documented answers: 200, 400 (front door: unparseable body), 404 (Bolt: nothing handles it).
ALLOWED_STATUSES = frozenset({200, 400, 404})
# The harness's people and the bot itself (UBOT, named in /support status).
ALLOWED_MENTIONS = frozenset({CUSTOMER, REVIEWER, OTHER_REVIEWER, OUTSIDER, "UBOT"})
USER_ID = re.compile(r"[UW][A-Z0-9]+")
# The arguments of a Web API call that people read (not channel ids, ts values or metadata).
SHOWN_FIELDS = ("text", "blocks", "attachments", "view")
BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")
MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
# Markup only an attacker writes: seen raw in anything the bot says, it was echoed unescaped.
RAW_ATTACK = ("<https://evil.example", "<#C0GENERAL", "<mailto:attacker@")
ATTACK_TOKENS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<@U0BOSS>",
    "<@U0BOSS|boss>",
    "<@W0ENTERPRISE>",
    "<!subteam^S0ONCALL>",
    "<!subteam^S0ONCALL|@oncall>",
    "<#C0GENERAL>",
    "<#C0GENERAL|general>",
    "<https://evil.example|click>",
    "<mailto:attacker@evil.example|support>",
    "<@U0BOSS|<!channel>>",
    "&lt;!here&gt;",
    "&amp;",
    "*bold*",
    "_it_",
    "~s~",
    "`code`",
    "```",
    "\n> quote",
    "\u202e",
    "\u200b",
    "\x00",
)
POSTING = ("chat.postMessage", "chat.update", "chat.meMessage", "chat.scheduleMessage")
OPENING = ("views.open", "views.push")
LOGGERS = ("bot", "handlers", "slack_bolt")


def corpus_texts(limit: int = 400) -> list[str]:
    texts = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            text = str(json.loads(line)["text"])
            if len(text) <= limit:
                texts.append(text)
    return texts


# ----------------------------------------------------------------------------- strategies

OMIT = object()
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
non_dict_junk = st.one_of(scalars, st.lists(junk, max_size=3))
short_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(ATTACK_TOKENS),
    st.sampled_from(corpus_texts()),
    st.sampled_from(["\ud800", "\udfff", "\ud83d"]),  # lone surrogates, as JSON \u escapes
)
huge_text = st.builds(
    lambda chunk, n: (chunk * (n // len(chunk) + 1))[:n],
    st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(ATTACK_TOKENS)),
    st.integers(10_000, 50_000),
)
texts = st.one_of(
    st.lists(short_text, max_size=6).map(" ".join),
    st.lists(short_text, max_size=6).map(" ".join),
    st.lists(short_text, max_size=6).map(" ".join),
    huge_text,
)
user_ids = st.one_of(
    st.sampled_from(
        [
            *(REVIEWER, OTHER_REVIEWER, OUTSIDER, CUSTOMER, "UBOT", "", "U0BOSS", "W0ENTERPRISE"),
            # Not user ids at all: a notice "to the user" must not land in a channel.
            *(SUPPORT, ESCALATION, "D0DM", "<!channel>"),
        ]
    ),
    st.text(max_size=30),
)
channel_ids = st.one_of(
    st.sampled_from([SUPPORT, ESCALATION, "C0GENERAL", "D0DM", "", CUSTOMER]), st.text(max_size=20)
)
escalation_values = st.one_of(
    st.sampled_from(["0", "1", "7", "42", "-1", "1.5", "1e3", " 1", "1 ", "0x1", "1:1", "1:0"]),
    st.sampled_from(["²", "١٢", "①", "²:1", "1:²", "9" * 30, "9" * 5000, "9" * 30 + ":1"]),
    st.integers(min_value=0, max_value=10**40).map(str),
    texts,
    non_dict_junk,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is left out, valid, or junk of the wrong type."""
    return st.one_of(st.just(OMIT), strategy, junk)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is left out or present with a value of the right type."""
    return st.one_of(st.just(OMIT), strategy)


@st.composite
def drop_omitted(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    values = {key: draw(strategy) for key, strategy in fields.items()}
    return {key: value for key, value in values.items() if value is not OMIT}


# The parts of the shapes (see the module docstring): "near" ones keep the types Slack sends
# (objects where Slack has objects), "junk" ones put any JSON anywhere.
team_ids = st.sampled_from([HOME_TEAM, CUSTOMER_TEAM, ""])
near_users = drop_omitted({"id": optional(user_ids), "team_id": optional(team_ids)})
junk_users = st.one_of(
    st.just(OMIT),
    non_dict_junk,
    drop_omitted({"id": maybe(user_ids), "team_id": maybe(team_ids), "name": maybe(st.text())}),
)
# Slack sends "team" as an object in interactivity payloads and as an id elsewhere.
near_teams = optional(st.fixed_dictionaries({"id": team_ids}) | st.text(max_size=12))
junk_teams = maybe(st.fixed_dictionaries({"id": team_ids}))
near_channels = optional(st.fixed_dictionaries({"id": channel_ids}))
junk_channels = maybe(st.fixed_dictionaries({"id": channel_ids}) | st.fixed_dictionaries({}))

MESSAGE_DEFECTS = (
    "other channel",
    "no channel",
    "channel not a string",
    "no user",
    "user not a string",
    "the bot's own user",
    "no ts",
    "ts not a string",
    "ts not a Slack timestamp",
    "subtype of something else",
    "subtype not a string",
    "bot_id",
    "bot_profile",
)
SLACK_TS = re.compile(r"\d+\.\d+")
slack_ts = st.builds(
    "{}.{:06d}".format, st.integers(1_600_000_000, 1_900_000_000), st.integers(0, 999_999)
)


@st.composite
def invalid_message_events(draw: st.DrawFn, *, shape: str) -> tuple[str, Any]:
    """(defect, event): a message event the bot must not take for a customer's question.
    ``near``: a customer's message with exactly one defect; ``junk``: junk fields too."""
    if shape == "junk" and draw(st.integers(0, 4)) == 0:
        return "event is not an object", draw(non_dict_junk)
    value = (lambda good: maybe(good)) if shape == "junk" else (lambda good: good)
    event = draw(
        drop_omitted(
            {
                "type": value(st.just("message")),
                "channel": value(st.just(SUPPORT)),
                "user": value(st.just(CUSTOMER)),
                "text": value(texts),
                "ts": value(slack_ts),
                "team": value(st.just(CUSTOMER_TEAM)),
                "user_team": value(st.just(CUSTOMER_TEAM)),
                "channel_type": value(st.just("channel")),
                "thread_ts": optional(slack_ts | st.text(max_size=20)),
                "blocks": optional(st.lists(junk, max_size=2)),
                "files": optional(st.lists(junk, max_size=2)),
                "edited": optional(junk),
                "message": optional(junk),
            }
        )
    )
    defect = draw(st.sampled_from(MESSAGE_DEFECTS))
    if defect == "other channel":
        event["channel"] = draw(st.sampled_from([ESCALATION, "C0GENERAL", "D0DM", ""]))
    elif defect == "no channel":
        event.pop("channel", None)
    elif defect == "channel not a string":
        event["channel"] = draw(non_dict_junk.filter(lambda v: not isinstance(v, str)))
    elif defect == "no user":
        event.pop("user", None)
    elif defect == "user not a string":
        event["user"] = draw(non_dict_junk.filter(lambda v: not isinstance(v, str)))
    elif defect == "the bot's own user":
        event["user"] = "UBOT"
    elif defect == "no ts":
        event.pop("ts", None)
    elif defect == "ts not a string":
        event["ts"] = draw(non_dict_junk.filter(lambda v: not isinstance(v, str)))
    elif defect == "ts not a Slack timestamp":
        event["ts"] = draw(
            (st.text(min_size=1, max_size=30) | huge_text).filter(
                lambda v: SLACK_TS.fullmatch(v) is None
            )
        )
    elif defect == "subtype of something else":
        event["subtype"] = draw(
            st.sampled_from(["message_changed", "message_deleted", "channel_join", "bot_message"])
            | st.text(max_size=20).filter(
                lambda v: v not in ("file_share", "thread_broadcast", "me_message")
            )
        )
    elif defect == "subtype not a string":
        event["subtype"] = draw(junk.filter(lambda v: v is not None and not isinstance(v, str)))
    elif defect == "bot_id":
        event["bot_id"] = draw(st.text(min_size=1, max_size=10))
    else:
        event["bot_profile"] = draw(st.fixed_dictionaries({"id": st.text(min_size=1)}))
    return defect, event


action_ids = st.sampled_from(
    [
        *ids.REVIEW_ACTIONS,
        *ids.CARD_ACTIONS,
        *ids.ANSWER_ACTIONS,
        ids.ACTION_HOME_PAGE,
        ids.home_action(ids.ACTION_APPROVE, 7),
        f"{ids.ACTION_APPROVE}.²",
        f"{ids.ACTION_APPROVE}.x",
        "escalation_why",
    ]
)
near_action = drop_omitted(
    {
        "action_id": action_ids,
        "value": optional(escalation_values.filter(lambda v: isinstance(v, str))),
        "block_id": optional(st.sampled_from(["review", "more", "after", "b"])),
        "type": st.just("button"),
    }
)
junk_actions = st.one_of(
    st.just(OMIT),
    non_dict_junk,
    st.lists(
        st.one_of(
            non_dict_junk,
            drop_omitted(
                {
                    "action_id": maybe(action_ids | st.text(max_size=30)),
                    "value": maybe(escalation_values),
                    "block_id": maybe(st.sampled_from(["review", "more", "after", "b"])),
                    "type": maybe(st.just("button")),
                }
            ),
        ),
        max_size=2,
    ),
)
views_clicked_in = st.fixed_dictionaries(
    {"type": st.sampled_from(["home", "modal"]), "id": st.just("V1")}
)


REVIEWER_USER = {"id": REVIEWER, "team_id": HOME_TEAM}


@st.composite
def block_actions(draw: st.DrawFn, *, shape: str) -> dict[str, Any]:
    """``values``: a reviewer's click on a card with a wrong action id or value; ``people``: a
    click on an unknown card by a wrong user, team or channel; ``junk``: anything."""
    if shape == "values":
        fields: dict[str, st.SearchStrategy[Any]] = {
            "user": st.just(REVIEWER_USER),
            "team": st.just({"id": HOME_TEAM}),
            "channel": st.just({"id": ESCALATION}),
            "actions": st.lists(near_action, min_size=1, max_size=1),
            "view": optional(views_clicked_in),
        }
    elif shape == "people":
        fields = {
            "user": near_users,
            "team": near_teams,
            "channel": near_channels,
            "container": optional(
                st.fixed_dictionaries({"type": st.just("message"), "channel_id": channel_ids})
            ),
            "actions": st.lists(
                st.fixed_dictionaries({"action_id": action_ids, "value": st.just("7")}),
                min_size=1,
                max_size=1,
            ),
            "view": optional(views_clicked_in),
        }
    else:
        fields = {
            "user": junk_users,
            "team": junk_teams,
            "channel": junk_channels,
            "container": maybe(st.fixed_dictionaries({"type": st.just("message")})),
            "actions": junk_actions,
            "view": maybe(views_clicked_in),
            "message": maybe(junk),
            "state": maybe(junk),
        }
    payload = draw(drop_omitted(fields))
    payload.update(type="block_actions", response_url="https://hooks.slack.com/actions/T/1/x")
    return payload


private_metadata = st.one_of(
    st.just(OMIT),
    st.sampled_from(
        [
            "",
            "not json",
            "null",
            "[]",
            "1",
            '"1"',
            "{}",
            '{"escalation_id": null}',
            '{"escalation_id": "x"}',
            '{"escalation_id": "²"}',
            '{"escalation_id": 1e400}',
            '{"escalation_id": -Infinity}',
            '{"escalation_id": NaN}',
            '{"escalation_id": 1.5}',
            '{"escalation_id": 7}',
            '{"escalation_id": 99999999999999999999999999}',
            '{"escalation_id": [1]}',
        ]
    ),
    junk.map(json.dumps),
    texts,
)
CALLBACKS = (
    ids.VIEW_EDIT,
    ids.VIEW_KB_ADD,
    ids.VIEW_REDRAFT,
    ids.VIEW_ANSWER_QUESTION,
    ids.VIEW_SAVE_ARTICLE,
    ids.VIEW_CONFIG,
)
BLOCK_ACTION_PAIRS = (
    (ids.BLOCK_EDIT_TEXT, ids.ACTION_EDIT_TEXT),
    (ids.BLOCK_KB_TITLE, ids.ACTION_KB_TITLE),
    (ids.BLOCK_KB_BODY, ids.ACTION_KB_BODY),
    (ids.BLOCK_KB_URL, ids.ACTION_KB_URL),
    (ids.BLOCK_FEEDBACK, ids.ACTION_FEEDBACK),
    (ids.BLOCK_ANSWER, ids.ACTION_ANSWER),
    (ids.BLOCK_ANSWER_MODE, ids.ACTION_ANSWER_MODE),
    (ids.BLOCK_CFG_ESCALATION, ids.cfg_action(ids.BLOCK_CFG_ESCALATION)),
    (ids.BLOCK_CFG_THRESHOLD, ids.cfg_action(ids.BLOCK_CFG_THRESHOLD)),
)


@st.composite
def state_values(draw: st.DrawFn) -> Any:
    """A view's ``state``: right or wrong types at every level."""
    if draw(st.integers(0, 3)) == 0:
        return draw(junk)
    values: dict[str, Any] = {}
    for block_id, action_id in draw(st.lists(st.sampled_from(BLOCK_ACTION_PAIRS), max_size=4)):
        entry = draw(
            st.one_of(
                junk,
                st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": texts}),
                st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": junk}),
                st.fixed_dictionaries({"selected_option": junk}),
            )
        )
        values[block_id] = draw(st.one_of(st.just({action_id: entry}), junk))
    return {"values": values} if draw(st.booleans()) else draw(st.just(values) | junk)


@st.composite
def view_submissions(draw: st.DrawFn, *, shape: str) -> dict[str, Any]:
    """``metadata``: a reviewer's form naming no card, or a card that does not exist;
    ``state``: a form for an unknown card with wrong values inside; ``junk``: anything."""
    view: Any
    if shape == "junk" and draw(st.integers(0, 4)) == 0:
        view = draw(non_dict_junk)
    elif shape == "junk":
        view = draw(
            drop_omitted(
                {
                    "type": maybe(st.just("modal")),
                    "callback_id": st.sampled_from(CALLBACKS) | st.text(max_size=20) | junk,
                    "private_metadata": maybe(private_metadata),
                    "state": maybe(state_values()),
                }
            )
        )
    else:
        view = draw(
            drop_omitted(
                {
                    "type": st.just("modal"),
                    "callback_id": st.sampled_from(CALLBACKS),
                    "private_metadata": private_metadata
                    if shape == "metadata"
                    else st.just('{"escalation_id": 7}'),
                    "state": st.just({"values": {}}) if shape == "metadata" else state_values(),
                }
            )
        )
    if isinstance(view, dict):
        view.update(id="VFAKE", hash="1.x")
    near = shape != "junk"
    payload = draw(
        drop_omitted(
            {
                "user": st.just(REVIEWER_USER) if near else junk_users,
                "team": st.just({"id": HOME_TEAM}) if near else junk_teams,
                "trigger_id": optional(st.text(max_size=20)),
            }
        )
    )
    payload.update(type="view_submission", view=view)
    return payload


@st.composite
def message_shortcuts(draw: st.DrawFn, *, shape: str) -> dict[str, Any]:
    near = shape == "near"
    message = drop_omitted(
        {
            "ts": optional(slack_ts | st.text(max_size=20)),
            "thread_ts": optional(slack_ts | texts),
            "text": optional(texts),
        }
    )
    payload = draw(
        drop_omitted(
            {
                "callback_id": st.sampled_from([ids.SHORTCUT_HANDBACK, ids.SHORTCUT_RESOLVE]),
                "user": near_users if near else junk_users,
                "team": near_teams if near else junk_teams,
                "channel": near_channels if near else junk_channels,
                "message": optional(message) if near else maybe(message),
                "message_ts": optional(slack_ts) if near else maybe(st.text(max_size=30)),
                "trigger_id": optional(st.text(max_size=30)),
            }
        )
    )
    payload["type"] = "message_action"
    return payload


SUBCOMMANDS = (
    "help",
    "status",
    "kb",
    "kb search",
    "kb add",
    "kb remove",
    "handback",
    "resolve",
    "config",
    "channel add",
    "escalation",
    "reviewers add",
    "admins add",
    "pause",
    "resume",
    "audit",
    "threshold",
    "hours",
    "reminders",
    "trace",
    "stats",
)
slash_texts = st.one_of(
    texts,
    st.builds(lambda sub, rest: f"{sub} {rest}", st.sampled_from(SUBCOMMANDS), texts),
    st.builds(lambda sub, n: f"{sub} {n}", st.sampled_from(SUBCOMMANDS), escalation_values),
)


@st.composite
def slash_forms(draw: st.DrawFn) -> dict[str, str]:
    """Slash command forms: strings only (a form has no types), never lone surrogates (a form
    is UTF-8), any field but the command may be missing."""
    form = draw(
        drop_omitted(
            {
                "user_id": st.one_of(st.just(OMIT), user_ids),
                "team_id": st.one_of(st.just(OMIT), st.sampled_from([HOME_TEAM, CUSTOMER_TEAM])),
                "channel_id": st.one_of(st.just(OMIT), channel_ids),
                "text": st.one_of(st.just(OMIT), slash_texts),
                "trigger_id": st.one_of(st.just(OMIT), st.text(max_size=20)),
                "response_url": st.just("https://hooks.slack.com/commands/T/1/x"),
            }
        )
    )
    form["command"] = draw(st.just("/support") | st.just("/support") | st.text(max_size=10))
    return {
        key: value.encode("utf-8", "replace").decode("utf-8")
        for key, value in form.items()
        if isinstance(value, str)
    }


# ----------------------------------------------------------------------------- the harness


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def unescaped(text: str, *, links: bool = True) -> list[str]:
    """Pings (and with ``links``, attacker markup) found raw in something the bot said."""
    found = [m.group(0) for m in BROADCAST.finditer(text)]
    found += [m.group(0) for m in MENTION.finditer(text) if m.group(1) not in ALLOWED_MENTIONS]
    if links:
        found += [raw for raw in RAW_ATTACK if raw in text]
    return found


def clicker(payload: object) -> str | None:
    user = payload.get("user") if isinstance(payload, dict) else None
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return str(user["id"])
    if isinstance(payload, dict) and isinstance(payload.get("user_id"), str):
        return str(payload["user_id"])
    return None


@dataclass
class Fuzz:
    bot: RunningBot
    slack: SlackStandIn
    llm: FakeOpenAI
    caplog: pytest.LogCaptureFixture

    async def counts(self) -> dict[str, int]:
        tables = ("tickets", "escalations", "jobs", "ticket_turns", "config_audit", "kb_articles")
        counts: dict[str, int] = {}
        for table in tables:
            row = await self.bot.db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
            counts[table] = int(row["n"]) if row is not None else -1
        return counts

    # A nonce outside the fuzzed data: two equal bodies in one second would be refused as a
    # replay (409) by the front door, which test_http_security covers.
    async def send_payload(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps({**payload, "fuzz_nonce": uuid.uuid4().hex})})
        return await self.bot.send.send(body, content_type=FORM_TYPE)

    async def send_form(self, form: dict[str, str]) -> tuple[int, str]:
        body = urlencode({**form, "fuzz_nonce": uuid.uuid4().hex})
        return await self.bot.send.send(body, content_type=FORM_TYPE)

    async def send_event(self, event: object) -> tuple[int, str]:
        envelope = self.bot.send.envelope({}, self.bot.send.new_event_id(), shared=False)
        envelope["event"] = event
        return await self.bot.send.send(json.dumps(envelope))

    async def check(
        self,
        what: str,
        sent: object,
        request: Awaitable[tuple[int, str]],
        *,
        needs_reason: bool = True,
    ) -> None:
        """Send one invalid request through ``request`` and check everything the module
        docstring promises about it. ``needs_reason=False``: Bolt drops it silently by design
        (the app's own events)."""
        calls, ephemerals = len(self.slack.calls), len(self.slack.ephemerals)
        responses, logs = len(self.slack.responses), len(self.caplog.records)
        before = await self.counts()
        status, body = await request
        shown = repr(sent)
        shown = shown if len(shown) < 600 else shown[:600] + f"… ({len(shown)} chars)"
        new_calls = self.slack.calls[calls:]
        new_logs = self.caplog.records[logs:]
        errors = [r for r in new_logs if r.levelno >= logging.ERROR]
        assert status in ALLOWED_STATUSES, f"{what}: HTTP {status} for {shown}\n" + "\n".join(
            f"  {r.name}: {r.getMessage()}" for r in errors[:3]
        )
        after = await self.counts()
        assert after == before, f"{what} was processed: {before} -> {after} for {shown}"
        who = clicker(sent)
        # A private notice to whoever clicked is fine, if they are a person (not a channel).
        who = who if who is not None and USER_ID.fullmatch(who) else None
        posted = [
            c
            for c in new_calls
            if c.method in POSTING + OPENING
            and not (c.method == "chat.postMessage" and c.args.get("channel") == who)
        ]
        assert not posted, (
            f"{what} made the bot post: "
            f"{[(c.method, c.args.get('channel'), c.args.get('text')) for c in posted]}"
            f" for {shown}"
        )
        said = [body]
        said += list(strings([{k: c.args.get(k) for k in SHOWN_FIELDS} for c in new_calls]))
        private = self.slack.ephemerals[ephemerals:] + self.slack.responses[responses:]
        said += list(strings([{k: p.get(k) for k in SHOWN_FIELDS} for p in private]))
        bad = sorted({found for text in said for found in unescaped(text)})
        assert not bad, f"{what}: the bot's answer has unescaped {bad} for {shown}"
        told = (
            bool(body.strip())
            or len(self.slack.ephemerals) > ephemerals
            or any(c.method == "chat.postMessage" for c in new_calls)
        )
        logged = any(r.levelno >= logging.INFO and r.name.startswith(LOGGERS) for r in new_logs)
        assert told or logged or not needs_reason, f"{what}: no reason logged or told for {shown}"
        status, help_text = await self.bot.send.slash_command(REVIEWER, "help")
        assert status == 200 and "/support" in help_text, f"the bot stopped answering after {shown}"

    async def still_answers_a_customer(self) -> None:
        self.llm.set_responder(
            scripted_llm(classification(), draft("Click *Export*, then CSV.", [EXPORT_ARTICLE]))
        )
        ts = await self.bot.ask("How do I export a report as CSV?")
        await self.bot.drained()
        thread = self.bot.thread(ts)
        assert [m["text"].split("\n")[0] for m in thread] == ["Click *Export*, then CSV."], (
            f"after the fuzzing a real question got {thread}\n{self.slack.dump()}"
        )


@pytest.fixture
async def fuzz(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Fuzz]:
    caplog.set_level(logging.INFO)
    # One attempt per job: a job that fails fails at once instead of after retries.
    bot = await make_bot(llm_timeout=1.0, job_max_attempts=1)
    helper = Fuzz(bot, slack, llm, caplog)
    yield helper
    await helper.still_answers_a_customer()


FUZZ = settings(
    deadline=None,
    # No "explain" phase: it replays many variants of a failure, slow against a live bot.
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("shape", ["near", "junk"])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_fuzzed_message_events_are_acknowledged_and_ignored(
    fuzz: Fuzz, shape: str, data: st.DataObject
) -> None:
    defect, event = data.draw(invalid_message_events(shape=shape), label="defect, event")
    own = isinstance(event, dict) and event.get("user") == "UBOT"
    await fuzz.check(
        f"a message event ({defect})", event, fuzz.send_event(event), needs_reason=not own
    )


@pytest.mark.parametrize("shape", ["values", "people", "junk"])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_fuzzed_button_clicks_change_nothing(
    fuzz: Fuzz, shape: str, data: st.DataObject
) -> None:
    payload = data.draw(block_actions(shape=shape), label="payload")
    await fuzz.check("a block_actions payload", payload, fuzz.send_payload(payload))


@pytest.mark.parametrize("shape", ["metadata", "state", "junk"])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_fuzzed_form_submissions_change_nothing(
    fuzz: Fuzz, shape: str, data: st.DataObject
) -> None:
    payload = data.draw(view_submissions(shape=shape), label="payload")
    await fuzz.check("a view_submission payload", payload, fuzz.send_payload(payload))


@pytest.mark.parametrize("shape", ["near", "junk"])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_fuzzed_message_shortcuts_change_nothing(
    fuzz: Fuzz, shape: str, data: st.DataObject
) -> None:
    payload = data.draw(message_shortcuts(shape=shape), label="payload")
    await fuzz.check("a message_action payload", payload, fuzz.send_payload(payload))


@settings(FUZZ, max_examples=120)
@given(form=slash_forms())
async def test_fuzzed_slash_commands_answer_privately_and_escaped(
    fuzz: Fuzz, form: dict[str, str]
) -> None:
    await fuzz.check("a /support form", form, fuzz.send_form(form))


# ----------------------------------------------------------------------------- valid messages


class EchoModel:
    """A model that repeats the customer's text everywhere, in the category it is told."""

    def __init__(self) -> None:
        self.text = ""
        self.category = "simple_faq"

    def respond(self, request: dict[str, Any]) -> str:
        system = str(request["messages"][0]["content"])
        if "You triage customer questions" in system:
            return json.dumps(
                classification(self.category, 0.99, keywords=["export"], summary=self.text[:900])
            )
        answer = self.text[:2500] if self.text.strip() else "OK"
        return json.dumps(draft(answer, [EXPORT_ARTICLE], missing=self.text[:900]))


@settings(FUZZ, max_examples=30)
@given(
    text=texts,
    category=st.sampled_from(["simple_faq", "complex_issue", "billing_query", "unknown"]),
)
async def test_fuzzed_customer_text_gets_one_outcome_in_its_own_thread(
    fuzz: Fuzz, text: str, category: str
) -> None:
    model = EchoModel()
    model.text, model.category = text, category
    fuzz.llm.set_responder(model.respond)
    bot, slack = fuzz.bot, fuzz.slack
    calls = len(slack.calls)
    last_job = await bot.db.fetchone("SELECT COALESCE(MAX(id), 0) AS n FROM jobs")
    ignored_before = len(await bot.ignored_reasons())
    tickets_before = len(await bot.ticket_states())
    ts = await bot.ask(text)
    await bot.drained()
    shown = repr(text) if len(text) < 300 else repr(text[:300]) + f"… ({len(text)} chars)"
    opened = len(await bot.ticket_states()) - tickets_before
    ignored = len(await bot.ignored_reasons()) - ignored_before
    assert opened + ignored == 1, f"{shown} got {opened} ticket(s) and {ignored} ignore(s)"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        # Not Unicode text (lone surrogates, only possible as JSON escapes): invalid input, so
        # a recorded reason is enough; see the report on bot.intake.
        return
    dead = await bot.db.fetchall(
        "SELECT kind, last_error FROM jobs WHERE state = 'dead' AND id > ?",
        (last_job["n"] if last_job is not None else 0,),
    )
    assert not dead, f"{shown} killed jobs: {[dict(r) for r in dead]}"
    cards = {m["ts"] for m in bot.cards()}
    for call in slack.calls[calls:]:
        assert call.status == 200 and call.ok, (
            f"Slack refused {call.method} ({call.error}) for {shown}"
        )
        if call.method in POSTING:
            channel, thread = call.args.get("channel"), call.args.get("thread_ts")
            assert (channel == SUPPORT and thread == ts) or (
                channel == ESCALATION and (thread is None or thread in cards)
            ), f"{shown} made the bot post to {channel}/{thread}"
        # Drafts keep their links by design (bot.slack.text.neutralize_mentions): pings only.
        shown_args = {k: call.args.get(k) for k in SHOWN_FIELDS}
        bad = sorted({found for s in strings(shown_args) for found in unescaped(s, links=False)})
        assert not bad, f"{call.method} pings {bad} for {shown}"
