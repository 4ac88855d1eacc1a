//! Connection settings and schema migrations.
//!
//! Migrations are an ordered list of SQL scripts; `PRAGMA user_version` records how many have
//! been applied. A script is never edited once released: changes go into a new one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Result};

/// Timestamps are stored as INTEGER microseconds since the Unix epoch (Kubernetes `MicroTime`
/// precision), severities and categories as their lowercase names.
const V1: &str = "
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    reg_api_version TEXT NOT NULL,
    reg_kind TEXT NOT NULL,
    reg_namespace TEXT NOT NULL,
    reg_name TEXT NOT NULL,
    reg_uid TEXT NOT NULL,
    reg_field_path TEXT NOT NULL,
    related TEXT,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    reporting_controller TEXT NOT NULL,
    reporting_instance TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL,
    resource_version TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    owner_kind TEXT,
    owner_name TEXT,
    node TEXT,
    template TEXT NOT NULL,
    labels TEXT,
    UNIQUE (cluster, uid)
);
CREATE INDEX events_last_seen ON events (last_seen);
CREATE INDEX events_namespace_reason ON events (namespace, reason, last_seen);
CREATE INDEX events_correlation ON events (correlation_id, last_seen);
CREATE INDEX events_regarding ON events (cluster, reg_namespace, reg_kind, reg_name);

CREATE VIRTUAL TABLE events_fts USING fts5 (note, content = 'events', content_rowid = 'id');

CREATE TABLE occurrences (
    event_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX occurrences_ts ON occurrences (ts);
CREATE INDEX occurrences_event ON occurrences (event_id);

CREATE TABLE rollup_hourly (
    bucket INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    correlation TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type, correlation)
) WITHOUT ROWID;

CREATE TABLE placements (
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (cluster, namespace, pod)
) WITHOUT ROWID;

CREATE TABLE cursors (
    cluster TEXT NOT NULL,
    stream TEXT NOT NULL,
    resource_version TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, stream)
) WITHOUT ROWID;
";

/// Gap markers: periods in which a stream may have missed events, with the cause.
const V2: &str = "
CREATE TABLE gaps (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    stream TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    cause TEXT NOT NULL
);
CREATE INDEX gaps_ended_at ON gaps (ended_at);
";

/// The alert outbox and silences: alerts (at most one firing per rule and group), one delivery
/// row per notification to one notifier with its state and retry time, and silences.
const V3: &str = "
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    silenced_by INTEGER,
    events TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (rule, group_key, starts_at)
);
CREATE UNIQUE INDEX alerts_open ON alerts (rule, group_key) WHERE status = 'firing';
CREATE INDEX alerts_starts_at ON alerts (starts_at);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    notifier TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);

CREATE TABLE silences (
    id INTEGER PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// Coarse rollups without the correlation dimension (its cardinality makes `rollup_hourly`
/// hold thousands of rows an hour): per hour and per day, so a group-by over 30 days reads tens
/// of thousands of rows, not millions. Filled from `rollup_hourly` for existing stores.
const V4: &str = "
CREATE TABLE rollup_hourly_coarse (
    bucket INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type)
) WITHOUT ROWID;
CREATE TABLE rollup_daily_coarse (
    bucket INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type)
) WITHOUT ROWID;
INSERT INTO rollup_hourly_coarse
    SELECT bucket, cluster, namespace, kind, reason, category, severity, type, SUM(count)
    FROM rollup_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO rollup_daily_coarse
    SELECT bucket - (((bucket % 86400000000) + 86400000000) % 86400000000),
           cluster, namespace, kind, reason, category, severity, type, SUM(count)
    FROM rollup_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
";

/// The history of one object (`explain`, the UI's object page: name and kind, and the
/// namespace unless a Node) without its cluster: `events_regarding` starts with the cluster, so
/// such a query scanned the whole index. With the rowid after `last_seen`, the newest-first
/// order is read straight from the index.
const V5: &str = "
CREATE INDEX events_object ON events (reg_name, reg_kind, last_seen);
";

/// When kubetrail stored each event and occurrence (micros): retention counts age from the
/// later of an occurrence's time and this, so an imported dump is kept for the policy's age
/// after its import (`crate::expiry`). Rows stored before this migration count as stored at
/// the migration, so nothing imported earlier goes at the upgrade. `{MIGRATED_AT}` is replaced
/// by the time of the migration.
const V6: &str = "
ALTER TABLE events ADD COLUMN stored_at INTEGER NOT NULL DEFAULT {MIGRATED_AT};
ALTER TABLE occurrences ADD COLUMN stored_at INTEGER NOT NULL DEFAULT {MIGRATED_AT};
";

/// Events the store refused, kept aside with why, whence and when (`crate::quarantine`); the
/// event as JSON text.
const V7: &str = "
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    quarantined_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    error TEXT NOT NULL,
    event TEXT NOT NULL
);
";

/// The events seen over more than 10 minutes (`search::LONG_SPAN`), in the order of the queries
/// (last seen, id) and with their first seen: a time window's events are those last seen
/// inside it, those last seen less than 10 minutes after it that began before its end, and
/// some of these (few: 0.4% of the real dumps), so a search reads the window without the events
/// last seen after it. The condition must stay the
/// same text as the queries' (SQLite matches a partial index by its expression).
const V8: &str = "
CREATE INDEX events_long_span ON events (last_seen, id, first_seen)
    WHERE last_seen - first_seen > 600000000;
";

/// Changes of watched objects and their last-known states (`crate::changes`, issue 15).
const V9: &str = "
CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    at INTEGER NOT NULL,
    op TEXT NOT NULL,
    generation INTEGER,
    resource_version TEXT NOT NULL,
    manager TEXT NOT NULL,
    source TEXT NOT NULL,
    fields TEXT NOT NULL,
    refs TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    UNIQUE (cluster, uid, resource_version)
);
CREATE INDEX changes_at ON changes (at);
CREATE INDEX changes_object ON changes (name, kind, at);
CREATE TABLE change_states (
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    resource_version TEXT NOT NULL,
    generation INTEGER,
    state TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, uid)
) WITHOUT ROWID;
CREATE INDEX change_states_synced ON change_states (cluster, kind, synced_at);
";

/// Copies refused as identity conflicts (`crate::identity`): per stored `(cluster, uid)` and
/// the namespace and object the copy named, how many and when last (micros).
const V10: &str = "
CREATE TABLE identity_conflicts (
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, uid, namespace, kind, name)
);
";

/// What each watched object references, kept with its state from the first listing on
/// (`ObjectState::references`), and the per-namespace lookup of the workloads that use a
/// ConfigMap or Secret (`ChangeStore::users_of`).
const V11: &str = "
ALTER TABLE change_states ADD COLUMN refs TEXT NOT NULL DEFAULT '[]';
CREATE INDEX change_states_namespace ON change_states (cluster, namespace);
";

/// Incidents kept at ingest (`crate::incidents`): the results, and the spans written since
/// they were computed. Everything stored before is marked dirty, to be analysed once.
const V12: &str = "
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    head TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incidents_span ON incidents (end_at, start_at);
CREATE TABLE incident_dirty (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL
);
INSERT INTO incident_dirty (cluster, since, until)
    SELECT cluster, MIN(first_seen), MAX(last_seen) FROM events GROUP BY cluster;
";

/// Patterns kept at ingest (`crate::patterns`): one part per pattern key and hour or day, with
/// the sums a read checks the thresholds with, covered by an index (the part itself is read
/// only for patterns over them, by key).
/// Everything stored is marked dirty again, so that the first pass computes the parts.
const V13: &str = "
CREATE TABLE pattern_parts (
    id INTEGER PRIMARY KEY,
    span INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    template TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX pattern_parts_bucket ON pattern_parts
    (span, bucket, cluster, namespace, kind, reason, template, count, first_at, last_at);
CREATE INDEX pattern_parts_key
    ON pattern_parts (span, cluster, namespace, kind, reason, template, bucket);
INSERT INTO incident_dirty (cluster, since, until)
    SELECT cluster, MIN(first_seen), MAX(last_seen) FROM events GROUP BY cluster;
";

/// What a list of incidents shows and sorts by, as columns (`crate::incidents::IncidentSummary`),
/// filled from the stored heads: a list is then read without decoding JSON, from a covering
/// index (added columns follow the body in a row: read from the table, each walked the body's
/// overflow pages). (Numbered 14: 13 is the patterns kept at ingest, merged from another
/// branch.)
const V14: &str = "
ALTER TABLE incidents ADD COLUMN incident_id TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN severity TEXT NOT NULL DEFAULT 'info';
ALTER TABLE incidents ADD COLUMN ongoing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN cluster_wide INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN rule TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN message TEXT NOT NULL DEFAULT '';
UPDATE incidents SET
    incident_id = json_extract(head, '$.id'),
    subject = json_extract(head, '$.subject'),
    severity = json_extract(head, '$.severity'),
    ongoing = json_extract(head, '$.status') = 'ongoing',
    event_count = json_extract(head, '$.event_count'),
    cluster_wide = json_extract(head, '$.cluster_wide'),
    rule = json_extract(head, '$.root_cause.rule'),
    reason = json_extract(head, '$.root_cause.reason'),
    message = json_extract(head, '$.root_cause.message');
CREATE INDEX incidents_lines ON incidents (end_at, start_at, cluster, incident_id, subject,
    severity, ongoing, event_count, cluster_wide, rule, reason, message);
";

/// Each incident's body in a table of its own, keyed by the incident's row
/// (`crate::incidents::SELECT_BODY`): behind its head in one row, a body was read through the
/// head's overflow pages, and the bodies' pages lay between the heads'.
const V15: &str = "
CREATE TABLE incident_bodies (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
INSERT INTO incident_bodies (id, body) SELECT id, body FROM incidents ORDER BY id;
ALTER TABLE incidents DROP COLUMN body;
";

/// Pattern parts without an index by key (issue 14 §1): the pass inserted each day's parts of
/// every pattern at that pattern's place in `pattern_parts_key`, one page of it per pattern per
/// transaction written to the WAL and checkpointed again (~20 % of the import's pass over 1M
/// events). A read takes each pattern's parts' rows with its totals from the covering
/// `pattern_parts_bucket` (`crate::patterns::SELECT_TOTALS`), and reads the bodies it needs by
/// their rows.
const V16: &str = "
DROP INDEX pattern_parts_key;
";

/// Every migration, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a connection waits for another one's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings shared by the writer and the reader connections.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", false)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Prepares the writer connection: incremental auto-vacuum (only effective before the first
/// table exists), WAL, then migrations.
pub(crate) fn prepare_writer(conn: &Connection, cache_kib: u32) -> Result<()> {
    // Another process may be creating the same store right now: wait for its locks.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    switch_to_wal(conn)?;
    // Checkpoint every ~40 MB of WAL rather than 4 MB: index pages changed by many batches are
    // then copied into the database once, not at every checkpoint (measured ~30% faster import).
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    configure(conn)?;
    conn.pragma_update(None, "cache_size", -i64::from(cache_kib))?;
    migrate(conn)?;
    create_temp_tables(conn)
}

/// The writer's temporary tables: retention collects the rows it deletes there (per
/// connection).
pub(crate) fn create_temp_tables(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_events (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed_occurrences (id INTEGER PRIMARY KEY);",
    )?;
    Ok(())
}

/// Has a bulk writer keep its temporary files on disk (`temp_store = FILE`; every connection
/// keeps them in memory otherwise): SQLite's sorter writes a sorted run out once it holds its
/// page cache's size only with temporary files on disk, and in memory it held every key of an
/// index built at the end of an import (issue 14 §3). Changing it drops the temporary tables:
/// made again.
pub(crate) fn temp_files_on_disk(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "temp_store", "FILE")?;
    create_temp_tables(conn)
}

/// Switches the database to WAL. Changing the journal mode needs an exclusive lock, taken while
/// the connection already holds a shared one; when several processes open a new store at once,
/// SQLite refuses all but one of them at once with `SQLITE_BUSY` without calling the busy
/// handler (waiting could deadlock). The refused ones retry here, for as long as the busy
/// timeout would have waited, until the first one has made the store WAL.
pub(crate) fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            done => return done,
        }
    }
}

/// Prepares a reader connection, opened after the writer has migrated the schema, with
/// `cache_kib` of page cache.
pub(crate) fn prepare_reader(conn: &Connection, cache_kib: u32) -> Result<()> {
    configure(conn)?;
    conn.pragma_update(None, "cache_size", -i64::from(cache_kib))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(())
}

/// Applies the missing migrations, one write transaction each. The version is read inside the
/// transaction (`BEGIN IMMEDIATE` holds the write lock), so several processes opening one store
/// at once apply each migration exactly once.
fn migrate(conn: &Connection) -> Result<()> {
    loop {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        let Some(script) = MIGRATIONS.get(found.max(0) as usize) else {
            return Ok(());
        };
        let version = found.max(0) + 1;
        let migrated_at = kubetrail_model::Timestamp::now().as_microsecond();
        tx.execute_batch(&script.replace("{MIGRATED_AT}", &migrated_at.to_string()))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "migrated the store schema");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_kept_before_their_summary_columns_get_them_from_their_heads() {
        let conn = Connection::open_in_memory().expect("open");
        for script in &MIGRATIONS[..12] {
            conn.execute_batch(&script.replace("{MIGRATED_AT}", "0"))
                .expect("migrate to V12");
        }
        conn.pragma_update(None, "user_version", 12)
            .expect("version");
        let head = r#"{"id":"abc","cluster":"prod","subject":"Cluster/no-ready-node",
            "cluster_wide":true,"affected":[],"title":"t","severity":"critical",
            "status":"ongoing","start":"2024-01-01T00:00:00Z","end":"2024-01-01T00:00:00Z",
            "root_cause":{"reason":"NodeNotReady","rule":"node-not-ready","evidence":[],
            "object":"Node/a","message":"node \"a\" is ünready","at":"2024-01-01T00:00:00Z",
            "hint":"h"},"objects":[],"object_count":0,"nodes":[],"event_count":12345678901,
            "timeline":[],"timeline_omitted":0}"#;
        conn.execute(
            "INSERT INTO incidents (cluster, start_at, end_at, head, body) \
             VALUES ('prod', 1, 2, ?1, '{}')",
            [head],
        )
        .expect("an incident kept before");
        migrate(&conn).expect("migrate to the latest");
        let row: (
            String,
            String,
            String,
            bool,
            i64,
            bool,
            String,
            String,
            String,
        ) = conn
            .query_row(
                "SELECT incident_id, subject, severity, ongoing, event_count, cluster_wide, \
                 rule, reason, message FROM incidents",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .expect("the summary");
        assert_eq!(
            row,
            (
                "abc".to_string(),
                "Cluster/no-ready-node".to_string(),
                "critical".to_string(),
                true,
                12_345_678_901,
                true,
                "node-not-ready".to_string(),
                "NodeNotReady".to_string(),
                "node \"a\" is ünready".to_string(),
            )
        );
    }

    /// Issue 14 §1: a body kept behind its head in the incident's row was read through the
    /// head's overflow pages; the bodies move to `incident_bodies` under the same rows.
    #[test]
    fn incidents_kept_with_their_bodies_in_their_rows_are_read_whole_from_the_bodies_table() {
        let conn = Connection::open_in_memory().expect("open");
        for script in &MIGRATIONS[..14] {
            conn.execute_batch(&script.replace("{MIGRATED_AT}", "0"))
                .expect("migrate to V14");
        }
        conn.pragma_update(None, "user_version", 14)
            .expect("version");
        let body = "{\"id\":\"a\",\"timeline\":[\"ünïcode\"]}".repeat(300);
        for (row, body) in [(3, body.as_str()), (7, "{\"id\":\"b\"}")] {
            conn.execute(
                "INSERT INTO incidents (id, cluster, start_at, end_at, head, body, incident_id, \
                 severity) VALUES (?1, 'prod', ?1, 10, 'head', ?2, 'id', 'error')",
                rusqlite::params![row, body],
            )
            .expect("an incident kept before");
        }
        migrate(&conn).expect("migrate to the latest");
        let read = |row: i64| -> String {
            conn.query_row(crate::incidents::SELECT_BODY, [row], |r| r.get(0))
                .expect("a body by its row")
        };
        assert_eq!(read(3), body);
        assert_eq!(read(7), "{\"id\":\"b\"}");
        let whole: Vec<(String, String)> = conn
            .prepare(crate::incidents::SELECT_ALL)
            .expect("prepare")
            .query_map([0, 100], |r| Ok((r.get(3)?, r.get(4)?)))
            .expect("read")
            .collect::<rusqlite::Result<_>>()
            .expect("read");
        assert_eq!(
            whole,
            [
                ("head".to_string(), body.clone()),
                ("head".to_string(), "{\"id\":\"b\"}".to_string())
            ]
        );
        // The incidents' rows no longer carry them.
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('incidents')")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("columns")
            .collect::<rusqlite::Result<_>>()
            .expect("columns");
        assert!(!columns.iter().any(|c| c == "body"), "{columns:?}");
    }

    #[test]
    fn rows_stored_before_v6_count_as_stored_at_the_upgrade() {
        let conn = Connection::open_in_memory().expect("open");
        for script in &MIGRATIONS[..5] {
            conn.execute_batch(script).expect("migrate to V5");
        }
        conn.pragma_update(None, "user_version", 5)
            .expect("version");
        conn.execute(
            "INSERT INTO occurrences (event_id, ts, count) VALUES (1, 0, 1)",
            [],
        )
        .expect("an old occurrence");
        let before = kubetrail_model::Timestamp::now().as_microsecond();
        migrate(&conn).expect("migrate to the latest");
        let after = kubetrail_model::Timestamp::now().as_microsecond();
        let stored: i64 = conn
            .query_row("SELECT stored_at FROM occurrences", [], |r| r.get(0))
            .expect("stored_at");
        assert!(
            (before..=after).contains(&stored),
            "{before} <= {stored} <= {after}"
        );
    }
}
