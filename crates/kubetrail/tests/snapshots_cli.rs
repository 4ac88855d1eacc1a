//! Snapshots (insta) of the CLI's large rendered outputs: the `query` table and its `-o wide`
//! form, the `incidents` table and the `explain` story. Review a change with `cargo insta
//! review` (or set `INSTA_UPDATE=always` and read the diff of `tests/snapshots/`).
//!
//! Stable by construction: the dumps are the repository's `examples/dumps/` (byte-for-byte
//! originals), every window is pinned with `--since`/`--until`, colours are off, and every
//! event is years old, so tables show absolute UTC times, never "3m ago", and every incident
//! is over whatever day the test runs.

mod common;

use std::path::{Path, PathBuf};

use common::Kt;

const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";
const MOUNT_NS: &str = "message-container-creating-failed-mount";
const VELERO: &str = "sbctl__velero.events.json";
/// Just after the newest event of the MOUNT dump (2023-07-10T05:43:47Z).
const MOUNT_UNTIL: &str = "2023-07-10T06:00:00Z";

fn dump(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/dumps")
        .join(name)
}

fn store_with(name: &str) -> Kt {
    let kt = Kt::new();
    kt.import(&[&dump(name)]);
    kt
}

#[test]
fn the_query_table_and_its_wide_form_render_as_reviewed() {
    let kt = store_with(VELERO);
    let args = [
        "query", "--since", "all", "--limit", "15", "--color", "never",
    ];
    let table = kt.table(&[&args[..], &["-o", "table"]].concat());
    insta::assert_snapshot!("query_table", table);
    let wide = kt.table(&[&args[..], &["-o", "wide"]].concat());
    insta::assert_snapshot!("query_wide", wide);
}

/// The table of `args` over the day before `MOUNT_UNTIL`, without colours.
fn pinned(kt: &Kt, args: &[&str]) -> String {
    let window = ["--since", "24h", "--until", MOUNT_UNTIL, "--color", "never"];
    kt.table(&[args, &window[..], &["-o", "table"]].concat())
}

#[test]
fn the_incidents_table_renders_as_reviewed() {
    let kt = store_with(MOUNT);
    insta::assert_snapshot!("incidents_table", pinned(&kt, &["incidents"]));
}

#[test]
fn the_explain_story_renders_as_reviewed() {
    let kt = store_with(MOUNT);
    let pod = format!("{MOUNT_NS}/Pod/troubleshoot-copyfromhost-4m79m-psdjm");
    insta::assert_snapshot!("explain_pod", pinned(&kt, &["explain", &pod]));
    let deployment = format!("{MOUNT_NS}/Deployment/no-image-deployment");
    insta::assert_snapshot!("explain_deployment", pinned(&kt, &["explain", &deployment]));
}
