//! Every file of the real dataset reads with the Event count its README gives.

mod common;

use common::{expected_counts, read, real};

#[test]
fn every_real_file_reads_with_the_documented_event_count() {
    let expected = expected_counts();
    assert_eq!(expected.len(), 25, "the README lists 25 files");
    let mut failures = Vec::new();
    for (name, &(events, normal, warning)) in &expected {
        let got = read(&real(name));
        let count = (got.events.len() + got.skipped_events()) as u64;
        let types = |t: &str| got.events.iter().filter(|e| e.type_ == t).count() as u64;
        if let Some(e) = &got.error {
            failures.push(format!("{name}: {e}"));
        } else if count != events || got.skipped_events() != 0 {
            failures.push(format!(
                "{name}: {} events + {} skipped events, expected {events}; skipped: {:?}",
                got.events.len(),
                got.skipped_events(),
                got.skipped.iter().take(3).collect::<Vec<_>>()
            ));
        } else if (types("Normal"), types("Warning")) != (normal, warning) {
            failures.push(format!(
                "{name}: Normal/Warning {}/{}, expected {normal}/{warning}",
                types("Normal"),
                types("Warning")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_aws_must_gather_yaml_has_5373_events_with_their_lines() {
    let path = real("openshift-must-gather-aws-4.8.events.yaml");
    let got = read(&path);
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.events.len(), 5373);
    assert!(got.skipped.is_empty());
    // The first item of the first document starts on line 8.
    let first = kubetrail_source::import::read_file(&path, "c")
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let kubetrail_source::import::Item::Event { event, location } = first else {
        panic!("{first:?}")
    };
    assert_eq!(location.line, Some(8));
    assert_eq!(location.to_string(), format!("{}:8", path.display()));
    assert_eq!(event.uid, "dbeb8925-740b-4973-a6d7-dd54f918ab66");
    assert_eq!(event.cluster, "c");
}

#[test]
fn a_json_list_item_is_located_at_its_opening_brace() {
    let path = real("k8s-failure-reproduction__C1__2024-01-13T15-36-48.events.json");
    let first = kubetrail_source::import::read_file(&path, "c")
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let kubetrail_source::import::Item::Event { event, location } = first else {
        panic!("{first:?}")
    };
    assert_eq!((location.line, location.index), (Some(4), 0));
    assert_eq!(
        (event.uid.as_str(), event.reason.as_str()),
        ("b31a9a40-caed-45ca-a5f9-cb828a719b95", "Starting")
    );
}

#[test]
fn the_kspan_stream_has_19_events_and_7_owner_links() {
    let got = read(&real("kspan__deployment-2-pods.mixed.yaml"));
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(
        (got.events.len(), got.objects.len(), got.skipped.len()),
        (19, 7, 0)
    );
    // Its two ReplicaSets are also revisions of Deployment px (issue 15 §2).
    let revisions: Vec<(&str, i64)> = got
        .revisions
        .iter()
        .map(|r| (r.owner.name.as_str(), r.number))
        .collect();
    assert_eq!(revisions, [("px", 3), ("px", 2)]);
    let kinds: Vec<&str> = got.objects.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ReplicaSet",
            "Deployment",
            "Pod",
            "Pod",
            "ReplicaSet",
            "Pod",
            "Pod"
        ]
    );
    let rs = &got.objects[0];
    assert_eq!(
        (rs.namespace.as_str(), rs.name.as_str()),
        ("default", "px-5d567cc74c")
    );
    let owner = rs
        .owner
        .as_ref()
        .expect("a ReplicaSet has its Deployment as owner");
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", "px")
    );
    assert!(
        got.objects[1].owner.is_none(),
        "the Deployment has no owner"
    );
    assert_eq!(got.objects.iter().filter(|o| o.owner.is_some()).count(), 6);
}

#[test]
fn the_events_v1_yaml_with_the_null_string_quirk_has_8_events() {
    let v1 = read(&real(
        "support-bundle-kit__harvester-system__events-k8s-io__v1.events.yaml",
    ));
    assert!(v1.error.is_none(), "{:?}", v1.error);
    assert_eq!(v1.events.len(), 8);
    let scheduled = v1
        .events
        .iter()
        .find(|e| e.uid == "57a690f9-848d-4114-8da2-21ed7b623f08")
        .unwrap();
    // deprecatedFirstTimestamp: "null" is ignored; eventTime gives the time.
    assert_eq!(
        scheduled.first_seen.to_string(),
        "2022-03-22T23:49:14.123518Z"
    );
    assert_eq!(scheduled.reporting_controller, "default-scheduler");
    assert!(
        scheduled
            .note
            .starts_with("Successfully assigned harvester-system/")
    );
    assert_eq!(scheduled.regarding.kind, "Pod");
    // The same events, read through the core/v1 API, are the same objects.
    let core = read(&real(
        "support-bundle-kit__harvester-system__v1.events.yaml",
    ));
    let uids = |r: &common::Read| {
        let mut u: Vec<String> = r.events.iter().map(|e| e.uid.clone()).collect();
        u.sort();
        u
    };
    assert_eq!(uids(&v1), uids(&core));
}

#[test]
fn the_bare_array_file_has_369_events() {
    let got = read(&real(
        "troubleshoot__support-bundle-2021-03-24__test.events.json",
    ));
    assert!(got.error.is_none(), "{:?}", got.error);
    assert_eq!(got.events.len(), 369);
    // One event carries `series`: its count comes from there.
    assert!(got.events.iter().any(|e| e.count > 1));
}

fn apiserver(name: &str) -> std::path::PathBuf {
    common::dataset().join("../real-apiserver").join(name)
}

#[test]
fn real_watch_streams_from_an_api_server_read_as_ndjson_envelopes() {
    use kubetrail_source::import::{SkipReason, WatchType};
    let replay = read(&apiserver("watch-B-rv1.jsonl"));
    assert!(replay.error.is_none(), "{:?}", replay.error);
    assert_eq!((replay.events.len(), replay.skipped.len()), (59 + 46, 0));
    assert!(
        replay
            .events
            .iter()
            .all(|e| !e.reporting_controller.is_empty() || !e.note.is_empty())
    );

    let initial = read(&apiserver("watch-C-sendInitialEvents.jsonl"));
    assert!(initial.error.is_none(), "{:?}", initial.error);
    assert_eq!(initial.events.len(), 60);
    assert!(matches!(
        initial.skipped.as_slice(),
        [(_, SkipReason::Watch(WatchType::Bookmark))]
    ));

    // A stream with nothing but an ERROR envelope (410 Expired) is a valid, empty stream.
    let expired = read(&apiserver("watch-F-rv2-after-compaction.jsonl"));
    assert!(expired.error.is_none(), "{:?}", expired.error);
    assert!(matches!(
        expired.skipped.as_slice(),
        [(_, SkipReason::Watch(WatchType::Error))]
    ));
}
