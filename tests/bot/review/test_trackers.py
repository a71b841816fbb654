"""The trackers' webhook signatures and payloads, the ticket's marker, and what an issue says,
for Linear, Jira and GitHub (the API calls are exercised against the local fakes in
tests/scenarios/test_issue_trackers.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest

from bot.review.trackers import (
    BadWebhook,
    Closed,
    GitHubTracker,
    JiraTracker,
    LinearTracker,
    NewIssue,
    Tracker,
    adf_description,
    issue_title,
    linear_id,
    markdown_body,
    marker_for,
)

SECRET = "s3cret"


def mac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def linear() -> LinearTracker:
    return LinearTracker("lin_api_x", "team", "https://api.linear.app/graphql")


def jira() -> JiraTracker:
    return JiraTracker("https://acme.atlassian.net", "a@b.c", "tok", "SUP")


def github() -> GitHubTracker:
    return GitHubTracker("ghp_x", "acme/support", "https://api.github.com")


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def linear_event(state_type: str = "completed", **extra: Any) -> dict[str, Any]:
    return {
        "action": "update",
        "type": "Issue",
        "data": {"id": "abc", "identifier": "ENG-1", "state": {"name": "Done", "type": state_type}},
        "webhookTimestamp": int(time.time() * 1000),
        **extra,
    }


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tracker", "header", "prefix"),
    [
        (linear(), "linear-signature", ""),
        (jira(), "x-hub-signature", "sha256="),
        (github(), "x-hub-signature-256", "sha256="),
    ],
)
def test_each_tracker_checks_its_own_signature_header(
    tracker: Tracker, header: str, prefix: str
) -> None:
    raw = b'{"a": 1}'
    assert tracker.signature_ok({header: prefix + mac(raw)}, raw, SECRET)
    assert not tracker.signature_ok({header: prefix + mac(raw, "other")}, raw, SECRET)
    assert not tracker.signature_ok({header: prefix + mac(raw)}, raw + b" ", SECRET)
    assert not tracker.signature_ok({}, raw, SECRET)
    assert not tracker.signature_ok({header: ""}, raw, SECRET)
    assert not tracker.signature_ok({"x-other": prefix + mac(raw)}, raw, SECRET)


# -- payloads --------------------------------------------------------------------------------


def test_linear_reports_completed_and_canceled_issues_only() -> None:
    tracker = linear()
    assert tracker.closed_event({}, body(linear_event())) == Closed("abc", "Done")
    assert tracker.closed_event({}, body(linear_event("canceled"))) is not None
    assert tracker.closed_event({}, body(linear_event("started"))) is None
    assert tracker.closed_event({}, body({**linear_event(), "type": "Comment"})) is None


def test_linear_refuses_a_stale_or_unstamped_delivery() -> None:
    tracker = linear()
    stale = linear_event(webhookTimestamp=int((time.time() - 120) * 1000))
    with pytest.raises(BadWebhook, match="replay"):
        tracker.closed_event({}, body(stale))
    unstamped = linear_event()
    del unstamped["webhookTimestamp"]
    with pytest.raises(BadWebhook, match="webhookTimestamp"):
        tracker.closed_event({}, body(unstamped))


def test_jira_reports_an_issue_in_the_done_category() -> None:
    tracker = jira()
    done = {
        "webhookEvent": "jira:issue_updated",
        "issue": {
            "id": "10001",
            "key": "SUP-1",
            "fields": {
                "status": {"name": "Closed", "statusCategory": {"key": "done"}},
                "resolution": {"name": "Won't Do"},
            },
        },
    }
    assert tracker.closed_event({}, body(done)) == Closed("10001", "Won't Do")
    done["issue"]["fields"]["status"]["statusCategory"]["key"] = "indeterminate"  # type: ignore[index]
    assert tracker.closed_event({}, body(done)) is None
    assert tracker.closed_event({}, body({"webhookEvent": "comment_created"})) is None
    with pytest.raises(BadWebhook):
        tracker.closed_event({}, body({"webhookEvent": "jira:issue_updated", "issue": "x"}))
    with pytest.raises(BadWebhook):
        tracker.closed_event({}, body({"no": "event"}))


def test_github_reports_closed_issues_of_its_own_repository() -> None:
    tracker = github()
    event = {
        "action": "closed",
        "issue": {"number": 7, "state_reason": "not_planned"},
        "repository": {"full_name": "Acme/Support"},
    }
    headers = {"x-github-event": "issues"}
    assert tracker.closed_event(headers, body(event)) == Closed("7", "not_planned")
    other = {**event, "repository": {"full_name": "acme/other"}}
    assert tracker.closed_event(headers, body(other)) is None
    assert tracker.closed_event({"x-github-event": "ping"}, body({"zen": "hi"})) is None
    assert tracker.closed_event(headers, body({**event, "action": "reopened"})) is None
    with pytest.raises(BadWebhook, match="X-GitHub-Event"):
        tracker.closed_event({}, body(event))


@pytest.mark.parametrize("tracker", [linear(), jira(), github()])
@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_a_malformed_body_is_a_bad_webhook(tracker: Tracker, raw: bytes) -> None:
    with pytest.raises(BadWebhook):
        tracker.closed_event({"x-github-event": "issues"}, raw)


# -- what an issue says ----------------------------------------------------------------------


def new_issue(question: str = "export broke @octocat ``` #12") -> NewIssue:
    return NewIssue(
        ticket_id=42,
        title=issue_title(42, "Export fails.", question),
        question=question,
        summary="Export fails.",
        thread_link="https://acme.slack.com/archives/C1/p1700000000000100",
        marker=marker_for("T1", "C1", "1700000000.000100"),
    )


def test_the_markdown_body_fences_the_question_so_nothing_in_it_pings_or_closes() -> None:
    text = markdown_body(new_issue())
    fenced = text.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert "@octocat" in fenced and "```" not in fenced
    assert "**Summary:** Export fails." in text
    assert "https://acme.slack.com/archives/C1/p1700000000000100" in text
    assert "Support ticket #42" in text


def test_the_jira_description_is_an_atlassian_document_with_the_link() -> None:
    doc = adf_description(new_issue())
    assert doc["type"] == "doc" and doc["version"] == 1
    flat = json.dumps(doc)
    assert '"codeBlock"' in flat and "Support ticket #42" in flat
    assert '"href": "https://acme.slack.com/archives/C1/p1700000000000100"' in flat


def test_the_title_is_short_and_names_the_ticket() -> None:
    title = issue_title(42, "word " * 100, "")
    assert len(title) <= 120 and title.endswith("(support #42)")
    assert issue_title(3, "", "why is it broken") == "why is it broken (support #3)"


def test_the_marker_and_linears_own_id_are_stable_per_thread() -> None:
    one = marker_for("T1", "C1", "1700000000.000100")
    assert one == marker_for("T1", "C1", "1700000000.000100")
    assert one != marker_for("T1", "C1", "1700000000.000101")
    assert " " not in one  # a Jira label
    made = uuid.UUID(linear_id(one))
    assert made.version == 4 and linear_id(one) == linear_id(one)


def test_no_token_in_the_repr() -> None:
    assert "lin_api_x" not in repr(linear())
    assert "tok" not in repr(jira()) and "ghp_x" not in repr(github())
