//! Patterns kept at ingest (issue 14 §1): the [`PatternStore`] role and the SQL both backends
//! share.
//!
//! A pattern sums its events over a window (`kubetrail_analyze::PatternPart`), and the sums of
//! disjoint spans add up exactly. So the maintainer (`kubetrail_query::maintain_patterns`, in
//! the same pass as the incidents, over the same dirty ranges) keeps one part per pattern key
//! and hour, computed from the stored events, and per key and day, merged from the hours; a
//! read merges the days and hours a window covers and reads raw events only for its ragged
//! edges and what is still dirty. The store does not read a part: it keeps it as opaque JSON
//! text with the dimensions a read filters on.
//!
//! Table (SQLite migration 13, PostgreSQL 9): `pattern_parts` (span, bucket, the key: cluster,
//! namespace, kind, reason, template; the sums: count, first_at, last_at; body). A read first
//! reads the sums of every part it covers, and decodes only the parts of the patterns that
//! pass the thresholds. The migrations mark every stored event's span dirty, so a
//! store written before them gets its parts from the first maintainer pass.

use std::collections::HashMap;

use async_trait::async_trait;
use kubetrail_model::{EventFilter, Timestamp};

use crate::Result;
use crate::plan::{DAY_MICROS, HOUR_MICROS};
use crate::rows::RowLike;

/// How long the bucket of a kept part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartSpan {
    /// One hour, starting on the hour (UTC).
    Hour,
    /// One day, starting at midnight UTC.
    Day,
}

impl PartSpan {
    /// The length in microseconds (the `span` column).
    pub fn micros(self) -> i64 {
        match self {
            PartSpan::Hour => HOUR_MICROS,
            PartSpan::Day => DAY_MICROS,
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: Timestamp) -> Timestamp {
        let us = t.as_microsecond();
        Timestamp::from_microsecond(us - us.rem_euclid(self.micros()))
            .expect("a bucket start is in range")
    }
}

/// What a pattern groups by, as the store keeps it next to a part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartKey {
    /// The cluster.
    pub cluster: String,
    /// The Event's namespace.
    pub namespace: String,
    /// The regarding object's kind.
    pub kind: String,
    /// The reason.
    pub reason: String,
    /// The message template.
    pub template: String,
}

impl PartKey {
    /// Whether `filter` keeps the parts of this key, by its clusters, namespaces, kinds and
    /// reasons (the filter's other terms are not the store's to answer here: see
    /// [`parts_can_answer`]).
    pub fn matches(&self, filter: &EventFilter) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        any(&filter.clusters, &self.cluster)
            && any(&filter.namespaces, &self.namespace)
            && any(&filter.kinds, &self.kind)
            && any(&filter.reasons, &self.reason)
    }
}

/// A kept part's sums that decide whether its pattern recurs: read without the part itself, so
/// that a read decodes only the parts of patterns over the thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSum {
    /// The start of its bucket.
    pub bucket: Timestamp,
    /// Its pattern's key.
    pub key: PartKey,
    /// Occurrences.
    pub count: u64,
    /// The earliest occurrence.
    pub first: Timestamp,
    /// The latest occurrence.
    pub last: Timestamp,
}

/// A pattern key's sums over every kept part of a span of buckets: occurrences added, the
/// earliest first and the latest last (what decides whether the pattern recurs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTotal {
    /// The pattern's key.
    pub key: PartKey,
    /// Occurrences.
    pub count: u64,
    /// The earliest occurrence.
    pub first: Timestamp,
    /// The latest occurrence.
    pub last: Timestamp,
    /// The rows of its parts, oldest bucket first: their bodies are read by them
    /// ([`PatternStore::pattern_bodies`]).
    pub parts: Vec<i64>,
}

/// One kept part: its sums, and the part itself as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPatternPart {
    /// Its bucket, key and sums.
    pub sum: PartSum,
    /// The part, as JSON.
    pub body: String,
}

/// Whether kept parts answer `filter`: it narrows only by the dimensions a pattern groups by
/// (cluster, namespace, kind, reason). Any other term (a name, a severity, a search…) selects
/// events inside a pattern: the read then analyses raw events.
pub fn parts_can_answer(filter: &EventFilter) -> bool {
    filter.names.is_empty()
        && filter.categories.is_empty()
        && filter.severities.is_empty()
        && filter.types.is_empty()
        && filter.correlations.is_empty()
        && filter.nodes.is_empty()
        && filter.search.is_none()
}

/// Where pattern parts computed at ingest are kept. Implemented by
/// [`SqliteStore`](crate::SqliteStore) and [`PostgresStore`](crate::PostgresStore); the dirty
/// ranges are the incidents' ([`IncidentStore`](crate::IncidentStore)), cleared once both are
/// maintained.
#[async_trait]
pub trait PatternStore: Send + Sync {
    /// The sums of the parts of `span` whose bucket starts in `[from, to]`, oldest bucket
    /// first.
    async fn pattern_sums(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PartSum>>;

    /// Each key's sums ([`KeyTotal`]) over the parts of `span` whose bucket starts in
    /// `[from, to]`, with the rows of those parts, in no particular order: one per key,
    /// however many buckets.
    async fn pattern_totals(
        &self,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<KeyTotal>>;

    /// The parts (JSON) stored in `rows` ([`KeyTotal::parts`]; each row once), each with its
    /// row, in the order of `rows`; a row no longer stored (a pass replaced it since it was
    /// read) is left out.
    async fn pattern_bodies(&self, rows: &[i64]) -> Result<Vec<(i64, String)>>;

    /// The parts of `cluster` and `span` whose bucket starts in `[from, to]`, oldest bucket
    /// first.
    async fn pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredPatternPart>>;

    /// In one transaction: deletes the parts of `cluster` of `span` whose bucket starts in
    /// `[from, to]`, and stores `parts` (each of `cluster`) instead.
    async fn replace_pattern_parts(
        &self,
        cluster: &str,
        span: PartSpan,
        from: Timestamp,
        to: Timestamp,
        parts: Vec<StoredPatternPart>,
    ) -> Result<()>;
}

// SQLite numbers `$n` parameters in the order they first appear: each statement names them
// in increasing order, so that both backends bind the same values by position.

/// The sums of the parts of span `$1` whose bucket is in `[$2, $3]` (columns in
/// [`part_sum`]'s order).
pub(crate) const SELECT_SUMS: &str = "SELECT bucket, cluster, namespace, kind, reason, template, \
     count, first_at, last_at FROM pattern_parts \
     WHERE span = $1 AND bucket >= $2 AND bucket <= $3 ORDER BY bucket, id";

/// The key, sums, bucket and row of the parts of span `$1` whose bucket is in `[$2, $3]`, in
/// the order of the covering index `pattern_parts_bucket` (no sort; on SQLite the row is in
/// the index): added up per key by [`Totals`].
pub(crate) const SELECT_TOTALS: &str = "SELECT cluster, namespace, kind, reason, template, \
     count, first_at, last_at, bucket, id FROM pattern_parts \
     WHERE span = $1 AND bucket >= $2 AND bucket <= $3";

/// The rows and bodies of the parts whose row is in `$1` (an array; PostgreSQL).
pub(crate) const SELECT_BODIES_PG: &str = "SELECT id, body FROM pattern_parts WHERE id = ANY($1)";

/// A part's body by its row (SQLite).
pub(crate) const SELECT_BODY: &str = "SELECT body FROM pattern_parts WHERE id = $1";

/// Adds up the rows of [`SELECT_TOTALS`] per key as a read steps through them, borrowing each
/// row's key and allocating it only the first time it is seen (a 30-day read steps through
/// ~50,000 day parts of ~1,600 keys on the 1M store).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Where each key (as [`Totals::probe`] spells it) is in `out`.
    at: HashMap<Vec<u8>, usize, foldhash::fast::RandomState>,
    out: Vec<KeyTotal>,
    /// The bucket and row of each part of `out`'s keys, by key.
    parts: Vec<Vec<(i64, i64)>>,
    /// The key being looked up ([`spell_key`]; no copy kept but of a new key).
    probe: Vec<u8>,
}

impl Totals {
    /// Adds one row of [`SELECT_TOTALS`].
    pub(crate) fn add(&mut self, row: &impl RowLike) -> Result<()> {
        let key = [
            row.text_bytes(0)?,
            row.text_bytes(1)?,
            row.text_bytes(2)?,
            row.text_bytes(3)?,
            row.text_bytes(4)?,
        ];
        let count = count(row.i64(5)?)?;
        let first = micros(row.i64(6)?, "pattern_parts.first_at")?;
        let last = micros(row.i64(7)?, "pattern_parts.last_at")?;
        let part = (row.i64(8)?, row.i64(9)?);
        spell_key(&mut self.probe, key);
        if let Some(&i) = self.at.get(self.probe.as_slice()) {
            let t = &mut self.out[i];
            t.count += count;
            t.first = t.first.min(first);
            t.last = t.last.max(last);
            self.parts[i].push(part);
            return Ok(());
        }
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec()).map_err(|e| crate::Error::Corrupt {
                column: "pattern_parts key",
                value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })
        };
        let [cluster, namespace, kind, reason, template] = key;
        let key = PartKey {
            cluster: text(cluster)?,
            namespace: text(namespace)?,
            kind: text(kind)?,
            reason: text(reason)?,
            template: text(template)?,
        };
        self.at.insert(self.probe.clone(), self.out.len());
        self.out.push(KeyTotal {
            key,
            count,
            first,
            last,
            parts: Vec::new(),
        });
        self.parts.push(vec![part]);
        Ok(())
    }

    /// The totals, one per key, in the order their keys were first seen, each with its parts'
    /// rows by bucket (then row: as a read by bucket and id gives them).
    pub(crate) fn into_totals(self) -> Vec<KeyTotal> {
        let mut out = self.out;
        for (t, mut parts) in out.iter_mut().zip(self.parts) {
            parts.sort_unstable();
            t.parts = parts.into_iter().map(|(_, row)| row).collect();
        }
        out
    }
}

/// Spells a key into `out` (cleared first) as [`Totals`] looks it up: each
/// part's length (8 bytes), then the part's bytes (unambiguous; the length not formatted as
/// text, which was a sixth of a 30-day read's CPU).
fn spell_key(out: &mut Vec<u8>, key: [&[u8]; 5]) {
    out.clear();
    for part in key {
        out.extend_from_slice(&part.len().to_le_bytes());
        out.extend_from_slice(part);
    }
}

/// The parts of span `$1` and cluster `$4` whose bucket is in `[$2, $3]`: the sums, then the
/// body.
pub(crate) const SELECT_PARTS: &str = "SELECT bucket, cluster, namespace, kind, reason, template, \
     count, first_at, last_at, body FROM pattern_parts \
     WHERE span = $1 AND bucket >= $2 AND bucket <= $3 AND cluster = $4 ORDER BY bucket, id";

/// Deletes the parts of span `$1` and cluster `$2` whose bucket is in `[$3, $4]`.
pub(crate) const DELETE_PARTS: &str = "DELETE FROM pattern_parts \
     WHERE span = $1 AND cluster = $2 AND bucket >= $3 AND bucket <= $4";

/// `found` in the order of the index `pattern_parts_bucket` (the bucket, then the key), the
/// order a replacement inserts them in: each row then goes after the last (the pass moves
/// forward through time), in the table as in that index, the one index of the table besides
/// its rows (a day's hour parts are found hour by hour, each hour's keys in no order).
/// Reads order the parts of one bucket by id, and merge them by key.
pub(crate) fn in_bucket_order(found: &mut [StoredPatternPart]) {
    found.sort_unstable_by(|a, b| (a.sum.bucket, &a.sum.key).cmp(&(b.sum.bucket, &b.sum.key)));
}

/// Stores one part: `($1 span, $2 bucket, $3 cluster, $4 namespace, $5 kind, $6 reason,
/// $7 template, $8 count, $9 first_at, $10 last_at, $11 body)`.
pub(crate) const INSERT_PART: &str = "INSERT INTO pattern_parts \
     (span, bucket, cluster, namespace, kind, reason, template, count, first_at, last_at, body) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// A part's sums as read: `bucket, cluster, namespace, kind, reason, template, count,
/// first_at, last_at` (micros and text, as both backends return them).
pub(crate) type SumRow = (i64, String, String, String, String, String, i64, i64, i64);

/// A [`SumRow`] checked.
pub(crate) fn part_sum(row: SumRow) -> Result<PartSum> {
    let (bucket, cluster, namespace, kind, reason, template, count, first, last) = row;
    Ok(PartSum {
        bucket: micros(bucket, "pattern_parts.bucket")?,
        key: PartKey {
            cluster,
            namespace,
            kind,
            reason,
            template,
        },
        count: self::count(count)?,
        first: micros(first, "pattern_parts.first_at")?,
        last: micros(last, "pattern_parts.last_at")?,
    })
}

/// The values of [`INSERT_PART`]'s `$2` to `$10` for `p` (micros, and the count as stored).
pub(crate) fn part_values(p: &PartSum) -> (i64, i64, i64, i64) {
    (
        p.bucket.as_microsecond(),
        i64::try_from(p.count).unwrap_or(i64::MAX),
        p.first.as_microsecond(),
        p.last.as_microsecond(),
    )
}

fn count(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| crate::Error::Corrupt {
        column: "pattern_parts.count",
        value: v.to_string(),
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

    #[test]
    fn a_bucket_starts_on_the_hour_or_at_midnight_also_before_1970() {
        let t: Timestamp = "2024-05-01T13:45:12.5Z".parse().unwrap();
        assert_eq!(PartSpan::Hour.floor(t).to_string(), "2024-05-01T13:00:00Z");
        assert_eq!(PartSpan::Day.floor(t).to_string(), "2024-05-01T00:00:00Z");
        let early: Timestamp = "1969-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(
            PartSpan::Hour.floor(early).to_string(),
            "1969-12-31T23:00:00Z"
        );
    }

    #[test]
    fn totals_tell_keys_apart_whose_parts_only_join_alike() {
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
        let mut stmt = conn
            .prepare(
                "SELECT 'a', 'bc', 'Pod', 'r', 't', 2, 5, 9, 20, 1 \
                 UNION ALL SELECT 'ab', 'c', 'Pod', 'r', 't', 3, 1, 4, 5, 2 \
                 UNION ALL SELECT 'a', 'bc', 'Pod', 'r', 't', 4, 3, 7, 10, 3",
            )
            .expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        let mut totals = Totals::default();
        while let Some(row) = rows.next().expect("row") {
            totals.add(row).expect("a valid row");
        }
        let got: Vec<(String, String, u64, i64, i64, Vec<i64>)> = totals
            .into_totals()
            .into_iter()
            .map(|t| {
                (
                    t.key.cluster,
                    t.key.namespace,
                    t.count,
                    t.first.as_microsecond(),
                    t.last.as_microsecond(),
                    t.parts,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".into(), "bc".into(), 6, 3, 9, vec![3, 1]),
                ("ab".into(), "c".into(), 3, 1, 4, vec![2])
            ],
            "each key's parts' rows, oldest bucket first"
        );
    }

    #[test]
    fn a_key_that_is_not_utf8_is_named_as_corrupt() {
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
        let mut stmt = conn
            .prepare("SELECT 'a', CAST(x'ff' AS TEXT), 'Pod', 'r', 't', 1, 0, 0, 0, 1")
            .expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        let row = rows.next().expect("row").expect("one row");
        let err = Totals::default().add(row).expect_err("not UTF-8");
        assert!(
            matches!(
                err,
                crate::Error::Corrupt {
                    column: "pattern_parts key",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn only_the_dimensions_a_pattern_groups_by_are_answered_by_parts() {
        let mut f = EventFilter {
            clusters: vec!["a".into()],
            namespaces: vec!["ns".into()],
            kinds: vec!["Pod".into()],
            reasons: vec!["BackOff".into()],
            ..EventFilter::default()
        };
        assert!(parts_can_answer(&f));
        f.names = vec!["web-1".into()];
        assert!(!parts_can_answer(&f));
        let part = PartKey {
            cluster: "a".into(),
            namespace: "ns".into(),
            kind: "Pod".into(),
            reason: "BackOff".into(),
            template: "Back-off restarting failed container".into(),
        };
        assert!(part.matches(&f));
        f.reasons = vec!["Failed".into()];
        assert!(!part.matches(&f));
    }
}
