//! The live watch's line decoder: a watch response body, split into lines and decoded as the
//! kube client does for `kubetrail run` (`WatchEvent<K>` per line, a `Status` when that
//! fails), then each object through the watch's own normalization
//! ([`kubetrail_source::watch::EventObject::normalize`]) and processing.

use k8s_openapi::api::{core::v1 as core, events::v1 as events};
use kube::api::WatchEvent;
use kube::core::Status;
use kubetrail_process::{Processor, Rules};
use kubetrail_source::watch::EventObject;

/// The first byte chooses the Event API the body is read as (`events.k8s.io/v1` or `core/v1`),
/// as `detect_api` would have.
pub fn run(data: &[u8]) {
    let Some((&api, body)) = data.split_first() else {
        return;
    };
    let mut processor = Processor::new(Rules::builtin());
    if api & 1 == 0 {
        lines::<events::Event>(body, &mut processor);
    } else {
        lines::<core::Event>(body, &mut processor);
    }
}

fn lines<K: EventObject>(body: &[u8], processor: &mut Processor) {
    // The client reads lines as UTF-8 (tokio-util's LinesCodec) and drops a trailing `\r`.
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match serde_json::from_str::<WatchEvent<K>>(line) {
            Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj)) => {
                if let Ok(event) = obj.normalize("fuzz") {
                    assert!(event.first_seen <= event.last_seen, "{event:?}");
                    assert!(event.count >= 1, "{event:?}");
                    processor.process(event);
                }
            }
            Ok(WatchEvent::Deleted(obj)) => {
                let _ = obj.meta().resource_version.clone();
            }
            Ok(WatchEvent::Bookmark(bookmark)) => {
                let _ = bookmark.metadata.resource_version;
            }
            Ok(WatchEvent::Error(status)) => {
                let _ = (status.code, status.message);
            }
            Err(_) => {
                let _ = serde_json::from_str::<Status>(line);
            }
        }
    }
}
