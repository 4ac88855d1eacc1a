//! `GET /api/v1/fleet`: health at a glance for whoever runs many shared clusters. One row per
//! cluster and tenant (or per cluster and namespace when no tenants are configured) with its
//! open incidents, errors and their trend, and its worst workloads.
//!
//! A tenant gets its own rows only: every read is narrowed to the caller's scope like any
//! other, and a tenant's rows are grouped by that tenant alone (other tenants' names are not
//! shown to it). Callers who see everything get one row per configured tenant; namespaces no
//! tenant sees go to a `(no tenant)` row.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use jiff::{SignedDuration, Timestamp};
use kubetrail_analyze::{Incident, IncidentConfig, Status, Window, incidents, link_changes};
use kubetrail_model::{
    AggregateQuery, AggregateRow, Dimension, EventFilter, Severity, SeveritySet,
};
use kubetrail_query::Since;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::{max_events, window_changes, window_events};
use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::params::Params;
use crate::scope::Scope;
use crate::window::resolve;
use crate::{ApiError, AppState};

/// The row of namespaces no configured tenant sees.
pub const NO_TENANT: &str = "(no tenant)";
/// The row of events about cluster-scoped objects (Nodes), when rows are namespaces.
pub const CLUSTER_SCOPED: &str = "(cluster)";
/// Most rows answered (the worst first); the rest are counted in `rows_omitted`.
const MAX_ROWS: usize = 500;
/// Buckets of the error trend over the window.
const TREND_BUCKETS: i64 = 12;
/// Incidents and workloads listed per row.
const TOP: usize = 3;

/// `GET /api/v1/fleet`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct FleetParams {
    /// Start: RFC 3339, or a duration counted back from the end (default 24h).
    since: Option<String>,
    /// End (exclusive): RFC 3339, or a duration before now (default: just after the newest
    /// event the caller can see).
    until: Option<String>,
    /// Clusters (comma list); default all the caller sees.
    cluster: Option<String>,
    /// Most events the incident analysis reads (the latest in the window).
    max_events: Option<usize>,
}

/// The fleet: one row per cluster and group, the worst first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Fleet {
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
    /// What a row's `group` is: `tenant` or `namespace`.
    pub grouping: String,
    /// Start of the first trend bucket (aligned to its width since the epoch).
    #[schema(value_type = String, format = DateTime)]
    pub trend_since: Timestamp,
    /// Width of a trend bucket.
    pub trend_step_seconds: i64,
    pub rows: Vec<FleetRow>,
    /// Rows left out beyond the first 500.
    pub rows_omitted: usize,
}

/// One cluster and tenant (or namespace).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct FleetRow {
    pub cluster: String,
    /// The tenant's name, a namespace, `(no tenant)` or `(cluster)`.
    pub group: String,
    /// Namespaces of the row with events in the window.
    pub namespaces: Vec<String>,
    /// Occurrences in the window.
    pub events: u64,
    /// Occurrences of warning severity.
    pub warnings: u64,
    /// Occurrences of error or critical severity.
    pub errors: u64,
    pub errors_per_hour: f64,
    /// Errors in the window of the same length just before.
    pub previous_errors: u64,
    /// Errors per trend bucket, oldest first.
    pub trend: Vec<u64>,
    pub open_incidents: usize,
    /// Incidents in the window.
    pub incident_count: usize,
    /// Up to three incidents, ongoing and most severe first.
    pub incidents: Vec<FleetIncident>,
    /// Up to three workloads (correlation IDs) with the most warnings and errors.
    pub worst_workloads: Vec<FleetWorkload>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FleetIncident {
    pub id: String,
    pub title: String,
    pub severity: String,
    /// `ongoing` or `resolved`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FleetWorkload {
    /// The correlation ID (`shop/Deployment/web`).
    pub workload: String,
    /// Occurrences of warning severity and above.
    pub count: u64,
}

/// Health per cluster and tenant (or namespace) in a window (default: the last 24 hours of
/// the caller's data). A tenant sees its own rows only.
#[utoipa::path(
    get,
    path = "/api/v1/fleet",
    operation_id = "getFleet",
    tag = "analysis",
    params(FleetParams),
    responses(
        (status = 200, description = "The fleet's rows, the worst first", body = Fleet),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No or an unknown token", body = ErrorBody),
        (status = 403, description = "A cluster outside the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn fleet(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Json<Fleet>, ApiError> {
    let now = Timestamp::now();
    let day = SignedDuration::from_hours(24);
    let mut p = Params::from_uri(&uri)?;
    let filter = EventFilter {
        clusters: p.list("cluster"),
        ..EventFilter::default()
    };
    let max = max_events(&mut p, &state)?;
    let grouping = grouping(&state, &caller).await?;
    let range = p.range(now)?;
    p.finish()?;
    let Some(mut filter) = caller.narrow(&state, filter).await? else {
        // The caller sees nothing: an empty fleet over the window it asked for.
        let until = range.until.unwrap_or(now);
        let since = match range.since {
            Since::At(t) => t,
            Since::Back(d) => until
                .checked_sub(d)
                .map_err(|_| ApiError::bad_parameter("since", "reaches before the year -9999"))?,
            Since::Default | Since::All => until
                .checked_sub(day)
                .map_err(|_| ApiError::bad_parameter("until", "leaves no room for the window"))?,
        };
        let window = Window::new(since, until).map_err(|e| ApiError::bad_parameter("since", e))?;
        return Ok(Json(assemble(&grouping, window, Counts::default())));
    };
    let window = resolve(&state, range, &mut filter, day, now).await?;
    // The window before is a query of its own, as long as the window (`resolve` checked
    // that length against the limit).
    let length = window.until.duration_since(window.since);
    let before = window
        .since
        .checked_sub(length)
        .map_err(|_| ApiError::bad_parameter("since", "reaches before the year -9999"))?;
    let step = trend_step(window);
    let aggregate = |range: (Timestamp, Timestamp),
                     severities: &[Severity],
                     group_by: Vec<Dimension>,
                     interval: Option<SignedDuration>| {
        let mut f = filter.clone();
        f.since = Some(range.0);
        f.until = Some(range.1);
        f.severities = SeveritySet(severities.to_vec());
        let state = state.clone();
        async move {
            let q = AggregateQuery {
                filter: f,
                group_by,
                interval,
                limit: None,
            };
            state
                .timed("the fleet aggregation", state.reader.aggregate(&q))
                .await
        }
    };
    use Dimension::{Cluster, Correlation, Namespace, Severity as Sev};
    use Severity::{Critical, Error, Warning};
    let current = (window.since, window.until);
    let errors = [Error, Critical];
    let counts = Counts {
        window: aggregate(current, &[], vec![Cluster, Namespace, Sev], None).await?,
        previous: aggregate(
            (before, window.since),
            &errors,
            vec![Cluster, Namespace],
            None,
        )
        .await?,
        series: aggregate(current, &errors, vec![Cluster, Namespace], Some(step)).await?,
        workloads: aggregate(
            current,
            &[Warning, Error, Critical],
            vec![Cluster, Namespace, Correlation],
            None,
        )
        .await?,
        incidents: {
            let events = window_events(&state, &filter, max).await?;
            // Open means failing within the quiet period before now, not before the window's
            // end (an imported bundle from last year has nothing open).
            let cfg = IncidentConfig {
                now: Some(now),
                ..IncidentConfig::default()
            };
            let mut found = incidents(&events, window, &cfg)?;
            let changes = window_changes(&state, &filter, cfg.change_window, max).await?;
            link_changes(&mut found, &changes, &cfg);
            found
        },
    };
    Ok(Json(assemble(&grouping, window, counts)))
}

/// How namespaces are gathered into rows.
pub(crate) enum Grouping {
    /// One row per tenant: a namespace in several tenants' scopes counts in each; one no
    /// tenant sees goes to [`NO_TENANT`].
    Tenants(Vec<(String, Scope)>),
    /// One row per namespace ([`CLUSTER_SCOPED`] for events about Nodes).
    Namespaces,
}

impl Grouping {
    fn name(&self) -> &'static str {
        match self {
            Grouping::Tenants(_) => "tenant",
            Grouping::Namespaces => "namespace",
        }
    }

    fn groups(&self, cluster: &str, namespace: &str) -> Vec<String> {
        match self {
            Grouping::Tenants(tenants) => {
                let found: Vec<String> = tenants
                    .iter()
                    .filter(|(_, scope)| scope.sees(cluster, namespace))
                    .map(|(name, _)| name.clone())
                    .collect();
                if found.is_empty() {
                    vec![NO_TENANT.to_string()]
                } else {
                    found
                }
            }
            Grouping::Namespaces if namespace.is_empty() => vec![CLUSTER_SCOPED.to_string()],
            Grouping::Namespaces => vec![namespace.to_string()],
        }
    }
}

/// A limited tenant: its own tenant. A caller who sees everything: the configured tenants
/// (when there are any). Anyone else (a Kubernetes user with some namespaces): namespaces, so
/// that no tenant's name is shown to a caller who is not that tenant.
async fn grouping(state: &AppState, caller: &Caller) -> Result<Grouping, ApiError> {
    if let Some(own) = caller.limited_tenant() {
        return Ok(Grouping::Tenants(vec![own]));
    }
    let tenants = state.auth.tenant_scopes();
    if !tenants.is_empty() && caller.scope(state, &[]).await?.is_everything() {
        return Ok(Grouping::Tenants(tenants));
    }
    Ok(Grouping::Namespaces)
}

/// The trend's bucket width: a twelfth of the window, in whole minutes.
fn trend_step(window: Window) -> SignedDuration {
    let secs = window.until.duration_since(window.since).as_secs();
    let minutes = (secs / TREND_BUCKETS + 59) / 60;
    let minutes = minutes.max(1);
    SignedDuration::from_mins(minutes)
}

/// What the store answered for the window.
#[derive(Default)]
pub(crate) struct Counts {
    /// By cluster, namespace and severity, in the window.
    pub window: Vec<AggregateRow>,
    /// Errors by cluster and namespace in the window before.
    pub previous: Vec<AggregateRow>,
    /// Errors by cluster and namespace per trend bucket.
    pub series: Vec<AggregateRow>,
    /// Warnings and errors by cluster, namespace and correlation ID.
    pub workloads: Vec<AggregateRow>,
    pub incidents: Vec<Incident>,
}

fn value(row: &AggregateRow, i: usize) -> &str {
    row.key.get(i).and_then(|(_, v)| v.as_deref()).unwrap_or("")
}

/// The rows of the fleet from the store's answers (a pure function).
pub(crate) fn assemble(grouping: &Grouping, window: Window, counts: Counts) -> Fleet {
    let step = trend_step(window);
    let step_us = step.as_micros().max(1) as i64;
    let start_us = window.since.as_microsecond().div_euclid(step_us) * step_us;
    let buckets = (window.until.as_microsecond() - start_us + step_us - 1) / step_us;
    let trend_since = Timestamp::from_microsecond(start_us).unwrap_or(window.since);
    let hours = window.minutes() / 60.0;
    let mut rows: BTreeMap<(String, String), FleetRow> = BTreeMap::new();
    let mut each = |cluster: &str, namespace: &str, f: &mut dyn FnMut(&mut FleetRow)| {
        for group in grouping.groups(cluster, namespace) {
            let row = rows
                .entry((cluster.to_string(), group.clone()))
                .or_insert_with(|| FleetRow {
                    cluster: cluster.to_string(),
                    group,
                    trend: vec![0; buckets.max(0) as usize],
                    ..FleetRow::default()
                });
            f(row);
        }
    };
    let mut namespaces: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in &counts.window {
        let (cluster, namespace) = (value(r, 0), value(r, 1));
        let severity = value(r, 2).parse::<Severity>().ok();
        each(cluster, namespace, &mut |row| {
            row.events += r.count;
            match severity {
                Some(Severity::Warning) => row.warnings += r.count,
                Some(Severity::Error | Severity::Critical) => row.errors += r.count,
                _ => {}
            }
            if !namespace.is_empty() {
                namespaces
                    .entry((row.cluster.clone(), row.group.clone()))
                    .or_default()
                    .insert(namespace.to_string());
            }
        });
    }
    for r in &counts.previous {
        each(value(r, 0), value(r, 1), &mut |row| {
            row.previous_errors += r.count
        });
    }
    for r in &counts.series {
        let Some(bucket) = r.bucket else { continue };
        let i = (bucket.as_microsecond() - start_us).div_euclid(step_us);
        each(value(r, 0), value(r, 1), &mut |row| {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| row.trend.get_mut(i)) {
                *slot += r.count;
            }
        });
    }
    let mut workloads: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for r in &counts.workloads {
        let workload = value(r, 2);
        if workload.is_empty() {
            continue;
        }
        each(value(r, 0), value(r, 1), &mut |row| {
            *workloads
                .entry((row.cluster.clone(), row.group.clone()))
                .or_default()
                .entry(workload.to_string())
                .or_default() += r.count;
        });
    }
    for incident in &counts.incidents {
        let mut groups: BTreeSet<String> = BTreeSet::new();
        for namespace in incident_namespaces(incident) {
            groups.extend(grouping.groups(&incident.cluster, &namespace));
        }
        for group in groups {
            let Some(row) = rows.get_mut(&(incident.cluster.clone(), group)) else {
                continue;
            };
            row.incident_count += 1;
            if incident.status == Status::Ongoing {
                row.open_incidents += 1;
            }
            row.incidents.push(FleetIncident {
                id: incident.id.clone(),
                title: incident.title.clone(),
                severity: incident.severity.as_str().to_string(),
                status: status_name(incident.status).to_string(),
            });
        }
    }
    let mut rows: Vec<FleetRow> = rows
        .into_iter()
        .map(|(key, mut row)| {
            row.namespaces = namespaces
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .collect();
            let mut worst: Vec<FleetWorkload> = workloads
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .map(|(workload, count)| FleetWorkload { workload, count })
                .collect();
            worst.sort_by(|a, b| b.count.cmp(&a.count).then(a.workload.cmp(&b.workload)));
            worst.truncate(TOP);
            row.worst_workloads = worst;
            row.incidents.sort_by(|a, b| {
                (a.status != "ongoing")
                    .cmp(&(b.status != "ongoing"))
                    .then(severity_rank(&b.severity).cmp(&severity_rank(&a.severity)))
            });
            row.incidents.truncate(TOP);
            row.errors_per_hour = if hours > 0.0 {
                row.errors as f64 / hours
            } else {
                0.0
            };
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.open_incidents
            .cmp(&a.open_incidents)
            .then(b.errors.cmp(&a.errors))
            .then(b.warnings.cmp(&a.warnings))
            .then(b.events.cmp(&a.events))
            .then(a.cluster.cmp(&b.cluster))
            .then(a.group.cmp(&b.group))
    });
    let rows_omitted = rows.len().saturating_sub(MAX_ROWS);
    rows.truncate(MAX_ROWS);
    Fleet {
        since: window.since,
        until: window.until,
        grouping: grouping.name().to_string(),
        trend_since,
        trend_step_seconds: step.as_secs(),
        rows,
        rows_omitted,
    }
}

/// The namespaces an incident touches: its subject's and its objects' (`""` for a Node).
fn incident_namespaces(incident: &Incident) -> BTreeSet<String> {
    let namespace = |object: &str| {
        let parts: Vec<&str> = object.split('/').collect();
        if parts.len() == 3 {
            parts[0].to_string()
        } else {
            String::new()
        }
    };
    let mut out: BTreeSet<String> = incident.objects.iter().map(|o| namespace(o)).collect();
    out.insert(namespace(&incident.subject));
    if out.len() > 1 {
        // A node incident with pods: the pods' namespaces are where it shows.
        out.remove("");
    }
    out
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ongoing => "ongoing",
        Status::Resolved => "resolved",
    }
}

fn severity_rank(name: &str) -> u8 {
    name.parse::<Severity>().map(|s| s as u8).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Allowed;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_714_564_800 + secs).unwrap()
    }

    fn row(keys: &[(Dimension, &str)], bucket: Option<Timestamp>, count: u64) -> AggregateRow {
        AggregateRow {
            key: keys
                .iter()
                .map(|(d, v)| (*d, Some(v.to_string())))
                .collect(),
            bucket,
            count,
        }
    }

    fn sev(cluster: &str, ns: &str, severity: &str, count: u64) -> AggregateRow {
        use Dimension::*;
        row(
            &[(Cluster, cluster), (Namespace, ns), (Severity, severity)],
            None,
            count,
        )
    }

    fn tenants() -> Grouping {
        Grouping::Tenants(vec![
            (
                "shop".into(),
                Scope {
                    who: "shop".into(),
                    clusters: Allowed::only(["prod"]),
                    namespaces: Allowed::only(["shop", "cart"]),
                },
            ),
            (
                "ops".into(),
                Scope {
                    who: "ops".into(),
                    clusters: Allowed::All,
                    namespaces: Allowed::only(["monitoring"]),
                },
            ),
        ])
    }

    #[test]
    fn namespaces_are_gathered_into_their_tenants_rows_and_the_rest_into_no_tenant() {
        let window = Window::new(at(0), at(3600)).unwrap();
        let counts = Counts {
            window: vec![
                sev("prod", "shop", "error", 6),
                sev("prod", "cart", "warning", 4),
                sev("prod", "cart", "info", 10),
                sev("prod", "monitoring", "critical", 1),
                sev("staging", "monitoring", "info", 2),
                sev("staging", "shop", "error", 3),
            ],
            ..Counts::default()
        };
        let fleet = assemble(&tenants(), window, counts);
        let got: Vec<(&str, &str, u64, u64, u64)> = fleet
            .rows
            .iter()
            .map(|r| {
                (
                    r.cluster.as_str(),
                    r.group.as_str(),
                    r.events,
                    r.warnings,
                    r.errors,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("prod", "shop", 20, 4, 6),
                ("staging", NO_TENANT, 3, 0, 3),
                ("prod", "ops", 1, 0, 1),
                ("staging", "ops", 2, 0, 0),
            ]
        );
        assert_eq!(fleet.rows[0].namespaces, vec!["cart", "shop"]);
        assert_eq!(fleet.rows[0].errors_per_hour, 6.0);
        assert_eq!(fleet.grouping, "tenant");
    }

    #[test]
    fn the_trend_has_twelve_buckets_and_counts_the_window_before() {
        use Dimension::*;
        let window = Window::new(at(0), at(12 * 3600)).unwrap();
        let step = at(3600).duration_since(at(0));
        let counts = Counts {
            window: vec![sev("prod", "shop", "error", 7)],
            previous: vec![row(&[(Cluster, "prod"), (Namespace, "shop")], None, 2)],
            series: vec![
                row(&[(Cluster, "prod"), (Namespace, "shop")], Some(at(0)), 3),
                row(
                    &[(Cluster, "prod"), (Namespace, "shop")],
                    Some(at(0) + step * 11),
                    4,
                ),
            ],
            ..Counts::default()
        };
        let fleet = assemble(&Grouping::Namespaces, window, counts);
        assert_eq!(fleet.trend_step_seconds, 3600);
        let r = &fleet.rows[0];
        assert_eq!(r.trend, vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
        assert_eq!(r.previous_errors, 2);
        assert_eq!(r.group, "shop");
    }

    #[test]
    fn worst_workloads_are_the_three_with_most_warnings_and_errors() {
        use Dimension::*;
        let window = Window::new(at(0), at(3600)).unwrap();
        let w = |name: &str, n| {
            row(
                &[(Cluster, "prod"), (Namespace, "shop"), (Correlation, name)],
                None,
                n,
            )
        };
        let counts = Counts {
            window: vec![sev("prod", "shop", "warning", 30)],
            workloads: vec![
                w("shop/Deployment/a", 5),
                w("shop/Deployment/b", 12),
                w("shop/Deployment/c", 1),
                w("shop/Deployment/d", 9),
                w("", 3),
            ],
            ..Counts::default()
        };
        let fleet = assemble(&Grouping::Namespaces, window, counts);
        let names: Vec<&str> = fleet.rows[0]
            .worst_workloads
            .iter()
            .map(|w| w.workload.as_str())
            .collect();
        assert_eq!(
            names,
            vec![
                "shop/Deployment/b",
                "shop/Deployment/d",
                "shop/Deployment/a"
            ]
        );
    }
}
