"""The front door in HTTP mode: what reaches Bolt is signed, fresh, new, small and parseable.

Bolt verifies signatures too; this guard runs first so every rejection is logged with its
reason and answered with the right status, and so a replayed request (the same signed body sent
again within Slack's five minutes) is never handled twice.

A request is claimed in the database (``persistence/replays.py``) *before* it is handled, so of
identical requests arriving at once, on one replica or several, one is handled. The copies are
refused with 409, except Events API deliveries: Slack treats anything but 2xx as a failed
delivery and sends again, so a copy of an event is acknowledged (200) and not handled. Slack's
own retries of an event are new requests (newly signed, same ``event_id``): they pass here and
the inbound job's dedupe key, the event id, drops them. The unsigned ``X-Slack-Retry-Num``
header counts for nothing: anyone can add it to a replay.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Middleware
from slack_sdk.signature import Clock, SignatureVerifier

from persistence.db import DatabaseUnavailableError
from persistence.replays import ReplayRepository

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; a larger body is not Slack
MAX_AGE_SECONDS = 60 * 5  # Slack's own rule for request timestamps
# How long a signature is remembered: a request is accepted while its timestamp is within
# MAX_AGE_SECONDS of now either way, so at most this long after it was first seen.
REMEMBER_SECONDS = 2 * MAX_AGE_SECONDS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _reject(status: int, reason: str, request: web.Request) -> web.Response:
    log.warning(
        "rejected a request to %s from %s: %s (HTTP %d)",
        request.path,
        request.remote,
        reason,
        status,
    )
    return web.json_response({"ok": False, "error": reason}, status=status)


def _parseable(body: bytes, content_type: str) -> bool:
    """The body is what Slack sends, in the shapes Bolt reads without checking: anything else
    is answered 400 here rather than a 500 from inside Bolt."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            data = json.loads(text)
            return isinstance(data, dict) and _event_envelope(data)
        form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        if "payload" in form:  # interactivity: a JSON document in a form field
            payload = json.loads(form["payload"][0])
            return isinstance(payload, dict) and _interaction(payload)
        if "command" in form:
            return all(len(form.get(k, [""])) == 1 for k in ("command", "text", "user_id"))
        return "ssl_check" in form
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def _optional(data: dict[str, Any], key: str, kind: type) -> bool:
    return data.get(key) is None or isinstance(data.get(key), kind)


def _event_envelope(data: dict[str, Any]) -> bool:
    if not isinstance(data.get("type"), str):
        return False
    if not all(_optional(data, k, str) for k in ("team_id", "api_app_id", "event_id")):
        return False
    if not _optional(data, "authorizations", list):
        return False
    if data["type"] != "event_callback":
        return True
    event = data.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    return all(
        _optional(event, k, str)
        for k in ("user", "channel", "ts", "thread_ts", "subtype", "text", "team", "bot_id")
    )


def _interaction(payload: dict[str, Any]) -> bool:
    if not isinstance(payload.get("type"), str):
        return False
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return False
    if not all(_optional(payload, k, dict) for k in ("team", "channel", "container", "message")):
        return False
    if not all(_optional(payload, k, str) for k in ("trigger_id", "callback_id", "response_url")):
        return False
    actions = payload.get("actions")
    if actions is not None and not (
        isinstance(actions, list)
        and all(isinstance(a, dict) and _optional(a, "action_id", str) for a in actions)
    ):
        return False
    view = payload.get("view")
    return view is None or (
        isinstance(view, dict)
        and isinstance(view.get("type", "modal"), str)
        and _optional(view, "callback_id", str)
        and _optional(view, "private_metadata", str)
        and _optional(view, "state", dict)
    )


def slack_guard(
    signing_secret: str,
    path: str,
    replays: ReplayRepository,
    *,
    clock: Callable[[], float] = time.time,
) -> Middleware:
    verifier = SignatureVerifier(signing_secret=signing_secret, clock=_Clock(clock))

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path or request.method != "POST":
            return await handler(request)
        signature = request.headers.get("X-Slack-Signature")
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        if not signature or not timestamp:
            return _reject(401, "missing_signature_headers", request)
        if (
            not timestamp.isascii()
            or not timestamp.isdigit()
            or len(timestamp) > 12
            or abs(clock() - int(timestamp)) > MAX_AGE_SECONDS
        ):
            return _reject(401, "stale_or_bad_timestamp", request)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _reject(413, "body_too_large", request)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reject(413, "body_too_large", request)
        if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return _reject(401, "invalid_signature", request)
        if not _parseable(body, request.content_type):
            return _reject(400, "unparseable_body", request)
        now = clock()
        try:
            claimed = await replays.claim(signature, now=now, until=now + REMEMBER_SECONDS)
        except DatabaseUnavailableError as exc:
            # Not acknowledged, so Slack delivers it again later.
            log.error("cannot record a Slack request as seen, so it is refused for now: %s", exc)
            return _reject(503, "database_unavailable", request)
        if not claimed:
            if request.content_type == "application/json":
                # An Events API delivery already taken: acknowledged, so Slack does not send it
                # again, and not handled twice.
                log.info("acknowledged a copy of a request already taken, without handling it")
                return web.Response(status=200)
            return _reject(409, "replayed_request", request)
        try:
            response = await handler(request)
        except BaseException:
            await _release(replays, signature)
            raise
        if response.status >= 500:
            # Not handled: the same request may be tried again as it was.
            await _release(replays, signature)
        return response

    return guard


async def _release(replays: ReplayRepository, signature: str) -> None:
    try:
        await replays.release(signature)
    except DatabaseUnavailableError as exc:
        # The same request is refused until its claim expires; Slack's own retries are signed
        # anew, so they still pass.
        log.error("cannot release the claim of a request that failed: %s", exc)


class _Clock(Clock):
    """slack_sdk's verifier asks its clock for ``now()``; tests move time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()
