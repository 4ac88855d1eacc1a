//! Change tracking's live stage (issue 15): the change watches of one cluster
//! (`kubetrail-source::watch::watch_changes`, one per resource) → this tracker → the store.
//!
//! Per batch the tracker reads the last-known states of the batch's objects from the store,
//! diffs (`kubetrail-process::change::observe`) and saves the changes found, the new states and
//! the stream's cursor in one transaction (`ChangeStore::save_changes`): memory is one batch,
//! whatever the number of watched objects. A listing's first sight of an object is its
//! baseline (no change), unless the object was created after the stream's last cursor; at the
//! end of a listing, the stored objects it did not see are recorded as deleted.
//!
//! The tracker runs as its own task with its own channel, so a flood of object updates never
//! holds up the Event pipeline (only the store's writer is shared, and unchanged objects write
//! nothing).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use kubetrail_model::{Change, ChangeOp, ChangeSource, Timestamp};
use kubetrail_process::change::{Previous, Seen, State, observe};
use kubetrail_source::watch::{Batch, Observed, TrackedResource};
use kubetrail_store::{
    ChangeBatch, ChangeStore, ChangeSummary, EventSink, Gap, ObjectState, WatchCursor,
};
use tracing::{info, warn};

/// Stale states handled per store call at the end of a listing.
const STALE_CHUNK: usize = 1_000;

/// The tracker of one cluster's change streams.
pub struct ChangeTracker {
    cluster: String,
    store: Arc<dyn EventSink>,
    changes: Arc<dyn ChangeStore>,
    /// Per stream: when its last cursor was saved (from the store at start).
    synced: HashMap<String, Option<Timestamp>>,
    /// Per stream being listed: when its listing began.
    listing: HashMap<String, Timestamp>,
}

impl ChangeTracker {
    pub fn new(cluster: &str, store: Arc<dyn EventSink>, changes: Arc<dyn ChangeStore>) -> Self {
        ChangeTracker {
            cluster: cluster.to_owned(),
            store,
            changes,
            synced: HashMap::new(),
            listing: HashMap::new(),
        }
    }

    /// When the stream last saved a cursor, read from the store the first time it is asked.
    async fn synced_at(&mut self, stream: &str) -> Result<Option<Timestamp>> {
        if let Some(t) = self.synced.get(stream) {
            return Ok(*t);
        }
        let cursor = self.store.cursor(&self.cluster, stream).await?;
        let t = cursor.map(|c| c.updated_at);
        self.synced.insert(stream.to_owned(), t);
        Ok(t)
    }

    /// Diffs one batch against the stored states and saves what it finds, with the cursor.
    pub async fn apply(&mut self, batch: &Batch<Observed>) -> Result<ChangeSummary> {
        let now = Timestamp::now();
        let stream = batch.stream.clone();
        let since = self.synced_at(&stream).await?;
        if batch.listed {
            self.listing.entry(stream.clone()).or_insert(now);
        }
        let mut uids: Vec<String> = batch
            .events
            .iter()
            .map(|o| o.snapshot.object.uid.clone())
            .collect();
        uids.sort();
        uids.dedup();
        // A batch of the cursor alone (the watch skipped status-only updates) reads nothing.
        let stored = match uids.is_empty() {
            true => Vec::new(),
            false => self
                .changes
                .object_states(&self.cluster, &uids)
                .await
                .context("cannot read the objects' last states")?,
        };
        let mut known: HashMap<String, (Option<State>, Option<i64>)> = stored
            .into_iter()
            .map(|s| {
                (
                    s.object.uid.clone(),
                    (State::from_text(&s.state), s.generation),
                )
            })
            .collect();
        let mut out = ChangeBatch::default();
        for seen in &batch.events {
            let snap = &seen.snapshot;
            let uid = snap.object.uid.clone();
            let how = match (seen.deleted, batch.listed) {
                (true, _) => Seen::Deleted,
                (false, true) => Seen::Listed { since },
                (false, false) => Seen::Watched,
            };
            let previous = known.get(&uid).and_then(|(state, generation)| {
                state.as_ref().map(|state| Previous {
                    state,
                    generation: *generation,
                })
            });
            let unchanged =
                previous.is_some_and(|p| p.state == &snap.state && p.generation == snap.generation);
            if let Some(mut change) = observe(&self.cluster, previous, snap, how, now) {
                self.name_users(&mut change).await?;
                out.changes.push(change);
            }
            if seen.deleted {
                out.forget.push((self.cluster.clone(), uid.clone()));
                out.states.retain(|s| s.object.uid != uid);
                known.remove(&uid);
                continue;
            }
            if batch.listed || !unchanged {
                out.states.retain(|s| s.object.uid != uid);
                out.states.push(ObjectState {
                    cluster: self.cluster.clone(),
                    object: snap.object.clone(),
                    resource_version: snap.resource_version.clone(),
                    generation: snap.generation,
                    state: snap.state.to_text(),
                    synced_at: now,
                    references: snap.references.clone(),
                });
                known.insert(uid, (Some(snap.state.clone()), snap.generation));
            }
        }
        out.gap = batch.gap.as_ref().map(|notice| Gap {
            cluster: self.cluster.clone(),
            stream: stream.clone(),
            from: since.unwrap_or(now),
            to: now,
            cause: format!(
                "{} (resourceVersion {})",
                notice.cause, notice.expired_version
            ),
        });
        let listing_done = batch.listed && batch.cursor.is_some();
        let list_version = batch.cursor.clone();
        out.cursor = batch.cursor.clone().map(|resource_version| WatchCursor {
            cluster: self.cluster.clone(),
            stream: stream.clone(),
            resource_version,
            updated_at: now,
        });
        let saved_cursor = out.cursor.is_some();
        let mut summary = self
            .changes
            .save_changes(out)
            .await
            .context("cannot save changes")?;
        if saved_cursor {
            self.synced.insert(stream.clone(), Some(now));
        }
        if listing_done && let Some(started) = self.listing.remove(&stream) {
            let version = list_version.unwrap_or_default();
            let gone = self
                .record_unlisted(&stream, started, &version, now)
                .await?;
            summary.new += gone;
        }
        Ok(summary)
    }

    /// A change of a ConfigMap or Secret names, as its references, the workloads whose stored
    /// states use it (kept from their first listing on), so that it is linked to their
    /// failures even when none of them changed since and no event names it.
    async fn name_users(&self, change: &mut Change) -> Result<()> {
        if !matches!(change.object.kind.as_str(), "ConfigMap" | "Secret")
            || change.op == ChangeOp::Created
        {
            return Ok(());
        }
        change.references = self
            .changes
            .users_of(&self.cluster, &change.object)
            .await
            .context("cannot read which workloads use the object")?;
        Ok(())
    }

    /// After a listing that began at `started`: the stored objects of the stream's kind it did
    /// not see were deleted while nobody watched. Each is recorded as deleted (identified by the
    /// listing's resourceVersion) and its state forgotten.
    async fn record_unlisted(
        &self,
        stream: &str,
        started: Timestamp,
        version: &str,
        now: Timestamp,
    ) -> Result<u64> {
        let Some(resource) = stream
            .strip_prefix("changes/")
            .and_then(TrackedResource::parse)
        else {
            return Ok(0);
        };
        let mut recorded = 0;
        loop {
            let stale = self
                .changes
                .stale_states(&self.cluster, resource.kind(), started, STALE_CHUNK)
                .await?;
            if stale.is_empty() {
                return Ok(recorded);
            }
            let mut batch = ChangeBatch::default();
            for s in stale {
                batch
                    .forget
                    .push((self.cluster.clone(), s.object.uid.clone()));
                let mut change = Change {
                    cluster: self.cluster.clone(),
                    object: s.object,
                    at: now,
                    op: ChangeOp::Deleted,
                    generation: s.generation,
                    resource_version: format!("{version} (relist)"),
                    manager: None,
                    source: ChangeSource::Watch,
                    fields: Vec::new(),
                    references: Vec::new(),
                };
                self.name_users(&mut change).await?;
                batch.changes.push(change);
            }
            recorded += self.changes.save_changes(batch).await?.new;
        }
    }
}

/// Runs the tracker over the batches of `rx` until every change watch has stopped. A batch the
/// store cannot take is retried with backoff (the watches wait meanwhile: the channel is
/// bounded) until `cancel`; one left then is not lost: its cursor was not saved, so the next
/// start watches from before it.
pub async fn run(
    mut tracker: ChangeTracker,
    mut rx: tokio::sync::mpsc::Receiver<Batch<Observed>>,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<()> {
    while let Some(batch) = rx.recv().await {
        let mut delay = std::time::Duration::from_millis(200);
        loop {
            match tracker.apply(&batch).await {
                Ok(summary) => {
                    if summary.new > 0 {
                        info!(cluster = %tracker.cluster, stream = %batch.stream, changes = summary.new, "changes recorded");
                    }
                    break;
                }
                Err(error) => {
                    warn!(cluster = %tracker.cluster, stream = %batch.stream, error = %format!("{error:#}"), "cannot record changes; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::ChangeFilter;
    use kubetrail_process::change::snapshot;
    use kubetrail_source::watch::GapNotice;
    use kubetrail_store::{EventReader, SqliteStore};
    use serde_json::json;

    fn config_map(name: &str, uid: &str, rv: &str, value: &str) -> Observed {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop", "uid": uid, "resourceVersion": rv,
                "creationTimestamp": "2020-01-01T00:00:00Z"},
            "data": {"k": value}});
        Observed {
            snapshot: snapshot(&v).expect("snapshot"),
            deleted: false,
        }
    }

    fn batch(items: Vec<Observed>, listed: bool, cursor: &str) -> Batch<Observed> {
        Batch {
            stream: "changes/configmaps".into(),
            events: items,
            cursor: Some(cursor.into()),
            gap: None,
            listed,
        }
    }

    fn deployment_using(config: &str) -> Observed {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "d1", "resourceVersion": "5",
                "generation": 1, "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web",
                "image": "web:1", "envFrom": [{"configMapRef": {"name": config}}]}]}}}});
        Observed {
            snapshot: snapshot(&v).expect("snapshot"),
            deleted: false,
        }
    }

    /// Regression: the first listing (the baseline) kept no record of what a workload
    /// references, so a later edit of its ConfigMap could not be linked to it unless the
    /// workload itself changed or an event named the ConfigMap.
    #[tokio::test]
    async fn a_config_map_change_names_the_workloads_the_baseline_saw_using_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path().join("k.db")).expect("open"));
        let mut tracker = ChangeTracker::new("prod", store.clone(), store.clone());
        let mut listed = batch(vec![deployment_using("app-config")], true, "6");
        listed.stream = "changes/deployments".into();
        tracker.apply(&listed).await.expect("list deployments");
        let configs = vec![
            config_map("app-config", "c1", "2", "x"),
            config_map("other", "c2", "3", "y"),
        ];
        tracker
            .apply(&batch(configs, true, "6"))
            .await
            .expect("list configmaps");
        let all = ChangeFilter::default();
        assert!(store.changes(&all).await.unwrap().is_empty(), "a baseline");

        let edits = vec![
            config_map("app-config", "c1", "7", "x2"),
            config_map("other", "c2", "8", "y2"),
        ];
        tracker
            .apply(&batch(edits, false, "8"))
            .await
            .expect("watch");
        let changes = store.changes(&all).await.unwrap();
        let users = |name: &str| -> Vec<String> {
            let c = changes.iter().find(|c| c.object.name == name).expect(name);
            c.references
                .iter()
                .map(|r| format!("{}/{}/{}", r.namespace, r.kind, r.name))
                .collect()
        };
        assert_eq!(users("app-config"), ["shop/Deployment/web"], "{changes:#?}");
        assert!(users("other").is_empty(), "{changes:#?}");
    }

    #[tokio::test]
    async fn a_relist_after_410_records_what_changed_and_what_went_while_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path().join("k.db")).expect("open"));
        let mut tracker = ChangeTracker::new("prod", store.clone(), store.clone());
        let all = ChangeFilter::default();

        // The first listing is the baseline: nothing recorded.
        let first = vec![
            config_map("a", "ua", "1", "x"),
            config_map("b", "ub", "2", "y"),
        ];
        tracker.apply(&batch(first, true, "2")).await.expect("list");
        assert!(store.changes(&all).await.unwrap().is_empty());

        // A status-free repeat of the same object on the watch records nothing either.
        let same = vec![config_map("a", "ua", "3", "x")];
        tracker
            .apply(&batch(same, false, "3"))
            .await
            .expect("watch");
        assert!(store.changes(&all).await.unwrap().is_empty());

        // The watch expired (410): the relist sees `a` changed and `b` gone.
        let mut relist = batch(vec![config_map("a", "ua", "9", "z")], true, "9");
        relist.gap = Some(GapNotice {
            expired_version: "3".into(),
            cause: "resourceVersion expired (410 Gone)".into(),
        });
        tracker.apply(&relist).await.expect("relist");
        let changes = store.changes(&all).await.unwrap();
        let mut summary: Vec<(String, ChangeOp)> = changes
            .iter()
            .map(|c| (c.object.name.clone(), c.op))
            .collect();
        summary.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            summary,
            [
                ("a".to_string(), ChangeOp::Updated),
                ("b".to_string(), ChangeOp::Deleted)
            ],
            "{changes:#?}"
        );
        assert_eq!(changes.len(), 2, "{changes:#?}");
        let a = changes.iter().find(|c| c.object.name == "a").expect("a");
        assert_eq!(a.fields[0].path, "data.k");
        let gaps = store.gaps(None, None).await.unwrap();
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].stream, "changes/configmaps");
        assert!(
            store
                .object_states("prod", &["ub".into()])
                .await
                .unwrap()
                .is_empty()
        );

        // The same relist again (a replay) records nothing twice.
        tracker.apply(&relist).await.expect("replay");
        assert_eq!(store.changes(&all).await.unwrap().len(), 2);
    }
}
