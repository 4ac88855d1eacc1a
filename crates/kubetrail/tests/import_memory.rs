//! Regression (issue 14 §3: `kubetrail import` of 200,000 events peaked at 105–116 MiB, over
//! its 100 MB budget): mimalloc advised transparent huge pages on its arena, so each 2 MiB
//! region the heap touched became resident whole. `import` now turns transparent huge pages
//! off for itself at start (and gives freed pages back at once), as `run` does: 83–90 MiB.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn import_keeps_its_heap_out_of_transparent_huge_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A FIFO: the import waits on it with its settings made and its store open.
    let fifo = dir.path().join("events.ndjson");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let data = dir.path().join("data");
    let mut import = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&fifo)
        .env_remove("KUBETRAIL_CONFIG")
        .env_remove("KUBETRAIL_POSTGRES_URL")
        .env_remove("KUBETRAIL_DATA_DIR")
        .env_remove("MIMALLOC_ALLOW_THP")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubetrail import starts");
    let deadline = Instant::now() + WAIT;
    while !data.join("kubetrail.db").exists() {
        assert!(
            Instant::now() < deadline,
            "the import never opened its store"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", import.id()))
        .expect("the import's status");
    // Let the import finish: one line, then the end of the FIFO.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(b"{}\n"))
        .expect("write to the FIFO");
    let waited = import.wait().expect("the import ends");
    let Some(thp) = status.lines().find_map(|l| l.strip_prefix("THP_enabled:")) else {
        eprintln!("this kernel does not say whether a process may use transparent huge pages");
        return;
    };
    assert_eq!(
        thp.trim(),
        "0",
        "import may use transparent huge pages: {status}"
    );
    assert!(waited.code().is_some(), "the import was killed: {waited:?}");
}
