//! Issue 13 §2.6, end to end: an import that meets the uid of a stored event about another
//! namespace or object keeps the stored event, and says so in its summary and in `status`.

mod common;

use common::Kt;

fn event_yaml(uid: &str, namespace: &str, pod: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {uid}.1, namespace: {namespace}, uid: {uid}}}\n\
         involvedObject: {{kind: Pod, name: {pod}, namespace: {namespace}}}\n\
         reason: BackOff\nmessage: Back-off\ntype: Warning\ncount: 3\n\
         lastTimestamp: \"2024-01-01T00:00:00Z\"\n"
    )
}

/// The conflict was counted only in the import's summary; `status` never showed it.
#[test]
fn an_identity_conflict_is_reported_by_the_import_and_by_status() {
    let kt = Kt::new();
    let first = kt.file("first.yaml", event_yaml("u1", "shop", "web"));
    let moved = kt.file("moved.yaml", event_yaml("u1", "elsewhere", "web"));
    assert_eq!(kt.import(&[&first])["new"], 1);
    let s = kt.import(&[&moved]);
    assert_eq!(
        (s["new"].as_u64(), s["updated"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    let skipped = s["skipped"].as_object().expect("skipped reasons");
    assert_eq!(
        skipped
            .iter()
            .filter(|(why, _)| why.contains("about another object"))
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum::<u64>(),
        1,
        "{s}"
    );
    let status = kt.json(&["status", "-o", "json"]);
    assert_eq!(status["conflicts"], 1, "{status}");
    assert_eq!(status["events"], 1, "{status}");
    let table = kt.table(&["status", "-o", "table"]);
    assert!(
        table.contains("conflicts:    1 cop(ies) refused"),
        "{table}"
    );
}
