"""manifest.yml declares everything the code registers and every scope its Web API calls need."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import yaml

from bot.slack.scopes import BOT_SCOPES
from handlers import register_handlers

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())

# Bot events each Events API listener needs: messages in public and private channels.
EVENT_SUBSCRIPTIONS = {
    "message": {"message.channels", "message.groups"},
    "app_home_opened": {"app_home_opened"},
    "reaction_added": {"reaction_added"},
}
# Scopes each Web API method needs (api.slack.com/methods). A method missing here fails the
# test on purpose: add it with its scopes, and the scopes to the manifest.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_members": {"channels:read", "groups:read"},
    "views_open": set(),
    "views_update": set(),
    "views_publish": set(),
    "users_info": {"users:read"},
    "team_info": {"team:read"},
    "usergroups_users_list": {"usergroups:read"},
    "reactions_get": {"reactions:read"},
    "files_info": {"files:read"},
}


class RecordingApp:
    """Stands in for AsyncApp to see what register_handlers wires."""

    def __init__(self) -> None:
        self.registered: dict[str, list[str]] = {
            "event": [],
            "action": [],
            "view": [],
            "command": [],
            "shortcut": [],
        }

    def _record(self, kind: str, key: Any) -> Any:
        self.registered[kind].append(key)
        return lambda fn: fn

    def event(self, name: str) -> Any:
        return self._record("event", name)

    def action(self, action_id: str) -> Any:
        return self._record("action", action_id)

    def view(self, callback_id: str) -> Any:
        return self._record("view", callback_id)

    def command(self, name: str) -> Any:
        return self._record("command", name)

    def shortcut(self, callback_id: str) -> Any:
        return self._record("shortcut", callback_id)


def _registered() -> dict[str, list[str]]:
    app = RecordingApp()
    services = SimpleNamespace(settings=None, people=None, repos=None)
    register_handlers(cast(Any, app), cast(Any, services))
    return app.registered


def test_every_registered_event_is_subscribed() -> None:
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    for event in _registered()["event"]:
        assert EVENT_SUBSCRIPTIONS[event] <= subscribed, event


def test_every_registered_shortcut_is_declared_as_a_message_shortcut() -> None:
    declared = {s["callback_id"]: s["type"] for s in MANIFEST["features"].get("shortcuts") or []}
    registered = _registered()["shortcut"]
    assert registered, "the thread shortcuts are registered"
    for callback_id in registered:
        assert declared.get(callback_id) == "message", callback_id


def test_every_registered_command_is_declared() -> None:
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert set(_registered()["command"]) <= declared
    (support,) = [c for c in MANIFEST["features"]["slash_commands"] if c["command"] == "/support"]
    # Unquoted, YAML would cut the hint at " #channel" (a comment).
    assert support["usage_hint"] == (
        "help | status | config | channel add #channel | kb search QUESTION"
    )
    assert "commands" in MANIFEST["oauth_config"]["scopes"]["bot"]


def test_buttons_and_modals_have_interactivity() -> None:
    registered = _registered()
    assert registered["action"] and registered["view"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_socket_mode_bot_user_and_app_home() -> None:
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["bot_user"]["display_name"]
    assert "app_home" in MANIFEST["features"]


def test_every_web_api_method_called_is_covered_by_a_declared_scope() -> None:
    # Calls on a client, e.g. ``client.chat_postMessage(`` (not Block Kit names such as
    # "conversations_select").
    pattern = re.compile(
        r"\.((?:auth|chat|conversations|views|users|usergroups|reactions|files|team)_[A-Za-z_]+)\("
    )
    # And methods named in a call's arguments: the outbox's ``self._call("chat.update", ...)``.
    named = re.compile(
        r"_?call\(\s*(?:(?:self\.)?client,\s*)?\"((?:chat|conversations|views|users|reactions)\.\w+)\""
    )
    called: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            called |= set(pattern.findall(text))
            called |= {m.replace(".", "_") for m in named.findall(text)}
    assert {"chat_postMessage", "chat_update", "usergroups_users_list"} <= called  # seen
    declared = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for method in sorted(called):
        assert method in METHOD_SCOPES, f"unknown Web API method {method}: add its scopes"
        missing = METHOD_SCOPES[method] - declared
        assert not missing, f"{method} needs {missing}"


def test_the_manifest_asks_for_exactly_the_scopes_doctor_checks() -> None:
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)


def test_reactions_are_subscribed_and_readable() -> None:
    assert "reaction_added" in _registered()["event"]
    assert "reaction_added" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    assert "reactions:read" in MANIFEST["oauth_config"]["scopes"]["bot"]


def test_the_readme_names_every_scope() -> None:
    readme = (ROOT / "README.md").read_text()
    for scope in BOT_SCOPES:
        assert f"`{scope}`" in readme, scope


def test_attached_files_are_read_with_files_read() -> None:
    # Customers' screenshots and logs: files.info, and the download with the bot token
    # (bot/slack/files.py), which no method-name scan sees. A file_share message is a
    # ``message`` event like any other: no new subscription.
    assert "files:read" in MANIFEST["oauth_config"]["scopes"]["bot"]
    source = (ROOT / "bot" / "slack" / "files.py").read_text()
    assert "files_info(" in source and "Bearer" in source
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) >= {
        "message.channels",
        "message.groups",
    }
