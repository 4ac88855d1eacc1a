//! A small W3C WebDriver client for the UI tests: `chromedriver` (Debian's chromium-driver)
//! started on a free port, driving a headless Chromium with a fresh profile. Plain HTTP on
//! loopback, with every wait bounded.

#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The key W3C WebDriver names elements by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    client: reqwest::Client,
    base: String,
    session: String,
    _driver: Child,
    _profile: tempfile::TempDir,
}

use kubetrail_testkit::free_port;

fn find(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Browser {
        let driver = find("chromedriver").expect(
            "chromedriver is needed (apt-get install chromium chromium-driver; scripts/test.sh does it)",
        );
        let chromium = find("chromium").expect("chromium is needed (apt-get install chromium)");
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let ready = within(Duration::from_secs(30), || {
            let client = client.clone();
            let url = format!("{base}/status");
            async move {
                let r = client.get(url).send().await.ok()?;
                let v: Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
                v["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not become ready");
        let profile = tempfile::tempdir().expect("a profile directory");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1400,1000".to_string(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = post(&client, &format!("{base}/session"), &caps).await;
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Browser {
            client,
            base,
            session,
            _driver: child,
            _profile: profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    async fn call(&self, path: &str, body: &Value) -> Value {
        match self.try_call(path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {path} failed: {e}"),
        }
    }

    /// The command's value, or WebDriver's error object.
    async fn try_call(&self, path: &str, body: &Value) -> Result<Value, Value> {
        let v = post(&self.client, &self.url(path), body).await;
        match v["value"]["error"].is_null() {
            true => Ok(v["value"].clone()),
            false => Err(v["value"].clone()),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call("/url", &json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.call("/execute/sync", &json!({"script": script, "args": args}))
            .await
    }

    /// Waits (at most 20 s) until `script` returns something truthy; returns it.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let found = within(Duration::from_secs(20), || async {
            let v = self.eval(script, json!([])).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            truthy.then_some(v)
        })
        .await;
        match found {
            Some(v) => v,
            None => {
                let page = self
                    .eval("return document.body.innerText.slice(0, 2000)", json!([]))
                    .await;
                panic!("timed out waiting for {what}; the page says: {page}")
            }
        }
    }

    /// The element matching a CSS selector.
    pub async fn element(&self, css: &str) -> String {
        let v = self
            .call("/element", &json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT].as_str().expect("an element id").to_string()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(&format!("/element/{id}/click"), &json!({})).await;
    }

    /// Types into the element (as a user would, key by key).
    /// The page may render the element again between finding it and typing (a refresh that
    /// lands meanwhile): a stale element is found again, for at most 20 s.
    pub async fn type_into(&self, css: &str, text: &str) {
        let typed = within(Duration::from_secs(20), || async {
            let id = self.element(css).await;
            let typed = async {
                self.try_call(&format!("/element/{id}/clear"), &json!({}))
                    .await?;
                self.try_call(&format!("/element/{id}/value"), &json!({ "text": text }))
                    .await
            };
            match typed.await {
                Ok(_) => Some(()),
                Err(e) if e["error"] == "stale element reference" => None,
                Err(e) => panic!("WebDriver typing into {css} failed: {e}"),
            }
        })
        .await;
        assert!(typed.is_some(), "{css} kept going stale for 20 s");
    }

    /// Presses keys on whatever has the focus (`\u{E007}` is Enter).
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": k.to_string()}));
            actions.push(json!({"type": "keyUp", "value": k.to_string()}));
        }
        self.call(
            "/actions",
            &json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await;
    }

    pub async fn screenshot(&self, path: &Path) {
        let r = self
            .client
            .get(self.url("/screenshot"))
            .send()
            .await
            .expect("a screenshot");
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("bytes")).expect("JSON");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().expect("base64"))
            .expect("a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot directory");
        }
        std::fs::write(path, png).expect("the screenshot is written");
    }

    pub async fn quit(self) {
        let _ = self.client.delete(self.url("")).send().await;
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Value {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    serde_json::from_slice(&r.bytes().await.expect("a body")).expect("WebDriver answers JSON")
}

/// Retries `attempt` every 100 ms until it gives something, for at most `limit`.
pub async fn within<T, F, Fut>(limit: Duration, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        if let Some(v) = attempt().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}
