"""Ordered schema migrations. Append new steps; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_core_loop",
        [
            # One row per customer conversation (a Slack thread in a watched channel).
            """CREATE TABLE tickets (
                id INTEGER PRIMARY KEY,
                channel_id TEXT NOT NULL,
                thread_ts TEXT NOT NULL,
                customer_user_id TEXT NOT NULL,
                customer_team_id TEXT,
                state TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 0,
                round INTEGER NOT NULL DEFAULT 1,
                processed_turn_id INTEGER NOT NULL DEFAULT 0,
                classification TEXT,
                retrieval TEXT,
                draft TEXT,
                decision TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                UNIQUE (channel_id, thread_ts)
            )""",
            "CREATE INDEX tickets_state ON tickets(state)",
            # Every message in a ticket's thread, whoever wrote it: the shared history.
            """CREATE TABLE ticket_turns (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                role TEXT NOT NULL CHECK (role IN ('customer', 'bot', 'staff')),
                user_id TEXT,
                text TEXT NOT NULL,
                slack_ts TEXT,
                created_at REAL NOT NULL
            )""",
            "CREATE INDEX ticket_turns_ticket ON ticket_turns(ticket_id, id)",
            "CREATE UNIQUE INDEX ticket_turns_ts ON ticket_turns(ticket_id, slack_ts)"
            " WHERE slack_ts IS NOT NULL",
            # One row per time a ticket waits for a human decision.
            """CREATE TABLE escalations (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                round INTEGER NOT NULL,
                state TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 0,
                reason TEXT NOT NULL,
                draft_text TEXT,
                card_channel TEXT,
                card_ts TEXT,
                decided_by TEXT,
                decided_at REAL,
                final_text TEXT,
                created_at REAL NOT NULL,
                UNIQUE (ticket_id, round)
            )""",
            "CREATE INDEX escalations_state ON escalations(state)",
            # Work queue and outbox in one: unique keys make enqueueing idempotent.
            """CREATE TABLE jobs (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                dedupe_key TEXT NOT NULL UNIQUE,
                payload TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                available_at REAL NOT NULL,
                lease_owner TEXT,
                lease_until REAL,
                last_error TEXT,
                result TEXT,
                created_at REAL NOT NULL,
                finished_at REAL
            )""",
            "CREATE INDEX jobs_ready ON jobs(state, available_at)",
            # The audit trail: every step, decision and delivery, with who, how long and cost.
            """CREATE TABLE ticket_events (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER REFERENCES tickets(id),
                step TEXT NOT NULL,
                actor TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '{}',
                duration_ms INTEGER,
                model TEXT,
                prompt_name TEXT,
                prompt_version TEXT,
                tokens_in INTEGER,
                tokens_out INTEGER,
                created_at REAL NOT NULL
            )""",
            "CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id)",
            # Messages the bot decided not to act on, with the reason: nothing vanishes silently.
            """CREATE TABLE ignored_messages (
                id INTEGER PRIMARY KEY,
                channel_id TEXT,
                ts TEXT,
                user_id TEXT,
                reason TEXT NOT NULL,
                created_at REAL NOT NULL
            )""",
            # First knowledge base: articles, their heading chunks and an FTS5 index over chunks.
            """CREATE TABLE kb_articles (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )""",
            """CREATE TABLE kb_chunks (
                id INTEGER PRIMARY KEY,
                article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                heading TEXT NOT NULL,
                text TEXT NOT NULL
            )""",
            "CREATE INDEX kb_chunks_article ON kb_chunks(article_id)",
            "CREATE VIRTUAL TABLE kb_fts USING fts5("
            "title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2')",
        ],
    ),
    (
        "0002_knowledge_base",
        [
            # Where an article can be read by people (a help-centre URL), and its FAQ tags.
            "ALTER TABLE kb_articles ADD COLUMN url TEXT",
            "ALTER TABLE kb_articles ADD COLUMN tags TEXT NOT NULL DEFAULT ''",
            # Dense vectors, one per chunk and model, as little-endian float32.
            """CREATE TABLE kb_embeddings (
                chunk_id INTEGER NOT NULL REFERENCES kb_chunks(id) ON DELETE CASCADE,
                model TEXT NOT NULL,
                vector BLOB NOT NULL,
                PRIMARY KEY (chunk_id, model)
            )""",
            # A counter bumped by every change to the knowledge base, so caches know when to
            # reload (term statistics, the embedding matrix).
            "CREATE TABLE kb_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            "INSERT INTO kb_meta(key, value) VALUES ('version', 0)",
        ],
    ),
    (
        "0003_humans_in_the_loop",
        [
            # Who owns the ticket: the teammate who claimed it, and (while set) the teammate who
            # took the conversation over in the thread, which keeps the bot quiet there.
            "ALTER TABLE tickets ADD COLUMN owner_user_id TEXT",
            "ALTER TABLE tickets ADD COLUMN human_owner TEXT",
            "ALTER TABLE tickets ADD COLUMN resolved_by TEXT",
            "ALTER TABLE tickets ADD COLUMN resolved_at REAL",
            # What a reviewer asked for while the bot writes a new draft ('redraft' or
            # 'compose'), who asked, and how many reminders the card has had.
            "ALTER TABLE escalations ADD COLUMN work TEXT",
            "ALTER TABLE escalations ADD COLUMN work_by TEXT",
            "ALTER TABLE escalations ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0",
            # Every draft a card has shown, oldest first, with the feedback that led to the next.
            """CREATE TABLE escalation_drafts (
                id INTEGER PRIMARY KEY,
                escalation_id INTEGER NOT NULL REFERENCES escalations(id),
                n INTEGER NOT NULL,
                text TEXT,
                sources TEXT NOT NULL DEFAULT '[]',
                origin TEXT NOT NULL,
                requested_by TEXT,
                feedback TEXT,
                created_at REAL NOT NULL,
                UNIQUE (escalation_id, n)
            )""",
            # Answers teammates gave to the bot's questions; part of every later draft's context.
            """CREATE TABLE ticket_notes (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                question TEXT NOT NULL,
                answer TEXT NOT NULL,
                user_id TEXT NOT NULL,
                created_at REAL NOT NULL
            )""",
            "CREATE INDEX ticket_notes_ticket ON ticket_notes(ticket_id, id)",
            # What people said of an AI answer with its buttons ('helpful', 'wants_person').
            """CREATE TABLE answer_feedback (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                round INTEGER NOT NULL,
                user_id TEXT NOT NULL,
                verdict TEXT NOT NULL,
                created_at REAL NOT NULL,
                UNIQUE (ticket_id, round, user_id, verdict)
            )""",
        ],
    ),
    (
        "0004_admin_config",
        [
            # What admins set in Slack; a key that is absent means "the environment's default".
            """CREATE TABLE config_values (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_by TEXT NOT NULL,
                updated_at REAL NOT NULL
            )""",
            # Every change, who made it, before and after. Its newest id is the config version
            # each replica compares to know when to reload.
            """CREATE TABLE config_audit (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                action TEXT NOT NULL,
                key TEXT NOT NULL,
                old_value TEXT,
                new_value TEXT,
                created_at REAL NOT NULL
            )""",
        ],
    ),
    (
        "0005_retention",
        [
            # When a ticket's message text was purged (RETENTION_DAYS); its numbers stay.
            "ALTER TABLE tickets ADD COLUMN purged_at REAL",
            # Periodic jobs claim their period here first, so each runs once across replicas.
            """CREATE TABLE job_runs (
                name TEXT NOT NULL,
                period TEXT NOT NULL,
                claimed_by TEXT NOT NULL,
                claimed_at REAL NOT NULL,
                PRIMARY KEY (name, period)
            )""",
        ],
    ),
    (
        "0006_turn_purpose",
        [
            # What a message of ours was for (answer, reply, holding, still_on_it, ...): a holding
            # reply is not an answer when deciding who has the last word.
            "ALTER TABLE ticket_turns ADD COLUMN purpose TEXT",
            # The newest customer message a card has shown: a decision covers only what the
            # reviewer could see; anything newer gets a round of its own.
            "ALTER TABLE escalations ADD COLUMN shown_turn_id INTEGER NOT NULL DEFAULT 0",
        ],
    ),
    (
        "0007_waiting_replies_index",
        [
            # Replies that wait for their question (Intake): found by thread when the question
            # lands, without scanning every pending job (timers included) on each new ticket.
            """CREATE INDEX jobs_waiting_replies ON jobs(
                json_extract(payload, '$.channel_id'), json_extract(payload, '$.thread_ts')
            ) WHERE kind = 'inbound_message' AND state = 'pending'
                AND json_extract(payload, '$.orphan_waits') IS NOT NULL""",
        ],
    ),
    (
        "0008_worker_heartbeats",
        [
            # Each running worker's last sign of life: a replica that went silent on another
            # host has its jobs taken over without waiting for their leases to run out.
            """CREATE TABLE worker_heartbeats (
                owner TEXT PRIMARY KEY,
                seen_at REAL NOT NULL
            )""",
        ],
    ),
    (
        "0009_slack_request_replays",
        [
            # Signed Slack requests already taken (HTTP mode), until they are too old to be
            # accepted anyway: a replayed or duplicated request is refused by every replica.
            """CREATE TABLE slack_requests (
                signature TEXT PRIMARY KEY,
                expires_at REAL NOT NULL
            )""",
            "CREATE INDEX slack_requests_expiry ON slack_requests(expires_at)",
        ],
    ),
    (
        "0010_knowledge_sources",
        [
            # Where knowledge comes from (a folder of files, a website, a help desk, a wiki),
            # each synced on its own schedule. Settings hold no secrets: a connector's token is
            # read from the environment variable the settings name.
            """CREATE TABLE kb_sources (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                settings TEXT NOT NULL,
                every_seconds REAL,
                created_at REAL NOT NULL,
                sync_owner TEXT,
                sync_until REAL,
                last_started_at REAL,
                last_finished_at REAL,
                last_result TEXT
            )""",
            # Each page a source's last sync stored: to skip it when unchanged (its validators
            # and text hash), and to retire its article when the source no longer has it.
            """CREATE TABLE kb_source_pages (
                source_id INTEGER NOT NULL REFERENCES kb_sources(id) ON DELETE CASCADE,
                key TEXT NOT NULL,
                article_source TEXT NOT NULL,
                etag TEXT,
                last_modified TEXT,
                content_hash TEXT NOT NULL,
                synced_at REAL NOT NULL,
                PRIMARY KEY (source_id, key)
            )""",
        ],
    ),
    (
        "0011_verified_answers",
        [
            # A reviewed reply, generalised into a question and answer for every customer,
            # waiting for an admin's Approve (it then joins the knowledge base as its own
            # source, ``slack:verified:ID``) or Discard. One per escalation.
            """CREATE TABLE verified_answers (
                id INTEGER PRIMARY KEY,
                escalation_id INTEGER NOT NULL UNIQUE REFERENCES escalations(id),
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'proposed'
                    CHECK (state IN ('proposed', 'approved', 'discarded')),
                created_at REAL NOT NULL,
                decided_by TEXT,
                decided_at REAL,
                article_id INTEGER
            )""",
            "CREATE INDEX verified_answers_state ON verified_answers(state, id)",
        ],
    ),
    (
        "0012_verified_answers_from_threads",
        [
            # A verified answer also comes from a thread a teammate resolved with their own
            # reply, which has no escalation: proposals are keyed by where they came from
            # (``origin``: ``card:ESCALATION`` or ``thread:TICKET``), one per origin.
            """CREATE TABLE verified_answers_0012 (
                id INTEGER PRIMARY KEY,
                origin TEXT NOT NULL UNIQUE,
                escalation_id INTEGER UNIQUE REFERENCES escalations(id),
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'proposed'
                    CHECK (state IN ('proposed', 'approved', 'discarded')),
                created_at REAL NOT NULL,
                decided_by TEXT,
                decided_at REAL,
                article_id INTEGER
            )""",
            """INSERT INTO verified_answers_0012(id, origin, escalation_id, ticket_id, title,
                body, state, created_at, decided_by, decided_at, article_id)
            SELECT id, 'card:' || escalation_id, escalation_id, ticket_id, title, body, state,
                created_at, decided_by, decided_at, article_id FROM verified_answers""",
            "DROP TABLE verified_answers",
            "ALTER TABLE verified_answers_0012 RENAME TO verified_answers",
            "CREATE INDEX verified_answers_state ON verified_answers(state, id)",
        ],
    ),
    (
        "0013_reactions",
        [
            # Who opened the ticket by hand, reacting on the customer's message (``:ticket:``):
            # its drafts always wait for a reviewer, whatever the channel's mode. NULL: the
            # customer's own message opened it.
            "ALTER TABLE tickets ADD COLUMN opened_by TEXT",
        ],
    ),
    (
        "0014_attachments",
        [
            # The files a customer attached to a message, one row each, tied to the turn: what
            # Slack said of it, and what became of it (``pending`` until a round reads it;
            # ``read``: shown to the model; ``refused``: a type or size the bot does not read;
            # ``not_read``: it could not be, or no model reads it), with the reason in words.
            # ``text``: what a text file or PDF gave, fenced into prompts and never into the
            # knowledge base; retention blanks it with the turns.
            """CREATE TABLE ticket_attachments (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                turn_id INTEGER NOT NULL REFERENCES ticket_turns(id),
                position INTEGER NOT NULL,
                file_id TEXT NOT NULL,
                name TEXT NOT NULL,
                mimetype TEXT,
                filetype TEXT,
                size INTEGER,
                permalink TEXT,
                url TEXT,
                file_access TEXT,
                mode TEXT,
                kind TEXT,
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'read', 'refused', 'not_read')),
                reason TEXT,
                text TEXT,
                created_at REAL NOT NULL,
                read_at REAL,
                UNIQUE (turn_id, position)
            )""",
            "CREATE INDEX ticket_attachments_ticket ON ticket_attachments(ticket_id, turn_id)",
        ],
    ),
    (
        "0015_languages",
        [
            # The language the customer writes in (ISO 639-1, ``bot/llm/language.py``); NULL
            # until a message says so clearly: English.
            "ALTER TABLE tickets ADD COLUMN language TEXT",
            # A reviewer's edit in English for a customer who writes another language waits
            # here, with its translation (or why there is none), until they send one or the
            # other from the card (``bot/review/translated_edit.py``).
            "ALTER TABLE escalations ADD COLUMN edit_text TEXT",
            "ALTER TABLE escalations ADD COLUMN edit_by TEXT",
            "ALTER TABLE escalations ADD COLUMN edit_translation TEXT",
            "ALTER TABLE escalations ADD COLUMN edit_problem TEXT",
            # Texts of a ticket translated by the model (for the card: the customer's messages
            # and the draft in English), keyed by a hash of the source text: translated once.
            """CREATE TABLE translations (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                source_hash TEXT NOT NULL,
                target TEXT NOT NULL,
                text TEXT NOT NULL,
                created_at REAL NOT NULL,
                UNIQUE (ticket_id, source_hash, target)
            )""",
            # The bot's own texts (``bot/slack/blocks/locales.py``) translated by the model for
            # a language the built-in table lacks, once per language.
            """CREATE TABLE ui_translations (
                language TEXT PRIMARY KEY,
                texts TEXT NOT NULL,
                model TEXT NOT NULL,
                created_at REAL NOT NULL
            )""",
        ],
    ),
    (
        "0016_csat",
        [
            # Customer satisfaction: one survey per ticket (asked when it is first resolved in
            # a channel that opted in; a reopened and re-resolved ticket is not asked again),
            # and its one rating: the score (1-5), an optional comment, who rated. answered_by
            # says whose answer the customer got: the bot's own ('ai': sent automatically or
            # approved as drafted), a person's ('human') or none.
            """CREATE TABLE csat_ratings (
                ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
                channel_id TEXT NOT NULL,
                answered_by TEXT NOT NULL CHECK (answered_by IN ('ai', 'human', 'none')),
                asked_at REAL NOT NULL,
                score INTEGER CHECK (score BETWEEN 1 AND 5),
                comment TEXT,
                rated_by TEXT,
                rated_at REAL
            )""",
            "CREATE INDEX csat_ratings_rated ON csat_ratings(rated_at)",
        ],
    ),
    (
        "0017_tracker_issues",
        [
            # An issue filed in the configured tracker (Linear, Jira or GitHub) from a review
            # card's "Create issue": one per ticket. ``issue_id`` is how the tracker's webhooks
            # and look-ups name it (Linear's UUID, Jira's numeric id, GitHub's issue number),
            # ``issue_key`` how people do (ENG-12, SUP-7, #42). Closed once: the close is
            # recorded by a conditional update, so a replayed webhook or a second poll does
            # nothing. The proposal is the message offered to the customer when it closed,
            # sent (through the outbox) or dismissed once, by a reviewer.
            """CREATE TABLE tracker_issues (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL UNIQUE REFERENCES tickets(id),
                escalation_id INTEGER REFERENCES escalations(id),
                tracker TEXT NOT NULL,
                issue_id TEXT NOT NULL,
                issue_key TEXT NOT NULL,
                url TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
                resolution TEXT,
                created_by TEXT NOT NULL,
                created_at REAL NOT NULL,
                closed_at REAL,
                proposal_state TEXT NOT NULL DEFAULT 'none'
                    CHECK (proposal_state IN ('none', 'proposed', 'sent', 'dismissed')),
                proposal_text TEXT,
                proposal_by TEXT,
                proposal_at REAL,
                UNIQUE (tracker, issue_id)
            )""",
            "CREATE INDEX tracker_issues_open ON tracker_issues(tracker, state, id)",
        ],
    ),
]
