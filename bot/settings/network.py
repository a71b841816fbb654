"""Outbound connections: which proxy each one goes through, and which certificates it trusts.

Every client the bot opens takes both from here: the model (``openai``'s httpx client), the
Slack Web API and Socket Mode's WebSocket (slack_sdk over aiohttp), and the knowledge base's
embeddings endpoint.

Proxies come from the usual variables: ``HTTPS_PROXY`` for https and wss, ``HTTP_PROXY`` for
http and ws (lower-case spellings too), and ``NO_PROXY``, a comma-separated list of hosts and
domain suffixes (``.example.com``) reached directly (``*``: none goes through the proxy). A
proxy URL may carry ``user:password@``; it is never logged or shown.

Certificates: the system's store (which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` replace, as
OpenSSL reads them), plus ``SUPPORT_BOT_CA_BUNDLE``, a PEM file of extra authorities (a
TLS-inspecting proxy's CA) trusted on top of the public ones.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import openai

_SCHEME_FOR_PROXY = {"https": "https", "wss": "https", "http": "http", "ws": "http"}


def proxy_for(url: str) -> str | None:
    """The proxy URL that a connection to ``url`` goes through, None for a direct one."""
    parts = urlsplit(url)
    scheme = _SCHEME_FOR_PROXY.get(parts.scheme.lower())
    host = parts.hostname or ""
    if scheme is None or not host:
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme) or (proxies.get("http") if scheme == "https" else None)
    if not proxy or not proxy.strip():
        return None
    if _bypassed(host, parts.port, proxies.get("no", "")):
        return None
    proxy = proxy.strip()
    return proxy if "://" in proxy else "http://" + proxy


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.lstrip("*").strip("[]")
        if host == name.lstrip(".") or (name.startswith(".") and host.endswith(name)):
            return True
        if not name.startswith(".") and host.endswith("." + name):
            return True
    return False


def shown(proxy: str | None) -> str:
    """How a connection goes, as it may be shown: the proxy without its credentials."""
    if proxy is None:
        return "direct"
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return "via " + urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@functools.cache
def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """Certificate checks for every https and wss connection: the system's authorities, plus
    those in ``ca_bundle`` (a PEM file). One context per bundle, shared by every client:
    loading the system's store takes milliseconds and memory each time."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def aiohttp_session(context: ssl.SSLContext, *, timeout: float) -> aiohttp.ClientSession:
    """One pooled session whose requests each give up after ``timeout`` seconds. slack_sdk
    names the proxy on each request (``AsyncWebClient.proxy``, from ``proxy_for``), so the
    session itself reads no variables."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context, limit=100),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


def httpx_client(context: ssl.SSLContext, url: str) -> openai.DefaultAsyncHttpxClient:
    """The HTTP client under ``openai``'s client for ``url``: its default pool and timeouts,
    with this module's proxy and certificates."""
    return openai.DefaultAsyncHttpxClient(verify=context, proxy=proxy_for(url), trust_env=False)
