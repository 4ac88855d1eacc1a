//! Issue 14 §1: `kubetrail incidents -o json` over kept incidents reads their summaries and
//! copies their stored text, re-indented, in order; its bytes are those of the incidents read
//! whole and written by serde_json's pretty printer (`-o yaml` reads them whole); `-o ndjson`
//! copies them likewise, one a line.

use kubetrail_analyze::Incident;

mod common;

use common::Kt;

const MOUNT: &str = "troubleshoot__message-container-creating-failed-mount.events.json";
const C7: &str = "k8s-failure-reproduction__C7__2023-08-21T19-25-26.events.json";
const BUNDLE: &str = "troubleshoot__support-bundle-2021-03-24__test.events.json";

#[test]
fn incidents_as_json_and_ndjson_are_the_incidents_read_whole_byte_for_byte() {
    let kt = Kt::with(&[MOUNT, C7, BUNDLE]);
    for window in [&[][..], &["--since", "all"][..], &["--since", "2h"][..]] {
        let args = |format: &'static str| {
            let mut args = vec!["incidents"];
            args.extend_from_slice(window);
            args.extend(["-o", format]);
            args
        };
        let json = kt.table(&args("json"));
        let whole: Vec<Incident> =
            yaml_serde::from_str(&kt.table(&args("yaml"))).expect("YAML incidents");
        assert_eq!(
            json,
            serde_json::to_string_pretty(&whole).expect("JSON") + "\n",
            "{window:?}"
        );
        let lines: String = whole
            .iter()
            .map(|i| serde_json::to_string(i).expect("JSON") + "\n")
            .collect();
        assert_eq!(kt.table(&args("ndjson")), lines, "{window:?}");
        if window.len() == 2 && window[1] == "all" {
            assert!(whole.len() >= 5, "{} incidents", whole.len());
        }
    }
}
