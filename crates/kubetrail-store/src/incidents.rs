//! Incidents kept at ingest (issue 14 §1): the [`IncidentStore`] role and the SQL both backends
//! share.
//!
//! Every write marks the time span of what it changed as *dirty* for its cluster, in the same
//! transaction as the events (`incident_dirty`: one row per cluster and write); relinks mark the
//! span of the events they move. A maintainer (`kubetrail_query::maintain_incidents`) reads the
//! dirty ranges, recomputes the incidents around them from the stored events with the unchanged
//! analysis, and replaces the stored incidents of that span in one transaction
//! ([`IncidentStore::replace_incidents`]); readers then read results
//! ([`IncidentStore::stored_incidents`]) instead of raw events. The store does not know the
//! incident's shape: it keeps each as opaque JSON text with its cluster and time span.
//!
//! Tables (SQLite migration 12, PostgreSQL 8): `incidents` (cluster, start, end, head, body) and
//! `incident_dirty` (cluster, since, until). SQLite migration 14 / PostgreSQL 10 add what a
//! list of incidents shows and sorts by as columns ([`IncidentSummary`]), filled from the
//! stored heads, so that a list is read without decoding JSON ([`IncidentStore::incident_lines`]). SQLite migration 15 / PostgreSQL 11 move the bodies
//! into a table of their own, `incident_bodies` (id, body), keyed by the incident's row: a list
//! of bodies reads only their pages. SQLite migrations 12 and 13 (PostgreSQL 8 and 9) mark
//! every stored event's span dirty, so a store written before them is analysed by the first
//! maintainer pass.

use std::collections::HashMap;

use async_trait::async_trait;
use kubetrail_model::{Severity, Timestamp};

use crate::{Result, RetentionReport, Written};

/// A time span whose stored incidents may be stale: something in it was written since the
/// last maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyRange {
    /// Its row, to clear once maintained ([`IncidentStore::clear_dirty`]).
    pub id: i64,
    /// The cluster written to.
    pub cluster: String,
    /// The earliest `first_seen` of what was written.
    pub since: Timestamp,
    /// The latest `last_seen` of what was written.
    pub until: Timestamp,
}

/// What a list of incidents shows of one and sorts by, kept in columns (the same values as in
/// its JSON, which the store does not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSummary {
    /// The incident's id.
    pub id: String,
    /// What it is about.
    pub subject: String,
    /// Its severity.
    pub severity: Severity,
    /// Whether it was ongoing when computed.
    pub ongoing: bool,
    /// Occurrences of its events.
    pub event_count: u64,
    /// Whether one cause hit many workloads.
    pub cluster_wide: bool,
    /// The root cause's rule.
    pub rule: String,
    /// The root cause's reason.
    pub reason: String,
    /// The root cause's message.
    pub message: String,
}

/// One stored incident: its cluster and span, and the incident itself as JSON text (the
/// analysis's own format; the store does not read it), whole and as its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIncident {
    /// The cluster its events come from.
    pub cluster: String,
    /// When its first failure began.
    pub start: Timestamp,
    /// When its last failure was last seen.
    pub end: Timestamp,
    /// What a list shows of it ([`IncidentStore::incident_lines`]).
    pub summary: IncidentSummary,
    /// The incident without its longest lists (timeline, objects), as JSON: what a list of
    /// incidents reads ([`IncidentStore::incident_heads`]).
    pub head: String,
    /// The incident, as JSON.
    pub body: String,
}

/// The head of a stored incident ([`StoredIncident::head`]), with its row to read the whole
/// incident by ([`IncidentStore::incident_bodies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentHead {
    /// Its row.
    pub row: i64,
    /// The cluster its events come from.
    pub cluster: String,
    /// When its first failure began.
    pub start: Timestamp,
    /// When its last failure was last seen.
    pub end: Timestamp,
    /// The incident without its longest lists, as JSON.
    pub head: String,
}

/// What a list shows of a stored incident ([`StoredIncident::summary`]), with its row to read
/// the whole incident by ([`IncidentStore::incident_bodies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentLine {
    /// Its row.
    pub row: i64,
    /// The cluster its events come from.
    pub cluster: String,
    /// When its first failure began.
    pub start: Timestamp,
    /// When its last failure was last seen.
    pub end: Timestamp,
    /// What a list shows of it.
    pub summary: IncidentSummary,
}

/// Whole stored incidents read together ([`IncidentStore::incident_bodies_into`]): their JSON
/// texts one after another in one buffer, with their rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentBodies {
    text: Vec<u8>,
    /// Each body's row and where its text ends in `text`.
    ends: Vec<(i64, usize)>,
}

impl IncidentBodies {
    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Appends the body of `row`.
    pub fn push(&mut self, row: i64, body: &[u8]) {
        self.text.extend_from_slice(body);
        self.ends.push((row, self.text.len()));
    }

    /// How many bodies it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Its bodies in order, as `(row, JSON text)`.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[u8])> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(row, end)| {
            let body = &self.text[start..end];
            start = end;
            (row, body)
        })
    }
}

/// Where incidents computed at ingest are kept. Implemented by
/// [`SqliteStore`](crate::SqliteStore) and [`PostgresStore`](crate::PostgresStore); one
/// conformance suite ([`incident_conformance_tests!`](crate::incident_conformance_tests)) runs
/// on both.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// The ranges marked dirty and not cleared yet, oldest first.
    async fn dirty_ranges(&self) -> Result<Vec<DirtyRange>>;

    /// The stored incidents of `cluster` (`None`: every cluster) whose `[start, end]` overlaps
    /// `[since, until]`, oldest start first.
    async fn stored_incidents(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredIncident>>;

    /// The heads of the stored incidents of `cluster` (`None`: every cluster) whose
    /// `[start, end]` overlaps `[since, until]`, oldest start first.
    async fn incident_heads(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentHead>>;

    /// What a list shows of the stored incidents of `cluster` (`None`: every cluster) whose
    /// `[start, end]` overlaps `[since, until]`, oldest start first: columns only, no JSON.
    async fn incident_lines(
        &self,
        cluster: Option<&str>,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<IncidentLine>>;

    /// The whole incidents (JSON) of `rows` ([`IncidentHead::row`]) that are still stored, as
    /// `(row, body)`.
    async fn incident_bodies(&self, rows: Vec<i64>) -> Result<Vec<(i64, String)>>;

    /// [`IncidentStore::incident_bodies`] into one buffer: `into` is cleared and given back
    /// with the bodies of `rows` still stored, in the order of `rows`, its memory reused (a
    /// list read chunk after chunk allocates no text per body, and none per chunk once its
    /// buffers have grown).
    async fn incident_bodies_into(
        &self,
        rows: Vec<i64>,
        mut into: IncidentBodies,
    ) -> Result<IncidentBodies> {
        into.clear();
        for (row, body) in self.incident_bodies(rows).await? {
            into.push(row, body.as_bytes());
        }
        Ok(into)
    }

    /// In one transaction: deletes the stored incidents of `cluster` whose span overlaps
    /// `[since, until]`, but those starting before `keep_before`, and stores `found` (each of
    /// `cluster`) instead.
    async fn replace_incidents(
        &self,
        cluster: &str,
        since: Timestamp,
        until: Timestamp,
        keep_before: Option<Timestamp>,
        found: Vec<StoredIncident>,
    ) -> Result<()> {
        let replaced = Replaced {
            since,
            until,
            keep_before,
        };
        self.replace_incidents_keeping(cluster, replaced, Vec::new(), found)
            .await
    }

    /// [`IncidentStore::replace_incidents`] of what `replaced` covers, where the caller found
    /// the incidents of ids `unchanged` again as the store holds them: those stay as stored
    /// (the latest row of each, if the store holds more), and `found` holds the others (issue
    /// 14 §1: a maintenance pass found most of what it replaced unchanged, and wrote it again).
    /// An id of `unchanged` that `replaced` does not cover is [`Error::NotKept`](crate::Error::NotKept), and
    /// nothing is changed.
    async fn replace_incidents_keeping(
        &self,
        cluster: &str,
        replaced: Replaced,
        unchanged: Vec<String>,
        found: Vec<StoredIncident>,
    ) -> Result<()>;

    /// Clears dirty ranges by id (those a maintainer read before it recomputed their span).
    async fn clear_dirty(&self, ids: Vec<i64>) -> Result<()>;
}

/// Marks `$1`'s span `[$2, $3]` dirty.
pub(crate) const INSERT_DIRTY: &str =
    "INSERT INTO incident_dirty (cluster, since, until) VALUES ($1, $2, $3)";

/// Every dirty range, oldest first.
pub(crate) const SELECT_DIRTY: &str =
    "SELECT id, cluster, since, until FROM incident_dirty ORDER BY id";

/// Clears one dirty range by id.
pub(crate) const DELETE_DIRTY: &str = "DELETE FROM incident_dirty WHERE id = $1";

/// The stored incidents overlapping `[$1, $2]`, of every cluster: cluster, span, head and
/// body, then the summary (in the order of [`IncidentSummary`]'s fields).
pub(crate) const SELECT_ALL: &str = "SELECT i.cluster, i.start_at, i.end_at, i.head, b.body, \
     i.incident_id, i.subject, i.severity, i.ongoing, i.event_count, i.cluster_wide, i.rule, \
     i.reason, i.message FROM incidents i JOIN incident_bodies b ON b.id = i.id \
     WHERE i.end_at >= $1 AND i.start_at <= $2 ORDER BY i.start_at, i.id";

/// The stored incidents of cluster `$3` overlapping `[$1, $2]`.
pub(crate) const SELECT_CLUSTER: &str = "SELECT i.cluster, i.start_at, i.end_at, i.head, b.body, \
     i.incident_id, i.subject, i.severity, i.ongoing, i.event_count, i.cluster_wide, i.rule, \
     i.reason, i.message FROM incidents i JOIN incident_bodies b ON b.id = i.id \
     WHERE i.end_at >= $1 AND i.start_at <= $2 AND i.cluster = $3 ORDER BY i.start_at, i.id";

/// The heads of the stored incidents overlapping `[$1, $2]`, of every cluster.
pub(crate) const SELECT_HEADS_ALL: &str = "SELECT id, cluster, start_at, end_at, head \
     FROM incidents WHERE end_at >= $1 AND start_at <= $2 ORDER BY start_at, id";

/// The heads of the stored incidents of cluster `$3` overlapping `[$1, $2]`.
pub(crate) const SELECT_HEADS_CLUSTER: &str = "SELECT id, cluster, start_at, end_at, head \
     FROM incidents WHERE end_at >= $1 AND start_at <= $2 AND cluster = $3 \
     ORDER BY start_at, id";

/// What a list shows of the stored incidents overlapping `[$1, $2]`, of every cluster: the
/// row, cluster and span, then the summary (in the order of [`IncidentSummary`]'s fields).
pub(crate) const SELECT_LINES_ALL: &str = "SELECT id, cluster, start_at, end_at, incident_id, \
     subject, severity, ongoing, event_count, cluster_wide, rule, reason, message \
     FROM incidents WHERE end_at >= $1 AND start_at <= $2 ORDER BY start_at, id";

/// What a list shows of the stored incidents of cluster `$3` overlapping `[$1, $2]`.
pub(crate) const SELECT_LINES_CLUSTER: &str = "SELECT id, cluster, start_at, end_at, \
     incident_id, subject, severity, ongoing, event_count, cluster_wide, rule, reason, message \
     FROM incidents WHERE end_at >= $1 AND start_at <= $2 AND cluster = $3 \
     ORDER BY start_at, id";

/// The whole incident of row `$1` (its body, kept in a table of its own: read behind its
/// head in one row, each body was reached through the head's overflow pages, and the heads and
/// lines were spread over the pages of the bodies).
pub(crate) const SELECT_BODY: &str = "SELECT body FROM incident_bodies WHERE id = $1";

/// The stored incidents of cluster `$3` overlapping `[$1, $2]` that start at or after `$4`
/// (what a replacement covers): row and incident id.
pub(crate) const SELECT_REPLACED: &str = "SELECT id, incident_id FROM incidents \
     WHERE end_at >= $1 AND start_at <= $2 AND cluster = $3 AND start_at >= $4";

/// Deletes the stored incident of row `$1` (after its body, `DELETE_BODY`).
pub(crate) const DELETE_INCIDENT: &str = "DELETE FROM incidents WHERE id = $1";

/// Deletes the body of the stored incident of row `$1`.
pub(crate) const DELETE_BODY: &str = "DELETE FROM incident_bodies WHERE id = $1";

/// Stores one incident but its body: `($1 cluster, $2 start, $3 end, $4 head)`, then its
/// summary (`$5`… in the order of [`IncidentSummary`]'s fields); returns its row, to store the
/// body under (`INSERT_BODY`).
pub(crate) const INSERT_INCIDENT: &str = "INSERT INTO incidents (cluster, start_at, end_at, head, \
     incident_id, subject, severity, ongoing, event_count, cluster_wide, rule, reason, \
     message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";

/// Stores the body `$2` of the incident of row `$1`.
pub(crate) const INSERT_BODY: &str = "INSERT INTO incident_bodies (id, body) VALUES ($1, $2)";

/// Per cluster, the span (micros) of what a write changed: from the earliest `first_seen` to
/// the latest `last_seen` of the events that added occurrences. An incident is made of events'
/// `[first_seen, last_seen]` spans, so that is what can have changed.
pub(crate) fn dirty_spans(written: &Written) -> Vec<(String, i64, i64)> {
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for w in &written.events {
        let e = &w.added.event;
        let a = e.first_seen.as_microsecond();
        widen(&mut out, &e.cluster, a, e.last_seen.as_microsecond().max(a));
    }
    out
}

/// Per cluster, the span (micros) of the occurrences retention deleted.
pub(crate) fn deleted_spans(report: &RetentionReport) -> Vec<(String, i64, i64)> {
    report
        .clusters
        .iter()
        .filter_map(|(cluster, r)| {
            Some((
                cluster.clone(),
                r.oldest?.as_microsecond(),
                r.newest?.as_microsecond(),
            ))
        })
        .collect()
}

/// Widens the span of `cluster` in `spans` (see [`dirty_spans`]) to take in `[a, b]`.
pub(crate) fn widen(spans: &mut Vec<(String, i64, i64)>, cluster: &str, a: i64, b: i64) {
    match spans.iter_mut().find(|(c, _, _)| c == cluster) {
        Some(span) => {
            span.1 = span.1.min(a);
            span.2 = span.2.max(b);
        }
        None => spans.push((cluster.to_string(), a, b)),
    }
}

/// A summary as read (`incident_id` to `message`), before its severity and count are checked.
pub(crate) struct SummaryRow {
    pub id: String,
    pub subject: String,
    pub severity: String,
    pub ongoing: bool,
    pub event_count: i64,
    pub cluster_wide: bool,
    pub rule: String,
    pub reason: String,
    pub message: String,
}

impl SummaryRow {
    fn into_summary(self) -> Result<IncidentSummary> {
        let severity = self.severity.parse().map_err(|_| crate::Error::Corrupt {
            column: "incidents.severity",
            value: self.severity.clone(),
        })?;
        let event_count = u64::try_from(self.event_count).map_err(|_| crate::Error::Corrupt {
            column: "incidents.event_count",
            value: self.event_count.to_string(),
        })?;
        Ok(IncidentSummary {
            id: self.id,
            subject: self.subject,
            severity,
            ongoing: self.ongoing,
            event_count,
            cluster_wide: self.cluster_wide,
            rule: self.rule,
            reason: self.reason,
            message: self.message,
        })
    }
}

/// The summary's values as `INSERT_INCIDENT` binds them (`$6`…): severity as its name, count
/// as a signed integer.
pub(crate) fn summary_values(s: &IncidentSummary) -> (&'static str, i64) {
    (
        s.severity.as_str(),
        i64::try_from(s.event_count).unwrap_or(i64::MAX),
    )
}

/// A row of `incidents` as read (`cluster, start_at, end_at, head, body`, then the summary),
/// before its values are checked.
pub(crate) struct IncidentRow {
    pub cluster: String,
    pub start: i64,
    pub end: i64,
    pub head: String,
    pub body: String,
    pub summary: SummaryRow,
}

impl IncidentRow {
    pub(crate) fn into_incident(self) -> Result<StoredIncident> {
        Ok(StoredIncident {
            cluster: self.cluster,
            start: micros(self.start, "incidents.start_at")?,
            end: micros(self.end, "incidents.end_at")?,
            summary: self.summary.into_summary()?,
            head: self.head,
            body: self.body,
        })
    }
}

/// A line of `incidents` as read (`id, cluster, start_at, end_at`, then the summary).
pub(crate) struct LineRow {
    pub row: i64,
    pub cluster: String,
    pub start: i64,
    pub end: i64,
    pub summary: SummaryRow,
}

impl LineRow {
    pub(crate) fn into_line(self) -> Result<IncidentLine> {
        Ok(IncidentLine {
            row: self.row,
            cluster: self.cluster,
            start: micros(self.start, "incidents.start_at")?,
            end: micros(self.end, "incidents.end_at")?,
            summary: self.summary.into_summary()?,
        })
    }
}

/// A head of `incidents` as read (`id, cluster, start_at, end_at, head`).
pub(crate) fn incident_head(
    row: i64,
    cluster: String,
    start: i64,
    end: i64,
    head: String,
) -> Result<IncidentHead> {
    Ok(IncidentHead {
        row,
        cluster,
        start: micros(start, "incidents.start_at")?,
        end: micros(end, "incidents.end_at")?,
        head,
    })
}

/// What a replacement of stored incidents deletes: those of its cluster whose span overlaps
/// `[since, until]`, but those starting before `keep_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    /// The start of the span replaced.
    pub since: Timestamp,
    /// Its end.
    pub until: Timestamp,
    /// Stored incidents starting before it stay (`None`: none stays).
    pub keep_before: Option<Timestamp>,
}

impl Replaced {
    /// `(since, until, keep_before)` in micros, as `SELECT_REPLACED` binds them (`$1`, `$2`,
    /// `$4`).
    pub(crate) fn micros(&self) -> (i64, i64, i64) {
        (
            self.since.as_microsecond(),
            self.until.as_microsecond(),
            keep_before_micros(self.keep_before),
        )
    }
}

/// The rows of the stored incidents a replacement covers (`SELECT_REPLACED`: row and
/// incident id) that it deletes: all but the latest row of each incident kept `unchanged`.
/// One of `unchanged` not covered is [`Error::NotKept`]: the replacement would lose it.
pub(crate) fn rows_replaced(
    cluster: &str,
    covered: Vec<(i64, String)>,
    unchanged: &[String],
) -> Result<Vec<i64>> {
    let mut kept: HashMap<&str, i64> = unchanged.iter().map(|id| (id.as_str(), i64::MIN)).collect();
    for (row, id) in &covered {
        if let Some(latest) = kept.get_mut(id.as_str()) {
            *latest = (*latest).max(*row);
        }
    }
    if let Some((id, _)) = kept.iter().find(|(_, row)| **row == i64::MIN) {
        return Err(crate::Error::NotKept {
            cluster: cluster.to_string(),
            id: (*id).to_string(),
        });
    }
    Ok(covered
        .iter()
        .filter(|(row, id)| kept.get(id.as_str()) != Some(row))
        .map(|(row, _)| *row)
        .collect())
}

/// `keep_before` as `SELECT_REPLACED`'s `$4` (micros): nothing kept when `None`.
pub(crate) fn keep_before_micros(keep_before: Option<Timestamp>) -> i64 {
    keep_before.map_or(i64::MIN, |t| t.as_microsecond())
}

/// A row of `incident_dirty` as read (`id, cluster, since, until`).
pub(crate) fn dirty_range(id: i64, cluster: String, since: i64, until: i64) -> Result<DirtyRange> {
    Ok(DirtyRange {
        id,
        cluster,
        since: micros(since, "incident_dirty.since")?,
        until: micros(until, "incident_dirty.until")?,
    })
}

fn micros(v: i64, column: &'static str) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|_| crate::Error::Corrupt {
        column,
        value: v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(rows: &[(i64, &str)]) -> Vec<(i64, String)> {
        rows.iter().map(|&(r, id)| (r, id.to_string())).collect()
    }

    #[test]
    fn a_replacement_deletes_all_it_covers_but_the_latest_row_of_each_incident_kept() {
        let rows = covered(&[(1, "a"), (2, "b"), (3, "a"), (4, "c")]);
        assert_eq!(
            rows_replaced("prod", rows.clone(), &["a".into()]).expect("rows"),
            [1, 2, 4]
        );
        assert_eq!(
            rows_replaced("prod", rows, &[]).expect("rows"),
            [1, 2, 3, 4]
        );
        let refused = rows_replaced("prod", covered(&[(1, "a")]), &["a".into(), "z".into()]);
        assert!(
            matches!(&refused, Err(crate::Error::NotKept { id, .. }) if id == "z"),
            "{refused:?}"
        );
    }
}
