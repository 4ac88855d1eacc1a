//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kubetrail_source::ImportError;
use kubetrail_source::import::{Item, SkipReason, read_file};

#[allow(unused_imports)]
pub use kubetrail_testkit::{real, real_events as dataset};

/// Expected Event counts per file, from the dataset README's table.
pub fn expected_counts() -> BTreeMap<String, (u64, u64, u64)> {
    let readme = std::fs::read_to_string(dataset().join("README.md")).expect("dataset README");
    let mut counts = BTreeMap::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `file` | repo | path | commit | license | events | Normal/Warning | reasons |
        if cells.len() < 9 || !cells[1].starts_with('`') {
            continue;
        }
        let Ok(events) = cells[6].parse::<u64>() else {
            continue;
        };
        let (normal, warning) = cells[7].split_once('/').expect("Normal/Warning column");
        counts.insert(
            cells[1].trim_matches('`').to_string(),
            (events, normal.parse().unwrap(), warning.parse().unwrap()),
        );
    }
    counts
}

/// Everything one file yields, split by kind.
#[derive(Debug, Default)]
pub struct Read {
    pub events: Vec<kubetrail_model::Event>,
    pub objects: Vec<kubetrail_process::ObjectLink>,
    pub revisions: Vec<kubetrail_process::change::Revision>,
    pub skipped: Vec<(String, SkipReason)>,
    pub error: Option<ImportError>,
}

impl Read {
    pub fn skipped_events(&self) -> usize {
        self.skipped.iter().filter(|(_, r)| r.is_event()).count()
    }
}

pub fn read(path: &Path) -> Read {
    let mut out = Read::default();
    let items = match read_file(path, "test") {
        Ok(items) => items,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    for item in items {
        match item {
            Ok(Item::Event { event, .. }) => out.events.push(event),
            Ok(Item::Object(link)) => out.objects.push(link),
            Ok(Item::Revision(revision)) => out.revisions.push(revision),
            Ok(Item::Skipped { location, reason }) => {
                out.skipped.push((location.to_string(), reason))
            }
            Err(e) => {
                assert!(out.error.is_none(), "the iterator goes on after an error");
                out.error = Some(e);
            }
        }
    }
    out
}

/// The raw Event objects of the real JSON files, in file order, and the Events read from the
/// files themselves (the reference for what other formats of the same objects must give).
pub fn real_json_events() -> (Vec<serde_json::Value>, Vec<kubetrail_model::Event>) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dataset())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let mut values = Vec::new();
    let mut events = Vec::new();
    for path in names {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        match doc {
            serde_json::Value::Array(items) => values.extend(items),
            mut list => values.append(list["items"].as_array_mut().unwrap()),
        }
        let got = read(&path);
        assert!(got.error.is_none());
        events.extend(got.events);
    }
    assert_eq!(values.len(), events.len());
    (values, events)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}
