//! Hostile and unusual inputs of issue 11 (items 13 and 14), end to end through the binary:
//! damaged and read-only stores, YAML anchors, odd timestamps, skipped events named by file and
//! line, unreadable files in a directory. Each test uses its own data directory.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{Kt, real, stderr};

const VELERO: &str = "sbctl__velero.events.json";

fn event_yaml(uid: &str, time: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {uid}.1, namespace: ns, uid: {uid}}}\n\
         involvedObject: {{kind: Pod, name: p, namespace: ns}}\n\
         reason: BackOff\nmessage: Back-off\ntype: Warning\nlastTimestamp: \"{time}\"\n"
    )
}

/// Issue 11, item 14: anchors defined outside an item (`- *e`; `<<: *base` with `base`
/// defined at List level) made a valid file fail with "unknown anchor".
#[test]
fn yaml_anchors_defined_outside_an_item_are_resolved_as_yaml_does() {
    let kt = Kt::new();
    let text = "apiVersion: v1\n\
        kind: List\n\
        base: &base\n  \
          involvedObject: {kind: Pod, name: web, namespace: shop}\n  \
          type: Warning\n  \
          reason: BackOff\n  \
          message: Back-off restarting failed container\n  \
          lastTimestamp: \"2024-01-01T00:00:00Z\"\n\
        items:\n\
        - &e\n  \
          <<: *base\n  \
          metadata: {name: a.1, namespace: shop, uid: a}\n\
        - *e\n\
        - <<: *base\n  \
          reason: Unhealthy\n  \
          metadata: {name: b.1, namespace: shop, uid: b}\n";
    let p = kt.file("anchors.yaml", text);
    let s = kt.import(&[&p]);
    assert_eq!(
        (s["events_read"].as_u64(), s["new"].as_u64()),
        (Some(3), Some(2)),
        "{s}"
    );
    assert_eq!(s["unchanged"], 1, "the alias repeats event a: {s}");
    let events = kt.json(&["query", "-o", "json"]);
    let mut got: Vec<(String, String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["uid"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
                e["regarding"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a".into(), "BackOff".into(), "web".into()),
            ("b".into(), "Unhealthy".into(), "web".into())
        ]
    );
}

/// Issue 11, item 14: events skipped for a bad field (here a `count` given as a string) were
/// only counted by reason; the summary now names each one's file and line.
#[test]
fn skipped_events_are_named_by_file_and_line_in_the_summary() {
    let kt = Kt::new();
    let good = event_yaml("good", "2024-01-01T00:00:00Z");
    let bad = event_yaml("bad", "2024-01-01T00:00:00Z")
        .replace("type: Warning", "count: \"5\"\ntype: Warning");
    let p = kt.file("mixed.yaml", format!("{good}---\n{bad}"));
    let s = kt.import(&[&p]);
    assert_eq!(s["new"], 1, "{s}");
    let listed = s["skipped_events"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{s}");
    // The second document starts on line 10 (after eight lines and the `---`).
    assert_eq!(listed[0]["location"], format!("{}:10", p.display()), "{s}");
    let reason = listed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("invalid type: string \"5\""), "{reason}");
    let table = kt.table(&[
        "import",
        "--cluster",
        "test",
        "-o",
        "table",
        p.to_str().unwrap(),
    ]);
    assert!(
        table.contains(&format!("{}:10: invalid event", p.display())),
        "{table}"
    );
}

/// Issue 11, item 14: twelve fractional digits of seconds and `9999-12-31T23:59:59Z` are valid
/// RFC 3339 times but made their events "invalid". The first is read (to the nanosecond); the
/// second is read too, then refused as dated too far in the future (issue 11, item 3), with
/// that reason.
#[test]
fn long_fractions_and_the_last_second_of_9999_are_read_as_times() {
    let kt = Kt::new();
    let text = format!(
        "{}---\n{}",
        event_yaml("fine", "2024-01-01T00:00:00.123456789012Z"),
        event_yaml("last", "9999-12-31T23:59:59Z")
    );
    let p = kt.file("times.yaml", text);
    let s = kt.import(&[&p]);
    assert_eq!(s["new"], 1, "{s}");
    assert_eq!(
        s["skipped"]["event dated more than 24h after it was received"], 1,
        "{s}"
    );
    let events = kt.json(&["query", "-o", "json"]);
    assert_eq!(events[0]["uid"], "fine");
    assert_eq!(events[0]["last_seen"], "2024-01-01T00:00:00.123456Z");
}

/// Issue 11, item 14: a file inside a directory that cannot be read was listed as skipped and
/// the import exited 0, as if the bundle were complete. (Tests run as root, which reads any
/// file whatever its mode: a dangling link is the unreadable file here.)
#[test]
fn an_unreadable_file_in_a_directory_fails_the_import_unless_keep_going() {
    let kt = Kt::new();
    let dir = kt.data.path().join("bundle");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(real(VELERO), dir.join("events.json")).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.json"), dir.join("broken.json")).unwrap();
    let out = kt.run(&[
        "import",
        "--cluster",
        "test",
        "-o",
        "json",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "exit 0 with an unreadable file");
    let err = stderr(&out);
    assert!(
        err.contains("broken.json") && err.contains("--keep-going"),
        "{err}"
    );
    assert!(!kt.data.path().join("data/kubetrail.db").exists() || kt.stored() == 0);
    let out = kt.run(&[
        "import",
        "--cluster",
        "test",
        "--keep-going",
        "-o",
        "json",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["new"], 67);
    let skipped = s["files_skipped"].to_string();
    assert!(skipped.contains("broken.json"), "{skipped}");
}

fn db(kt: &Kt) -> PathBuf {
    kt.data.path().join("data/kubetrail.db")
}

/// Overwrites the middle half of the file with a pattern: every page there is garbage.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 4..len * 3 / 4] {
        *b = 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

/// Issue 11, item 13: a store with flipped bytes still took imports with exit code 0 and
/// nothing said so. `status --check` reads it all and fails naming the store; a sound store
/// passes.
#[test]
fn status_check_finds_a_damaged_store_and_passes_a_sound_one() {
    let kt = Kt::with(&[VELERO]);
    let out = kt.run(&["status", "--check", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("is sound"), "{}", stderr(&out));
    let wal = std::fs::metadata(db(&kt).with_extension("db-wal")).map_or(0, |m| m.len());
    assert_eq!(
        wal, 0,
        "everything is in the database file, which the damage hits"
    );
    damage(&db(&kt));
    let out = kt.run(&["status", "--check", "-o", "json"]);
    assert!(!out.status.success(), "a damaged store passed the check");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the store at {} is corrupt", db(&kt).display())),
        "{err}"
    );
}

/// Issue 11, item 13: any SQLITE_CORRUPT or NOTADB error says which store is corrupt.
#[test]
fn a_store_that_is_not_a_database_is_named_corrupt_by_every_command() {
    let kt = Kt::with(&[VELERO]);
    let mut bytes = std::fs::read(db(&kt)).unwrap();
    bytes[..64].fill(0x5a);
    std::fs::write(db(&kt), bytes).unwrap();
    let expected = format!("the store at {} is corrupt", db(&kt).display());
    for args in [
        vec![
            "import",
            "--cluster",
            "test",
            real(VELERO).to_str().unwrap(),
        ],
        vec!["query", "-o", "json"],
        vec!["status", "-o", "json"],
    ] {
        let out = kt.run(&args);
        assert!(
            !out.status.success(),
            "{args:?} succeeded on a damaged store"
        );
        assert!(
            stderr(&out).contains(&expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Makes a path immutable (`chattr +i`: even root cannot create, change or delete in it) until
/// dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[&Path]) -> Immutable {
        for p in paths {
            let status = Command::new("chattr").arg("+i").arg(p).status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "chattr +i {} failed: this test needs chattr on an ext4 (or similar) file system",
                p.display()
            );
        }
        Immutable(paths.iter().map(|p| p.to_path_buf()).collect())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

/// Issue 11, item 13: a read-only data directory could not even be read (the store was opened
/// for writing, and SQLite's WAL wants a `-shm` file beside it). Read-only commands now open
/// it read-only; a write still fails, saying so.
#[test]
fn read_only_commands_work_on_a_read_only_store() {
    let kt = Kt::with(&[VELERO]);
    let dir = kt.data.path().join("data");
    let file = db(&kt);
    let _frozen = Immutable::set(&[&file, &dir]);
    assert_eq!(kt.stored(), 67);
    let events = kt.json(&["query", "--limit", "5", "-o", "json"]);
    assert_eq!(events.as_array().unwrap().len(), 5);
    let rows = kt.json(&["aggregate", "--group-by", "reason", "-o", "json"]);
    assert!(!rows.as_array().unwrap().is_empty());
    kt.json(&["patterns", "-o", "json"]);
    kt.json(&["incidents", "-o", "json"]);
    let out = kt.run(&["status", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = kt.run(&[
        "import",
        "--cluster",
        "test",
        real(VELERO).to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "an import into a read-only store succeeded"
    );
}

/// The files of a store whose first import was interrupted while it wrote the empty store in
/// place (through a rollback journal, not the WAL): the store's file and its journal as the
/// writer left them mid-transaction, copied into `kt`'s data directory.
fn interrupted_first_import(kt: &Kt) {
    use kubetrail_store::conformance::{event, minute};
    use kubetrail_store::{EventSink, SqliteStore};
    let writing = tempfile::tempdir().unwrap();
    let path = writing.path().join("kubetrail.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // A cache of a few pages: the transaction spills into the file long before its end.
        let store = SqliteStore::open_with_cache(&path, 64).unwrap();
        let mut txn = store.begin_bulk().await.unwrap();
        let events = (0..4_000)
            .map(|n| event(&format!("e{n}"), minute(n), 1))
            .collect();
        txn.write(events).await.unwrap();
        let target = db(kt);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&path, &target).unwrap();
        let journal = |p: &Path| PathBuf::from(format!("{}-journal", p.display()));
        std::fs::copy(journal(&path), journal(&target)).unwrap();
        drop(txn);
    });
}

/// Issue 14 §3: an import into an empty store now writes the file in place through a rollback
/// journal. A read-only command found such a file (an import writing it, or interrupted) and,
/// unable to open it read-only, read it as immutable: torn, half-written pages. It now opens
/// the store to write, which rolls an interrupted import back (or waits for a running one).
#[test]
fn a_read_command_rolls_an_interrupted_first_import_back_rather_than_read_it_torn() {
    let kt = Kt::new();
    interrupted_first_import(&kt);
    assert_eq!(kt.stored(), 0);
    let journal = PathBuf::from(format!("{}-journal", db(&kt).display()));
    assert!(!journal.exists(), "rolled back");
    let events = kt.json(&["query", "--since", "all", "-o", "json"]);
    assert_eq!(events.as_array().unwrap().len(), 0);
    let out = kt.run(&["status", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
