//! Inputs of hundreds of megabytes go through the iterator in a few megabytes of memory:
//! events are generated on the fly by a reader and counted, never held.

use std::io::{self, Read};
use std::path::Path;

use kubetrail_source::import::{Item, read_from};

const EVENTS: u64 = 200_000;

/// Produces `header`, then `total` Events separated by `separator`, then `footer`, lazily.
struct Generated {
    total: u64,
    event: fn(u64) -> String,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
    separator: &'static str,
    footer: Option<&'static str>,
}

impl Generated {
    fn new(header: &str, separator: &'static str, footer: &'static str) -> Generated {
        Generated {
            total: EVENTS,
            event: json_event,
            next: 0,
            buf: header.as_bytes().to_vec(),
            pos: 0,
            separator,
            footer: Some(footer),
        }
    }

    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.next == self.total {
            if let Some(footer) = self.footer.take() {
                self.buf.extend_from_slice(footer.as_bytes());
            }
            return;
        }
        let i = self.next;
        self.next += 1;
        if i > 0 {
            self.buf.extend_from_slice(self.separator.as_bytes());
        }
        let event = (self.event)(i);
        self.buf.extend_from_slice(event.as_bytes());
    }
}

fn json_event(i: u64) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"v1","metadata":{{"name":"web-{i}.17a","namespace":"ns-{ns}","uid":"00000000-0000-0000-0000-{i:012}","resourceVersion":"{i}","creationTimestamp":"2024-05-01T12:00:00Z"}},"involvedObject":{{"kind":"Pod","namespace":"ns-{ns}","name":"web-{i}","uid":"p-{i}","apiVersion":"v1","resourceVersion":"1","fieldPath":"spec.containers{{app}}"}},"reason":"BackOff","message":"Back-off restarting failed container app in pod web-{i}_ns-{ns}(p-{i})","source":{{"component":"kubelet","host":"node-{node}"}},"firstTimestamp":"2024-05-01T12:00:00Z","lastTimestamp":"2024-05-01T12:05:00Z","count":{count},"type":"Warning","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"node-{node}"}}"#,
        ns = i % 50,
        node = i % 7,
        count = i % 30 + 1,
    )
}

fn yaml_event(i: u64) -> String {
    format!(
        "- apiVersion: v1\n  count: {count}\n  eventTime: null\n  firstTimestamp: \"2024-05-01T12:00:00Z\"\n  involvedObject:\n    kind: Pod\n    name: web-{i}\n    namespace: ns-{ns}\n  kind: Event\n  lastTimestamp: \"2024-05-01T12:05:00Z\"\n  message: |-\n    Back-off restarting failed container app\n    - in pod web-{i}\n  metadata:\n    creationTimestamp: \"2024-05-01T12:00:00Z\"\n    name: web-{i}.17a\n    namespace: ns-{ns}\n    uid: 00000000-0000-0000-0000-{i:012}\n  reason: BackOff\n  source:\n    component: kubelet\n  type: Warning\n",
        ns = i % 50,
        count = i % 30 + 1,
    )
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.next == self.total && self.footer.is_none() {
                return Ok(0);
            }
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn count(input: Generated) -> (u64, u64) {
    let items = read_from(input, Path::new("generated"), "c").unwrap();
    let progress = items.progress();
    let mut events = 0;
    for item in items {
        match item.unwrap() {
            Item::Event { .. } => events += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (events, progress.load(std::sync::atomic::Ordering::Relaxed))
}

/// Peak resident memory of this process so far, where the OS tells it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn hundreds_of_megabytes_stream_through_in_bounded_memory() {
    let before = peak_rss_kib();
    let (events, bytes) = count(Generated::new("", "\n", "\n"));
    assert_eq!(events, EVENTS);
    let (events, list_bytes) = count(Generated::new(
        r#"{"apiVersion":"v1","items":["#,
        ",\n",
        r#"],"kind":"List","metadata":{}}"#,
    ));
    assert_eq!(events, EVENTS);
    assert!(
        bytes > 128 << 20 && list_bytes > bytes,
        "{bytes} {list_bytes}"
    );
    // A YAML List too (fewer: YAML parses slowly in debug builds).
    let mut yaml = Generated::new(
        "apiVersion: v1\nitems:\n",
        "",
        "kind: List\nmetadata:\n  resourceVersion: \"\"\n",
    );
    yaml.total = 20_000;
    yaml.event = yaml_event;
    let (events, _) = count(yaml);
    assert_eq!(events, 20_000);
    // Over 280 MB went through; holding any of it would show. (Only this test runs in this binary.)
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        assert!(
            after - before < 64 << 10,
            "peak RSS grew by {} KiB",
            after - before
        );
    }
}
