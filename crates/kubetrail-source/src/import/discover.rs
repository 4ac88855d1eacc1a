//! Expanding the paths given to `kubetrail import`: files as given, directories (a
//! must-gather, a support bundle) searched for the files that hold Events, or ReplicaSets and
//! ControllerRevisions (the rollout history of workloads).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use crate::error::{ImportError, Result};

use super::item::{Item, SkipReason};
use super::open;

/// How much of a file (after gunzip) is looked at to decide whether it holds Events.
const SNIFF: usize = 64 << 10;

/// A file to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    /// The file, as given or as found under a given directory.
    pub path: PathBuf,
    /// Size on disk, the total for a progress bar over [`super::FileItems::progress`].
    pub size: u64,
}

/// A file found in a directory but not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// The file (or directory), as found.
    pub path: PathBuf,
    /// Why it was skipped, for people.
    pub reason: String,
    /// The file (or directory) could not be read at all (permissions, a dangling link, an
    /// I/O error), so whether it holds Events is unknown; otherwise it was read and holds none.
    pub unreadable: bool,
}

impl SkippedFile {
    fn unreadable(path: PathBuf, reason: String) -> SkippedFile {
        SkippedFile {
            path,
            reason,
            unreadable: true,
        }
    }
}

/// Why `holds_events` says no.
enum NotEvents {
    /// The file could not be read.
    Unreadable(String),
    /// The file was read and holds no Events.
    Other(String),
}

/// What [`discover`] found: the files to import, in order, and the files it passed over.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The files to import, in the order given (directories expanded in sorted order).
    pub files: Vec<ImportFile>,
    /// Files found in directories but not imported, with why.
    pub skipped: Vec<SkippedFile>,
}

/// Expands `paths`: files are kept as given (their content is checked when read); directories
/// are walked recursively in sorted order, keeping the files whose first 64 KiB (after gunzip)
/// look like Kubernetes Events: a List or EventList with Event items, a bare array of Events,
/// a stream of Event objects or watch envelopes; or hold a ReplicaSet or ControllerRevision of
/// a workload (a rollout revision). The others come back in `skipped` with a reason. A path that does not exist, or a directory that cannot be listed, is an error.
/// Symbolic links to directories are not followed (they could loop); a file reached twice is
/// kept once.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered> {
    let mut found = Discovered::default();
    let mut seen = HashSet::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| ImportError::Open {
            path: path.clone(),
            source,
        })?;
        if !meta.is_dir() {
            if seen.insert(path.clone()) {
                found.files.push(ImportFile {
                    path: path.clone(),
                    size: meta.len(),
                });
            }
            continue;
        }
        let mut files = Vec::new();
        walk(path, &mut files, &mut found.skipped).map_err(|source| ImportError::ReadDir {
            path: path.clone(),
            source,
        })?;
        files.sort();
        for (path, size) in files {
            if !seen.insert(path.clone()) {
                continue;
            }
            match holds_events(&path) {
                Ok(()) => found.files.push(ImportFile { path, size }),
                Err(NotEvents::Unreadable(reason)) => {
                    found.skipped.push(SkippedFile::unreadable(path, reason))
                }
                Err(NotEvents::Other(reason)) => found.skipped.push(SkippedFile {
                    path,
                    reason,
                    unreadable: false,
                }),
            }
        }
    }
    Ok(found)
}

/// Collects the files under `dir`; subdirectories that cannot be listed are skipped, the top
/// one is an error.
fn walk(
    dir: &Path,
    files: &mut Vec<(PathBuf, u64)>,
    skipped: &mut Vec<SkippedFile>,
) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let skip = |reason: String| SkippedFile {
            path: entry.path(),
            reason,
            unreadable: false,
        };
        let unreadable = |reason: String| SkippedFile::unreadable(entry.path(), reason);
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if let Err(e) = walk(&path, files, skipped) {
                skipped.push(unreadable(format!("cannot list directory: {e}")));
            }
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => files.push((path, meta.len())),
            Ok(meta) if meta.is_dir() => {
                skipped.push(skip("link to a directory, not followed".to_string()))
            }
            Ok(_) => skipped.push(skip("not a regular file".to_string())),
            Err(e) => skipped.push(unreadable(format!("cannot read: {e}"))),
        }
    }
    Ok(())
}

/// Reads the first 64 KiB through the real reader: Events (or watch envelopes, or an empty
/// EventList) there keep the file. When nothing could be told (one object larger than that),
/// the text is searched for the marks of an Event instead; so is a file with a syntax error,
/// so that a broken Event dump is reported when read rather than silently left out.
fn holds_events(path: &Path) -> Result<(), NotEvents> {
    let file = File::open(path).map_err(|e| NotEvents::Unreadable(format!("cannot open: {e}")))?;
    let opened =
        open::open(file).map_err(|e| NotEvents::Unreadable(format!("cannot read: {e}")))?;
    let mut prefix = Vec::with_capacity(SNIFF + 1);
    let read = opened.input.take(SNIFF as u64 + 1).read_to_end(&mut prefix);
    if let Err(e) = read
        && prefix.is_empty()
    {
        return Err(NotEvents::Unreadable(format!("cannot read: {e}")));
    }
    if prefix.is_empty() {
        return Err(NotEvents::Other("empty file".to_string()));
    }
    let complete = prefix.len() <= SNIFF;
    prefix.truncate(SNIFF);
    let mentions_events = mentions_events(&prefix);
    let mut items = super::read_from(Cursor::new(prefix), path, "")
        .map_err(|e| NotEvents::Other(e.to_string()))?;
    let mut saw_value = false;
    for item in items.by_ref() {
        match item {
            Ok(Item::Event { .. } | Item::Revision(_)) => return Ok(()),
            Ok(Item::Skipped { reason, .. })
                if reason.is_event() || matches!(reason, SkipReason::Watch(_)) =>
            {
                return Ok(());
            }
            Ok(_) => saw_value = true,
            Err(ImportError::NotEvents { found, .. }) => {
                return Err(NotEvents::Other(format!(
                    "no Kubernetes Event (found {found})"
                )));
            }
            Err(_) if !complete && !saw_value && mentions_events => return Ok(()),
            Err(_) if !complete => break,
            Err(_) if mentions_events => return Ok(()),
            Err(e) => return Err(NotEvents::Other(format!("not JSON or YAML: {e}"))),
        }
    }
    if items.has_content() {
        return Ok(());
    }
    Err(NotEvents::Other(format!(
        "no Kubernetes Event in the first {} KiB",
        SNIFF >> 10
    )))
}

/// Whether the text has the marks of an Event: `involvedObject`, or a `kind: Event` line.
fn mentions_events(prefix: &[u8]) -> bool {
    let text = String::from_utf8_lossy(prefix);
    [
        "\"involvedObject\"",
        "involvedObject:",
        "\"kind\":\"Event\"",
        "\"kind\": \"Event\"",
    ]
    .iter()
    .any(|mark| text.contains(mark))
        || text.lines().any(|line| {
            let line = line.trim().trim_start_matches("- ");
            line == "kind: Event" || line == "kind: EventList"
        })
}
