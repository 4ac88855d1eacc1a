//! Events the store refuses, kept aside instead of blocking their batch (issue 11: one event a
//! PostgreSQL index could not hold made every write of its batch fail, and the live pipeline
//! spooled every later batch behind it).
//!
//! When a batch write fails with a data error ([`Error::is_data_error`]: the events' fault, not
//! the store's), [`isolate`] finds the refused events by bisection — each half retried under a
//! savepoint, so a batch with `k` bad events of `n` costs about `k·log₂ n` extra writes — and
//! writes the rest in the same transaction. Writers without anyone to answer (the live watch,
//! imports, the NATS consumer) then keep the refused events in the `quarantine` table with the
//! error, where they came from and when, in that same transaction; the batch's cursor advances.
//! The event is kept as kubetrail's JSON (`serde_json` escapes every control character, NUL
//! included, so the text column holds it on PostgreSQL too).
//!
//! `kubetrail status` shows the count and the newest ones; retention removes them with the
//! other records older than the longest event age.

use kubetrail_model::text::{MAX_NAME_BYTES, MAX_NOTE_BYTES, bounded};
use kubetrail_model::{Event, Timestamp, error_chain};
use serde::Serialize;

use crate::{Error, Result, StoreTxn, Written};

/// A batch the store refused (a data error), handed back whole by
/// [`StoreTxn::try_write`] with the transaction still usable.
#[derive(Debug)]
pub struct Refused {
    /// Why the store refused the batch (a data error, see [`Error::is_data_error`]).
    pub error: Error,
    /// The batch as it was given, to isolate the events at fault or to try elsewhere.
    pub events: Vec<Event>,
}

/// One event of a batch the store refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Its position in the batch given to [`StoreTxn::write_isolating`].
    pub index: usize,
    /// The event as it was given.
    pub event: Event,
    /// The store's error, with its causes.
    pub error: String,
}

/// What [`StoreTxn::write_isolating`] did: what was written and the events refused (in batch
/// order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Isolated {
    /// What was written of the batch (the refused events excluded).
    pub written: Written,
    /// The refused events, in batch order.
    pub rejected: Vec<Rejected>,
}

/// An event kept aside because the store refused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quarantined {
    /// When it was set aside.
    pub at: Timestamp,
    /// Where it came from: `watch`, `import <file>`, `nats <subject>`.
    pub source: String,
    /// Why the store refused it.
    pub error: String,
    /// The event as it was refused.
    pub event: Event,
}

/// Writes `events`, finding those the store refuses by bisection (see the module docs).
pub(crate) async fn isolate<T: StoreTxn + ?Sized>(
    txn: &mut T,
    events: Vec<Event>,
) -> Result<Isolated> {
    let mut done = Isolated::default();
    // Chunks still to write, with the batch index of their first event; the last pushed is
    // written first, so chunks go in batch order (later copies of an Event after earlier ones).
    let mut todo = vec![(0, events)];
    while let Some((offset, chunk)) = todo.pop() {
        if chunk.is_empty() {
            continue;
        }
        match txn.try_write(chunk).await? {
            Ok(written) => done.written += written,
            Err(Refused { error, mut events }) if events.len() == 1 => {
                done.rejected.push(Rejected {
                    index: offset,
                    event: events.remove(0),
                    error: error_chain(&error),
                });
            }
            Err(Refused { mut events, .. }) => {
                let right = events.split_off(events.len() / 2);
                todo.push((offset + events.len(), right));
                todo.push((offset, events));
            }
        }
    }
    Ok(done)
}

/// The quarantine row of a refused event, every text bounded as events are (an error message
/// quoting a value holds at most a note's worth).
pub(crate) struct Row {
    pub at: i64,
    pub source: String,
    pub cluster: String,
    pub uid: String,
    pub error: String,
    pub event: String,
}

impl Row {
    pub(crate) fn new(r: &Rejected, source: &str, at: Timestamp) -> Result<Row> {
        let event = serde_json::to_string(&r.event).map_err(|source| Error::Json {
            column: "quarantine.event",
            source,
        })?;
        Ok(Row {
            at: at.as_microsecond(),
            source: bounded(source, MAX_NOTE_BYTES).into_owned(),
            cluster: bounded(&r.event.cluster, MAX_NAME_BYTES).into_owned(),
            uid: bounded(&r.event.uid, MAX_NAME_BYTES).into_owned(),
            error: bounded(&r.error, MAX_NOTE_BYTES).into_owned(),
            event,
        })
    }
}

/// Both backends: `$1..$6` (SQLite reads `$n` as its n-th parameter too).
pub(crate) const INSERT: &str =
    "INSERT INTO quarantine (quarantined_at, source, cluster, uid, error, event)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// The newest first, at most `$1`.
pub(crate) const NEWEST: &str =
    "SELECT quarantined_at, source, error, event FROM quarantine ORDER BY id DESC LIMIT $1";

/// Quarantined events older than the retention cutoff (see `records.rs`).
pub(crate) const EXPIRE: &str = "DELETE FROM quarantine WHERE quarantined_at < $1";

/// A row read back by [`NEWEST`].
pub(crate) fn read(at: i64, source: String, error: String, event: &str) -> Result<Quarantined> {
    let at = crate::plan::timestamp(at, "quarantined_at")?;
    let event = serde_json::from_str(event).map_err(|source| Error::Json {
        column: "quarantine.event",
        source,
    })?;
    Ok(Quarantined {
        at,
        source,
        error,
        event,
    })
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::conformance::{event, minute};
    use crate::written::Outcome;
    use crate::{Gap, WatchCursor};

    /// Refuses any batch holding an event whose reason is `Poison`; records what it wrote.
    #[derive(Default)]
    struct Picky {
        written: Vec<String>,
        tries: usize,
    }

    #[async_trait]
    impl StoreTxn for Picky {
        async fn write(&mut self, _: Vec<Event>) -> Result<Written> {
            unreachable!("isolate uses try_write")
        }
        async fn try_write(
            &mut self,
            events: Vec<Event>,
        ) -> Result<std::result::Result<Written, Refused>> {
            self.tries += 1;
            if events.iter().any(|e| e.reason == "Poison") {
                let error = Error::InvalidQuery("refused".into());
                return Ok(Err(Refused { error, events }));
            }
            self.written.extend(events.iter().map(|e| e.uid.clone()));
            let outcomes = events
                .iter()
                .map(|e| Outcome::New(kubetrail_model::new_occurrences(None, e)))
                .collect();
            Ok(Ok(Written::new(events, outcomes)))
        }
        async fn save_cursor(&mut self, _: WatchCursor) -> Result<()> {
            Ok(())
        }
        async fn save_gap(&mut self, _: Gap) -> Result<()> {
            Ok(())
        }
        async fn commit(self: Box<Self>) -> Result<()> {
            Ok(())
        }
    }

    fn batch(n: usize, poison: &[usize]) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = event(&format!("e{i}"), minute(i as i64), 1);
                if poison.contains(&i) {
                    e.reason = "Poison".into();
                }
                e
            })
            .collect()
    }

    #[tokio::test]
    async fn bisection_finds_every_refused_event_and_writes_the_rest_in_batch_order() {
        let mut txn = Picky::default();
        let done = isolate(&mut txn, batch(1000, &[0, 417, 418, 999]))
            .await
            .unwrap();
        let indexes: Vec<usize> = done.rejected.iter().map(|r| r.index).collect();
        assert_eq!(indexes, [0, 417, 418, 999]);
        assert!(done.rejected.iter().all(|r| r.event.reason == "Poison"));
        assert_eq!(done.rejected[1].event.uid, "e417");
        assert_eq!(done.written.summary.new, 996);
        let expected: Vec<String> = (0..1000)
            .filter(|i| ![0, 417, 418, 999].contains(i))
            .map(|i| format!("e{i}"))
            .collect();
        assert_eq!(txn.written, expected, "written in batch order");
        let answered: Vec<&str> = done.written.added().map(|e| e.event.uid.as_str()).collect();
        assert_eq!(answered, expected, "what was written, in batch order");
        // About k·log₂(n) tries, far fewer than one per event.
        assert!(txn.tries <= 4 * 2 * 10 + 1, "{} tries", txn.tries);
    }

    #[tokio::test]
    async fn a_clean_batch_is_written_in_one_try_and_a_batch_of_only_poison_writes_nothing() {
        let mut txn = Picky::default();
        let done = isolate(&mut txn, batch(50, &[])).await.unwrap();
        assert_eq!(
            (txn.tries, done.written.summary.new, done.rejected.len()),
            (1, 50, 0)
        );
        let mut txn = Picky::default();
        let done = isolate(&mut txn, batch(3, &[0, 1, 2])).await.unwrap();
        assert_eq!((done.written.summary.new, done.rejected.len()), (0, 3));
        assert!(txn.written.is_empty());
    }
}
