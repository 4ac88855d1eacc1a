//! The file import: format detection (JSON List/array/stream, NDJSON, watch envelopes, YAML,
//! gzip) and every decoder, through [`kubetrail_source::import::read_from`], then processing
//! as `kubetrail import` does.

use std::io::{Cursor, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use kubetrail_process::{Processor, Rules};
use kubetrail_source::import::{Item, read_from};

/// The first byte chooses how the rest is handed over: odd values gzip it first (so mutations
/// of the content reach the decoders behind gzip too), even values pass it as it is (which may
/// itself be gzip).
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 1 {
        gzip(rest)
    } else {
        rest.to_vec()
    };
    let Ok(mut items) = read_from(Cursor::new(bytes), Path::new("fuzz.json"), "fuzz") else {
        return;
    };
    let mut processor = Processor::new(Rules::builtin());
    for item in &mut items {
        match item {
            Ok(Item::Event { event, .. }) => {
                assert!(event.first_seen <= event.last_seen, "{event:?}");
                assert!(event.count >= 1, "{event:?}");
                processor.process(event);
            }
            Ok(Item::Object(link)) => processor.observe(link),
            Ok(Item::Revision(revision)) => {
                assert!(!revision.owner.uid.is_empty(), "{revision:?}");
            }
            Ok(Item::Skipped { location, reason }) => {
                let _ = (location.to_string(), reason.to_string());
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
    let _ = (items.format(), items.is_gzip(), items.bytes_read());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}
