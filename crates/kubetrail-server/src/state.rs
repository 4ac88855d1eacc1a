//! What every handler shares: the store's roles it uses, authentication, limits, telemetry, and
//! the processor custom events go through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use kubetrail_alert::AlertFeed;
use kubetrail_process::{FutureLimit, Processor, Rules};
use kubetrail_store::{AlertRecords, EventReader, EventSink, Store};

use crate::{ApiError, Auth, Telemetry};

/// Bounds on what one request may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Events per page when `limit` is not given.
    pub default_page: usize,
    /// Most events per page.
    pub max_page: usize,
    /// Longest explicit time range of an aggregation or analysis.
    pub max_range: SignedDuration,
    /// Most time buckets of one aggregation.
    pub max_buckets: usize,
    /// Longest a store query may take before the request fails with 503.
    pub query_timeout: Duration,
    /// Largest request body (custom events, silences).
    pub max_body_bytes: usize,
    /// Most custom events in one POST.
    pub max_post_events: usize,
    /// Most events an analysis reads (the latest in its window).
    pub max_analysis_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_page: 100,
            max_page: 1_000,
            max_range: SignedDuration::from_hours(90 * 24),
            max_buckets: 10_000,
            query_timeout: Duration::from_secs(10),
            max_body_bytes: 1 << 20,
            max_post_events: 500,
            max_analysis_events: 200_000,
        }
    }
}

/// The roles of the store the handlers use, each the narrowest that serves them (see
/// `kubetrail_store`'s roles); one store usually plays them all ([`From`] a whole store).
#[derive(Clone)]
pub struct Stores {
    /// Every read and analysis: events, aggregates, occurrences, gaps, stats, changes.
    pub reader: Arc<dyn EventReader>,
    /// Custom events posted to the API.
    pub sink: Arc<dyn EventSink>,
    /// Alerts (read) and silences (read and saved).
    pub records: Arc<dyn AlertRecords>,
}

impl From<Arc<dyn Store>> for Stores {
    fn from(store: Arc<dyn Store>) -> Self {
        Stores {
            reader: store.clone(),
            sink: store.clone(),
            records: store,
        }
    }
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where events and changes are read.
    pub reader: Arc<dyn EventReader>,
    /// Where custom events are written.
    pub sink: Arc<dyn EventSink>,
    /// Where alerts are read and silences read and saved.
    pub records: Arc<dyn AlertRecords>,
    /// Who callers are and what they see.
    pub auth: Arc<Auth>,
    /// Page sizes, ranges, time and body limits.
    pub limits: Arc<Limits>,
    /// The metrics `/metrics` serves and `/readyz` reads.
    pub telemetry: Telemetry,
    /// Custom events are processed here, as watched ones are in a cluster pipeline.
    pub processor: Arc<Mutex<Processor>>,
    /// Custom events dated further past their POST are refused (400).
    pub max_future: FutureLimit,
    /// Committed custom events are handed to alerting, if it runs.
    pub alerts: Option<AlertFeed>,
    /// Cluster given to custom events of callers who see several clusters and name none.
    pub default_cluster: String,
}

impl AppState {
    /// State with the built-in classification rules, the default future limit, no alerting
    /// and `default` as the default cluster; the `with_*` methods change those.
    pub fn new(
        stores: impl Into<Stores>,
        auth: Auth,
        limits: Limits,
        telemetry: Telemetry,
    ) -> Self {
        let Stores {
            reader,
            sink,
            records,
        } = stores.into();
        AppState {
            reader,
            sink,
            records,
            auth: Arc::new(auth),
            limits: Arc::new(limits),
            telemetry,
            processor: Arc::new(Mutex::new(Processor::new(Rules::builtin()))),
            max_future: FutureLimit::default(),
            alerts: None,
            default_cluster: "default".to_string(),
        }
    }

    /// Classification rules for custom events (default: the built-in ones).
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.processor = Arc::new(Mutex::new(Processor::new(rules)));
        self
    }

    /// How far past their POST custom events may be dated (default: a day).
    pub fn with_max_future(mut self, limit: FutureLimit) -> Self {
        self.max_future = limit;
        self
    }

    /// Where committed custom events go for alerting (`None`: alerting does not run).
    pub fn with_alerts(mut self, feed: Option<AlertFeed>) -> Self {
        self.alerts = feed;
        self
    }

    /// The cluster of custom events that name none, from callers who see several.
    pub fn with_default_cluster(mut self, cluster: &str) -> Self {
        self.default_cluster = cluster.to_string();
        self
    }

    /// Runs a store call under the query time limit.
    pub async fn timed<T, E: Into<ApiError>>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.limits.query_timeout, call).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(ApiError::timeout(what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_store_call_over_the_time_limit_becomes_a_503() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(kubetrail_store::SqliteStore::open(dir.path().join("k.db")).unwrap());
        let state = AppState::new(
            store,
            Auth::anonymous_admin(),
            Limits::default(),
            Telemetry::new(),
        );
        let never = std::future::pending::<kubetrail_store::Result<()>>();
        let err = state.timed("the query", never).await.unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.code, "query_timeout");
    }
}
