//! File import: Kubernetes Event dumps in the shapes real tools write them, read as a stream of
//! [`Item`]s in bounded memory, whatever the size of the file; with the ReplicaSets and
//! ControllerRevisions of support bundles and must-gathers as rollout revisions.
//!
//! - [`discover`] expands paths: files as given, directories searched for files whose content
//!   looks like Events or rollout revisions.
//! - [`read_file`] streams one file: JSON (List, bare array, concatenated values, NDJSON, watch
//!   envelopes) or YAML (Lists, multi-document streams), either Event API, optionally gzip;
//!   the format comes from the content, never the file name.
//!
//! ```no_run
//! use kubetrail_source::import::{self, Item};
//! # fn main() -> kubetrail_source::Result<()> {
//! let found = import::discover(&["must-gather/".into()])?;
//! for file in &found.files {
//!     for item in import::read_file(&file.path, "prod")? {
//!         if let Item::Event { event, .. } = item? {
//!             println!("{} {}", event.reason, event.note);
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod anchors;
mod decode;
mod discover;
mod envelope;
mod fault;
mod item;
mod json;
mod open;
mod quirks;
mod scan;
mod yaml;

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::error::{ImportError, Result};

pub use discover::{Discovered, ImportFile, SkippedFile, discover};
pub use item::{Item, Location, SkipReason, WatchType};

use decode::Decoder;
use fault::{Fault, Pos};
use json::JsonReader;
use scan::Input;
use yaml::YamlReader;

/// The syntax of a file, as detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON List, array or stream of concatenated values.
    Json,
    /// One JSON value per line (detected after the first line).
    Ndjson,
    /// YAML, one or more documents.
    Yaml,
}

/// Streams the items of the file at `path`; Events are normalized for `cluster`.
///
/// Memory stays bounded by the largest single value (an Event, a line, a YAML document that is
/// not a List), never the file. A file that cannot be opened is an error here; a file that is
/// broken (malformed JSON or YAML, truncated gzip) or holds neither Events nor rollout revisions
/// (ReplicaSets, ControllerRevisions) yields an error from the iterator, after the items read
/// before it.
pub fn read_file(path: &Path, cluster: &str) -> Result<FileItems> {
    let file = File::open(path).map_err(|source| ImportError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    read_from(file, path, cluster)
}

/// Like [`read_file`], from any reader; `path` names it in locations and errors.
pub fn read_from<R: Read + Send + 'static>(
    reader: R,
    path: &Path,
    cluster: &str,
) -> Result<FileItems> {
    let read_error = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut opened = open::open(reader).map_err(read_error)?;
    let path: Arc<Path> = Arc::from(path);
    let gzip = opened.gzip;
    let reader = match open::sniff(&mut opened.input) {
        Ok((open::Syntax::Json, line)) => {
            Reader::Json(JsonReader::new(Input::new(opened.input, line)))
        }
        Ok((open::Syntax::Yaml, line)) => Reader::Yaml(YamlReader::new(opened.input, line)),
        Err(source) => return Err(Fault::Io(source).into_error(&path, gzip)),
    };
    Ok(FileItems {
        decoder: Decoder::new(cluster, Arc::clone(&path)),
        path,
        gzip,
        progress: opened.progress,
        reader: Some(reader),
        pending: VecDeque::new(),
    })
}

/// The items of one file, in file order. After an error, the iterator ends.
pub struct FileItems {
    path: Arc<Path>,
    gzip: bool,
    progress: Arc<AtomicU64>,
    /// `None` once the file is done or failed.
    reader: Option<Reader>,
    decoder: Decoder,
    /// Items decoded but not yet handed out (the items of a List that was parsed whole).
    pending: VecDeque<Item>,
}

impl FileItems {
    /// Tests: read Events with k8s-openapi's types, as before [`kubetrail_process::wire`].
    #[cfg(test)]
    pub(crate) fn with_k8s_openapi(mut self) -> FileItems {
        self.decoder.k8s_openapi = true;
        self
    }

    /// The file being read, as given to [`read_file`] or [`read_from`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The syntax detected so far (JSON turns into NDJSON after the first line).
    pub fn format(&self) -> Format {
        match &self.reader {
            Some(Reader::Yaml(_)) => Format::Yaml,
            Some(Reader::Json(json)) if json.is_ndjson() => Format::Ndjson,
            _ => Format::Json,
        }
    }

    /// A shared counter of the bytes read from the file so far, as stored on disk (compressed
    /// bytes for gzip): compare it with the file size for a progress bar while another thread
    /// drives the iterator.
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.progress)
    }

    /// The bytes read from the file so far, as stored on disk.
    pub fn bytes_read(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    pub(crate) fn has_content(&self) -> bool {
        self.decoder.stats.has_content()
    }

    fn fail(&mut self, fault: Fault) -> Option<Result<Item>> {
        self.reader = None;
        self.pending.clear();
        Some(Err(fault.into_error(&self.path, self.gzip)))
    }
}

impl Iterator for FileItems {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            let reader = self.reader.as_mut()?;
            let fault = match reader.next_raw() {
                Ok(Some(Raw::Json { bytes, pos })) => {
                    match self.decoder.json(bytes, Some(pos.line), &mut self.pending) {
                        Ok(Some(item)) => return Some(Ok(item)),
                        Ok(None) => continue,
                        Err(err) => Fault::json(&err, pos),
                    }
                }
                Ok(Some(Raw::Value { value, line })) => {
                    let location = self.decoder.location(line);
                    match self.decoder.value(value, location, &mut self.pending) {
                        Some(item) => return Some(Ok(item)),
                        None => continue,
                    }
                }
                Ok(Some(Raw::Unsupported { line, message })) => {
                    let location = self.decoder.location(Some(line));
                    self.decoder
                        .stats
                        .other(|| "an unsupported YAML value".to_string());
                    let reason = SkipReason::Unsupported(message);
                    return Some(Ok(Item::Skipped { location, reason }));
                }
                Ok(Some(Raw::ListEnd { kind, items })) => {
                    self.decoder.stats.list_end(kind.as_deref(), items);
                    continue;
                }
                Ok(None) => {
                    self.reader = None;
                    if self.decoder.stats.has_content() {
                        return None;
                    }
                    return Some(Err(ImportError::NotEvents {
                        path: self.path.to_path_buf(),
                        found: self.decoder.stats.found(),
                    }));
                }
                Err(fault) => fault,
            };
            return self.fail(fault);
        }
    }
}

enum Reader {
    Json(JsonReader),
    Yaml(YamlReader),
}

impl Reader {
    fn next_raw(&mut self) -> Result<Option<Raw<'_>>, Fault> {
        match self {
            Reader::Json(json) => json.next_raw(),
            Reader::Yaml(yaml) => yaml.next_raw(),
        }
    }
}

/// What a reader hands over: one value, in bytes or parsed, or the end of a streamed List.
pub(crate) enum Raw<'a> {
    /// One JSON value's bytes and where it starts.
    Json { bytes: &'a [u8], pos: Pos },
    /// One value parsed already (YAML), and the line it starts on.
    Value { value: Value, line: Option<u64> },
    /// Valid YAML that has no JSON equivalent.
    Unsupported { line: u64, message: String },
    /// The end of a List (or array) whose items were streamed.
    ListEnd { kind: Option<String>, items: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = Vec<Result<Item, String>>;

    /// The file read with `wire`, then with k8s-openapi's types.
    fn read_both(path: &Path) -> (Read, Read) {
        let read = |k8s_openapi: bool| {
            let items = read_file(path, "c").expect("a readable file");
            let items = if k8s_openapi {
                items.with_k8s_openapi()
            } else {
                items
            };
            items.map(|r| r.map_err(|e| e.to_string())).collect()
        };
        (read(false), read(true))
    }

    /// Every object of a dump: the items of Lists, the elements of arrays, YAML documents.
    fn objects(value: Value, out: &mut Vec<Value>) {
        match value {
            Value::Array(items) => items.into_iter().for_each(|v| objects(v, out)),
            Value::Object(mut map) if map.get("items").is_some_and(Value::is_array) => {
                if let Some(items) = map.remove("items") {
                    objects(items, out);
                }
            }
            Value::Object(map) => out.push(Value::Object(map)),
            _ => {}
        }
    }

    /// Every real dump (JSON Lists and arrays, YAML documents, both Event APIs, the quirks
    /// the slow path repairs), and all their objects again as NDJSON lines, every other one
    /// in a watch envelope (the fast path): read with `wire`, the items are those read with
    /// k8s-openapi's types as before, skipped items and their reasons included.
    #[test]
    fn every_real_dump_gives_the_items_it_gave_with_k8s_openapi() {
        let dir = kubetrail_testkit::real_events();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("the real dumps")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
            .collect();
        files.sort();
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let (mut events, mut v1) = (0, 0);
        for path in &files {
            let text = std::fs::read_to_string(path).expect("a readable dump");
            let mut values = Vec::new();
            if path.extension().is_some_and(|e| e == "json") {
                objects(serde_json::from_str(&text).expect("JSON"), &mut values);
            } else {
                for document in yaml_serde::Deserializer::from_str(&text) {
                    if let Ok(value) = serde::Deserialize::deserialize(document) {
                        objects(value, &mut values);
                    }
                }
            }
            let ndjson = scratch.path().join("lines.ndjson");
            let lines: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i % 2 == 1 {
                        serde_json::json!({"type": "MODIFIED", "object": v}).to_string()
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            std::fs::write(&ndjson, lines.join("\n")).expect("writable");
            v1 += values
                .iter()
                .filter(|v| v["apiVersion"] == "events.k8s.io/v1")
                .count();
            for file in [path.as_path(), ndjson.as_path()] {
                let (wire, typed) = read_both(file);
                assert_eq!(wire.len(), typed.len(), "{}", path.display());
                for (a, b) in wire.iter().zip(&typed) {
                    assert_eq!(a, b, "{} ({})", path.display(), file.display());
                    events += usize::from(matches!(a, Ok(Item::Event { .. })));
                }
            }
        }
        // ~18,800 Events, read twice each (all of them importable once repaired; what is
        // refused is compared by the tests of `kubetrail_process::wire`).
        assert!(events > 30_000, "{events} events");
        assert!(v1 >= 8, "{v1} events.k8s.io/v1 objects");
    }

    #[test]
    fn file_items_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<FileItems>();
    }

    #[test]
    fn a_byte_order_mark_and_leading_blank_lines_are_skipped() {
        let text = "\u{feff}\n\n{\"kind\":\"EventList\",\"items\":[]}";
        let items = read_from(std::io::Cursor::new(text), Path::new("bom.json"), "c").unwrap();
        assert_eq!(items.format(), Format::Json);
        assert_eq!(items.count(), 0);
        let yaml = "\u{feff}# c\nitems: []\n";
        let items = read_from(std::io::Cursor::new(yaml), Path::new("bom.yaml"), "c").unwrap();
        assert_eq!(items.format(), Format::Yaml);
        assert_eq!(items.count(), 0);
    }
}
