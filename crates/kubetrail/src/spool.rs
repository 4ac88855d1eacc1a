//! The on-disk spool: batches that could not be stored wait here, in order, until the store
//! takes them again. Bounded in bytes; what does not fit is dropped, counted and reported as a
//! gap, never silently.
//!
//! Layout: one file per batch, `<dir>/<sequence>.json`, written to a temporary name and renamed,
//! so a crash leaves either a whole batch or none. Order is the sequence number.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kubetrail_model::{Event, Relink};
use kubetrail_store::{Gap, WatchCursor};
use serde::{Deserialize, Serialize};

/// A batch as the pipeline stores it: processed events, the cursor, a gap marker. The cursor
/// and the gap are the store's own types; the file format is their JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpooledBatch {
    pub events: Vec<Event>,
    pub cursor: Option<WatchCursor>,
    pub gap: Option<Gap>,
    /// Relinks learned with the events, applied after them (absent in older spools).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relinks: Vec<Relink>,
}

/// What [`Spool::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Spooled,
    /// The spool is full: the batch was dropped.
    Dropped,
}

/// A directory of pending batches, oldest first.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: u64,
    next: u64,
    /// Events dropped because the spool was full, since start.
    pub dropped_events: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir`; batches left by an earlier run are kept.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create spool {}", dir.display()))?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            bytes: 0,
            next: 0,
            dropped_events: 0,
        };
        for (seq, path) in spool.entries()? {
            spool.bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            spool.next = spool.next.max(seq + 1);
        }
        Ok(spool)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.entries()?.is_empty())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends a batch, or drops it (counted) when the spool would exceed its bound.
    pub fn push(&mut self, batch: &SpooledBatch) -> Result<Pushed> {
        let body = serde_json::to_vec(batch).context("cannot encode a spooled batch")?;
        if self.bytes + body.len() as u64 > self.max_bytes {
            self.dropped_events += batch.events.len() as u64;
            return Ok(Pushed::Dropped);
        }
        let path = self.dir.join(format!("{:020}.json", self.next));
        let tmp = self.dir.join(format!("{:020}.tmp", self.next));
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(&body)?;
        f.sync_data()?;
        fs::rename(&tmp, &path)?;
        self.next += 1;
        self.bytes += body.len() as u64;
        Ok(Pushed::Spooled)
    }

    /// The oldest batch and its handle for [`Spool::remove`], if any.
    pub fn peek(&self) -> Result<Option<(PathBuf, SpooledBatch)>> {
        let Some((_, path)) = self.entries()?.into_iter().next() else {
            return Ok(None);
        };
        let body = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let batch = serde_json::from_slice(&body)
            .with_context(|| format!("spooled batch {} is corrupt", path.display()))?;
        Ok(Some((path, batch)))
    }

    /// Removes a batch once it is stored.
    pub fn remove(&mut self, path: &Path) -> Result<()> {
        let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
        self.bytes = self.bytes.saturating_sub(len);
        Ok(())
    }

    fn entries(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)
            .with_context(|| format!("cannot read {}", self.dir.display()))?
        {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            if let Some(seq) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
            {
                out.push((seq, path));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> SpooledBatch {
        SpooledBatch {
            events: Vec::new(),
            cursor: Some(WatchCursor {
                cluster: "c".into(),
                stream: "events".into(),
                resource_version: n.to_string(),
                updated_at: kubetrail_model::Timestamp::UNIX_EPOCH,
            }),
            gap: None,
            relinks: Vec::new(),
        }
    }

    #[test]
    fn batches_come_back_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        for i in 0..3 {
            assert_eq!(s.push(&batch(i)).unwrap(), Pushed::Spooled);
        }
        let (p, b) = s.peek().unwrap().unwrap();
        assert_eq!(b, batch(0));
        s.remove(&p).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.push(&batch(3)).unwrap();
        let mut seen = Vec::new();
        while let Some((p, b)) = s.peek().unwrap() {
            seen.push(b.cursor.unwrap().resource_version);
            s.remove(&p).unwrap();
        }
        assert_eq!(seen, ["1", "2", "3"]);
        assert!(s.is_empty().unwrap());
        assert_eq!(s.bytes(), 0);
    }

    #[test]
    fn a_full_spool_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let one = serde_json::to_vec(&batch(0)).unwrap().len() as u64;
        let mut s = Spool::open(dir.path(), one * 2).unwrap();
        assert_eq!(s.push(&batch(0)).unwrap(), Pushed::Spooled);
        assert_eq!(s.push(&batch(1)).unwrap(), Pushed::Spooled);
        let before = s.bytes();
        assert_eq!(s.push(&batch(2)).unwrap(), Pushed::Dropped);
        assert_eq!(s.bytes(), before);
        let mut seen = 0;
        while let Some((p, _)) = s.peek().unwrap() {
            s.remove(&p).unwrap();
            seen += 1;
        }
        assert_eq!(seen, 2);
    }
}

#[cfg(test)]
mod format {
    use super::*;

    /// A spool file written before the spool used the store's types (it had mirror types with
    /// the same fields) still reads: a batch spooled before an upgrade is not lost.
    #[test]
    fn a_batch_spooled_by_the_previous_version_still_reads() {
        let written = r#"{"events":[],"cursor":{"cluster":"prod","stream":"events","resource_version":"42","updated_at":"2026-12-05T10:00:00Z"},"gap":{"cluster":"prod","stream":"events","from":"2026-12-05T09:00:00Z","to":"2026-12-05T10:00:00Z","cause":"resourceVersion expired (410 Gone)"}}"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("00000000000000000007.json"), written).unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (_, batch) = spool.peek().unwrap().expect("the spooled batch");
        let cursor = batch.cursor.expect("its cursor");
        assert_eq!(cursor.resource_version, "42");
        assert_eq!(cursor.updated_at.to_string(), "2026-12-05T10:00:00Z");
        let gap = batch.gap.expect("its gap");
        assert_eq!(gap.cause, "resourceVersion expired (410 Gone)");
        assert_eq!(
            serde_json::to_string(&SpooledBatch {
                events: Vec::new(),
                cursor: Some(cursor),
                gap: Some(gap),
                relinks: Vec::new(),
            })
            .unwrap(),
            written
        );
    }
}
