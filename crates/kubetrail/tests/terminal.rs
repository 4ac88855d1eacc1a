//! Terminal injection (issue 11, item 10): anyone who can create an Event writes its text, so
//! the human-readable outputs must never pass a control character to the operator's terminal
//! (set the title, clear the screen, plant an OSC 8 link), while JSON keeps the exact text.

mod common;

use common::Kt;

/// Set the window title, clear the screen, and an OSC 8 hyperlink, in one note.
const HOSTILE_NOTE: &str = "Back-off \u{1b}]0;pwned\u{7} restarting \u{1b}[2J failed \
     \u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\ container \u{9b}31m app";

/// A crash-looping pod's Event (so that it also makes an incident and a pattern) with
/// `note`, and an escape in the pod's name and the reporting component.
fn hostile_event(uid: &str, note: &str) -> String {
    let event = serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("web.{uid}"), "namespace": "shop", "uid": uid},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1\u{1b}[8m", "uid": "pod-web-1"},
        "reason": "BackOff", "message": note, "type": "Warning", "count": 5,
        "firstTimestamp": "2024-01-01T10:00:00Z", "lastTimestamp": "2024-01-01T10:05:00Z",
        "source": {"component": "kubelet"}
    });
    serde_json::to_string(&event).unwrap()
}

/// No raw control character but the line breaks.
fn assert_inert(what: &str, text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        raw.is_empty(),
        "{what} writes raw controls {raw:?}:\n{text}"
    );
}

#[test]
fn terminal_escapes_in_event_text_are_shown_not_obeyed_and_json_keeps_them() {
    let kt = Kt::new();
    let lines: Vec<String> = (0..4)
        .map(|i| hostile_event(&format!("u{i}"), HOSTILE_NOTE))
        .collect();
    let file = kt.file("hostile.ndjson", lines.join("\n"));
    kt.import(&[&file]);

    let table = kt.table(&["query", "-o", "table"]);
    assert_inert("query -o table", &table);
    assert!(table.contains(r"\e]0;pwned\a"), "visible: {table}");
    assert!(table.contains(r"\e[2J"), "visible: {table}");
    assert!(
        table.contains(r"\e]8;;https://evil.example/\e\click"),
        "{table}"
    );
    assert!(table.contains(r"web-1\e[8m"), "the name too: {table}");
    assert!(table.contains(r"\u{9b}31m"), "C1 controls too: {table}");

    for args in [
        &["incidents", "-o", "table"][..],
        &[
            "patterns",
            "--min-rate",
            "0",
            "--min-count",
            "1",
            "-o",
            "table",
        ],
        &["explain", "shop/Pod/web-1\u{1b}[8m", "-o", "table"],
        &["aggregate", "--group-by", "reason,name", "-o", "table"],
        &["status", "-o", "table"],
    ] {
        let text = kt.table(args);
        assert_inert(&args.join(" "), &text);
    }
    let explain = kt.table(&["explain", "shop/Pod/web-1\u{1b}[8m", "-o", "table"]);
    assert!(
        explain.contains(r"\e[2J"),
        "explain shows the note: {explain}"
    );

    // JSON stays exact.
    let json = kt.json(&["query", "-o", "json"]);
    assert_eq!(json[0]["note"], HOSTILE_NOTE);
    assert_eq!(json[0]["regarding"]["name"], "web-1\u{1b}[8m");
}
