"""Copying a whole installation from one database to another (``support-bot copy-db``).

Typically a SQLite file to PostgreSQL, when one machine is outgrown; any direction works. The
copy keeps every id (tickets, cards and jobs refer to each other, and Slack messages carry
them), runs in one transaction on the target (a failed copy leaves it empty), and refuses a
target that already holds data, a source whose schema is behind, and a source a running bot is
still using.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from persistence.db import Database, Tx, now
from persistence.knowledge import KnowledgeRepository
from persistence.migrations import MIGRATIONS

# Parents before children; each with the order its rows are read in.
TABLES: list[tuple[str, str]] = [
    ("tickets", "id"),
    ("ticket_turns", "id"),
    ("ticket_attachments", "id"),
    ("escalations", "id"),
    ("escalation_drafts", "id"),
    ("verified_answers", "id"),
    ("tracker_issues", "id"),
    ("ticket_notes", "id"),
    ("translations", "id"),
    ("ui_translations", "language"),
    ("answer_feedback", "id"),
    ("csat_ratings", "ticket_id"),
    ("jobs", "id"),
    ("ticket_events", "id"),
    ("ignored_messages", "id"),
    ("kb_articles", "id"),
    ("kb_chunks", "id"),
    ("kb_embeddings", "chunk_id, model"),
    ("kb_meta", "key"),
    ("config_values", "key"),
    ("config_audit", "id"),
    ("job_runs", "name, period"),
]
BATCH = 1000


class CopyError(Exception):
    """The copy cannot be made as asked; the message says why and what to do."""


async def _columns(db: Database, table: str) -> dict[str, str]:
    """The table's columns and their declared types, in order."""
    if db.dialect == "postgresql":
        rows = await db.fetchall(
            "SELECT column_name AS name, data_type AS type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = await db.fetchall(f"SELECT name, type FROM pragma_table_info('{table}')")
    return {str(r["name"]): str(r["type"]).lower() for r in rows}


def _converter(kind: str) -> Callable[[Any], Any]:
    """Make a value fit the target column (SQLite stores what it is given, whatever the type)."""
    if kind in ("double precision", "real"):
        return lambda v: None if v is None else float(v)
    if kind in ("bigint", "integer"):
        return lambda v: None if v is None else int(v)
    if kind == "text":
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    if kind in ("bytea", "blob"):
        return lambda v: None if v is None else bytes(v)
    return lambda v: v


async def _count(db: Database, table: str) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"]) if row else 0


async def check_source(source: Database) -> None:
    try:
        applied = await source.applied_migrations()
    except Exception as exc:
        raise CopyError(f"{source.path} holds no bot database (no schema_migrations)") from exc
    expected = [name for name, _ in MIGRATIONS]
    if applied != expected:
        raise CopyError(
            f"{source.path} has schema {applied[-1] if applied else 'none'}, not"
            f" {expected[-1]}: run `support-bot migrate` on it first (DATABASE_URL={source.path})"
        )
    row = await source.fetchone(
        "SELECT COUNT(*) AS n, MAX(lease_owner) AS owner FROM jobs"
        " WHERE state = 'running' AND lease_until > ?",
        (now(),),
    )
    if row is not None and int(row["n"]):
        raise CopyError(
            f"a bot is still working on {source.path} ({row['n']} job(s) leased by"
            f" {row['owner']}): stop every bot process first, then copy"
        )


async def check_target(target: Database) -> None:
    for table, _ in TABLES:
        if table == "kb_meta":
            continue  # migrations seed its counter
        if await _count(target, table):
            raise CopyError(
                f"{target.path} already holds data ({table} is not empty): copy into an empty"
                " database"
            )


async def copy_database(
    source: Database, target: Database, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` (both open, the target migrated); the rows
    copied, by table."""
    await check_source(source)
    await check_target(target)
    knowledge = KnowledgeRepository(target)
    copied: dict[str, int] = {}
    async with target.transaction() as tx:
        titles: dict[int, str] = {}
        for table, order in TABLES:
            wanted = await _columns(target, table)
            have = await _columns(source, table)
            columns = [c for c in have if c in wanted]
            convert = [_converter(wanted[c]) for c in columns]
            copied[table] = 0
            offset = 0
            while True:
                rows = await source.fetchall(
                    f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order} LIMIT ? OFFSET ?",
                    (BATCH, offset),
                )
                if not rows:
                    break
                offset += len(rows)
                values = [
                    tuple(f(r[c]) for f, c in zip(convert, columns, strict=True)) for r in rows
                ]
                await _write(tx, knowledge, table, columns, values, titles)
                copied[table] += len(rows)
                if progress is not None:
                    progress(table, copied[table])
        if target.dialect == "postgresql":
            for table, order in TABLES:
                if order == "id":
                    await tx.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
                    )
    return copied


async def _write(
    tx: Tx,
    knowledge: KnowledgeRepository,
    table: str,
    columns: list[str],
    values: list[tuple[Any, ...]],
    titles: dict[int, str],
) -> None:
    if table == "kb_articles":
        titles.update((row[columns.index("id")], row[columns.index("title")]) for row in values)
    if table == "kb_chunks":
        # The full-text index is the target's own: FTS5 rows, or each chunk's tsvector.
        rows = [dict(zip(columns, row, strict=True)) for row in values]
        await knowledge.insert_chunks(
            tx,
            [(r["id"], r["article_id"], r["position"], r["heading"], r["text"]) for r in rows],
            titles,
        )
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})"
    if table == "kb_meta":
        sql += " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
    await tx.executemany(sql, values)
