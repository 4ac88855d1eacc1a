//! Slack incoming webhook against a local receiver: readable blocks for firing and resolved.

mod common;

use std::time::Duration;

use common::{Receiver, backoff, commit, config, start, stop, store, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_blocks_for_the_alert_and_its_resolution() {
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("slack-url");
    std::fs::write(&url_file, format!("{}\n", receiver.url())).unwrap();
    let store = store(dir.path());
    let cfg = config(&format!(
        "default_rules: {{enabled: false}}
evaluate_every: 100ms
ui_url: https://kubetrail.example
rules:
  - name: crash-loop
    match: {{reason: BackOff}}
    condition: count >= 3 within 10m
    resolve_after: 1s
    annotations:
      summary: \"{{{{ correlation }}}} is crash-looping\"
      description: \"{{{{ message }}}}\"
notifiers:
  - name: chat
    type: slack
    url_file: {}
    rate_limit: 60/m
delivery: {{initial_backoff: 50ms}}
",
        url_file.display()
    ));
    let (alerting, cancel) = start(cfg, store.clone()).await;
    let mut evil = backoff("web-1", 3);
    evil.note = "crash <!channel> & <https://evil.example|click>".into();
    commit(&store, &alerting.feed, vec![evil]).await;
    let bodies = wait_for(
        "firing and resolved messages",
        Duration::from_secs(20),
        async || {
            let got = receiver.accepted();
            (got.len() >= 2).then_some(got)
        },
    )
    .await;
    assert_eq!(bodies.len(), 2);
    let firing: serde_json::Value = serde_json::from_slice(&bodies[0].body).unwrap();
    let resolved: serde_json::Value = serde_json::from_slice(&bodies[1].body).unwrap();
    let blocks = firing["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[0]["text"]["text"],
        "🚨 FIRING: shop/Deployment/web is crash-looping"
    );
    let text = firing.to_string();
    assert!(
        text.contains("*What*\\nBackOff (crash-loop, error)"),
        "{text}"
    );
    assert!(text.contains("*Where*\\ncluster `prod`"), "{text}");
    assert!(text.contains("*How often*\\n3 times"), "{text}");
    assert!(text.contains("*First / last seen*"), "{text}");
    assert!(text.contains("Open in kubetrail"), "{text}");
    assert!(
        !text.contains("<!channel>") && !text.contains("<https://evil"),
        "escaped: {text}"
    );
    assert!(firing["text"].as_str().unwrap().contains("FIRING"));
    assert!(
        resolved["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("✅ RESOLVED")
    );
    assert!(resolved.to_string().contains("*Resolved*"));
    stop(alerting, cancel).await;
}
