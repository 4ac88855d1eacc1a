//! The alert page in headless Chromium: every link a notification carries (the webhook's
//! `url`, Slack's "Open in kubetrail", Alertmanager's `generatorURL`) opens the page of its
//! alert, which shows the rule, group, state, deliveries, the incident and objects it is about,
//! and silences the alert in one click.
//!
//! Regression (issue 16, item 2): the links were `<ui_url>/alerts/<id>`, which answered 404
//! (the UI routes with `/#/` and had no page per alert).

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::*;
use jiff::SignedDuration;
use kubetrail_alert::notify::{Notification, alertmanager_body, slack_body, webhook_body};
use kubetrail_model::Severity;
use kubetrail_server::{AppState, Auth, Limits, Telemetry, router};
use kubetrail_store::{
    AlertEvent, AlertRecord, AlertStatus, DeliveryState, DeliveryUpdate, NewDelivery,
};
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

/// The crash loop of the fixture's `shop/Deployment/web`, as the alerting stage records it.
fn crash_loop() -> AlertRecord {
    let sample = |pod: &str, secs: i64| AlertEvent {
        cluster: "prod".into(),
        uid: format!("uid-{pod}"),
        object: format!("shop/Pod/{pod}"),
        reason: "BackOff".into(),
        note: format!("Back-off restarting failed container app in pod {pod}"),
        count: 1,
        last_seen: at(secs),
    };
    AlertRecord {
        rule: "crash-loop".into(),
        group_key: "prod/shop/Deployment/web".into(),
        status: AlertStatus::Firing,
        severity: Severity::Error,
        labels: BTreeMap::from([
            ("alertname".to_string(), "crash-loop".to_string()),
            ("cluster".to_string(), "prod".to_string()),
            ("namespace".to_string(), "shop".to_string()),
            ("correlation".to_string(), "shop/Deployment/web".to_string()),
            (
                "group_key".to_string(),
                "prod/shop/Deployment/web".to_string(),
            ),
        ]),
        annotations: BTreeMap::from([(
            "summary".to_string(),
            "shop/Deployment/web is crash-looping".to_string(),
        )]),
        starts_at: at(200),
        ends_at: None,
        first_seen: at(40),
        last_seen: at(1160),
        event_count: 42,
        silenced_by: None,
        events: vec![
            sample("web-7d9f8b6c5-q7z9m", 1120),
            sample("web-7d9f8b6c5-x2k4p", 1160),
        ],
    }
}

/// The link each notifier puts in its notification of alert `id`.
fn links(alert: &AlertRecord, id: i64, ui_url: &str) -> Vec<(&'static str, String)> {
    let hook: Value = serde_json::from_slice(
        &webhook_body(
            Notification {
                delivery_id: 1,
                alert_id: id,
                alert,
            },
            Some(ui_url),
        )
        .unwrap(),
    )
    .unwrap();
    let slack = slack_body(alert, id, Some(ui_url)).to_string();
    let slack_link = slack
        .split('<')
        .filter_map(|s| s.split_once("|Open in kubetrail>"))
        .map(|(url, _)| url.replace("&amp;", "&"))
        .next()
        .expect("Slack's link");
    let am: Value = serde_json::from_slice(
        &alertmanager_body(
            alert,
            id,
            jiff::Timestamp::now(),
            SignedDuration::from_hours(5),
            Some(ui_url),
        )
        .unwrap(),
    )
    .unwrap();
    vec![
        ("webhook", hook["url"].as_str().unwrap().to_string()),
        ("slack", slack_link),
        (
            "alertmanager",
            am[0]["generatorURL"].as_str().unwrap().to_string(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_link_opens_the_alert_page_and_silences_it_in_one_click() {
    let (_dir, store) = store_with(fixture()).await;
    let alert = crash_loop();
    let id = store
        .save_alert(
            &alert,
            &[
                NewDelivery {
                    notifier: "hook".into(),
                    due_at: at(200),
                },
                NewDelivery {
                    notifier: "slack".into(),
                    due_at: at(200),
                },
            ],
            at(200),
        )
        .await
        .unwrap();
    let stored = store.alerts(&Default::default()).await.unwrap();
    let failed = stored[0].deliveries[1].id;
    store
        .update_delivery(&DeliveryUpdate {
            id: failed,
            state: DeliveryState::Failed,
            attempts: 1,
            next_attempt_at: at(201),
            last_error: Some("HTTP 404: no_team".into()),
            at: at(201),
        })
        .await
        .unwrap();
    let app = router(
        AppState::new(
            store.clone(),
            Auth::tokens(tenants(), false),
            Limits::default(),
            Telemetry::new(),
        )
        .with_default_cluster("prod"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(kubetrail_server::serve(listener, app, cancel.clone()));
    let browser = Browser::start().await;

    // The shop tenant signs in (the token stays for the session), then every notifier's link,
    // and the old form `/alerts/<id>` (links already sent), open the page of the alert.
    let mut opened = links(&alert, id, &format!("{base}/"));
    browser.goto(&opened[0].1).await;
    browser
        .wait_for(
            "the sign-in form",
            "return !!document.querySelector('#signin')",
        )
        .await;
    browser.type_into("#token-input", SHOP).await;
    browser.click("#signin button[type=submit]").await;
    opened.push(("old link", format!("{base}/alerts/{id}")));
    for (notifier, link) in &opened {
        browser.goto(link).await;
        let heading = browser
            .wait_for(
                &format!("the alert page from the {notifier} link {link}"),
                &format!(
                    "const p = document.querySelector('#alert'); const e = document.querySelector('#main .error');\
                     return (p && p.dataset.id === '{id}' && p.querySelector('h1').textContent) || (e && e.textContent)"
                ),
            )
            .await;
        assert_eq!(
            heading,
            json!("shop/Deployment/web is crash-looping"),
            "{notifier}: {link}"
        );
    }
    browser.screenshot(&screenshots().join("alert.png")).await;

    // The facts, the deliveries (one failed, with its error), the objects and the incident.
    let facts = browser
        .eval(
            "const dd = (t) => { const dt = [...document.querySelectorAll('#alert dl.facts dt')].find(d => d.textContent === t); return dt && dt.nextElementSibling.textContent; };\
             return {rule: dd('Rule'), group: dd('Group'), state: dd('State'),\
               deliveries: [...document.querySelectorAll('#alert table.deliveries tbody tr')].map(r => [...r.children].slice(0, 3).map(c => c.textContent).concat([r.children[5].textContent])),\
               objects: [...document.querySelectorAll('#alert ul.objects a.object')].map(a => a.textContent)}",
            json!([]),
        )
        .await;
    assert_eq!(facts["rule"], "crash-loop");
    assert_eq!(facts["group"], "prod/shop/Deployment/web");
    assert_eq!(facts["state"], "firing");
    assert_eq!(
        facts["deliveries"],
        json!([
            ["hook", "pending", "0", ""],
            ["slack", "failed", "1", "HTTP 404: no_team"]
        ])
    );
    assert_eq!(
        facts["objects"],
        json!([
            "shop/Pod/web-7d9f8b6c5-q7z9m",
            "shop/Pod/web-7d9f8b6c5-x2k4p"
        ])
    );
    let incident = browser
        .wait_for(
            "the incident the alert is about",
            "const a = document.querySelector('#alert a.incident-link'); return a && a.getAttribute('href')",
        )
        .await;
    browser.click("#alert a.incident-link").await;
    browser
        .wait_for(
            "the incident page from the alert",
            "return document.querySelectorAll('#incident #root-cause li').length",
        )
        .await;
    assert!(
        incident.as_str().unwrap().starts_with("#/incident/"),
        "{incident}"
    );

    // One click silences the alert's group: the silence names the rule and the group.
    browser.goto(&format!("{base}/#/alert/{id}")).await;
    browser
        .wait_for(
            "the silence button",
            "return !!document.querySelector('#alert button.silence')",
        )
        .await;
    browser.click("#alert button.silence").await;
    let silenced = browser
        .wait_for(
            "the silence on the page",
            "const s = document.querySelector('#alert .silenced'); return s && s.textContent",
        )
        .await;
    assert!(
        silenced.as_str().unwrap().contains("Silenced"),
        "{silenced}"
    );
    let silences = store.silences(None).await.unwrap();
    assert_eq!(silences.len(), 1);
    let matchers: Vec<String> = silences[0].matchers.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        matchers,
        [
            "alertname=crash-loop",
            "group_key=prod/shop/Deployment/web",
            "cluster=prod",
            "namespace=shop"
        ]
    );
    browser
        .screenshot(&screenshots().join("alert-silenced.png"))
        .await;

    // The alerts list links each alert to its page.
    browser.goto(&format!("{base}/#/alerts")).await;
    browser
        .wait_for(
            "the alerts list",
            "return !!document.querySelector('#alerts a.alert-link')",
        )
        .await;
    browser.click("#alerts a.alert-link").await;
    browser
        .wait_for(
            "the alert page from the list",
            &format!(
                "const p = document.querySelector('#alert'); return !!p && p.dataset.id === '{id}'"
            ),
        )
        .await;

    // An unknown alert says so.
    browser.goto(&format!("{base}/#/alert/999999")).await;
    let error = browser
        .wait_for(
            "the unknown alert's error",
            "const e = document.querySelector('#main .error'); return e && e.textContent",
        )
        .await;
    assert!(error.as_str().unwrap().contains("no alert"), "{error}");
    browser.quit().await;
    cancel.cancel();
    server.await.unwrap().unwrap();
}
