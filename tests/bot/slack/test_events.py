"""parse_message_event: which Slack message events become customer messages, and why not."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.events import (
    Ignored,
    InboundMessage,
    InboundReaction,
    parse_message_event,
    parse_reaction_event,
)

SUPPORT = "CSUPPORT"
BOT_USER = "UBOT"
WATCHED = frozenset({SUPPORT})


def _body(event: Any = None, **body: Any) -> dict[str, Any]:
    if event is None:
        event = _event()
    values: dict[str, Any] = {"event_id": "Ev1", "team_id": "THOME", "event": event}
    values.update(body)
    return values


def _event(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "message",
        "channel": SUPPORT,
        "user": "UCUSTOMER",
        "text": "How do I export?",
        "ts": "1700000000.000100",
        "team": "TCUST",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def _parse(body: dict[str, Any]) -> InboundMessage | Ignored:
    return parse_message_event(body, watched_channels=WATCHED, bot_user_id=BOT_USER)


def _accepted(body: dict[str, Any]) -> InboundMessage:
    result = _parse(body)
    assert isinstance(result, InboundMessage), result
    return result


def _ignored(body: dict[str, Any]) -> str:
    result = _parse(body)
    assert isinstance(result, Ignored), result
    return result.reason


def test_plain_message_is_accepted_with_all_fields() -> None:
    message = _accepted(_body(is_ext_shared_channel=True))
    assert message == InboundMessage(
        event_id="Ev1",
        channel_id=SUPPORT,
        ts="1700000000.000100",
        thread_ts=None,
        user_id="UCUSTOMER",
        user_team="TCUST",
        text="How do I export?",
        shared_channel=True,
    )


def test_user_team_is_preferred_over_team() -> None:
    assert _accepted(_body(_event(user_team="TUSER"))).user_team == "TUSER"


@pytest.mark.parametrize("subtype", ["file_share", "thread_broadcast", "me_message"])
def test_person_subtypes_are_accepted(subtype: str) -> None:
    message = _accepted(_body(_event(subtype=subtype)))
    assert message.user_id == "UCUSTOMER"


def test_file_share_without_text_is_accepted_with_empty_text() -> None:
    event = _event(subtype="file_share")
    del event["text"]
    assert _accepted(_body(event)).text == ""


@pytest.mark.parametrize(
    "subtype",
    [
        "message_changed",
        "message_deleted",
        "bot_message",
        "channel_join",
        "channel_topic",
        "message_replied",
        "",
    ],
)
def test_other_subtypes_are_ignored(subtype: str) -> None:
    reason = _ignored(_body(_event(subtype=subtype)))
    assert repr(subtype) in reason


def test_bot_messages_are_ignored() -> None:
    assert _ignored(_body(_event(bot_id="B1"))) == "message from a bot"
    assert _ignored(_body(_event(bot_profile={"id": "B1"}))) == "message from a bot"


def test_own_bot_user_is_ignored() -> None:
    assert _ignored(_body(_event(user=BOT_USER))) == "the bot's own message"


def test_unwatched_channel_is_ignored() -> None:
    reason = _ignored(_body(_event(channel="COTHER")))
    assert "COTHER" in reason
    assert "not a support channel" in reason


@pytest.mark.parametrize("user", [None, "", 123, ["U1"], {"id": "U1"}])
def test_missing_or_malformed_user_is_ignored(user: Any) -> None:
    event = _event()
    event["user"] = user
    if user is None:
        del event["user"]
    assert _ignored(_body(event)) == "message has no user"


@pytest.mark.parametrize("ts", [None, "", 1700000000.0001, ["1.2"]])
def test_missing_or_malformed_ts_is_ignored(ts: Any) -> None:
    event = _event()
    event["ts"] = ts
    if ts is None:
        del event["ts"]
    assert _ignored(_body(event)) == "message has no ts"


@pytest.mark.parametrize("channel", [None, 5, ["CSUPPORT"]])
def test_malformed_channel_is_ignored(channel: Any) -> None:
    event = _event()
    event["channel"] = channel
    assert "not a support channel" in _ignored(_body(event))


@pytest.mark.parametrize("event", [None, "message", 3, ["x"]])
def test_event_that_is_not_a_dict_is_ignored(event: Any) -> None:
    body = {"event_id": "Ev1", "event": event}
    assert _ignored(body) == "no event in the payload"


def test_body_without_event_is_ignored() -> None:
    assert _ignored({}) == "no event in the payload"


def test_wrongly_typed_optional_fields_never_raise() -> None:
    event = _event(text=["not", "text"], thread_ts=17.5, user_team=9, team=9)
    message = _accepted(_body(event, event_id=123, is_ext_shared_channel="yes"))
    assert message.text == ""
    assert message.thread_ts is None
    assert message.user_team is None
    assert message.event_id is None


@pytest.mark.parametrize("subtype", [["file_share"], {"x": 1}])
def test_unhashable_subtype_never_raises(subtype: Any) -> None:
    assert isinstance(_parse(_body(_event(subtype=subtype))), Ignored)


def test_dedupe_key_is_per_channel_and_message_not_per_event() -> None:
    first = _accepted(_body(event_id="Ev1"))
    retry = _accepted(_body(event_id="Ev2"))
    other = _accepted(_body(_event(ts="1700000000.000200")))
    assert first.dedupe_key == "message:CSUPPORT:1700000000.000100"
    assert retry.dedupe_key == first.dedupe_key
    assert other.dedupe_key != first.dedupe_key


def test_root_and_thread_reply() -> None:
    ts = "1700000000.000100"
    assert _accepted(_body(_event(ts=ts))).is_root
    # A thread parent carries thread_ts equal to its own ts.
    assert _accepted(_body(_event(ts=ts, thread_ts=ts))).is_root
    reply = _accepted(_body(_event(ts="1700000001.000000", thread_ts=ts)))
    assert not reply.is_root
    assert reply.thread_ts == ts


def test_thread_broadcast_reply_is_not_a_root() -> None:
    event = _event(
        subtype="thread_broadcast", ts="1700000002.000000", thread_ts="1700000001.000000"
    )
    assert not _accepted(_body(event)).is_root


@pytest.mark.parametrize(
    "event",
    [
        _event(),
        _event(thread_ts="1699999999.000001", subtype="thread_broadcast", text="é <!channel>"),
    ],
)
def test_payload_round_trip(event: dict[str, Any]) -> None:
    message = _accepted(_body(event, is_ext_shared_channel=True))
    payload = message.to_payload()
    assert InboundMessage.from_payload(payload) == message
    assert payload["channel_id"] == SUPPORT


def test_from_payload_tolerates_missing_optional_keys() -> None:
    message = InboundMessage.from_payload({"channel_id": "C1", "ts": "1.0", "user_id": "U1"})
    assert message == InboundMessage(
        event_id=None,
        channel_id="C1",
        ts="1.0",
        thread_ts=None,
        user_id="U1",
        user_team=None,
        text="",
        shared_channel=False,
    )


@pytest.mark.parametrize("ts", ["abc", "1.0", "1700000000", "1700000000.1", "١٧٠٠٠٠٠٠٠٠.000100"])
def test_a_ts_that_is_not_a_slack_timestamp_is_ignored_with_the_reason(ts: str) -> None:
    event = _event()
    event["ts"] = ts
    result = parse_message_event(_body(event), watched_channels=WATCHED, bot_user_id=BOT_USER)
    assert isinstance(result, Ignored) and "not a Slack timestamp" in result.reason


def test_lone_surrogates_in_the_text_become_replacement_characters() -> None:
    message = _accepted(_body(_event(text="export \ud800 crash")))
    assert message.text.encode("utf-8")
    assert "export" in message.text and "crash" in message.text


# -- reaction_added ----------------------------------------------------------------------------

ACTIONS = {"ticket": "open", "eyes": "claim", "white_check_mark": "resolve"}


def _reaction(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "reaction_added",
        "user": "UREVIEWER",
        "reaction": "eyes",
        "item_user": "UCUSTOMER",
        "item": {"type": "message", "channel": SUPPORT, "ts": "1700000000.000100"},
        "event_ts": "1700000050.000200",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def _parse_reaction(body: dict[str, Any]) -> InboundReaction | Ignored:
    return parse_reaction_event(
        body,
        support_channels=WATCHED,
        bot_user_id=BOT_USER,
        action_of=lambda emoji: ACTIONS.get(emoji.split("::")[0]),
    )


def test_a_command_emoji_on_a_message_in_a_support_channel_is_a_reaction() -> None:
    parsed = _parse_reaction(_body(_reaction(), is_ext_shared_channel=True))
    assert isinstance(parsed, InboundReaction)
    assert (parsed.channel_id, parsed.ts, parsed.user_id, parsed.action) == (
        SUPPORT,
        "1700000000.000100",
        "UREVIEWER",
        "claim",
    )
    assert parsed.shared_channel is True and parsed.event_id == "Ev1"
    assert InboundReaction.from_payload(parsed.to_payload()) == parsed
    # Retries of one event share a key; the same emoji put back later is a new reaction.
    again = _parse_reaction(_body(_reaction(), event_id="Ev2"))
    later = _parse_reaction(_body(_reaction(event_ts="1700000099.000000")))
    assert isinstance(again, InboundReaction) and isinstance(later, InboundReaction)
    assert again.dedupe_key == parsed.dedupe_key != later.dedupe_key


def test_a_skin_tone_is_the_same_command() -> None:
    parsed = _parse_reaction(_body(_reaction(reaction="eyes::skin-tone-4")))
    assert isinstance(parsed, InboundReaction) and parsed.action == "claim"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_reaction(reaction="tada"), ":tada: is not a support reaction"),
        (_reaction(reaction=None), "reaction has no emoji"),
        (_reaction(user=None), "reaction has no user"),
        (_reaction(user=BOT_USER), "the bot's own reaction"),
        (
            _reaction(item={"type": "file", "file": "F1"}),
            "reaction on something other than a message (a file?)",
        ),
        (
            _reaction(item={"type": "message", "channel": "COTHER", "ts": "1700000000.000100"}),
            "channel 'COTHER' is not a support channel",
        ),
        (
            _reaction(item={"type": "message", "channel": SUPPORT, "ts": "yesterday"}),
            "reaction on 'yesterday', not a Slack message timestamp",
        ),
        ("not a dict", "no event in the payload"),
    ],
)
def test_reactions_that_are_not_commands_say_why(event: Any, reason: str) -> None:
    assert _parse_reaction(_body(event)) == Ignored(reason)


def test_a_file_share_message_keeps_its_files_and_a_file_only_message_is_a_message() -> None:
    shot = {
        "id": "F1",
        "name": "error.png",
        "mimetype": "image/png",
        "filetype": "png",
        "size": 1234,
        "url_private_download": "https://files.slack.com/files-pri/T1-F1/download/error.png",
        "permalink": "https://acme.slack.com/files/U1/F1/error.png",
        "thumb_64": "https://files.slack.com/thumb",  # not kept
    }
    connect = {"id": "F2", "file_access": "check_file_info", "mode": "file_access"}
    parsed = _parse(
        _body(_event(subtype="file_share", text="", files=[shot, connect, {"name": "no id"}, 7]))
    )
    assert isinstance(parsed, InboundMessage)
    assert parsed.text == ""
    assert [f["id"] for f in parsed.files] == ["F1", "F2"]
    assert "thumb_64" not in parsed.files[0] and parsed.files[0]["size"] == 1234
    assert parsed.files[1] == {"id": "F2", "file_access": "check_file_info", "mode": "file_access"}
    # Through the job's payload and back, unchanged.
    assert InboundMessage.from_payload(parsed.to_payload()) == parsed


def test_odd_file_fields_are_dropped_not_trusted() -> None:
    odd = {"id": "F1", "size": "huge", "name": 5, "mimetype": "text/plain"}
    parsed = _parse(_body(_event(subtype="file_share", files=[odd])))
    assert isinstance(parsed, InboundMessage)
    assert parsed.files == ({"id": "F1", "mimetype": "text/plain"},)
    assert isinstance(_parse(_body(_event(files="not a list"))), InboundMessage)
