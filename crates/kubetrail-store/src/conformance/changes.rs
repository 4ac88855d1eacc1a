//! Changes and object states ([`ChangeStore`]): idempotent saves, filters, states, staleness,
//! atomicity with the cursor, expiry.

use std::sync::Arc;

use kubetrail_model::{Change, ChangeFilter, ChangeOp, ChangeSource, FieldChange, ObjectRef};

use super::{days, minute, t0};
use crate::{ChangeBatch, ChangeStore, ObjectState, RetentionPolicy, Store, WatchCursor};

/// Generates one `#[tokio::test]` per change conformance test, each with a fresh store from
/// `$factory` (an async function returning `(Arc<S>, guard)` where `S: Store + ChangeStore`).
#[macro_export]
macro_rules! change_conformance_tests {
    ($factory:expr) => {
        $crate::change_conformance_tests!(@each $factory;
            a_change_is_stored_once_per_uid_and_resource_version_and_reads_back_whole,
            change_filters_select_by_cluster_namespace_kind_name_and_time_newest_first,
            object_states_are_replaced_forgotten_and_found_stale_by_kind,
            a_change_batch_saves_its_cursor_and_gap_with_it,
            expired_changes_go_and_later_ones_stay,
            retention_expires_old_changes_and_the_states_no_watch_keeps_up,
            the_users_of_a_config_map_are_the_states_that_reference_it,
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

fn object(kind: &str, namespace: &str, name: &str, uid: &str) -> ObjectRef {
    ObjectRef {
        api_version: if kind == "Node" || kind == "ConfigMap" {
            "v1".into()
        } else {
            "apps/v1".into()
        },
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: uid.into(),
        field_path: String::new(),
    }
}

/// An image change of deployment `shop/web` (uid `d1`) in cluster `prod` at `minute(m)`.
pub fn image_change(m: i64, rv: &str) -> Change {
    Change {
        cluster: "prod".into(),
        object: object("Deployment", "shop", "web", "d1"),
        at: minute(m),
        op: ChangeOp::Updated,
        generation: Some(m + 1),
        resource_version: rv.into(),
        manager: Some("kubectl-client-side-apply".into()),
        source: ChangeSource::Watch,
        fields: vec![FieldChange {
            path: "containers[web].image".into(),
            before: Some("nginx:1.27".into()),
            after: Some("nginx:1.28 → ✓".into()),
        }],
        references: vec![object("ConfigMap", "shop", "web-config", "")],
    }
}

fn state(kind: &str, name: &str, uid: &str, synced_min: i64) -> ObjectState {
    ObjectState {
        cluster: "prod".into(),
        object: object(kind, if kind == "Node" { "" } else { "shop" }, name, uid),
        resource_version: format!("rv-{uid}-{synced_min}"),
        generation: (kind != "Node").then_some(3),
        state: format!("{{\"name\":\"{name}\",\"m\":{synced_min}}}"),
        synced_at: minute(synced_min),
        references: Vec::new(),
    }
}

pub async fn a_change_is_stored_once_per_uid_and_resource_version_and_reads_back_whole<S>(
    store: Arc<S>,
) where
    S: ChangeStore + ?Sized,
{
    let mut node = image_change(2, "20");
    node.object = object("Node", "", "worker-2", "n1");
    node.generation = None;
    node.manager = None;
    node.source = ChangeSource::Import;
    node.op = ChangeOp::Deleted;
    node.fields.clear();
    node.references.clear();
    let batch = ChangeBatch {
        changes: vec![image_change(1, "10"), node.clone()],
        ..ChangeBatch::default()
    };
    let first = store.save_changes(batch.clone()).await.expect("save");
    assert_eq!((first.new, first.unchanged), (2, 0));
    let again = store.save_changes(batch).await.expect("save again");
    assert_eq!(
        (again.new, again.unchanged),
        (0, 2),
        "a replay stores nothing"
    );
    let all = store
        .changes(&ChangeFilter::default())
        .await
        .expect("changes");
    assert_eq!(
        all,
        vec![node, image_change(1, "10")],
        "newest first, whole"
    );
}

pub async fn change_filters_select_by_cluster_namespace_kind_name_and_time_newest_first<S>(
    store: Arc<S>,
) where
    S: ChangeStore + ?Sized,
{
    let mut other_cluster = image_change(3, "30");
    other_cluster.cluster = "staging".into();
    let mut config = image_change(4, "40");
    config.object = object("ConfigMap", "shop", "web-config", "c1");
    let mut other_ns = image_change(5, "50");
    other_ns.object = object("Deployment", "blog", "web", "d2");
    let changes = vec![
        image_change(1, "10"),
        image_change(2, "20"),
        other_cluster.clone(),
        config.clone(),
        other_ns.clone(),
    ];
    store
        .save_changes(ChangeBatch {
            changes,
            ..ChangeBatch::default()
        })
        .await
        .expect("save");
    let rvs = |found: Vec<Change>| -> Vec<String> {
        found.into_iter().map(|c| c.resource_version).collect()
    };
    let pick = |f: ChangeFilter| {
        let store = Arc::clone(&store);
        async move { rvs(store.changes(&f).await.expect("changes")) }
    };
    assert_eq!(
        pick(ChangeFilter::default()).await,
        ["50", "40", "30", "20", "10"]
    );
    let clusters = ChangeFilter {
        clusters: vec!["staging".into()],
        ..ChangeFilter::default()
    };
    assert_eq!(pick(clusters).await, ["30"]);
    let namespaces = ChangeFilter {
        namespaces: vec!["blog".into()],
        ..ChangeFilter::default()
    };
    assert_eq!(pick(namespaces).await, ["50"]);
    let kinds = ChangeFilter {
        kinds: vec!["ConfigMap".into()],
        ..ChangeFilter::default()
    };
    assert_eq!(pick(kinds).await, ["40"]);
    let names = ChangeFilter {
        names: vec!["web".into()],
        clusters: vec!["prod".into()],
        ..ChangeFilter::default()
    };
    assert_eq!(pick(names).await, ["50", "20", "10"]);
    let window = ChangeFilter {
        since: Some(minute(2)),
        until: Some(minute(4)),
        ..ChangeFilter::default()
    };
    assert_eq!(
        pick(window).await,
        ["30", "20"],
        "since included, until not"
    );
    let limited = ChangeFilter {
        limit: 2,
        ..ChangeFilter::default()
    };
    assert_eq!(
        pick(limited).await,
        ["50", "40"],
        "the newest under a limit"
    );
}

pub async fn object_states_are_replaced_forgotten_and_found_stale_by_kind<S>(store: Arc<S>)
where
    S: ChangeStore + ?Sized,
{
    let web = state("Deployment", "web", "d1", 1);
    let api = state("Deployment", "api", "d2", 1);
    let node = state("Node", "worker-1", "n1", 1);
    store
        .save_changes(ChangeBatch {
            states: vec![web.clone(), api.clone(), node.clone()],
            ..ChangeBatch::default()
        })
        .await
        .expect("save states");
    let uids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut found = store
        .object_states("prod", &uids(&["d1", "n1", "unknown"]))
        .await
        .expect("states");
    found.sort_by(|a, b| a.object.uid.cmp(&b.object.uid));
    assert_eq!(found, vec![web.clone(), node.clone()]);
    assert!(
        store
            .object_states("staging", &uids(&["d1"]))
            .await
            .expect("states")
            .is_empty(),
        "states are per cluster"
    );

    // A listing at minute 5 saw web again (replaced) but not api: api is stale, the node is
    // another kind.
    let web2 = state("Deployment", "web", "d1", 5);
    store
        .save_changes(ChangeBatch {
            states: vec![web2.clone()],
            ..ChangeBatch::default()
        })
        .await
        .expect("replace");
    assert_eq!(
        store.object_states("prod", &uids(&["d1"])).await.unwrap(),
        vec![web2]
    );
    let stale = store
        .stale_states("prod", "Deployment", minute(5), 100)
        .await
        .expect("stale");
    assert_eq!(stale, vec![api.clone()]);
    store
        .save_changes(ChangeBatch {
            forget: vec![("prod".into(), "d2".into())],
            ..ChangeBatch::default()
        })
        .await
        .expect("forget");
    assert!(
        store
            .stale_states("prod", "Deployment", minute(5), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .object_states("prod", &uids(&["d2"]))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_change_batch_saves_its_cursor_and_gap_with_it<S>(store: Arc<S>)
where
    S: ChangeStore + Store + ?Sized,
{
    let cursor = WatchCursor {
        cluster: "prod".into(),
        stream: "changes/deployments".into(),
        resource_version: "77".into(),
        updated_at: minute(3),
    };
    let gap = crate::Gap {
        cluster: "prod".into(),
        stream: "changes/deployments".into(),
        from: minute(1),
        to: minute(2),
        cause: "resourceVersion expired (410 Gone)".into(),
    };
    store
        .save_changes(ChangeBatch {
            changes: vec![image_change(2, "77")],
            cursor: Some(cursor.clone()),
            gap: Some(gap.clone()),
            ..ChangeBatch::default()
        })
        .await
        .expect("save");
    assert_eq!(
        store.cursor("prod", "changes/deployments").await.unwrap(),
        Some(cursor)
    );
    assert_eq!(store.gaps(Some(t0()), None).await.unwrap(), vec![gap]);
}

pub async fn expired_changes_go_and_later_ones_stay<S>(store: Arc<S>)
where
    S: ChangeStore + ?Sized,
{
    store
        .save_changes(ChangeBatch {
            changes: vec![
                image_change(1, "1"),
                image_change(2, "2"),
                image_change(3, "3"),
            ],
            ..ChangeBatch::default()
        })
        .await
        .expect("save");
    assert_eq!(
        store.expire_changes(minute(3)).await.expect("expire"),
        (2, 0)
    );
    let left = store.changes(&ChangeFilter::default()).await.unwrap();
    assert_eq!(left, vec![image_change(3, "3")]);
}

/// Regression: the retention task never called `expire_changes`, so changes, and the states of
/// objects whose resource is no longer watched, stayed whatever the retention age.
pub async fn retention_expires_old_changes_and_the_states_no_watch_keeps_up<S>(store: Arc<S>)
where
    S: ChangeStore + Store + ?Sized,
{
    let now = t0() + days(40);
    let mut recent = image_change(2, "2");
    recent.at = now - days(1);
    // Deployments are still watched (their stream saved a cursor an hour ago): the state of
    // `web`, unchanged for 40 days, is what its next change is diffed against. ConfigMaps are
    // no longer tracked (their stream's last cursor is 39 days old).
    let watched = WatchCursor {
        cluster: "prod".into(),
        stream: "changes/deployments".into(),
        resource_version: "900".into(),
        updated_at: now - jiff::SignedDuration::from_hours(1),
    };
    let untracked = WatchCursor {
        stream: "changes/configmaps".into(),
        updated_at: minute(2),
        ..watched.clone()
    };
    let mut node = state("Node", "worker-1", "n1", 0);
    node.synced_at = now - days(2);
    store
        .save_changes(ChangeBatch {
            changes: vec![image_change(1, "1"), recent.clone()],
            states: vec![
                state("Deployment", "web", "d1", 1),
                state("ConfigMap", "web-config", "c1", 1),
                node,
            ],
            cursor: Some(untracked),
            ..ChangeBatch::default()
        })
        .await
        .expect("save");
    store
        .save_changes(ChangeBatch {
            cursor: Some(watched),
            ..ChangeBatch::default()
        })
        .await
        .expect("save the cursor");
    let policy = RetentionPolicy {
        max_age: days(30),
        ..RetentionPolicy::default()
    };
    let report = store
        .apply_retention(&policy, now)
        .await
        .expect("retention");
    assert_eq!(
        (report.changes_deleted, report.change_states_deleted),
        (1, 1),
        "{report:?}"
    );
    let left = store.changes(&ChangeFilter::default()).await.unwrap();
    assert_eq!(left, vec![recent]);
    let uids = |states: Vec<ObjectState>| {
        let mut u: Vec<String> = states.into_iter().map(|s| s.object.uid).collect();
        u.sort();
        u
    };
    let kept = store
        .object_states("prod", &["c1".into(), "d1".into(), "n1".into()])
        .await
        .unwrap();
    assert_eq!(uids(kept), ["d1", "n1"]);
}

pub async fn the_users_of_a_config_map_are_the_states_that_reference_it<S>(store: Arc<S>)
where
    S: ChangeStore + ?Sized,
{
    let config = object("ConfigMap", "shop", "web-config", "");
    let mut web = state("Deployment", "web", "d1", 1);
    web.references = vec![config.clone(), object("Secret", "shop", "db", "")];
    let mut api = state("Deployment", "api", "d2", 1);
    // A name that only starts the same, and a Secret of the same name (the JSON pattern
    // finds that one; the check of the kind drops it).
    api.references = vec![
        object("ConfigMap", "shop", "web-config-old", ""),
        object("Secret", "shop", "web-config", ""),
    ];
    let mut elsewhere = state("Deployment", "web", "d3", 1);
    elsewhere.object.namespace = "other".into();
    elsewhere.references = vec![object("ConfigMap", "other", "web-config", "")];
    store
        .save_changes(ChangeBatch {
            states: vec![web.clone(), api, elsewhere],
            ..ChangeBatch::default()
        })
        .await
        .expect("save");
    let users = store.users_of("prod", &config).await.expect("users");
    assert_eq!(users, vec![web.object.clone()]);
    let back = store
        .object_states("prod", &["d1".into()])
        .await
        .expect("states");
    assert_eq!(back, vec![web]);
    assert!(store.users_of("dev", &config).await.unwrap().is_empty());
}
