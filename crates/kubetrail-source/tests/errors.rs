//! Broken files are errors that name the file and the place; valid files without Events are
//! errors that say what was found.

mod common;

use common::{gzip, read, real, write};
use kubetrail_source::ImportError;
use kubetrail_source::import::read_file;

#[test]
fn malformed_json_says_file_line_and_column() {
    let text = std::fs::read_to_string(real(
        "k8s-failure-reproduction__C1__2024-01-13T15-36-48.events.json",
    ))
    .unwrap();
    // Drop the comma after the 10th `"reason"` member: the next member is then unexpected.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("\"reason\":"))
        .nth(9)
        .unwrap()
        .0;
    lines[at] = lines[at].trim_end_matches(',').to_string();
    let next = &lines[at + 1];
    let column = next.len() - next.trim_start().len() + 1;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "events.json", lines.join("\n").as_bytes());
    let got = read(&path);
    assert_eq!(
        got.events.len(),
        9,
        "the items before the broken one are read"
    );
    let err = got.error.expect("an error");
    assert!(matches!(err, ImportError::Syntax { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{}:{column}: expected `,` or `}}`",
            path.display(),
            at + 2
        )
    );
}

#[test]
fn malformed_ndjson_line_and_truncated_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "e.ndjson",
        b"{\"type\":\"BOOKMARK\",\"object\":{}}\n\n{\"a\": }\n",
    );
    let err = read(&path).error.expect("an error");
    assert_eq!(
        err.to_string(),
        format!("{}:3:7: expected value", path.display())
    );

    let text = std::fs::read(real("sbctl__velero.events.json")).unwrap();
    let path = write(dir.path(), "cut.json", &text[..text.len() / 2]);
    let got = read(&path);
    assert!(!got.events.is_empty());
    let err = got.error.expect("an error").to_string();
    assert!(
        err.starts_with(&format!("{}:", path.display())) && err.contains("EOF while parsing"),
        "{err}"
    );
}

#[test]
fn a_yaml_syntax_error_says_file_and_line() {
    let text =
        std::fs::read_to_string(real("support-bundle-kit__harvester-system__v1.events.yaml"))
            .unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[40] = "  reason: [unclosed";
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "events.yaml", lines.join("\n").as_bytes());
    let got = read(&path);
    let &ImportError::Syntax { line, .. } = got.error.as_ref().expect("an error") else {
        panic!("{:?}", got.error)
    };
    assert!((41..=43).contains(&line), "line {line}");
    let message = got.error.unwrap().to_string();
    assert!(
        message.starts_with(&format!("{}:{line}:", path.display())),
        "{message}"
    );

    let path = write(
        dir.path(),
        "tabs.yaml",
        b"kind: Event\nmetadata:\n\tname: x\n",
    );
    let message = read(&path).error.expect("an error").to_string();
    assert!(
        message.starts_with(&format!("{}:3:", path.display())),
        "{message}"
    );
}

#[test]
fn valid_files_without_events_say_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let deployment =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
    let cases = [
        ("deploy.yaml", deployment.as_bytes(), "kind Deployment"),
        (
            "foo.json",
            br#"{"foo":1}"#.as_slice(),
            "an object without kind",
        ),
        ("empty.json", b"".as_slice(), "nothing"),
        (
            "comments.yaml",
            b"# nothing here\n---\n".as_slice(),
            "nothing",
        ),
        ("numbers.json", b"[1, 2]".as_slice(), "a number"),
        (
            "pods.json",
            br#"{"kind":"PodList","items":[]}"#.as_slice(),
            "kind PodList",
        ),
    ];
    for (name, bytes, found) in cases {
        let path = write(dir.path(), name, bytes);
        let err = read(&path)
            .error
            .unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not an Event list or stream (found {found})",
                path.display()
            )
        );
    }
    // The Deployment is still handed over as an owner link before the error.
    let got = read(&dir.path().join("deploy.yaml"));
    assert_eq!(got.objects.len(), 1);
}

#[test]
fn a_gzip_cut_in_half_is_an_error_naming_the_file() {
    let text = std::fs::read(real(
        "troubleshoot__message-container-creating-failed-mount.events.json",
    ))
    .unwrap();
    let bytes = gzip(&text);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "events.json.gz", &bytes[..bytes.len() / 2]);
    let err = read(&path).error.expect("an error");
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    assert!(matches!(err, ImportError::Gzip { .. }), "{err:?}");

    // Cut right after the header, or with only the trailer missing.
    for cut in [12, bytes.len() - 4] {
        let path = write(dir.path(), &format!("cut-{cut}.json.gz"), &bytes[..cut]);
        let err = read(&path)
            .error
            .unwrap_or_else(|| panic!("cut at {cut}: no error"));
        assert!(err.to_string().contains("cut-"), "{err}");
    }
}

#[test]
fn a_missing_file_cannot_be_opened() {
    let err = read_file("/nonexistent/events.json".as_ref(), "c")
        .err()
        .expect("an error");
    assert!(matches!(err, ImportError::Open { .. }));
    assert_eq!(err.to_string(), "cannot open /nonexistent/events.json");
}
