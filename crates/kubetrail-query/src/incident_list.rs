//! A list of kept incidents read from their summaries (issue 14 §1): what `kubetrail incidents`
//! prints, without decoding the stored JSON of every incident.
//!
//! The stored incidents of a window are read as lines ([`IncidentLine`]: the columns a list
//! shows and sorts by), merged with what was written since the last maintenance (recomputed
//! in memory, as [`kept_read`](crate::kept_read) does, by the same functions) and sorted as
//! [`incidents()`](kubetrail_analyze::incidents) sorts. Only the incidents a change may be
//! linked to, and the cluster-wide ones a table lists the workloads of, are read whole. As
//! JSON, each stored incident's text is copied into the output in order, re-indented, with its
//! status as of the read ([`KeptList::write_json`]): the same bytes as the incidents decoded
//! and written by `serde_json::to_writer_pretty`, holding two chunks of them at a time (one laid
//! out while the next is read).

use std::io::Write;

use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, Status, Window};
use kubetrail_model::{Change, EventFilter, Severity};
use kubetrail_store::{EventReader, IncidentBodies, IncidentLine};

use crate::incidents::{ChangeTimes, Listed, decode_bytes, finish, kept_answer, recompute_dirty};
use crate::json_pretty::{pretty_into, write_compact};
use crate::{Error, Result};

/// How many stored incidents [`KeptList::write_json`] reads at once.
const CHUNK: usize = 256;

/// How much [`KeptList::write_json`] lays out before it writes: the text goes to `out` in
/// pieces of at least this size, laid out in place (not copied once more through a buffer).
const PIECE: usize = 256 * 1024;

/// Kept incidents as a list: in order, each a stored line or an incident held whole.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptList {
    /// Sorted as [`incidents()`](kubetrail_analyze::incidents()) sorts.
    pub items: Vec<ListItem>,
    /// The incidents held whole ([`ListItem::Whole`] points here): recomputed in memory, or
    /// read whole ([`KeptList::read_whole`]).
    pub whole: Vec<Incident>,
}

/// One incident of a [`KeptList`].
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    /// A stored incident, by what a list shows of it, with its status as of the read.
    Line {
        /// What the store keeps of it for lists.
        line: IncidentLine,
        /// Its status as of the read.
        status: Status,
    },
    /// An incident held whole: its index in [`KeptList::whole`].
    Whole(usize),
}

/// An item before the list is split into lines and whole incidents.
enum Entry {
    Line(IncidentLine, Status),
    Whole(Box<Incident>),
}

impl Listed for Entry {
    fn order_key(&self) -> (Status, Severity, Timestamp, &str) {
        match self {
            Entry::Line(l, status) => (*status, l.summary.severity, l.end, &l.summary.id),
            Entry::Whole(i) => (i.status, i.severity, i.end, &i.id),
        }
    }
    fn start_subject(&self) -> (Timestamp, &str) {
        match self {
            Entry::Line(l, _) => (l.start, &l.summary.subject),
            Entry::Whole(i) => (i.start, &i.subject),
        }
    }
    fn resolve(&mut self) {
        match self {
            Entry::Line(_, status) => *status = Status::Resolved,
            Entry::Whole(i) => i.status = Status::Resolved,
        }
    }
    fn fresh(incident: Incident) -> Self {
        Entry::Whole(Box::new(incident))
    }
}

/// The stored status of a line.
fn stored_status(line: &IncidentLine) -> Status {
    if line.summary.ongoing {
        Status::Ongoing
    } else {
        Status::Resolved
    }
}

/// [`kept_read`](crate::kept_read) as a list: the same incidents in the same order, stored ones
/// as their lines. `None` when the store keeps no incidents.
pub async fn kept_list(
    reader: &dyn EventReader,
    clusters: &[String],
    window: Window,
    now: Timestamp,
    cfg: &IncidentConfig,
) -> Result<Option<KeptList>> {
    let Some(store) = reader.incident_store() else {
        return Ok(None);
    };
    let last = window.until - SignedDuration::from_micros(1);
    let mut lines: Vec<IncidentLine> = Vec::new();
    match clusters {
        [] => lines = store.incident_lines(None, window.since, last).await?,
        _ => {
            for c in clusters {
                lines.extend(store.incident_lines(Some(c), window.since, last).await?);
            }
        }
    }
    let extent = lines.iter().fold((window.since, last), |(a, b), l| {
        (a.min(l.start), b.max(l.end))
    });
    let fresh = recompute_dirty(reader, store, clusters, extent, cfg).await?;
    let out: Vec<Entry> = lines
        .into_iter()
        .filter(|l| !fresh.replaces(&l.cluster, l.start, l.end))
        .map(|l| {
            let status = stored_status(&l);
            Entry::Line(l, status)
        })
        .collect();
    let mut list = KeptList {
        items: Vec::new(),
        whole: Vec::new(),
    };
    for entry in finish(out, fresh.within(window), window, now, cfg) {
        list.items.push(match entry {
            Entry::Line(line, status) => ListItem::Line { line, status },
            Entry::Whole(i) => {
                list.whole.push(*i);
                ListItem::Whole(list.whole.len() - 1)
            }
        });
    }
    Ok(Some(list))
}

/// The list of kept incidents of `window` for `filter`, as
/// [`window_incidents`](crate::window_incidents) finds them when the kept results answer
/// ([`kept_answer`]); `None` when they do not (then analyse the window's events). Changes are
/// not linked here ([`KeptList::whole_where_changes`]).
pub async fn window_list(
    reader: &dyn EventReader,
    filter: &EventFilter,
    window: Window,
    cfg: &IncidentConfig,
) -> Result<Option<KeptList>> {
    if !kept_answer(filter, cfg) {
        return Ok(None);
    }
    let now = cfg.now.unwrap_or(window.until);
    kept_list(reader, &filter.clusters, window, now, cfg).await
}

impl KeptList {
    /// Whether it lists nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The earliest start of its incidents.
    pub fn earliest_start(&self) -> Option<Timestamp> {
        self.items
            .iter()
            .map(|item| match item {
                ListItem::Line { line, .. } => line.start,
                ListItem::Whole(k) => self.whole[*k].start,
            })
            .min()
    }

    /// Calls `each(item, line, text)` with the stored text of each listed incident whose line
    /// `pick` chooses, in order, reading 256 (`CHUNK`) at a time; one replaced since the list was
    /// read is left out.
    pub async fn for_each_stored<E: From<Error>>(
        &self,
        reader: &dyn EventReader,
        pick: impl Fn(&IncidentLine) -> bool,
        mut each: impl FnMut(usize, &IncidentLine, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(store) = reader.incident_store() else {
            return Ok(());
        };
        let wanted: Vec<(usize, &IncidentLine)> = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(k, item)| match item {
                ListItem::Line { line, .. } if pick(line) => Some((k, line)),
                _ => None,
            })
            .collect();
        let mut bodies = IncidentBodies::default();
        for chunk in wanted.chunks(CHUNK) {
            bodies = store
                .incident_bodies_into(chunk.iter().map(|(_, line)| line.row).collect(), bodies)
                .await
                .map_err(Error::from)?;
            let mut read = bodies.iter().peekable();
            for &(k, line) in chunk {
                if let Some((_, body)) = read.next_if(|(r, _)| *r == line.row) {
                    each(k, line, body)?;
                }
            }
        }
        Ok(())
    }

    /// Reads whole the stored incidents whose line `pick` chooses, keeping their status as of
    /// the read. One replaced since the list was read stays a line.
    pub async fn read_whole(
        &mut self,
        reader: &dyn EventReader,
        pick: impl Fn(&IncidentLine) -> bool,
    ) -> Result<()> {
        let mut read: Vec<(usize, Incident)> = Vec::new();
        self.for_each_stored(reader, pick, |k, _, body| -> Result<()> {
            read.push((k, decode_bytes(body)?));
            Ok(())
        })
        .await?;
        for (k, incident) in read {
            let ListItem::Line { status, .. } = self.items[k] else {
                continue;
            };
            self.whole.push(Incident { status, ..incident });
            self.items[k] = ListItem::Whole(self.whole.len() - 1);
        }
        Ok(())
    }

    /// Reads whole the stored incidents a change of `changes` may be linked to (as
    /// [`whole_where_changes`](crate::whole_where_changes) does for heads): then
    /// [`link_changes`](kubetrail_analyze::link_changes) over [`KeptList::whole`] links them
    /// as it links the incidents of a whole read.
    pub async fn whole_where_changes(
        &mut self,
        reader: &dyn EventReader,
        changes: &[Change],
        cfg: &IncidentConfig,
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let near = ChangeTimes::new(changes);
        self.read_whole(reader, |l| near.near(&l.cluster, l.start, cfg))
            .await
    }

    /// Writes the list as serde_json writes its incidents read whole, laid out as `layout`
    /// says, reading the stored ones 256 (`CHUNK`) at a time, each chunk while the one before
    /// it is laid out. [`Error::Changed`] when one was replaced (by a maintainer) since the
    /// list was read.
    pub async fn write_json(
        &self,
        reader: &dyn EventReader,
        out: &mut impl Write,
        layout: JsonLayout,
    ) -> Result<()> {
        if self.items.is_empty() {
            out.write_all(layout.empty())?;
            return Ok(());
        }
        let store = reader.incident_store();
        // The bodies of a chunk's stored incidents, read into `into` (its memory reused).
        let read = |chunk: &[ListItem], into: IncidentBodies| {
            let rows: Vec<i64> = chunk
                .iter()
                .filter_map(|item| match item {
                    ListItem::Line { line, .. } => Some(line.row),
                    ListItem::Whole(_) => None,
                })
                .collect();
            async move {
                match (store, rows.is_empty()) {
                    (_, true) => {
                        let mut into = into;
                        into.clear();
                        Ok(into)
                    }
                    (Some(store), false) => Ok(store.incident_bodies_into(rows, into).await?),
                    (None, false) => Err(Error::Changed),
                }
            }
        };
        let mut text: Vec<u8> = Vec::with_capacity(PIECE + PIECE / 4);
        text.extend_from_slice(layout.open());
        let mut first = true;
        let chunks: Vec<&[ListItem]> = self.items.chunks(CHUNK).collect();
        let mut bodies = read(chunks[0], IncidentBodies::default()).await?;
        let mut spare = IncidentBodies::default();
        for (k, chunk) in chunks.iter().enumerate() {
            // The next chunk is read (on the store's thread) while this one is laid out: the
            // read is polled first, so it has started when the layout runs.
            let laid = match chunks.get(k + 1) {
                Some(next) => {
                    let (read, laid) = futures::future::join(read(next, spare), async {
                        self.lay_out(chunk, &bodies, layout, &mut first, &mut text, out)
                    })
                    .await;
                    spare = std::mem::replace(&mut bodies, read?);
                    laid
                }
                None => self.lay_out(chunk, &bodies, layout, &mut first, &mut text, out),
            };
            laid?;
        }
        text.extend_from_slice(layout.close());
        out.write_all(&text)?;
        Ok(())
    }

    /// Lays out the incidents of `chunk` after `text`, the bodies of its stored ones in
    /// `bodies`, writing `text` to `out` whenever it has reached `PIECE`.
    fn lay_out(
        &self,
        chunk: &[ListItem],
        bodies: &IncidentBodies,
        layout: JsonLayout,
        first: &mut bool,
        text: &mut Vec<u8>,
        out: &mut impl Write,
    ) -> Result<()> {
        let mut bodies = bodies.iter();
        let mut compact = Vec::new();
        for item in chunk {
            if text.len() >= PIECE {
                out.write_all(text)?;
                text.clear();
            }
            text.extend_from_slice(layout.before(*first));
            *first = false;
            match item {
                ListItem::Line { line, status } => {
                    let body = match bodies.next() {
                        Some((row, body)) if row == line.row => body,
                        _ => return Err(Error::Changed),
                    };
                    // The status as of the read, where it differs from the stored one.
                    let read = (*status != stored_status(line))
                        .then(|| serde_json::to_string(status))
                        .transpose()
                        .map_err(crate::incidents::json_error)?;
                    let replace = read.as_deref().map(|v| ("status", v));
                    layout.write(text, body, replace);
                }
                ListItem::Whole(k) => {
                    compact.clear();
                    serde_json::to_writer(&mut compact, &self.whole[*k])
                        .map_err(crate::incidents::json_error)?;
                    layout.write(text, &compact, None);
                }
            }
            text.extend_from_slice(layout.after());
        }
        Ok(())
    }
}

/// How [`KeptList::write_json`] lays a list out: byte for byte what serde_json writes for the
/// incidents read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLayout {
    /// As `serde_json::to_writer_pretty` writes the list, and a newline (`-o json`).
    Pretty,
    /// As `serde_json::to_writer` writes the list (the API's answer).
    Compact,
    /// One incident a line, as `serde_json::to_writer` writes it (`-o ndjson`).
    Lines,
}

impl JsonLayout {
    fn empty(self) -> &'static [u8] {
        match self {
            JsonLayout::Pretty => b"[]\n",
            JsonLayout::Compact => b"[]",
            JsonLayout::Lines => b"",
        }
    }
    fn open(self) -> &'static [u8] {
        match self {
            JsonLayout::Pretty | JsonLayout::Compact => b"[",
            JsonLayout::Lines => b"",
        }
    }
    fn before(self, first: bool) -> &'static [u8] {
        match (self, first) {
            (JsonLayout::Pretty, true) => b"\n  ",
            (JsonLayout::Pretty, false) => b",\n  ",
            (JsonLayout::Compact, false) => b",",
            (JsonLayout::Compact | JsonLayout::Lines, _) => b"",
        }
    }
    fn write(self, out: &mut Vec<u8>, json: &[u8], replace: Option<(&str, &str)>) {
        match self {
            JsonLayout::Pretty => pretty_into(out, json, 1, replace),
            JsonLayout::Compact | JsonLayout::Lines => {
                // Writing into a Vec cannot fail.
                let _ = write_compact(out, json, replace);
            }
        }
    }
    fn after(self) -> &'static [u8] {
        match self {
            JsonLayout::Lines => b"\n",
            JsonLayout::Pretty | JsonLayout::Compact => b"",
        }
    }
    fn close(self) -> &'static [u8] {
        match self {
            JsonLayout::Pretty => b"\n]\n",
            JsonLayout::Compact => b"]",
            JsonLayout::Lines => b"",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::stored;
    use kubetrail_store::SqliteStore;
    use serde_json::json;

    fn minute(n: i64) -> Timestamp {
        Timestamp::from_second(1_738_000_000 + n * 60).expect("a time")
    }

    /// 700 incidents of one cluster, one a minute, of different sizes, every third ongoing.
    fn many() -> Vec<Incident> {
        let base: Incident = serde_json::from_value(json!({
            "id": "inc-0", "cluster": "default", "subject": "ns/Job/job",
            "cluster_wide": false,
            "affected": [{"workload": "ns/Job/job", "objects": 1, "events": 1}],
            "title": "ns/Job/job: failure", "severity": "error", "status": "resolved",
            "start": "2025-01-30T20:08:50Z", "end": "2025-01-30T20:08:50Z",
            "root_cause": {"reason": "BackoffLimitExceeded", "rule": "first-failure",
                "evidence": ["BackoffLimitExceeded on Job/job: \"limit\" reached"],
                "object": "ns/Job/job", "message": "Job has reached the backoff limit",
                "at": "2025-01-30T20:08:50Z", "hint": "kubectl -n ns describe job job"},
            "objects": ["ns/Job/job"], "object_count": 1, "nodes": [], "event_count": 1,
            "timeline": [{"first_seen": "2025-01-30T20:08:50Z",
                "last_seen": "2025-01-30T20:08:50Z", "count": 1, "object": "ns/Job/job",
                "reason": "BackoffLimitExceeded", "severity": "error",
                "message": "Job has reached the backoff limit"}],
            "timeline_omitted": 0
        }))
        .expect("an incident");
        (0..700)
            .map(|n| Incident {
                id: format!("inc-{n:012x}"),
                status: if n % 3 == 0 {
                    Status::Ongoing
                } else {
                    Status::Resolved
                },
                start: minute(n),
                end: minute(n),
                timeline: vec![base.timeline[0].clone(); 1 + n as usize % 40],
                ..base.clone()
            })
            .collect()
    }

    /// A list of several chunks (each chunk's bodies read while the one before is laid out, the
    /// buffers reused), with incidents held whole among the stored ones and statuses resolved
    /// by the read, is written in every layout as serde_json writes the incidents.
    #[tokio::test]
    async fn a_list_of_several_chunks_is_written_as_serde_json_writes_its_incidents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("store");
        let found = many();
        let kept = store.incident_store().expect("SQLite keeps incidents");
        let rows = found.iter().map(stored).collect::<Result<Vec<_>>>();
        kept.replace_incidents(
            "default",
            minute(0),
            minute(700),
            None,
            rows.expect("stored"),
        )
        .await
        .expect("replace");
        let cfg = IncidentConfig::default();
        let window = Window::new(minute(0), minute(700)).expect("a window");
        let mut list = kept_list(&store, &[], window, minute(100_000), &cfg)
            .await
            .expect("list")
            .expect("SQLite keeps incidents");
        list.read_whole(&store, |l| l.summary.id.ends_with('7'))
            .await
            .expect("whole");
        assert!(list.items.len() > 2 * CHUNK);
        let by_id: std::collections::HashMap<&str, &Incident> =
            found.iter().map(|i| (i.id.as_str(), i)).collect();
        let expected: Vec<Incident> = list
            .items
            .iter()
            .map(|item| match item {
                ListItem::Line { line, status } => Incident {
                    status: *status,
                    ..by_id[line.summary.id.as_str()].clone()
                },
                ListItem::Whole(k) => list.whole[*k].clone(),
            })
            .collect();
        assert!(expected.iter().all(|i| i.status == Status::Resolved));
        let mut lines = String::new();
        for i in &expected {
            lines += &(serde_json::to_string(i).expect("json") + "\n");
        }
        for (layout, want) in [
            (
                JsonLayout::Pretty,
                serde_json::to_string_pretty(&expected).expect("json") + "\n",
            ),
            (JsonLayout::Lines, lines),
            (
                JsonLayout::Compact,
                serde_json::to_string(&expected).expect("json"),
            ),
        ] {
            let mut out = Vec::new();
            list.write_json(&store, &mut out, layout)
                .await
                .expect("json");
            assert!(out == want.as_bytes(), "{layout:?}");
        }
    }
}
