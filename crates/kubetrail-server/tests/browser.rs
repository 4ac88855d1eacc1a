//! The web UI in headless Chromium (over WebDriver), on the real event dumps: the overview
//! renders its charts and incidents, the table filters, an incident shows its root cause, the
//! keyboard works, and a note with HTML in it stays text. Screenshots go to
//! `target/ui-screenshots/` for review.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use kubetrail_model::Event;
use kubetrail_process::{Processor, Rules};
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use kubetrail_source::import::{Item, discover, read_file};
use kubetrail_store::{Page, SqliteStore, Store};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use webdriver::Browser;

const XSS: &str = r#"<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"#;

use kubetrail_testkit::real_events as dataset;

fn screenshots() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("ui-screenshots")
}

/// Every real dump, processed and stored as `kubetrail import` would; then one event whose note
/// is an XSS probe, at the newest time of the data (so that the overview's window holds it).
async fn real_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    let found = discover(&[dataset()]).expect("the real dumps");
    assert!(
        !found.files.is_empty(),
        "no dumps in {}",
        dataset().display()
    );
    let mut processor = Processor::new(Rules::builtin());
    for file in &found.files {
        let mut batch: Vec<Event> = Vec::new();
        for item in read_file(&file.path, "real").expect("a readable dump") {
            match item.expect("a readable item") {
                Item::Event { event, .. } => batch.push(processor.process(event)),
                Item::Object(link) => processor.observe(link),
                Item::Revision(_) | Item::Skipped { .. } => {}
            }
        }
        store.write_batch(batch, None).await.expect("stored");
    }
    let newest = store
        .query(
            &Default::default(),
            &Page {
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap()[0]
        .event
        .last_seen;
    let mut xss = raw("real", "xss-lab", "Pod", "probe-0", "XssProbe", XSS);
    xss.first_seen = newest;
    xss.last_seen = newest;
    let xss = processor.process(xss);
    store.write_batch(vec![xss], None).await.unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_on_the_real_dumps() {
    let (_dir, store) = real_store().await;
    let app = router(
        AppState::new(
            store.clone(),
            Auth::anonymous_admin(),
            Limits::default(),
            Telemetry::new(),
        )
        .with_default_cluster("real"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    let shots = screenshots();
    let browser = Browser::start().await;

    // The overview: a chart with bars, top reasons, incidents, all from the real data.
    browser.goto(&format!("{base}/#/")).await;
    let bars = browser
        .wait_for(
            "the events-over-time chart",
            "return document.querySelectorAll('#time-chart rect.bar').length",
        )
        .await;
    assert!(bars.as_u64().unwrap() > 0);
    browser
        .wait_for(
            "top reasons",
            "return document.querySelectorAll('svg.barlist rect').length",
        )
        .await;
    let incidents = browser
        .wait_for(
            "incidents on the overview",
            "return document.querySelectorAll('#ongoing table.incidents tbody tr').length",
        )
        .await;
    assert!(incidents.as_u64().unwrap() > 0);
    browser.screenshot(&shots.join("overview.png")).await;

    // The XSS probe is on the overview's data and in the table: it renders as text and runs
    // nothing.
    browser
        .goto(&format!("{base}/#/events?reason=XssProbe"))
        .await;
    let note = browser
        .wait_for(
            "the probe's row",
            "const c = document.querySelector('#event-table tbody td.note'); return c && c.textContent",
        )
        .await;
    assert_eq!(note, json!(XSS), "the note is shown as written");
    let state = browser
        .eval(
            "return {xss: typeof window.__xss, imgs: document.querySelectorAll('#main img').length, scripts: document.querySelectorAll('#main script').length}",
            json!([]),
        )
        .await;
    assert_eq!(
        state,
        json!({"xss": "undefined", "imgs": 0, "scripts": 0}),
        "nothing from the note became markup"
    );
    browser.screenshot(&shots.join("xss-as-text.png")).await;

    // Filters: typing a namespace and submitting narrows the table to it.
    let namespace = busiest_namespace(&store).await;
    browser.goto(&format!("{base}/#/events")).await;
    browser
        .wait_for(
            "the event table",
            "return document.querySelectorAll('#event-table tbody tr').length",
        )
        .await;
    // The page may still be rendering a second time (the hash change of `goto`): a form
    // replaced meanwhile loses what was typed, so type and submit until the filter is applied.
    let applied = format!("return location.hash.includes('namespace={namespace}')");
    let submitted = webdriver::within(std::time::Duration::from_secs(20), || async {
        browser
            .type_into("#filters input[name=namespace]", &namespace)
            .await;
        browser.click("#filters button[type=submit]").await;
        let hash = browser.eval(&applied, json!([])).await;
        (hash == json!(true)).then_some(())
    })
    .await;
    assert!(
        submitted.is_some(),
        "the namespace filter was never applied"
    );
    let check = format!(
        "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
         return location.hash.includes('namespace={namespace}') && rows.length > 0 &&\
         rows.every(r => r.querySelector('td.namespace').textContent === {namespace:?})"
    );
    browser.wait_for("the filtered table", &check).await;
    browser.screenshot(&shots.join("events-filtered.png")).await;

    // Keyboard: 2 is the events page, j/j selects the second row, Enter opens its object.
    browser.goto(&format!("{base}/#/")).await;
    browser
        .wait_for(
            "the overview",
            "return document.querySelector('#main').dataset.page === 'overview' && !document.querySelector('#main').hasAttribute('aria-busy')",
        )
        .await;
    browser.keys("2").await;
    browser
        .wait_for(
            "the events page",
            "return document.querySelectorAll('#event-table tbody tr').length > 1",
        )
        .await;
    browser.keys("jj").await;
    let object = browser
        .wait_for(
            "the second row selected",
            "const rows = document.querySelectorAll('#event-table tbody tr');\
             return document.activeElement === rows[1] && rows[1].classList.contains('selected') && rows[1].dataset.object",
        )
        .await;
    browser.keys("\u{E007}").await;
    let heading = browser
        .wait_for(
            "the object page",
            "const h = document.querySelector('#object h1'); return h && h.textContent",
        )
        .await;
    assert_eq!(heading, object, "Enter opened the selected event's object");
    browser
        .wait_for(
            "the object's story",
            "return document.querySelectorAll('#object table.timeline tbody tr').length",
        )
        .await;
    browser.screenshot(&shots.join("object.png")).await;
    browser.keys("3").await;
    browser
        .wait_for(
            "the incidents page",
            "return document.querySelector('#main').dataset.page === 'incidents' && document.querySelectorAll('#incidents table tbody tr').length",
        )
        .await;
    browser.keys("2").await;
    browser
        .wait_for(
            "the events page again",
            "return !!document.querySelector('#filters')",
        )
        .await;
    browser.keys("/").await;
    browser
        .wait_for(
            "/ to focus the filters",
            "return document.activeElement && document.activeElement.name === 'namespace'",
        )
        .await;

    // An incident page, opened from the list, shows the root cause the API gives.
    browser.goto(&format!("{base}/#/incidents?range=30d")).await;
    browser
        .wait_for(
            "the incident list",
            "return document.querySelectorAll('#incidents a.incident-link').length",
        )
        .await;
    // The first incident whose root cause a causal rule found (else the first one).
    let href = browser
        .eval(
            "const rows = [...document.querySelectorAll('#incidents tbody tr')];\
             const row = rows.find(r => r.children[4].textContent !== 'first-failure') || rows[0];\
             const a = row.querySelector('a.incident-link'); a.dataset.pick = '1';\
             return a.getAttribute('href')",
            json!([]),
        )
        .await;
    browser.click("#incidents a[data-pick]").await;
    let rule = browser
        .wait_for(
            "the root cause",
            "const r = document.querySelector('#root-cause .rule'); return r && r.textContent",
        )
        .await;
    let href = href.as_str().unwrap();
    let (path, query) = href
        .trim_start_matches("#/incident/")
        .split_once('?')
        .unwrap();
    let (_, api) = get(
        &router(AppState::new(
            store.clone(),
            Auth::anonymous_admin(),
            Limits::default(),
            Telemetry::new(),
        )),
        &format!("/api/v1/incidents/{path}?{query}"),
        None,
    )
    .await;
    let expected = api["root_cause"]["rule"].as_str().unwrap();
    assert_eq!(rule, json!(format!("({expected})")));
    let evidence = browser
        .eval(
            "return document.querySelectorAll('#root-cause li').length",
            json!([]),
        )
        .await;
    assert!(evidence.as_u64().unwrap() > 0, "the evidence is listed");
    browser.screenshot(&shots.join("incident.png")).await;

    for (page, ready) in [
        ("patterns", "#patterns h1"),
        ("anomalies", "#anomalies h1"),
        ("alerts", "#alerts h1"),
    ] {
        browser.goto(&format!("{base}/#/{page}?range=30d")).await;
        browser
            .wait_for(page, &format!("return !!document.querySelector('{ready}')"))
            .await;
        browser.screenshot(&shots.join(format!("{page}.png"))).await;
    }
    let xss = browser.eval("return typeof window.__xss", json!([])).await;
    assert_eq!(xss, json!("undefined"));

    // Live updates: with Live on, an event stored after the page loaded shows up by itself.
    browser
        .goto(&format!("{base}/#/events?reason=LiveProbe&live=1"))
        .await;
    browser
        .wait_for(
            "the empty live table",
            "const c = document.querySelector('#events .count'); return !!c && c.textContent.startsWith('0 ')",
        )
        .await;
    let newest = store
        .query(
            &Default::default(),
            &Page {
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap()[0]
        .event
        .last_seen;
    let mut live = raw(
        "real",
        "xss-lab",
        "Pod",
        "probe-1",
        "LiveProbe",
        "arrived later",
    );
    live.first_seen = newest;
    live.last_seen = newest;
    let live = Processor::new(Rules::builtin()).process(live);
    store.write_batch(vec![live], None).await.unwrap();
    browser
        .wait_for(
            "the live row",
            "return [...document.querySelectorAll('#event-table td.note')].some(c => c.textContent === 'arrived later')",
        )
        .await;
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}

/// The namespace with the most events (a filter that leaves a full table).
async fn busiest_namespace(store: &Arc<dyn Store>) -> String {
    let rows = store
        .aggregate(&kubetrail_model::AggregateQuery {
            group_by: vec![kubetrail_model::Dimension::Namespace],
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    rows[0].key[0].1.clone().unwrap()
}

/// A tenant signs in with its token and sees only its namespace, in the table and the
/// overview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_signs_in_and_sees_only_its_namespace() {
    let (_dir, store) = real_store().await;
    let namespace = busiest_namespace(&store).await;
    let token = "team-token-0123456789";
    let auth = Auth::tokens(
        vec![kubetrail_server::TenantToken {
            name: "team".into(),
            sha256: kubetrail_server::hash_token(token),
            admin: false,
            clusters: None,
            namespaces: Some(vec![namespace.clone()]),
        }],
        false,
    );
    let app = router(AppState::new(
        store,
        auth,
        Limits::default(),
        Telemetry::new(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/#/events")).await;
    browser
        .wait_for(
            "the sign-in form",
            "return !!document.querySelector('#signin')",
        )
        .await;
    browser.type_into("#token-input", token).await;
    browser.click("#signin button[type=submit]").await;
    let check = format!(
        "const rows = [...document.querySelectorAll('#event-table tbody tr')];\
         return rows.length > 0 && rows.every(r => r.querySelector('td.namespace').textContent === {namespace:?})"
    );
    browser.wait_for("the tenant's events only", &check).await;
    browser
        .wait_for(
            "the tenant's name",
            &format!("return document.querySelector('#who').textContent === 'team · {namespace}'"),
        )
        .await;
    browser.keys("1").await;
    browser
        .wait_for(
            "the tenant's overview",
            "return document.querySelector('#main').dataset.page === 'overview' && !!document.querySelector('#time-chart')",
        )
        .await;
    browser
        .screenshot(&screenshots().join("tenant-overview.png"))
        .await;
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}

/// Regression (issue 11, item 15): the object page linked its incidents without their window,
/// so an incident older than the last 24 hours of data opened on "no incident in the window".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_older_than_a_day_opens_from_the_object_page() {
    let mut events = fixture();
    // The newest event of the store comes three days after the crash loop.
    let mut later = raw(
        "prod",
        "other",
        "Pod",
        "late-1",
        "Pulled",
        "Successfully pulled image",
    );
    later.uid = "late-1".into();
    later.first_seen = at(3 * 86_400);
    later.last_seen = at(3 * 86_400);
    events.push(later);
    let (_dir, store) = store_with(events).await;
    let app = router(AppState::new(
        store,
        Auth::anonymous_admin(),
        Limits::default(),
        Telemetry::new(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    let browser = Browser::start().await;
    browser
        .goto(&format!("{base}/#/object/shop/Pod/web-7d9f8b6c5-x2k4p"))
        .await;
    let title = browser
        .wait_for(
            "the object's incidents",
            "const a = document.querySelector('#object a.incident-link'); return a && a.textContent",
        )
        .await;
    browser.click("#object a.incident-link").await;
    let shown = browser
        .wait_for(
            "the incident page (or an error)",
            "const h = document.querySelector('#incident h1'); const e = document.querySelector('#main .error');\
             return (h && h.textContent) || (e && e.textContent)",
        )
        .await;
    assert_eq!(shown, title, "the incident opens from the object page");
    browser
        .wait_for(
            "the incident's root cause",
            "return document.querySelectorAll('#root-cause li').length",
        )
        .await;
    browser
        .screenshot(&screenshots().join("incident-from-object.png"))
        .await;
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}
