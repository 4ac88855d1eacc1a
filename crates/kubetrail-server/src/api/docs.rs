//! What the OpenAPI document says about parameters and bodies. The handlers read parameters by
//! name (see `params`); these structs only describe them, and a test checks that every
//! documented parameter is accepted by its handler and that the schemas have the fields the
//! handlers serialize.

#![allow(dead_code)]

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The filters of `kubetrail query` (comma lists, or the parameter repeated).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Start: RFC 3339, a duration (`2h`, `7d`) counted back from the end of the range, or
    /// `all` (the CLI's `--since`, one rule: README, Time ranges).
    since: Option<String>,
    /// End (exclusive): RFC 3339, or a duration before now; default: just after the newest
    /// matching event.
    until: Option<String>,
    /// Clusters.
    cluster: Option<String>,
    /// Namespaces (of the Event objects).
    namespace: Option<String>,
    /// Kinds of the regarding object.
    kind: Option<String>,
    /// Names of the regarding object.
    name: Option<String>,
    /// Reasons.
    reason: Option<String>,
    /// Categories (scheduling, image, storage, network, health, lifecycle, crash, node,
    /// autoscaling, rollout, job, config, policy, controlplane, operator, certificate, other).
    category: Option<String>,
    /// `error`, `warning,error`, or `error+` (error and above).
    severity: Option<String>,
    /// Event types: Normal, Warning.
    r#type: Option<String>,
    /// Correlation IDs, e.g. `shop/Deployment/web`.
    correlation: Option<String>,
    /// Nodes.
    node: Option<String>,
    /// Full-text search in messages (FTS5 syntax).
    search: Option<String>,
}

/// `GET /api/v1/changes`: the filters that apply to changes, the time rule of `query` (ending
/// at the newest matching change), and how many.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// Start: RFC 3339, a duration (`2h`, `7d`) counted back from the end of the range, or
    /// `all`.
    since: Option<String>,
    /// End (exclusive): RFC 3339, or a duration before now; default: unbounded (a duration in
    /// `since` then counts back from just after the newest matching change).
    until: Option<String>,
    /// Clusters.
    cluster: Option<String>,
    /// Namespaces of the changed objects (Nodes have none: only callers who see every
    /// namespace see their changes).
    namespace: Option<String>,
    /// Kinds of the changed objects (`Deployment`, `deploy`, `cm`, `Node`, ...).
    kind: Option<String>,
    /// Names of the changed objects.
    name: Option<String>,
    /// Changes returned at most, the newest (default 100, at most the configured page
    /// maximum, 1000 by default).
    limit: Option<usize>,
}

/// Paging of `GET /api/v1/events`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Events per page (default 100, at most the configured maximum, 1000 by default).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /api/v1/aggregate`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggregateParams {
    /// Dimensions: cluster,namespace,kind,name,reason,category,severity,type,correlation,
    /// template,node (default `reason`).
    group_by: Option<String>,
    /// Bucket width (`5m`, `1h`); needs `since`. No buckets when absent.
    interval: Option<String>,
    /// Most groups (default: all).
    limit: Option<usize>,
}

/// `GET /api/v1/patterns`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatternParams {
    /// Fewest occurrences in the window (default 3).
    min_count: Option<u64>,
    /// Occurrences per minute a pattern must exceed (default 0.5).
    min_rate: Option<f64>,
    /// Most events read (the latest in the window).
    max_events: Option<usize>,
}

/// `GET /api/v1/anomalies`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyParams {
    /// Bucket width (default `1h`).
    bucket: Option<String>,
    /// How far back the baseline is learned (default `7d`).
    history: Option<String>,
    /// Standard deviations above the baseline that make a spike (default 3).
    threshold: Option<f64>,
    /// Fewest occurrences in a bucket for a spike (default 5).
    min_count: Option<u64>,
}

/// `GET /api/v1/incidents` and `/api/v1/incidents/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// Silence that ends an incident (default `30m`).
    quiet: Option<String>,
    /// How long after a node condition an effect on its pods is linked to it (default `10m`).
    link_window: Option<String>,
    /// Most events read (the latest in the window).
    max_events: Option<usize>,
}

/// `GET /api/v1/timeline/{namespace}/{kind}/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Start: RFC 3339, a duration counted back from the end, or `all` (default 24h).
    since: Option<String>,
    /// End: RFC 3339 or a duration before now (default: the object's newest event).
    until: Option<String>,
    /// Clusters.
    cluster: Option<String>,
    /// Most events read per query.
    max_events: Option<usize>,
}

/// `GET /api/v1/alerts`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `firing` or `resolved`.
    status: Option<String>,
    /// Rule names.
    rule: Option<String>,
    /// Alerts still firing at or after this time (RFC 3339 or a duration).
    since: Option<String>,
    /// Most alerts, newest first (default 100).
    limit: Option<usize>,
}

/// `GET /api/v1/silences`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SilenceListParams {
    /// Also silences that have ended.
    all: Option<bool>,
}

/// `GET /api/v1/gaps`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapParams {
    /// RFC 3339 or a duration before now.
    since: Option<String>,
    /// RFC 3339 or a duration before now.
    until: Option<String>,
}

/// `POST /api/v1/events`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestParams {
    /// Cluster of the events (default: the caller's only cluster, or the server's default).
    cluster: Option<String>,
}

/// The top owner of the regarding object.
#[derive(ToSchema)]
#[schema(as = Owner)]
pub struct OwnerDoc {
    kind: String,
    name: String,
}

/// A stored event, as `kubetrail query -o json` prints it.
#[derive(ToSchema)]
#[schema(as = Event)]
pub struct EventDoc {
    cluster: String,
    uid: String,
    namespace: String,
    name: String,
    regarding: kubetrail_model::ObjectRef,
    related: Option<kubetrail_model::ObjectRef>,
    reason: String,
    note: String,
    /// `Normal` or `Warning`.
    r#type: String,
    action: String,
    reporting_controller: String,
    reporting_instance: String,
    #[schema(format = DateTime)]
    first_seen: String,
    #[schema(format = DateTime)]
    last_seen: String,
    count: u64,
    resource_version: String,
    category: String,
    /// critical, error, warning or info.
    severity: String,
    correlation_id: String,
    owner: Option<OwnerDoc>,
    node: Option<String>,
    template: String,
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// One page of events, newest `last_seen` first.
#[derive(ToSchema)]
#[schema(as = EventPage)]
pub struct EventPageDoc {
    events: Vec<EventDoc>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// One group of an aggregation.
#[derive(ToSchema)]
#[schema(as = AggregateRow)]
pub struct AggregateRowDoc {
    /// Dimension name → value, in `group_by` order.
    key: std::collections::BTreeMap<String, Option<String>>,
    /// Start of the time bucket, when `interval` was given.
    #[schema(format = DateTime)]
    bucket: Option<String>,
    count: u64,
}

/// A period in which a watch may have missed events.
#[derive(ToSchema)]
#[schema(as = Gap)]
pub struct GapDoc {
    cluster: String,
    stream: String,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    cause: String,
}

/// `name`, `op` (`=`, `!=`, `=~`, `!~`) and `value`, as in Alertmanager.
#[derive(ToSchema)]
#[schema(as = SilenceMatcher)]
pub struct MatcherDoc {
    name: String,
    op: String,
    value: String,
}

/// A silence.
#[derive(ToSchema)]
#[schema(as = Silence)]
pub struct SilenceDoc {
    id: i64,
    matchers: Vec<MatcherDoc>,
    #[schema(format = DateTime)]
    starts_at: String,
    #[schema(format = DateTime)]
    ends_at: String,
    created_by: String,
    comment: String,
}

/// A new silence: matchers such as `alertname=crash-loop` or `namespace=shop` (a tenant's
/// silence must name one of its namespaces with `namespace=`), and how long.
#[derive(ToSchema)]
#[schema(as = NewSilence)]
pub struct NewSilenceDoc {
    matchers: Vec<String>,
    /// e.g. `2h`.
    duration: String,
    comment: Option<String>,
}

/// What `POST /api/v1/events` stored.
#[derive(ToSchema)]
#[schema(as = IngestResult)]
pub struct IngestResultDoc {
    /// Events not stored before.
    new: u64,
    /// Stored events whose count grew.
    updated: u64,
    /// Stored events sent again with no new occurrence.
    unchanged: u64,
    occurrences: u64,
    /// Events whose uid names a stored event about another object: kept as stored (cannot
    /// happen to API-posted events, whose uids are the caller's own).
    conflicts: u64,
    /// `cluster/uid` of each event, in the order sent (uids of kubetrail's, derived from the
    /// caller, namespace and the event's uid or name).
    ids: Vec<String>,
}
