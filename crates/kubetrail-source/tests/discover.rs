//! Directory trees: only the files that hold Events are kept, in sorted order.

mod common;

use common::{gzip, real, write};
use kubetrail_source::import::discover;

#[test]
fn a_tree_keeps_only_event_files_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let aws = std::fs::read(real("openshift-must-gather-aws-4.8.events.yaml")).unwrap();
    let velero = std::fs::read(real("sbctl__velero.events.json")).unwrap();
    let array = std::fs::read(real(
        "troubleshoot__support-bundle-2021-03-24__qakots.events.json",
    ))
    .unwrap();
    let kspan = std::fs::read(real("kspan__deployment-2-pods.mixed.yaml")).unwrap();
    // Events, in every shape, under names that say nothing.
    write(root, "z/namespaces/openshift/core/events.yaml", &aws);
    write(root, "a/cluster-resources/events/velero.json", &velero);
    write(root, "a/cluster-resources/events/qakots.txt", &array);
    write(root, "b/watch.log.gz", &gzip(b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"uid\":\"u\"},\"involvedObject\":{\"kind\":\"Pod\"}}}\n"));
    write(root, "b/kspan.yaml", &kspan);
    write(
        root,
        "b/empty-eventlist.json",
        br#"{"kind":"EventList","apiVersion":"v1","items":[]}"#,
    );
    // Not events.
    write(
        root,
        "a/cluster-resources/pods/default.json",
        br#"{"kind":"PodList","apiVersion":"v1","items":[{"kind":"Pod","metadata":{"name":"p"}}]}"#,
    );
    write(
        root,
        "a/cluster-resources/deployments.yaml",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
    );
    write(
        root,
        "README.md",
        b"# A support bundle\n\nSee `events.json` for events.\n",
    );
    write(root, "version.txt", b"4.8.0\n");
    write(root, "empty.json", b"");
    write(
        root,
        "binary.bin",
        &[0u8, 159, 146, 150, 0xff, 0xfe, 1, 2, 3],
    );
    write(root, "b/config.json", br#"{"foo": 1}"#);
    write(root, "b/logs.gz", &gzip(b"2021-08-03 hello\n"));

    let found = discover(&[root.to_path_buf()]).unwrap();
    let kept: Vec<String> = found
        .files
        .iter()
        .map(|f| f.path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        kept,
        [
            "a/cluster-resources/events/qakots.txt",
            "a/cluster-resources/events/velero.json",
            "b/empty-eventlist.json",
            "b/kspan.yaml",
            "b/watch.log.gz",
            "z/namespaces/openshift/core/events.yaml",
        ]
    );
    assert_eq!(found.files[5].size, aws.len() as u64);
    let skipped: Vec<String> = found
        .skipped
        .iter()
        .map(|s| s.path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert_eq!(skipped.len(), 8, "{:#?}", found.skipped);
    for s in &found.skipped {
        assert!(!s.reason.is_empty());
    }
    let reason = |name: &str| {
        found
            .skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .map(|s| s.reason.clone())
            .unwrap()
    };
    assert_eq!(
        reason("deployments.yaml"),
        "no Kubernetes Event (found kind Deployment)"
    );
    assert_eq!(reason("empty.json"), "empty file");
    assert!(skipped.contains(&"b/logs.gz".to_string()));
}

#[test]
fn files_are_kept_as_given_and_missing_paths_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let notes = write(dir.path(), "notes.txt", b"not events");
    let found = discover(std::slice::from_ref(&notes)).unwrap();
    assert_eq!(
        found.files.len(),
        1,
        "a file given by name is read, whatever it holds"
    );
    assert!(found.skipped.is_empty());

    let err = discover(&[dir.path().join("missing")]).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn the_real_dataset_directory_is_all_kept() {
    let found = discover(&[common::dataset()]).unwrap();
    assert_eq!(found.files.len(), 25);
    assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
    assert!(found.skipped[0].path.ends_with("README.md"));
}

/// Issue 15 §2: a must-gather keeps ReplicaSets in `namespaces/<ns>/apps/replicasets.yaml`, a
/// support bundle ControllerRevisions next to its events; they hold no Event but the rollout
/// history of the workloads, so they are kept. ReplicaSets no workload owns are not.
#[test]
fn files_of_replica_sets_and_controller_revisions_of_workloads_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "namespaces/shop/apps/replicasets.yaml",
        br#"apiVersion: apps/v1
kind: ReplicaSetList
items:
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-5d4f8
    namespace: shop
    creationTimestamp: "2026-12-05T10:00:00Z"
    annotations: {deployment.kubernetes.io/revision: "2"}
    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
  spec:
    template: {spec: {containers: [{name: web, image: "nginx:1.28"}]}}
"#,
    );
    write(
        root,
        "cluster-resources/controllerrevisions/data.json",
        br#"[{"apiVersion":"apps/v1","kind":"ControllerRevision","revision":3,
            "metadata":{"name":"db-7f9c","namespace":"data","creationTimestamp":"2026-12-05T10:00:00Z",
              "ownerReferences":[{"kind":"StatefulSet","name":"db","uid":"s1","controller":true}]},
            "data":{"spec":{"template":{"spec":{"containers":[{"name":"pg","image":"postgres:16"}]}}}}}]"#,
    );
    write(
        root,
        "namespaces/shop/apps/orphans.yaml",
        b"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: lone\n  namespace: shop\nspec: {}\n",
    );
    let found = discover(&[root.to_path_buf()]).unwrap();
    let kept: Vec<String> = found
        .files
        .iter()
        .map(|f| f.path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        kept,
        [
            "cluster-resources/controllerrevisions/data.json",
            "namespaces/shop/apps/replicasets.yaml",
        ]
    );
    assert_eq!(found.skipped.len(), 1, "{:#?}", found.skipped);
    assert!(found.skipped[0].path.ends_with("orphans.yaml"));
}
