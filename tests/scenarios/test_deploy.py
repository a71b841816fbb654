"""The deployment files (deploy/): the image installs every package the project ships, and the
compose file runs PostgreSQL, a migration and two replicas that share it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_the_image_copies_every_package_it_installs() -> None:
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    top = {pattern.rstrip("*") for pattern in found["packages"]["find"]["include"]}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert top <= copied, sorted(top - copied)
    assert "pip install ." in dockerfile and 'CMD ["support-bot", "start"]' in dockerfile
    assert "USER bot" in dockerfile  # not as root


def test_compose_runs_two_replicas_on_one_postgres_after_migrating() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = compose["services"]
    bot, migrate = services["bot"], services["migrate"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["command"] == ["support-bot", "start"]
    assert migrate["command"] == ["support-bot", "migrate"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in (bot, migrate):
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://support:${POSTGRES_PASSWORD")
        assert "@postgres:5432/support" in env["DATABASE_URL"]
        assert {"DATABASE_POOL_SIZE", "LLM_CONCURRENCY"} <= set(env)
    assert services["postgres"]["image"].startswith("postgres:15")
    # The password comes from .env, never from the file.
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD"
    )


def test_containers_serve_health_and_metrics_beyond_their_loopback() -> None:
    """/healthz and /metrics default to 127.0.0.1; in a container a scraper (or a published
    port) reaches the container's own interface, so the deployment files open them there."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ENV METRICS_HOST=0\.0\.0\.0$", dockerfile, re.MULTILINE)
    assert "127.0.0.1:{os.environ.get" in dockerfile  # the HEALTHCHECK asks from inside
    env = yaml.safe_load((DEPLOY / "compose.yml").read_text())["services"]["bot"]["environment"]
    assert env["METRICS_HOST"] == "0.0.0.0" and env["METRICS_PORT"] == "9100"
