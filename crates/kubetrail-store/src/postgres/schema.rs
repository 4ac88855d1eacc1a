//! Schema migrations: an ordered list of SQL scripts; `kubetrail_schema` records how many have
//! been applied. Each runs in its own transaction under an advisory lock, so instances
//! starting together migrate once. A script is never edited once released.
//!
//! Timestamps are BIGINT microseconds since the Unix epoch (as in SQLite: Kubernetes
//! `MicroTime` precision, and the rollup arithmetic is the same integer arithmetic).

use deadpool_postgres::Object;

use crate::{Error, Result};

const V1: &str = "
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    count BIGINT NOT NULL,
    resource_version TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    owner_kind TEXT,
    owner_name TEXT,
    node TEXT,
    template TEXT NOT NULL,
    labels TEXT,
    -- Estimated bytes of the row with its index entries (see stats).
    bytes BIGINT NOT NULL,
    note_tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', note)) STORED,
    UNIQUE (cluster, uid)
);
CREATE INDEX events_last_seen ON events (last_seen, id);
CREATE INDEX events_namespace_reason ON events (namespace, reason, last_seen);
CREATE INDEX events_correlation ON events (correlation_id, last_seen);
CREATE INDEX events_regarding ON events (cluster, reg_namespace, reg_kind, reg_name);
CREATE INDEX events_severity ON events (severity, last_seen);
CREATE INDEX events_note ON events USING GIN (note_tsv);

-- Partitioned by day of ts; days without a partition yet land in the default one until
-- maintenance moves them (see partitions.rs).
CREATE TABLE occurrences (
    event_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    count BIGINT NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE occurrences_default PARTITION OF occurrences DEFAULT;
CREATE INDEX occurrences_ts ON occurrences (ts);
CREATE INDEX occurrences_event ON occurrences (event_id, ts);

CREATE TABLE rollup_hourly (
    bucket BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    correlation TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type, correlation)
);
CREATE TABLE rollup_hourly_coarse (
    bucket BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type)
);
CREATE TABLE rollup_daily_coarse (
    bucket BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, cluster, namespace, kind, reason, category, severity, type)
);

CREATE TABLE placements (
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (cluster, namespace, pod)
);

CREATE TABLE cursors (
    cluster TEXT NOT NULL,
    stream TEXT NOT NULL,
    resource_version TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (cluster, stream)
);

CREATE TABLE gaps (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster TEXT NOT NULL,
    stream TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    cause TEXT NOT NULL
);
CREATE INDEX gaps_ended_at ON gaps (ended_at);

-- Byte deltas, one row per write transaction (no row that concurrent writers fight over);
-- retention folds them into one.
CREATE TABLE size_ledger (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bytes BIGINT NOT NULL
);

CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    event_count BIGINT NOT NULL,
    silenced_by BIGINT,
    events TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (rule, group_key, starts_at)
);
CREATE UNIQUE INDEX alerts_open ON alerts (rule, group_key) WHERE status = 'firing';
CREATE INDEX alerts_starts_at ON alerts (starts_at);

CREATE TABLE alert_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL,
    notifier TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);

CREATE TABLE silences (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
";

/// The history of one object (`explain`, the UI's object page: name and kind, and the
/// namespace unless a Node), newest first, without its cluster: `events_regarding` starts with
/// the cluster, so such a query scanned the whole index (150 ms over 10M events). Built in the migration's transaction: writers wait for it (under
/// 10 s for 10M events on the development machine).
const V2: &str = "
CREATE INDEX events_object ON events (reg_name, reg_kind, last_seen, id);
";

/// When kubetrail stored each event and occurrence (micros): retention counts age from the
/// later of an occurrence's time and this, so an imported dump is kept for the policy's age
/// after its import (`crate::expiry`). Rows stored before this migration count as stored at
/// the migration (the default is evaluated once for them: no table rewrite), so nothing
/// imported earlier goes at the upgrade. The default stays: an older instance still running
/// during a rolling upgrade writes without the column and gets its transaction's time.
const V3: &str = "
ALTER TABLE events ADD COLUMN stored_at BIGINT NOT NULL
    DEFAULT (extract(epoch FROM transaction_timestamp()) * 1000000)::int8;
ALTER TABLE occurrences ADD COLUMN stored_at BIGINT NOT NULL
    DEFAULT (extract(epoch FROM transaction_timestamp()) * 1000000)::int8;
";

/// Events the store refused, kept aside with why, whence and when (`crate::quarantine`); the
/// event as JSON text (`serde_json` escapes NUL, which `text` and `jsonb` cannot hold).
const V4: &str = "
CREATE TABLE quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quarantined_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    error TEXT NOT NULL,
    event TEXT NOT NULL
);
";

/// Changes of watched objects and their last-known states (`crate::changes`, issue 15).
const V5: &str = "
CREATE TABLE changes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster TEXT NOT NULL,
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    at BIGINT NOT NULL,
    op TEXT NOT NULL,
    generation BIGINT,
    resource_version TEXT NOT NULL,
    manager TEXT NOT NULL,
    source TEXT NOT NULL,
    fields TEXT NOT NULL,
    refs TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
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
    generation BIGINT,
    state TEXT NOT NULL,
    synced_at BIGINT NOT NULL,
    PRIMARY KEY (cluster, uid)
);
CREATE INDEX change_states_synced ON change_states (cluster, kind, synced_at);
";

/// Copies refused as identity conflicts (`crate::identity`): per stored `(cluster, uid)` and
/// the namespace and object the copy named, how many and when last (micros).
const V6: &str = "
CREATE TABLE identity_conflicts (
    cluster TEXT NOT NULL,
    uid TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (cluster, uid, namespace, kind, name)
);
";

/// What each watched object references, kept with its state from the first listing on
/// (`ObjectState::references`), and the per-namespace lookup of the workloads that use a
/// ConfigMap or Secret (`ChangeStore::users_of`).
const V7: &str = "
ALTER TABLE change_states ADD COLUMN refs TEXT NOT NULL DEFAULT '[]';
CREATE INDEX change_states_namespace ON change_states (cluster, namespace);
";

/// Incidents kept at ingest (`crate::incidents`): the results, and the spans written since
/// they were computed. Everything stored before is marked dirty, to be analysed once.
const V8: &str = "
CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    cluster TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    head TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incidents_span ON incidents (end_at, start_at);
CREATE TABLE incident_dirty (
    id BIGSERIAL PRIMARY KEY,
    cluster TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT NOT NULL
);
INSERT INTO incident_dirty (cluster, since, until)
    SELECT cluster, MIN(first_seen), MAX(last_seen) FROM events GROUP BY cluster;
";

/// Patterns kept at ingest (`crate::patterns`): one part per pattern key and hour or day, with
/// the sums a read checks the thresholds with, covered by an index (the part itself is read
/// only for patterns over them, by key).
/// Everything stored is marked dirty again, so that the first pass computes the parts.
const V9: &str = "
CREATE TABLE pattern_parts (
    id BIGSERIAL PRIMARY KEY,
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    template TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
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
/// filled from the stored heads: a list is then read without decoding JSON. (Numbered 10: 9 is
/// the patterns kept at ingest, merged from another branch.)
const V10: &str = "
ALTER TABLE incidents
    ADD COLUMN incident_id TEXT NOT NULL DEFAULT '',
    ADD COLUMN subject TEXT NOT NULL DEFAULT '',
    ADD COLUMN severity TEXT NOT NULL DEFAULT 'info',
    ADD COLUMN ongoing BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN event_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN cluster_wide BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN rule TEXT NOT NULL DEFAULT '',
    ADD COLUMN reason TEXT NOT NULL DEFAULT '',
    ADD COLUMN message TEXT NOT NULL DEFAULT '';
UPDATE incidents SET
    incident_id = head::jsonb->>'id',
    subject = head::jsonb->>'subject',
    severity = head::jsonb->>'severity',
    ongoing = head::jsonb->>'status' = 'ongoing',
    event_count = (head::jsonb->>'event_count')::BIGINT,
    cluster_wide = (head::jsonb->>'cluster_wide')::BOOLEAN,
    rule = head::jsonb->'root_cause'->>'rule',
    reason = head::jsonb->'root_cause'->>'reason',
    message = head::jsonb->'root_cause'->>'message';
";

/// Each incident's body in a table of its own, keyed by the incident's row, as on SQLite (the
/// SQL is shared: `crate::incidents`).
const V11: &str = "
CREATE TABLE incident_bodies (
    id BIGINT PRIMARY KEY,
    body TEXT NOT NULL
);
INSERT INTO incident_bodies (id, body) SELECT id, body FROM incidents;
ALTER TABLE incidents DROP COLUMN body;
";

/// Pattern parts without an index by key, as on SQLite (its V16): a read takes each pattern's
/// parts' rows with its totals (`crate::patterns::SELECT_TOTALS`, now with the row in the
/// bucket index) and reads the bodies it needs by their rows; the key index was written at
/// each pattern's place by every replacement and no longer read.
const V12: &str = "
DROP INDEX pattern_parts_key;
DROP INDEX pattern_parts_bucket;
CREATE INDEX pattern_parts_bucket ON pattern_parts
    (span, bucket, cluster, namespace, kind, reason, template, count, first_at, last_at)
    INCLUDE (id);
";

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12];

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) async fn migrate(client: &Object) -> Result<()> {
    // Under the migration lock: `CREATE TABLE IF NOT EXISTS` alone is not safe against another
    // instance creating the table at the same moment ("type kubetrail_schema already exists").
    let created = client
        .batch_execute(
            "BEGIN;
             SELECT pg_advisory_xact_lock(hashtext('kubetrail-migrate:' || current_schema()));
             CREATE TABLE IF NOT EXISTS kubetrail_schema (version BIGINT NOT NULL);
             COMMIT;",
        )
        .await;
    if let Err(e) = created {
        // The pooled connection must not stay inside the failed transaction.
        if let Err(error) = client.batch_execute("ROLLBACK").await {
            tracing::warn!(%error, "cannot roll back the schema table's creation");
        }
        super::ignore_duplicate(e)?;
    }
    for (i, script) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        client.batch_execute("BEGIN").await?;
        let applied = apply(client, version, script).await;
        match applied {
            Ok(true) => {
                client.batch_execute("COMMIT").await?;
                tracing::info!(version, "migrated the PostgreSQL schema");
            }
            Ok(false) => client.batch_execute("ROLLBACK").await?,
            Err(e) => {
                if let Err(error) = client.batch_execute("ROLLBACK").await {
                    tracing::warn!(%error, "cannot roll back a failed migration");
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Applies one script unless it already was; true when it was applied now.
async fn apply(client: &Object, version: i64, script: &str) -> Result<bool> {
    // One migrator per schema at a time; the lock ends with the transaction.
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('kubetrail-migrate:' || current_schema()))",
            &[],
        )
        .await?;
    let found: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM kubetrail_schema",
            &[],
        )
        .await?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found >= version {
        return Ok(false);
    }
    client.batch_execute(script).await?;
    client
        .execute(
            "INSERT INTO kubetrail_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    Ok(true)
}
