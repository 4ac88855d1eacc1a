//! The behaviour every [`Store`] backend must have, written once and run against each of them
//! (like quickwit's `metastore_test_suite!`).
//!
//! A backend instantiates every test with
//! [`store_conformance_tests!`](crate::store_conformance_tests), giving an async factory that
//! returns a fresh, empty store and a guard kept alive for the test (a temporary directory, a
//! database schema to drop):
//!
//! ```no_run
//! use std::sync::Arc;
//! use kubetrail_store::{SqliteStore, Store};
//!
//! async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
//!     let dir = tempfile::tempdir().expect("a temporary directory");
//!     let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("open");
//!     (Arc::new(store), dir)
//! }
//! kubetrail_store::store_conformance_tests!(sqlite);
//! # fn main() {}
//! ```
//!
//! These are tests: they panic on failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::SignedDuration;
use kubetrail_model::{
    AggregateQuery, AggregateRow, Category, Dimension, Event, EventFilter, ObjectRef, Severity,
    Timestamp,
};

use crate::{Page, Store, StoredEvent, WriteSummary};

mod aggregates;
mod alerts;
mod bulk;
mod changes;
mod incidents;
mod occurrences;
mod patterns;
mod postgres;
mod quarantine;
mod queries;
mod relinks;
mod retention;
mod text;
mod writes;
mod written;

pub use aggregates::*;
pub use alerts::*;
pub use bulk::*;
pub use changes::*;
pub use incidents::*;
pub use occurrences::*;
pub use patterns::*;
pub use postgres::{
    DEFAULT_TEST_POSTGRES_URL, SchemaGuard, fresh_postgres_schema, fresh_postgres_store,
    test_postgres_url, with_database,
};
pub use quarantine::*;
pub use queries::*;
pub use relinks::*;
pub use retention::*;
pub use text::*;
pub use writes::*;
pub use written::*;

/// Generates one `#[tokio::test]` per conformance test, each with a fresh store from `$factory`
/// (an async function returning `(Arc<dyn Store>, guard)`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@each $factory;
            new_events_are_stored_once_and_a_repeated_batch_is_unchanged,
            count_increases_become_occurrences_with_exact_window_counts,
            a_second_copy_in_one_batch_adds_only_its_count_increase,
            the_same_uid_about_another_object_is_a_conflict_not_an_update,
            identity_conflicts_are_counted_in_the_stats,
            a_rolled_back_transaction_leaves_neither_events_nor_cursor,
            a_cursor_saved_with_a_batch_reads_back_and_later_saves_replace_it,
            gaps_are_kept_with_their_batch_and_found_by_time,
            every_field_of_an_event_round_trips,
            each_query_filter_selects_only_matching_events,
            query_times_select_events_overlapping_the_range,
            search_matches_words_of_notes_and_bad_syntax_is_an_invalid_query,
            paging_walks_every_event_newest_first_without_overlap_or_gaps,
            aggregate_groups_by_dimensions_and_interval_buckets,
            aggregate_filters_apply_and_an_empty_interval_is_invalid,
            updated_events_take_the_newer_note_and_processing_fields,
            a_pod_event_with_a_node_fills_the_node_of_the_pods_other_events,
            a_relink_moves_an_objects_stored_events_and_their_counts_to_the_learned_owner,
            retention_by_age_deletes_old_events_and_old_occurrences_of_kept_events,
            retention_by_severity_uses_the_override_ages,
            retention_by_size_deletes_the_oldest_events_until_the_store_fits,
            retention_removes_old_resolved_alerts_ended_silences_and_gaps,
            retention_keeps_old_history_that_was_just_imported,
            retention_counts_age_from_when_history_was_stored,
            a_retention_dry_run_reports_what_would_go_and_deletes_nothing,
            stats_count_events_occurrences_and_their_time_range,
            occurrences_in_a_range_come_with_their_events_latest_first,
            occurrences_apply_filters_and_keep_the_latest_events_under_a_limit,
            analysis_occurrences_are_the_occurrences_without_what_analysis_never_reads,
            occurrences_in_pages_are_the_occurrences_read_at_once_in_order,
            alerts_are_saved_with_their_deliveries_and_read_back_whole,
            an_open_alert_is_updated_in_place_and_a_second_one_for_its_group_merges_into_it,
            alert_filters_select_by_status_rule_group_time_and_limit,
            due_deliveries_follow_retry_times_and_leases_and_final_states_stick,
            due_deliveries_are_limited_per_notifier_so_a_backlog_hides_nothing,
            silences_are_saved_found_by_time_and_ended_by_saving_them_again,
            a_nul_in_any_text_is_stored_as_the_nul_symbol_on_every_backend,
            a_megabyte_reason_and_a_note_over_a_megabyte_are_stored_cut_with_a_marker,
            a_write_returns_its_new_events_with_the_occurrences_it_stored,
            a_repeat_with_a_higher_count_returns_only_its_increase,
            a_replayed_batch_returns_nothing_written,
            an_identity_conflict_returns_nothing_written,
            an_event_without_an_interval_is_written_at_its_last_seen,
            a_bulk_write_commits_what_a_plain_write_does_into_an_empty_store_and_a_full_one,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

/// 2024-05-01T00:00:00Z, the start of every test's timeline.
pub fn t0() -> Timestamp {
    Timestamp::from_second(1_714_521_600).expect("a valid timestamp")
}

/// `t0()` plus some minutes.
pub fn minute(m: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(m)
}

/// A Warning `BackOff` event about pod `default/web-1`, seen `count` times, the last at
/// `last_seen` and the first `count - 1` minutes earlier.
pub fn event(uid: &str, last_seen: Timestamp, count: u64) -> Event {
    let first_seen = last_seen - SignedDuration::from_mins(count.saturating_sub(1) as i64);
    Event {
        cluster: "prod".into(),
        uid: uid.into(),
        namespace: "default".into(),
        name: format!("web-1.{uid}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "web-1".into(),
            uid: "pod-uid-1".into(),
            field_path: String::new(),
        },
        related: None,
        reason: "BackOff".into(),
        note: "Back-off restarting failed container app in pod web-1".into(),
        type_: "Warning".into(),
        action: String::new(),
        reporting_controller: "kubelet".into(),
        reporting_instance: String::new(),
        first_seen,
        last_seen,
        count,
        resource_version: "1".into(),
        category: Category::Crash,
        severity: Severity::Error,
        correlation_id: "Deployment/web".into(),
        owner: None,
        node: None,
        template: "Back-off restarting failed container <*> in pod <*>".into(),
        labels: BTreeMap::new(),
    }
}

/// Writes a batch as stored at `t0()`, the start of every test's timeline: the events of
/// these tests are live ones, whose age counts from their own times (see `crate::expiry`).
async fn write(store: &Arc<dyn Store>, events: Vec<Event>) -> WriteSummary {
    write_stored_at(store, events, t0()).await
}

/// Writes a batch as if stored at `stored_at`.
pub async fn write_stored_at(
    store: &Arc<dyn Store>,
    events: Vec<Event>,
    stored_at: Timestamp,
) -> WriteSummary {
    let mut txn = store.begin_at(stored_at).await.expect("begin");
    let written = txn.write(events).await.expect("write");
    txn.commit().await.expect("commit");
    written.summary
}

async fn all(store: &Arc<dyn Store>, filter: EventFilter) -> Vec<StoredEvent> {
    store.query(&filter, &Page::default()).await.expect("query")
}

fn uids(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.uid.as_str()).collect()
}

fn sorted_uids(events: &[StoredEvent]) -> BTreeSet<&str> {
    events.iter().map(|e| e.event.uid.as_str()).collect()
}

async fn total(store: &Arc<dyn Store>, since: Option<Timestamp>, until: Option<Timestamp>) -> u64 {
    let q = AggregateQuery {
        filter: EventFilter {
            since,
            until,
            ..EventFilter::default()
        },
        ..AggregateQuery::default()
    };
    let rows = store.aggregate(&q).await.expect("aggregate");
    assert!(rows.len() <= 1, "one group without group_by: {rows:?}");
    rows.first().map_or(0, |r| r.count)
}

fn row(key: &[(Dimension, &str)], bucket: Option<Timestamp>, count: u64) -> AggregateRow {
    AggregateRow {
        key: key.iter().map(|(d, v)| (*d, Some(v.to_string()))).collect(),
        bucket,
        count,
    }
}

type Key = Vec<(Dimension, Option<String>)>;

/// The same aggregation grouped additionally by name (which no rollup keeps) and summed back:
/// a second way to count that a backend with rollups must agree with.
pub async fn assert_rollups_match_occurrences(store: &Arc<dyn Store>, filter: &EventFilter) {
    use Dimension::*;
    let groupings: [&[Dimension]; 4] = [
        &[],
        &[Reason],
        &[Namespace, Severity],
        &[Category, Correlation, Kind],
    ];
    for group_by in groupings {
        for interval in [
            None,
            Some(SignedDuration::from_hours(1)),
            Some(SignedDuration::from_hours(3)),
        ] {
            let q = AggregateQuery {
                filter: filter.clone(),
                group_by: group_by.to_vec(),
                interval,
                limit: None,
            };
            let direct = store.aggregate(&q).await.expect("aggregate");
            let mut by_name = q.clone();
            by_name.group_by.push(Name);
            let mut summed: HashMap<(Key, Option<Timestamp>), u64> = HashMap::new();
            for mut r in store.aggregate(&by_name).await.expect("aggregate") {
                r.key.pop();
                *summed.entry((r.key, r.bucket)).or_insert(0) += r.count;
            }
            let mut summed: Vec<AggregateRow> = summed
                .into_iter()
                .map(|((key, bucket), count)| AggregateRow { key, bucket, count })
                .collect();
            summed.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.key.cmp(&b.key))
                    .then_with(|| a.bucket.cmp(&b.bucket))
            });
            assert_eq!(
                direct, summed,
                "group by {group_by:?}, interval {interval:?}"
            );
        }
    }
}

fn placed(uid: &str, namespace: &str, reason: &str, at: i64, count: u64) -> Event {
    let mut e = event(uid, minute(at), count);
    e.namespace = namespace.into();
    e.regarding.namespace = namespace.into();
    e.reason = reason.into();
    e
}

fn days(d: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * d)
}
