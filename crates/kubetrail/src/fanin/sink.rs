//! The agent's store: a [`Store`] whose commit publishes the batch to JetStream and returns
//! once JetStream has acknowledged it, and only then saves the watch cursor (in a small local
//! SQLite file). The cluster pipeline is the same as `run`'s: when publishing fails, it spools
//! the batch on disk and writes it back, in order, when NATS is back.
//!
//! The agent keeps no events: queries answer nothing (and fail while NATS is unreachable, which
//! makes `/readyz` report it).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kubetrail_model::{
    AggregateQuery, AggregateRow, Event, EventFilter, EventOccurrences, Timestamp,
};
use kubetrail_source::nats::{GapMessage, Publisher};
use kubetrail_store::{
    AlertFilter, AlertRecord, Delivery, DeliveryUpdate, Error, Gap, NewDelivery, Page, Result,
    RetentionPolicy, RetentionReport, Silence, SqliteStore, Store, StoreStats, StoreTxn,
    StoredAlert, StoredEvent, WatchCursor, WriteSummary,
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

    fn connected(&self) -> Result<()> {
        if self.publisher.is_connected() {
            Ok(())
        } else {
            Err(unavailable(kubetrail_source::NatsError::Closed))
        }
    }
}

fn unavailable(e: kubetrail_source::NatsError) -> Error {
    Error::Unavailable {
        what: "NATS JetStream".into(),
        source: Box::new(e),
    }
}

fn keeps_nothing(what: &str) -> Error {
    Error::InvalidQuery(format!(
        "an agent keeps no {what}: ask the central kubetrail"
    ))
}

#[async_trait]
impl Store for NatsSink {
    async fn begin(&self) -> Result<Box<dyn StoreTxn>> {
        Ok(Box::new(SinkTxn {
            publisher: self.publisher.clone(),
            cursors: self.cursors.clone(),
            events: Vec::new(),
            cursor: None,
            gaps: Vec::new(),
        }))
    }

    async fn query(&self, _: &EventFilter, _: &Page) -> Result<Vec<StoredEvent>> {
        self.connected().map(|()| Vec::new())
    }

    async fn aggregate(&self, _: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        self.connected().map(|()| Vec::new())
    }

    async fn occurrences(&self, _: &EventFilter, _: usize) -> Result<Vec<EventOccurrences>> {
        self.connected().map(|()| Vec::new())
    }

    async fn apply_retention(&self, _: &RetentionPolicy, _: Timestamp) -> Result<RetentionReport> {
        Ok(RetentionReport::default())
    }

    async fn preview_retention(
        &self,
        _: &RetentionPolicy,
        _: Timestamp,
    ) -> Result<RetentionReport> {
        Ok(RetentionReport {
            dry_run: true,
            ..RetentionReport::default()
        })
    }

    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
        self.cursors.cursor(cluster, stream).await
    }

    async fn gaps(&self, _: Option<Timestamp>, _: Option<Timestamp>) -> Result<Vec<Gap>> {
        Ok(Vec::new())
    }

    async fn stats(&self) -> Result<StoreStats> {
        Ok(StoreStats::default())
    }

    async fn save_alert(&self, _: &AlertRecord, _: &[NewDelivery], _: Timestamp) -> Result<i64> {
        Err(keeps_nothing("alerts"))
    }

    async fn due_deliveries(&self, _: Timestamp, _: usize) -> Result<Vec<Delivery>> {
        Ok(Vec::new())
    }

    async fn update_delivery(&self, _: &DeliveryUpdate) -> Result<()> {
        Err(keeps_nothing("alerts"))
    }

    async fn alerts(&self, _: &AlertFilter) -> Result<Vec<StoredAlert>> {
        Ok(Vec::new())
    }

    async fn save_silence(&self, _: &Silence, _: Timestamp) -> Result<i64> {
        Err(keeps_nothing("silences"))
    }

    async fn silences(&self, _: Option<Timestamp>) -> Result<Vec<Silence>> {
        Ok(Vec::new())
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
    async fn write(&mut self, events: Vec<Event>) -> Result<WriteSummary> {
        let n = events.len() as u64;
        self.events.extend(events);
        // Whether they are new is the central store's to tell.
        Ok(WriteSummary {
            new: n,
            ..WriteSummary::default()
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
