//! What one file yields: Events, owner links of other objects, rollout revisions (ReplicaSets
//! and ControllerRevisions), and what was skipped and why.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use kubetrail_process::change::Revision;
use kubetrail_process::{ObjectLink, Rejected};

/// One thing read from a file.
// Events are nearly every item: boxing them would add an allocation per item to save copies
// on the rare small ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An Event, normalized (processing fields left at their defaults).
    Event {
        /// The Event.
        event: kubetrail_model::Event,
        /// Where it was read.
        location: Location,
    },
    /// A non-Event object (Pod, ReplicaSet, Job, Deployment...) with its controller owner, so
    /// that correlation can follow owner chains. `owner` is `None` for top-level objects.
    Object(ObjectLink),
    /// A revision of a workload's pod template, read from a ReplicaSet or ControllerRevision
    /// (which also comes as an [`Item::Object`]): `import` rebuilds the rollout history from them.
    Revision(Revision),
    /// Something that is not imported; counted and reported, never an error.
    Skipped {
        /// Where it was read.
        location: Location,
        /// Why it was skipped.
        reason: SkipReason,
    },
}

/// Where an item came from: the file, the line it starts on when known, and its index among
/// the values of the file (0-based, counting list items and top-level values alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: Arc<Path>,
    /// The line the value starts on, from 1; `None` where the reader does not track lines (values
    /// inside a List parsed whole).
    pub line: Option<u64>,
    /// The value's index among the values of the file, from 0.
    pub index: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.path.display()),
            None => write!(f, "{}[items {}]", self.path.display(), self.index),
        }
    }
}

/// Why an item was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// An Event that normalization refuses (no uid, no timestamp at all).
    Rejected(Rejected),
    /// An Event (by its kind or shape) whose fields do not deserialize even after the known
    /// quirks of real dumps are repaired; the serde message says which field.
    InvalidEvent(String),
    /// A watch envelope that carries no new state of an Event.
    Watch(WatchType),
    /// An object that is not an Event and has no identity to link owners with (no kind or no
    /// `metadata.name`), e.g. a `Status`.
    NotAnEvent {
        /// The object's `kind`, or `None` when it has none.
        kind: Option<String>,
    },
    /// A value that is not an object at all (a string, a number, an array inside a list...).
    NotAnObject(&'static str),
    /// A YAML value that has no JSON equivalent (for example a mapping with non-string keys).
    Unsupported(String),
}

impl SkipReason {
    /// Whether the skipped value was an Event (so it counts as an event that was not imported).
    pub fn is_event(&self) -> bool {
        matches!(self, SkipReason::Rejected(_) | SkipReason::InvalidEvent(_))
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Rejected(rejected) => write!(f, "{rejected}"),
            SkipReason::InvalidEvent(message) => write!(f, "invalid event: {message}"),
            SkipReason::Watch(watch) => write!(f, "watch {} envelope", watch.as_str()),
            SkipReason::NotAnEvent { kind: Some(kind) } => {
                write!(f, "{kind} without metadata.name")
            }
            SkipReason::NotAnEvent { kind: None } => f.write_str("object without kind"),
            SkipReason::NotAnObject(what) => write!(f, "{what}, not an object"),
            SkipReason::Unsupported(message) => write!(f, "unsupported YAML value: {message}"),
        }
    }
}

/// The `type` of a watch envelope (`{"type": "ADDED", "object": {...}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchType {
    /// `ADDED`: the Event was created (or listed again); carries its state.
    Added,
    /// `MODIFIED`: the Event changed (e.g. its count grew); carries its new state.
    Modified,
    /// `DELETED`: the Event was deleted (e.g. its TTL ran out); its last state was seen before.
    Deleted,
    /// `BOOKMARK`: only a resourceVersion to resume from.
    Bookmark,
    /// `ERROR`: a `Status` from the server (e.g. 410 Gone).
    Error,
}

impl WatchType {
    /// The type named by a watch envelope's `type` field (`ADDED`, ...); `None` for any other text.
    pub fn parse(s: &str) -> Option<WatchType> {
        Some(match s {
            "ADDED" => WatchType::Added,
            "MODIFIED" => WatchType::Modified,
            "DELETED" => WatchType::Deleted,
            "BOOKMARK" => WatchType::Bookmark,
            "ERROR" => WatchType::Error,
            _ => return None,
        })
    }

    /// The name as written in a watch envelope's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchType::Added => "ADDED",
            WatchType::Modified => "MODIFIED",
            WatchType::Deleted => "DELETED",
            WatchType::Bookmark => "BOOKMARK",
            WatchType::Error => "ERROR",
        }
    }

    /// ADDED and MODIFIED carry an Event's current state; the others do not.
    pub fn carries_state(self) -> bool {
        matches!(self, WatchType::Added | WatchType::Modified)
    }
}
