"""Behind an outbound proxy, with a company's own certificate authority: every connection the
bot opens (the Slack Web API, Socket Mode's WebSocket, the model) goes through the proxy.

The fakes are addressed by names only the proxy resolves (``*.proxied.test``, see
tests/fakes/proxy.py): a connection that bypassed the proxy could not have been made at all.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from bot.runtime.runtime import StartupError
from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from bot.settings.network import proxy_for, shown
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.proxy import ForwardProxy
from tests.scenarios.test_cli import run
from tests.utils.harness import (
    BOT_TOKEN,
    CUSTOMER,
    CUSTOMER_TEAM,
    HOME_TEAM,
    LLM_KEY,
    SIGNING_SECRET,
    SUPPORT,
    RunningBot,
    classification,
    draft,
    import_kb,
    scripted_llm,
    settings_for,
)
from tests.utils.process import bot_env, free_port

SLACK_HOST = "slack.proxied.test"
MODEL_HOST = "model.proxied.test"
EXPORT_ARTICLE = 2
ANSWER = "Open the report, click *Export* and choose CSV."


def via(url: str, host: str) -> str:
    return url.replace("127.0.0.1", host)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    yield monkeypatch


@pytest.fixture
async def proxy(no_proxy_env: pytest.MonkeyPatch) -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    no_proxy_env.setenv("HTTPS_PROXY", server.url)
    no_proxy_env.setenv("HTTP_PROXY", server.url)
    yield server
    await server.stop()


async def test_http_mode_reaches_slack_and_the_model_only_through_the_proxy(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, proxy: ForwardProxy
) -> None:
    llm.set_responder(scripted_llm(classification(), draft(ANSWER, [EXPORT_ARTICLE])))
    bot = await make_bot(
        slack_api_url=via(slack.url, SLACK_HOST), openai_base_url=via(llm.url, MODEL_HOST)
    )
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert ANSWER in bot.thread(ts)[0]["text"]
    assert proxy.hosts() == {SLACK_HOST, MODEL_HOST} and proxy.refused == []
    assert any(path.endswith("/chat/completions") for path in proxy.paths_to(MODEL_HOST))


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


def served_by(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(SLACK_HOST, MODEL_HOST).configure_cert(context)
    return context


async def test_socket_mode_over_tls_with_the_companys_ca_goes_through_the_proxy(
    tmp_path: Path, proxy: ForwardProxy, authority: trustme.CA
) -> None:
    bundle = tmp_path / "company-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    slack = SlackStandIn(token=BOT_TOKEN, team_id=HOME_TEAM, tls=served_by(authority))
    llm = FakeOpenAI(api_key=LLM_KEY, tls=served_by(authority))
    llm.set_responder(scripted_llm(classification(), draft(ANSWER, [EXPORT_ARTICLE])))
    await slack.start()
    await llm.start()
    try:
        settings = settings_for(
            tmp_path,
            slack,
            llm,
            slack_api_url=via(slack.url, SLACK_HOST),
            openai_base_url=via(llm.url, MODEL_HOST),
            slack_app_token=slack.app_token,
            slack_signing_secret=None,
            support_bot_ca_bundle=str(bundle),
        )
        await import_kb(settings)
        # Without the company's CA the certificates are refused, and the bot says why.
        untrusting = RunningBot(settings.model_copy(update={"support_bot_ca_bundle": None}), slack)
        with pytest.raises(StartupError, match="cannot reach the Slack API"):
            await untrusting.start()
        await untrusting.stop()

        bot = RunningBot(settings, slack)
        await bot.start()
        try:
            sender = SlackSender("http://unused", SIGNING_SECRET, team_id=HOME_TEAM, mirror=slack)
            ts = sender.new_ts()
            text = "How do I export a report as CSV?"
            event = {
                "type": "message",
                "channel": SUPPORT,
                "user": CUSTOMER,
                "text": text,
                "ts": ts,
                "team": CUSTOMER_TEAM,
                "user_team": CUSTOMER_TEAM,
            }
            slack.add_message(SUPPORT, ts, text, CUSTOMER, team=CUSTOMER_TEAM)
            envelope = await slack.socket_send("events_api", sender.envelope(event, "Ev1"))
            await slack.socket_ack(envelope)
            await bot.drained()
            assert ANSWER in slack.posts(channel=SUPPORT, thread_ts=ts)[0]["text"]
        finally:
            await bot.stop()
    finally:
        await llm.stop()
        await slack.stop()
    tunnels = {(p.method, p.host) for p in proxy.passages}
    # The Web API, Socket Mode's WebSocket (same host here) and the model: all tunnelled.
    assert tunnels == {("CONNECT", SLACK_HOST), ("CONNECT", MODEL_HOST)}
    assert proxy.refused == []
    assert sum(1 for p in proxy.passages if p.host == SLACK_HOST) >= 2  # API and WebSocket


async def test_doctor_names_the_proxy_without_its_credentials_and_works_through_it(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI, proxy: ForwardProxy
) -> None:
    secret_proxy = proxy.url.replace("http://", "http://squid:hunter2@")
    env = bot_env(tmp_path, slack, llm, free_port()) | {
        "SUPPORT_BOT_MODEL": llm.model,
        "SLACK_API_URL": via(slack.url, SLACK_HOST),
        "OPENAI_BASE_URL": via(llm.url, MODEL_HOST),
        "HTTPS_PROXY": secret_proxy,
        "HTTP_PROXY": secret_proxy,
    }
    await run(env, tmp_path, "migrate")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 0, out
    assert f"[ok] network: Slack API via {proxy.url}; model via {proxy.url}" in out
    assert "hunter2" not in out and "squid" not in out
    assert "[ok] slack: authenticated" in out and "[ok] llm" in out
    assert proxy.hosts() == {SLACK_HOST, MODEL_HOST}


def test_no_proxy_names_hosts_and_domains_reached_directly(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://user:pw@proxy.corp:3128")
    no_proxy_env.setenv("HTTP_PROXY", "proxy.corp:3128")
    no_proxy_env.setenv("NO_PROXY", "localhost, .internal.corp,llm.lan:8000")
    assert proxy_for("https://slack.com/api/") == "http://user:pw@proxy.corp:3128"
    assert proxy_for("wss://wss-primary.slack.com/link") == "http://user:pw@proxy.corp:3128"
    assert proxy_for("http://example.org/") == "http://proxy.corp:3128"  # scheme added
    assert proxy_for("ws://example.org/") == "http://proxy.corp:3128"
    assert proxy_for("http://localhost:3000/") is None
    assert proxy_for("https://vllm.internal.corp/v1") is None
    assert proxy_for("https://internal.corp/v1") is None
    assert proxy_for("https://notinternal.corp/v1") is not None
    assert proxy_for("http://llm.lan:8000/v1") is None
    assert proxy_for("http://llm.lan:9000/v1") is not None
    assert shown(proxy_for("https://slack.com/")) == "via http://proxy.corp:3128"
    assert shown(None) == "direct"
    no_proxy_env.setenv("NO_PROXY", "*")
    assert proxy_for("https://slack.com/api/") is None
