//! The agent's sink: an [`EventSink`] whose commit publishes the batch to JetStream and returns
//! once JetStream has acknowledged it, and only then saves the watch cursor (in a small local
//! SQLite file). The cluster pipeline is the same as `run`'s: when publishing fails, it spools
//! the batch on disk and writes it back, in order, when NATS is back.
//!
//! The agent keeps no events: it is a sink and nothing else; what its HTTP server reads is
//! [`super::agent_store::AgentStore`]'s "not here".

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kubetrail_model::Event;
use kubetrail_source::nats::{GapMessage, Publisher};
use kubetrail_store::{
    Error, EventSink, Gap, Result, SqliteStore, StoreTxn, WatchCursor, WriteSummary, Written,
};

pub struct NatsSink {
    publisher: Arc<Publisher>,
    /// Watch cursors only.
    cursors: Arc<SqliteStore>,
}

impl NatsSink {
    pub fn new(publisher: Publisher, cursors: SqliteStore) -> Self {
        NatsSink {
            publisher: Arc::new(publisher),
            cursors: Arc::new(cursors),
        }
    }

    /// Whether NATS is reachable now.
    pub fn connected(&self) -> Result<()> {
        if self.publisher.is_connected() {
            Ok(())
        } else {
            Err(unavailable(kubetrail_source::NatsError::Closed))
        }
    }
}

pub(crate) fn unavailable(e: kubetrail_source::NatsError) -> Error {
    Error::Unavailable {
        what: "NATS JetStream".into(),
        source: Box::new(e),
    }
}

#[async_trait]
impl EventSink for NatsSink {
    async fn begin(&self) -> Result<Box<dyn StoreTxn>> {
        Ok(Box::new(SinkTxn {
            publisher: self.publisher.clone(),
            cursors: self.cursors.clone(),
            events: Vec::new(),
            cursor: None,
            gaps: Vec::new(),
        }))
    }

    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
        self.cursors.cursor(cluster, stream).await
    }
}

/// What a pipeline wrote, published at commit.
struct SinkTxn {
    publisher: Arc<Publisher>,
    cursors: Arc<SqliteStore>,
    events: Vec<Event>,
    cursor: Option<WatchCursor>,
    gaps: Vec<Gap>,
}

#[async_trait]
impl StoreTxn for SinkTxn {
    /// What the agent can honestly say of a batch it forwards: every event counted as `new`
    /// (handed on: whether it is new, and what it adds, is the central store's to tell, whose
    /// own write answers that), and no event listed as having added occurrences. Nothing
    /// alerts on an agent.
    async fn write(&mut self, events: Vec<Event>) -> Result<Written> {
        let n = events.len() as u64;
        self.events.extend(events);
        Ok(Written {
            summary: WriteSummary {
                new: n,
                ..WriteSummary::default()
            },
            events: Vec::new(),
        })
    }

    async fn save_cursor(&mut self, cursor: WatchCursor) -> Result<()> {
        self.cursor = Some(cursor);
        Ok(())
    }

    async fn save_gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps.push(gap);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let SinkTxn {
            publisher,
            cursors,
            events,
            cursor,
            gaps,
        } = *self;
        // One pipeline is one cluster, but nothing here relies on it.
        let mut by_cluster: BTreeMap<String, (Vec<Event>, Vec<GapMessage>)> = BTreeMap::new();
        for e in events {
            by_cluster.entry(e.cluster.clone()).or_default().0.push(e);
        }
        for g in gaps {
            by_cluster
                .entry(g.cluster.clone())
                .or_default()
                .1
                .push(GapMessage {
                    stream: g.stream,
                    from: g.from,
                    to: g.to,
                    cause: g.cause,
                });
        }
        for (cluster, (events, gaps)) in &by_cluster {
            publisher
                .publish(cluster, events, gaps)
                .await
                .map_err(unavailable)?;
        }
        // JetStream has every message: now the watch may resume after them.
        if let Some(c) = cursor {
            cursors.write_batch(Vec::new(), Some(c)).await?;
        }
        Ok(())
    }
}
