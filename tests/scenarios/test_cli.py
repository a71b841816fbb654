"""The support-bot command line, run as a real process: migrate, doctor, kb import and search."""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.settings.environment import load_settings
from bot.settings.live import LiveConfig
from persistence.config import ConfigRepository
from persistence.connect import database_from_url
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import empty_database_url
from tests.utils.harness import ESCALATION, KB_DIR, SUPPORT
from tests.utils.process import SUPPORT_BOT, base_env, bot_env, free_port


async def run(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        SUPPORT_BOT,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "x.db")}
    code, out, _ = await run(env, tmp_path, "migrate")
    assert code == 0 and "0001_core_loop" in out
    code, out, _ = await run(env, tmp_path, "migrate")
    assert code == 0 and "up to date" in out


async def test_migrate_reports_an_unusable_database_url(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": "mysql://db/x"}
    code, _, err = await run(env, tmp_path, "migrate")
    assert code == 2 and "sqlite:///" in err and "postgresql://" in err and "Traceback" not in err


async def test_kb_import_and_search_json(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    code, out, _ = await run(env, tmp_path, "kb", "import", str(KB_DIR), str(tmp_path / "nope"))
    assert code == 0
    assert "added 3" in out and "no such file or folder" in out
    code, out, _ = await run(env, tmp_path, "kb", "import", str(KB_DIR))
    assert "unchanged 3" in out
    code, out, _ = await run(env, tmp_path, "kb", "search", "export", "CSV", "--json", "-k", "2")
    result = json.loads(out)
    assert result["query"] == "export CSV" and result["fits"] is True
    first = result["results"][0]
    assert first["title"] == "Exporting reports" and first["source"].endswith(
        "exporting-reports.md"
    )
    assert {"article_id", "heading", "score", "text"} <= set(first)
    code, out, _ = await run(env, tmp_path, "kb", "search", 'NEAR("a" b) AND -( *')
    assert code == 0


async def test_doctor_passes_against_a_healthy_setup(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 0, out
    assert "[ok] slack: authenticated as <@UBOT>" in out
    assert f"[ok] channel {SUPPORT}" in out and f"[ok] channel {ESCALATION}" in out
    assert "[ok] llm" in out
    assert "[ok] files: files:read granted; screenshots go to the model as images" in out
    assert "[ok] languages: detection works" in out


async def test_doctor_says_when_the_bot_cannot_read_attached_files(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    slack.error_next("files.info", "missing_scope")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1, out
    line = next(x for x in out.splitlines() if x.startswith("[FAIL] files"))
    assert "files:read" in line and "reinstall" in line


async def change_config(env: dict[str, str], *, action: str, **change: Any) -> None:
    """What an admin would set from Slack, written to the bot's database."""
    db = database_from_url(env["DATABASE_URL"])
    await db.open()
    try:
        config = LiveConfig(
            load_settings(_env_file=None, **_settings_from(env)), ConfigRepository(db)
        )
        await config.load()
        await config.change(user_id="UADMIN", action=action, **change)
    finally:
        await db.close()


async def test_doctor_checks_the_channels_admins_set_in_slack(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    slack.channels["C0ADDED"] = {"is_member": False, "name": "added-in-slack"}
    await change_config(env, action="channel add", channels={SUPPORT: "auto", "C0ADDED": "review"})
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "[FAIL] channel C0ADDED" in out and "added-in-slack" in out


async def test_doctor_fails_an_escalation_channel_shared_outside_the_company(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    slack.channels[ESCALATION] = {"name": "support-escalations"}
    slack.share_externally(ESCALATION)
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1, out
    line = next(x for x in out.splitlines() if f"channel {ESCALATION}" in x)
    assert line.startswith("[FAIL]") and "Slack Connect" in line, out
    assert "support-escalations" in line and "<#" not in line
    assert f"[ok] channel {SUPPORT}" in out


def _settings_from(env: dict[str, str]) -> dict[str, str]:
    names = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SUPPORT_CHANNELS", "ESCALATION_CHANNEL")
    return {n.lower(): env[n] for n in names if n in env}


async def test_doctor_says_precisely_what_is_wrong(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.channels[ESCALATION] = {"is_member": False, "name": "support-escalations"}
    env = bot_env(tmp_path, slack, llm, free_port()) | {
        "OPENAI_API_KEY": "sk-wrong",
        "DATABASE_URL": empty_database_url(tmp_path, "fresh.db"),
    }
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "/invite it there" in out and "support-escalations" in out
    assert "refused OPENAI_API_KEY" in out
    assert "support-bot migrate" in out
    env["SLACK_BOT_TOKEN"] = "xoxb-wrong"
    code, out, _ = await run(env, tmp_path, "doctor")
    assert "Slack refused the bot token (auth.test: invalid_auth)" in out
    assert "xoxb-wrong" not in out


async def test_python_dash_m_bot_is_the_same_command(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--help", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    for command in ("start", "migrate", "doctor", "kb"):
        assert command in out.decode()


async def test_the_wheel_ships_the_prompts(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path),
        str(root),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "prompts/classify.md",
        "prompts/draft.md",
        "prompts/redraft.md",
        "bot/cli/main.py",
    } <= names
    # Every Python file of the source packages is in the wheel (a package left out of
    # pyproject.toml would import fine here and fail after `pip install`).
    sources = {
        path.relative_to(root).as_posix()
        for folder in ("bot", "handlers", "persistence", "prompts")
        for path in (root / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= names, sorted(sources - names)


async def test_kb_list_show_stats_remove_and_prune(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"DATABASE_URL": empty_database_url(tmp_path, "kb.db")}
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("exporting-reports.md", "password-reset.md"):
        (docs / name).write_text((KB_DIR / name).read_text())
    await run(env, tmp_path, "kb", "import", str(docs))
    code, out, _ = await run(env, tmp_path, "kb", "list")
    assert code == 0 and "Exporting reports" in out and "2 article(s)" in out
    code, out, _ = await run(env, tmp_path, "kb", "show", "1")
    assert "## Export a report as CSV" in out and "source: " in out
    code, out, _ = await run(env, tmp_path, "kb", "stats")
    assert out.startswith("2 articles, 5 sections")
    code, _, err = await run(env, tmp_path, "kb", "show", "99")
    assert code == 1 and "no article 99" in err
    (docs / "password-reset.md").unlink()
    code, out, _ = await run(env, tmp_path, "kb", "import", "--prune", str(docs))
    assert "removed 1" in out
    code, out, _ = await run(env, tmp_path, "kb", "search", "--json", "reset", "password")
    assert json.loads(out)["fits"] is False
    code, out, _ = await run(env, tmp_path, "kb", "remove", "1")
    assert code == 0 and "removed article 1" in out
    code, out, _ = await run(env, tmp_path, "kb", "list")
    assert "0 article(s)" in out


async def test_doctor_names_a_schema_that_is_behind(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    db = database_from_url(env["DATABASE_URL"])
    await db.open(migrate=False)
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "DELETE FROM schema_migrations WHERE name = '0007_waiting_replies_index'"
            )
    finally:
        await db.close()
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "lacks 1 migration(s) (0007_waiting_replies_index...)" in out
    assert "run `support-bot migrate`" in out


async def test_doctor_tries_the_already_posted_look_up_once(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert "[ok] already-posted look-up: could not test: no message in" in out, out
    slack.add_message(ESCALATION, None, "an earlier card", "UBOT", bot_id="BBOT")
    slack.hide_metadata = True
    code, out, _ = await run(env, tmp_path, "doctor")
    assert "[ok] already-posted look-up: conversations.history and .replies work" in out, out
    assert "metadata is NOT returned" in out and "by text instead" in out
    slack.error_next("conversations.replies", "missing_scope")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "[FAIL] already-posted look-up: conversations.replies says missing_scope" in out
    assert "Try again" in out


async def test_doctor_says_reviewer_groups_need_a_paid_plan(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    await change_config(env, action="reviewers add", reviewer_groups=frozenset({"S0TEAM"}))
    slack.error_next("usergroups.users.list", "plan_upgrade_required")  # Slack's Free plan
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "[FAIL] reviewer group S0TEAM: cannot read its members" in out
    assert "user groups need a paid Slack plan" in out


async def test_doctor_names_a_scope_the_token_lacks(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"SUPPORT_BOT_MODEL": llm.model}
    await run(env, tmp_path, "migrate")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 0 and "[ok] scopes: the token has all" in out, out
    # An app installed before reactions were commands: its token has no reactions:read.
    slack.scopes.remove("reactions:read")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1
    assert "[FAIL] scopes: the bot token lacks reactions:read (reactions as commands" in out
    assert "reinstall the app" in out
