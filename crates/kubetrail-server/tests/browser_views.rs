//! The UI for many clusters and teams, in headless Chromium (over WebDriver): the fleet page and
//! what a tenant sees of it, the cluster, node and correlation filters, the patterns page's
//! severity filter, and the swimlane timelines of an object and of an incident. Each page is
//! checked against what the API answers. Screenshots go to `target/ui-screenshots/`.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use webdriver::Browser;

fn screenshots() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("ui-screenshots")
}

/// The fixture (two tenants in `prod`, one namespace in `staging`) with the staging pod
/// scheduled on a node first, so that its events carry the node for the node filter.
fn events() -> Vec<kubetrail_model::Event> {
    let pod = "web-6c5d4b3a2-zzzzz";
    let mut scheduled = raw(
        "staging",
        "shop",
        "Pod",
        pod,
        "Scheduled",
        &format!("Successfully assigned shop/{pod} to worker-9"),
    );
    scheduled.first_seen = at(-60);
    scheduled.last_seen = at(-60);
    let mut events = vec![scheduled];
    events.extend(fixture());
    events
}

/// A firing alert about a pod of `cluster`.
fn alert(cluster: &str, rule: &str) -> kubetrail_store::AlertRecord {
    use kubetrail_store::{AlertEvent, AlertRecord, AlertStatus};
    AlertRecord {
        rule: rule.into(),
        group_key: format!("{cluster}/shop/Deployment/web"),
        status: AlertStatus::Firing,
        severity: kubetrail_model::Severity::Error,
        labels: [("alertname".to_string(), rule.to_string())].into(),
        annotations: Default::default(),
        starts_at: at(0),
        ends_at: None,
        first_seen: at(0),
        last_seen: at(60),
        event_count: 5,
        silenced_by: None,
        events: vec![AlertEvent {
            cluster: cluster.into(),
            uid: format!("{cluster}-1"),
            object: "shop/Pod/web-1".into(),
            reason: "BackOff".into(),
            note: "restarting".into(),
            count: 5,
            last_seen: at(60),
        }],
    }
}

/// Serves `auth` over the fixture (and an alert in each cluster) on a loopback port; returns the base URL, the app (for API
/// answers to compare with), and what stops it.
async fn serve(
    auth: impl Fn() -> Auth,
) -> (
    tempfile::TempDir,
    String,
    axum::Router,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), kubetrail_server::Error>>,
) {
    let (dir, store) = store_with(events()).await;
    for cluster in ["prod", "staging"] {
        store
            .save_alert(&alert(cluster, &format!("{cluster}-crash")), &[], at(60))
            .await
            .expect("the alert is saved");
    }
    let api = router(AppState::new(
        store.clone(),
        auth(),
        Limits::default(),
        Telemetry::new(),
    ));
    let app = router(AppState::new(
        store,
        auth(),
        Limits::default(),
        Telemetry::new(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    (dir, base, api, cancel, server)
}

/// Picks `value` in the `<select>` matching `select` (as a user's choice does: the value,
/// then a `change` event; `submit` also submits its form) until the page's hash says it was
/// applied. A page rendering a second time may replace the control meanwhile: the choice is
/// made again on the new one.
async fn choose(browser: &Browser, select: &str, value: &str, submit: bool, applied: &str) {
    let script = format!(
        "const s = document.querySelector({select:?});\
         if (location.hash.includes({applied:?})) return true;\
         if (!s || document.querySelector('#main').hasAttribute('aria-busy')) return false;\
         s.value = {value:?}; s.dispatchEvent(new Event('change', {{bubbles: true}}));\
         if ({submit}) s.form.requestSubmit();\
         return false"
    );
    let done = webdriver::within(Duration::from_secs(20), || async {
        (browser.eval(&script, json!([])).await == json!(true)).then_some(())
    })
    .await;
    assert!(done.is_some(), "choosing {value} in {select} never applied");
}

/// Opens the unfiltered events page and waits until it has rendered.
async fn open_events(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/#/events")).await;
    browser
        .wait_for(
            "the unfiltered event table",
            "return location.hash === '#/events' && !document.querySelector('#main').hasAttribute('aria-busy') &&\
               document.querySelectorAll('#event-table tbody tr').length > 50",
        )
        .await;
}

/// Types into the events page's filters and submits until the hash carries `applied`.
async fn filter_events(browser: &Browser, field: &str, value: &str, applied: &str) {
    let check = format!("return location.hash.includes({applied:?})");
    let done = webdriver::within(Duration::from_secs(20), || async {
        browser
            .type_into(&format!("#filters input[name={field}]"), value)
            .await;
        browser.click("#filters button[type=submit]").await;
        (browser.eval(&check, json!([])).await == json!(true)).then_some(())
    })
    .await;
    assert!(done.is_some(), "the {field} filter was never applied");
}

fn names(rows: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["cluster"].as_str().unwrap().to_string(),
                r["group"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_filters_and_swimlanes_show_what_the_api_answers() {
    let (_dir, base, api, cancel, server) = serve(|| Auth::tokens(tenants(), true)).await;
    let shots = screenshots();
    let browser = Browser::start().await;

    // The overview's cluster filter: staging's incidents only, and its cards link with it.
    browser.goto(&format!("{base}/#/")).await;
    browser
        .wait_for(
            "the overview's incidents",
            "return document.querySelector('#main').dataset.page === 'overview' &&\
               document.querySelectorAll('#ongoing table.incidents tbody tr').length",
        )
        .await;
    choose(
        &browser,
        "#cluster-filter",
        "staging",
        false,
        "cluster=staging",
    )
    .await;
    browser
        .wait_for(
            "staging's overview",
            "const rows = [...document.querySelectorAll('#ongoing table.incidents tbody tr')];\
             const cards = [...document.querySelectorAll('#overview .card a')];\
             return rows.length > 0 && rows.every(r => r.children[2].textContent === 'staging') &&\
               cards.every(a => a.getAttribute('href').includes('cluster=staging'))",
        )
        .await;
    browser
        .screenshot(&shots.join("overview-by-cluster.png"))
        .await;

    // Key 7 opens the fleet: one row per cluster and tenant, as the API answers them.
    browser.keys("7").await;
    let shown = browser
        .wait_for(
            "the fleet table",
            "const rows = [...document.querySelectorAll('#fleet-table tbody tr')];\
             return rows.length && rows.map(r => ({cluster: r.dataset.cluster, group: r.dataset.group,\
               open: r.querySelector('td.open-incidents strong').textContent,\
               sparks: r.querySelectorAll('svg.sparkline rect').length}))",
        )
        .await;
    let (_, fleet) = get(&api, "/api/v1/fleet", None).await;
    assert_eq!(names(&shown), names(&fleet["rows"]));
    assert_eq!(
        names(&shown),
        vec![
            ("prod".into(), "payments".into()),
            ("prod".into(), "shop".into()),
            ("staging".into(), "(no tenant)".into()),
        ]
    );
    for (row, expected) in shown
        .as_array()
        .unwrap()
        .iter()
        .zip(fleet["rows"].as_array().unwrap())
    {
        assert_eq!(row["open"], json!(expected["open_incidents"].to_string()));
        assert_eq!(
            row["sparks"],
            json!(expected["trend"].as_array().unwrap().len())
        );
    }
    browser.screenshot(&shots.join("fleet.png")).await;

    // A row's name opens its events: the cluster and the tenant's namespaces.
    browser
        .click("#fleet-table tr[data-group=shop] td.group a")
        .await;
    browser
        .wait_for(
            "shop's events",
            "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
             return location.hash.includes('cluster=prod') && rows.length === 61 &&\
               rows.every(r => r.querySelector('td.cluster').textContent === 'prod' &&\
                 r.querySelector('td.namespace').textContent === 'shop')",
        )
        .await;

    // The cluster filter on the events page.
    open_events(&browser, &base).await;
    choose(
        &browser,
        "#filters select[name=cluster]",
        "staging",
        true,
        "cluster=staging",
    )
    .await;
    browser
        .wait_for(
            "staging's events",
            "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
             return rows.length === 6 && rows.every(r => r.querySelector('td.cluster').textContent === 'staging')",
        )
        .await;
    browser
        .screenshot(&shots.join("events-by-cluster.png"))
        .await;

    // The node filter: the staging pod's events, placed on worker-9.
    open_events(&browser, &base).await;
    filter_events(&browser, "node", "worker-9", "node=worker-9").await;
    let (_, page) = get(&api, "/api/v1/events?node=worker-9&limit=1000", None).await;
    let expected = page["events"].as_array().unwrap().len();
    assert!(expected >= 5, "{expected}");
    browser
        .wait_for(
            "the node's events",
            &format!(
                "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
                 return rows.length === {expected} && rows.every(r => r.dataset.object === 'shop/Pod/web-6c5d4b3a2-zzzzz')"
            ),
        )
        .await;

    // The correlation filter: the web Deployment's events in both clusters, as the API has them.
    open_events(&browser, &base).await;
    filter_events(
        &browser,
        "correlation",
        "shop/Deployment/web",
        "correlation=shop%2FDeployment%2Fweb",
    )
    .await;
    let (_, page) = get(
        &api,
        "/api/v1/events?correlation=shop/Deployment/web&limit=1000",
        None,
    )
    .await;
    let expected = page["events"].as_array().unwrap().len();
    assert!(expected > 60, "{expected}");
    browser
        .wait_for(
            "the Deployment's events",
            &format!(
                "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
                 return rows.length === {expected} && rows.every(r => r.dataset.object.startsWith('shop/Pod/web-'))"
            ),
        )
        .await;

    // Patterns open on warnings and above; "any" brings the info ones back.
    browser.goto(&format!("{base}/#/patterns?range=15m")).await;
    let severities = browser
        .wait_for(
            "the patterns",
            "const rows = [...document.querySelectorAll('#patterns table.patterns tbody tr')];\
             const sel = document.querySelector('#severity-filter');\
             return rows.length && sel && sel.value === 'warning+' && rows.map(r => r.children[2].textContent)",
        )
        .await;
    assert!(
        severities.as_array().unwrap().iter().all(|s| s != "info"),
        "{severities}"
    );
    choose(&browser, "#severity-filter", "any", false, "severity=any").await;
    browser
        .wait_for(
            "info patterns too",
            "const rows = [...document.querySelectorAll('#patterns table.patterns tbody tr')];\
             return rows.some(r => r.children[2].textContent === 'info')",
        )
        .await;
    browser.screenshot(&shots.join("patterns-any.png")).await;

    // The cluster filter of an analysis page: the incidents of staging only.
    browser.goto(&format!("{base}/#/incidents?range=30d")).await;
    browser
        .wait_for(
            "the incidents of every cluster",
            "const rows = [...document.querySelectorAll('#incidents table.incidents tbody tr')];\
             return new Set(rows.map(r => r.children[2].textContent)).size === 2",
        )
        .await;
    choose(
        &browser,
        "#cluster-filter",
        "staging",
        false,
        "cluster=staging",
    )
    .await;
    browser
        .wait_for(
            "staging's incidents",
            "const rows = [...document.querySelectorAll('#incidents table.incidents tbody tr')];\
             return rows.length > 0 && rows.every(r => r.children[2].textContent === 'staging')",
        )
        .await;

    // The alerts page's cluster filter: the alerts whose events are in staging.
    browser.goto(&format!("{base}/#/alerts")).await;
    browser
        .wait_for(
            "both alerts",
            "return document.querySelectorAll('#alerts table.alerts tbody tr').length === 2",
        )
        .await;
    choose(
        &browser,
        "#cluster-filter",
        "staging",
        false,
        "cluster=staging",
    )
    .await;
    browser
        .wait_for(
            "staging's alert",
            "const rows = [...document.querySelectorAll('#alerts table.alerts tbody tr')];\
             return rows.length === 1 && rows[0].children[1].textContent === 'staging-crash' &&\
               rows[0].children[2].textContent === 'staging'",
        )
        .await;

    // The object's swimlanes: one lane per object of its story, one mark per entry, coloured
    // by the entry's severity.
    let object = "shop/Pod/web-7d9f8b6c5-x2k4p";
    browser
        .goto(&format!("{base}/#/object/{object}?cluster=prod"))
        .await;
    let drawn = browser
        .wait_for(
            "the object's swimlanes",
            "const svg = document.querySelector('#object-lanes'); if (!svg) return null;\
             return {lanes: [...svg.querySelectorAll('g.lane')].map(l => l.dataset.object),\
               marks: [...svg.querySelectorAll('g.mark')].map(m => m.dataset.object + ' ' + m.dataset.reason + ' ' + m.dataset.severity)}",
        )
        .await;
    let (_, story) = get(
        &api,
        &format!("/api/v1/timeline/{object}?cluster=prod"),
        None,
    )
    .await;
    let entries = story["timeline"].as_array().unwrap();
    let mut lanes: Vec<&str> = entries
        .iter()
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    lanes.dedup();
    let mut drawn_lanes: Vec<&str> = drawn["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(drawn_lanes[0], object, "the object's own lane comes first");
    drawn_lanes.sort();
    lanes.sort();
    lanes.dedup();
    assert_eq!(drawn_lanes, lanes);
    let mut marks: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {} {}", e["object"], e["reason"], e["severity"]).replace('"', ""))
        .collect();
    let mut drawn_marks: Vec<String> = drawn["marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    marks.sort();
    drawn_marks.sort();
    assert_eq!(drawn_marks, marks);
    let colour = browser
        .eval(
            "const m = document.querySelector('#object-lanes g.mark circle');\
             return getComputedStyle(m).fill",
            json!([]),
        )
        .await;
    assert_ne!(colour, json!("rgb(0, 0, 0)"), "marks are coloured");
    browser
        .screenshot(&shots.join("object-swimlanes.png"))
        .await;
    let link = browser
        .eval(
            "return document.querySelector('#correlation-events').getAttribute('href')",
            json!([]),
        )
        .await;
    assert_eq!(
        link,
        json!("#/events?correlation=shop%2FDeployment%2Fweb&cluster=prod"),
        "the object page links to its workload's events"
    );

    // An incident's swimlanes, opened from the object page; its root cause's lane stands out.
    browser.click("#object a.incident-link").await;
    let drawn = browser
        .wait_for(
            "the incident's swimlanes",
            "const svg = document.querySelector('#incident-lanes'); if (!svg) return null;\
             const root = svg.querySelector('g.lane.root');\
             return {marks: svg.querySelectorAll('g.mark').length, root: root && root.dataset.object,\
               href: location.hash}",
        )
        .await;
    let href = drawn["href"].as_str().unwrap();
    let (path, query) = href
        .trim_start_matches("#/incident/")
        .split_once('?')
        .unwrap();
    let (_, incident) = get(&api, &format!("/api/v1/incidents/{path}?{query}"), None).await;
    assert_eq!(
        drawn["marks"],
        json!(incident["timeline"].as_array().unwrap().len())
    );
    assert_eq!(drawn["root"], incident["root_cause"]["object"]);
    browser
        .screenshot(&shots.join("incident-swimlanes.png"))
        .await;

    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}

/// A tenant signs in and the fleet shows its own row only: no other tenant, cluster or
/// namespace, and its cluster filter lists its cluster only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_its_own_row_of_the_fleet() {
    let (_dir, base, _api, cancel, server) = serve(|| Auth::tokens(tenants(), false)).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/#/fleet")).await;
    browser
        .wait_for(
            "the sign-in form",
            "return !!document.querySelector('#signin')",
        )
        .await;
    browser.type_into("#token-input", SHOP).await;
    browser.click("#signin button[type=submit]").await;
    let rows = browser
        .wait_for(
            "the tenant's fleet",
            "const rows = [...document.querySelectorAll('#fleet-table tbody tr')];\
             return rows.length && rows.map(r => r.dataset.cluster + '/' + r.dataset.group)",
        )
        .await;
    assert_eq!(rows, json!(["prod/shop"]));
    let page = browser
        .eval(
            "return {text: document.querySelector('#main').innerText,\
               clusters: [...document.querySelectorAll('#cluster-filter option')].map(o => o.value)}",
            json!([]),
        )
        .await;
    let text = page["text"].as_str().unwrap();
    for foreign in ["payments", "staging", "(no tenant)", "api-5f6d7c8b9"] {
        assert!(!text.contains(foreign), "the tenant saw {foreign}: {text}");
    }
    assert_eq!(page["clusters"], json!(["", "prod"]));
    browser
        .screenshot(&screenshots().join("tenant-fleet.png"))
        .await;
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}
