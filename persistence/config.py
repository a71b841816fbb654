"""Settings admins change from Slack, and the audit trail of every change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from persistence.db import Database, now


@dataclass(frozen=True)
class ConfigChange:
    id: int
    user_id: str
    action: str
    key: str
    old_value: Any
    new_value: Any
    created_at: float


class ConfigConflict(Exception):
    """The settings changed since the caller read them; its change was not applied."""


class ConfigRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def version(self) -> int:
        row = await self.db.fetchone(
            "SELECT COALESCE(MAX(id), 0) AS v FROM config_audit", inline=True
        )
        return int(row["v"]) if row else 0

    async def values(self) -> tuple[int, dict[str, Any]]:
        """The stored values and a version no newer than them: read the version first, so a
        change landing in between only makes the next comparison reload once more."""
        version = await self.version()
        rows = await self.db.fetchall("SELECT key, value FROM config_values")
        return version, {r["key"]: json.loads(r["value"]) for r in rows}

    async def change(
        self,
        *,
        user_id: str,
        action: str,
        updates: dict[str, Any],
        old: dict[str, Any],
        expected_version: int | None = None,
    ) -> int:
        """Store new values and one audit row per key, atomically; returns the new version.
        With ``expected_version``, refuse (ConfigConflict) if anyone changed anything since."""
        t = now()
        async with self.db.transaction() as tx:
            if expected_version is not None:
                row = await tx.fetchone("SELECT COALESCE(MAX(id), 0) AS v FROM config_audit")
                if row is not None and int(row["v"]) != expected_version:
                    raise ConfigConflict(f"version {row['v']} != {expected_version}")
            for key, value in updates.items():
                await tx.execute(
                    "INSERT INTO config_values(key, value, updated_by, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                    " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (key, json.dumps(value), user_id, t),
                )
                await tx.execute(
                    "INSERT INTO config_audit(user_id, action, key, old_value, new_value,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user_id, action, key, json.dumps(old.get(key)), json.dumps(value), t),
                )
            row = await tx.fetchone("SELECT COALESCE(MAX(id), 0) AS v FROM config_audit")
        return int(row["v"]) if row else 0

    async def audit(self, *, limit: int) -> list[ConfigChange]:
        rows = await self.db.fetchall(
            "SELECT * FROM config_audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [
            ConfigChange(
                id=r["id"],
                user_id=r["user_id"],
                action=r["action"],
                key=r["key"],
                old_value=json.loads(r["old_value"]) if r["old_value"] is not None else None,
                new_value=json.loads(r["new_value"]) if r["new_value"] is not None else None,
                created_at=r["created_at"],
            )
            for r in rows
        ]
