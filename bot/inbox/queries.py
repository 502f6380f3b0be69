"""The SQLite inbox's SQL: schema, the subject-head condition, claims (see ``bot.inbox.sqlite``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    installation_id INTEGER,
    repository      TEXT,
    subject         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL,
    last_error      TEXT,
    received_at     REAL    NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL    NOT NULL
);
-- Partial indexes stay small however many finished rows are kept.
CREATE INDEX IF NOT EXISTS deliveries_open_by_subject
    ON deliveries (subject, seq) WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS deliveries_pending
    ON deliveries (seq) WHERE status = 'pending';
-- Only deliveries that failed an attempt can be due in the future, so only they are indexed by
-- time: a fresh delivery costs no entry here (every index is paid for on each store and claim).
CREATE INDEX IF NOT EXISTS deliveries_retrying
    ON deliveries (next_attempt_at) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX IF NOT EXISTS deliveries_failed
    ON deliveries (seq) WHERE status = 'failed';
-- At most a worker pool's worth of entries: answers "is this subject in flight?" without
-- walking the subject's whole backlog (each claim asks it of every head it considers).
CREATE INDEX IF NOT EXISTS deliveries_processing
    ON deliveries (subject) WHERE status = 'processing';
-- Bodies live apart: SQLite rewrites a whole row on UPDATE, so a status change next to a 25 KiB
-- body would copy the body into the WAL (and the checkpoint) again at every claim and finish.
CREATE TABLE IF NOT EXISTS payloads (
    seq  INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
);
"""
SCHEMA_VERSION = 1

COLUMNS = (
    "d.seq, d.delivery_id, d.event, d.action, p.body, d.installation_id, d.repository, "
    "d.subject, d.status, d.attempts, d.next_attempt_at, d.last_error, d.received_at"
)
WITH_BODY = "JOIN payloads AS p ON p.seq = d.seq"

# A subject's head: its oldest unfinished delivery, and only while nothing of it is in flight.
# Two probes, each a short index search: "an older open one?" stops at the first entry below
# ``d.seq``, "one in flight?" looks in the tiny index of processing rows. (As one condition,
# ``e.seq < d.seq OR e.status = 'processing'``, it walked every open delivery of the subject and
# read each row for its status: with a backlog, most of a claim's cost.)
HEAD = """
d.status = 'pending'
AND NOT EXISTS (
    SELECT 1 FROM deliveries AS e INDEXED BY deliveries_open_by_subject
    WHERE e.subject = d.subject AND e.status IN ('pending', 'processing') AND e.seq < d.seq)
AND NOT EXISTS (
    SELECT 1 FROM deliveries AS e INDEXED BY deliveries_processing
    WHERE e.subject = d.subject AND e.status = 'processing')
"""

# Walks pending deliveries oldest first and stops at ``limit`` claimable heads, so a claim costs
# about as much with a thousand deliveries queued as with ten. (INDEXED BY: left alone, the
# planner may scan the whole table, which keeps every finished delivery for two weeks.)
CLAIM = f"""
SELECT {COLUMNS} FROM deliveries AS d INDEXED BY deliveries_pending {WITH_BODY}
WHERE {HEAD} AND d.next_attempt_at <= :now
ORDER BY d.seq
LIMIT :limit
"""

# The earliest retry still in the future. Heads already due were just claimed (or wait for a
# free worker, who will look again), and a fresh delivery is due when it arrives, so only
# retries need looking at.
NEXT_DUE = f"""
SELECT d.next_attempt_at FROM deliveries AS d INDEXED BY deliveries_retrying
WHERE {HEAD} AND d.attempts > 0 AND d.next_attempt_at > :now
ORDER BY d.next_attempt_at
LIMIT 1
"""
