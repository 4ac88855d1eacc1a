//! What the agent's HTTP server sees: the [`NatsSink`] for writes (`POST /api/v1/events`
//! publishes too), and in one place the answer of every read role: the agent keeps no events,
//! alerts or silences. Reads answer nothing, and fail while NATS is unreachable, which makes
//! `/readyz` report it.

use std::sync::Arc;

use async_trait::async_trait;
use kubetrail_model::{
    AggregateQuery, AggregateRow, AlertFilter, AlertRecord, Delivery, DeliveryUpdate, EventFilter,
    EventOccurrences, NewDelivery, Silence, StoredAlert, Timestamp,
};
use kubetrail_store::{
    Error, EventReader, EventSink, Gap, Outbox, Page, Result, Retention, RetentionPolicy,
    RetentionReport, Silences, StoreStats, StoreTxn, StoredEvent, WatchCursor,
};

use super::sink::NatsSink;

/// The agent as a whole store for its HTTP server (see the module docs).
pub struct AgentStore {
    pub sink: Arc<NatsSink>,
}

fn keeps_nothing(what: &str) -> Error {
    Error::InvalidQuery(format!(
        "an agent keeps no {what}: ask the central kubetrail"
    ))
}

#[async_trait]
impl EventSink for AgentStore {
    async fn begin(&self) -> Result<Box<dyn StoreTxn>> {
        self.sink.begin().await
    }

    async fn cursor(&self, cluster: &str, stream: &str) -> Result<Option<WatchCursor>> {
        self.sink.cursor(cluster, stream).await
    }
}

#[async_trait]
impl EventReader for AgentStore {
    async fn query(&self, _: &EventFilter, _: &Page) -> Result<Vec<StoredEvent>> {
        self.sink.connected().map(|()| Vec::new())
    }

    async fn aggregate(&self, _: &AggregateQuery) -> Result<Vec<AggregateRow>> {
        self.sink.connected().map(|()| Vec::new())
    }

    async fn occurrences(&self, _: &EventFilter, _: usize) -> Result<Vec<EventOccurrences>> {
        self.sink.connected().map(|()| Vec::new())
    }

    async fn gaps(&self, _: Option<Timestamp>, _: Option<Timestamp>) -> Result<Vec<Gap>> {
        Ok(Vec::new())
    }

    async fn stats(&self) -> Result<StoreStats> {
        Ok(StoreStats::default())
    }
}

#[async_trait]
impl Retention for AgentStore {
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
}

#[async_trait]
impl Outbox for AgentStore {
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
}

#[async_trait]
impl Silences for AgentStore {
    async fn save_silence(&self, _: &Silence, _: Timestamp) -> Result<i64> {
        Err(keeps_nothing("silences"))
    }

    async fn silences(&self, _: Option<Timestamp>) -> Result<Vec<Silence>> {
        Ok(Vec::new())
    }
}
