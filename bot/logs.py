"""Logging set-up: plain lines on stderr, with tokens scrubbed from anything that is logged."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"\b(xox[abposr]-|xapp-|sk-)[A-Za-z0-9-_]{6,}")


class RedactTokens(logging.Filter):
    """Slack and OpenAI tokens never reach a log line, whoever formats the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = _TOKEN.sub(lambda m: m.group(1) + "[redacted]", message)
            record.args = ()
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    for noisy in ("apscheduler", "aiohttp.access", "httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
