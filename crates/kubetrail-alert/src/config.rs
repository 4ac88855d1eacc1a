//! The `alerting:` section of the configuration: raw YAML (unknown fields rejected) → a
//! validated [`AlertingConfig`] with typed rules, notifiers and the retry policy.
//!
//! ```yaml
//! alerting:
//!   default_rules: { disable: [node-not-ready] }    # the built-in rules, on by default
//!   rules_files: [alerts.yaml]
//!   rules:
//!     - name: payments-crash-loop
//!       match: { reason: BackOff, namespace: payments }
//!       condition: count >= 5 within 5m
//!       notifiers: [ops]
//!   notifiers:
//!     - { name: ops, type: webhook, url: "https://hooks.example/kubetrail", secret_file: /etc/kubetrail/hmac }
//!     - { name: chat, type: slack, url_env: SLACK_WEBHOOK_URL, rate_limit: 20/m }
//!     - { name: am, type: alertmanager, url: "http://alertmanager:9093" }
//!   delivery: { initial_backoff: 1s, max_backoff: 5m, max_attempts: 20, max_age: 24h }
//!   ui_url: https://kubetrail.example
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;
use kubetrail_model::parse_duration;
use serde::Deserialize;

use crate::notify::{Alertmanager, Notifier, Secret, Slack, Webhook};
use crate::outbox::{RetryPolicy, TokenBucket, parse_rate};
use crate::rules::{
    Locator, RawRule, Rule, builtin_rules, check_unique, parse_rules, validate_rule,
};
use crate::{BUILTIN_NAMES, Error, Result};

/// `alerting:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerting {
    /// Alerting on (default) or off.
    pub enabled: Option<bool>,
    /// The built-in default rules.
    #[serde(default)]
    pub default_rules: RawDefaultRules,
    /// Rules; a rule named like a built-in one replaces it.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Files of rules (`rules: [...]`), relative to the config file.
    #[serde(default)]
    pub rules_files: Vec<PathBuf>,
    /// Where alerts are sent (none: alerts are only recorded and listed).
    #[serde(default)]
    pub notifiers: Vec<RawNotifier>,
    /// Retries of deliveries.
    #[serde(default)]
    pub delivery: RawDelivery,
    /// Base URL of the kubetrail UI, for links in notifications.
    pub ui_url: Option<String>,
    /// How often alerts are checked for resolution and repeats, and windowed conditions are
    /// evaluated (default 10s).
    pub evaluate_every: Option<String>,
}

/// The built-in rules: all on unless disabled.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaultRules {
    /// All built-in rules on (default) or off.
    pub enabled: Option<bool>,
    /// Built-in rules to turn off, by name.
    #[serde(default)]
    pub disable: Vec<String>,
}

/// One notifier.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifier {
    /// Unique name, used by rules' `notifiers`.
    pub name: String,
    /// `webhook`, `slack` or `alertmanager`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL (for Slack and webhooks with a token in it, prefer url_file or url_env).
    pub url: Option<String>,
    /// A file holding the URL.
    pub url_file: Option<PathBuf>,
    /// An environment variable holding the URL.
    pub url_env: Option<String>,
    /// Webhook only: a file holding the HMAC secret.
    pub secret_file: Option<PathBuf>,
    /// Webhook only: an environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// Request timeout (default 10s).
    pub timeout: Option<String>,
    /// At most this many requests, e.g. `30/m` (default: unlimited).
    pub rate_limit: Option<String>,
    /// Alertmanager only: how long a firing alert stays active there without being sent again
    /// (default 5h; must be longer than every rule's repeat).
    pub validity: Option<String>,
}

/// Retries of deliveries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    /// Delay after the first failure (default 1s).
    pub initial_backoff: Option<String>,
    /// Longest delay (default 5m).
    pub max_backoff: Option<String>,
    /// Attempts before failing for good (default 20).
    pub max_attempts: Option<u32>,
    /// Notifications older than this are dropped (default 24h).
    pub max_age: Option<String>,
    /// Random spread of delays, 0 to 1 (default 0.2).
    pub jitter: Option<f64>,
}

/// A notifier ready to use.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Where and how notifications are sent.
    pub notifier: Notifier,
    /// Requests per second and burst; `None`: no limit.
    pub rate_limit: Option<(f64, u32)>,
}

impl NotifierConfig {
    /// A fresh token bucket for the rate limit, full; `None` without a limit.
    pub fn bucket(&self) -> Option<TokenBucket> {
        self.rate_limit
            .map(|(rate, burst)| TokenBucket::new(rate, burst))
    }
}

/// The validated `alerting:` section.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// Whether alerting runs (default true).
    pub enabled: bool,
    /// The built-in rules left on, then the user's (inline and from `rules_files`), a user
    /// rule replacing the built-in one of the same name.
    pub rules: Vec<Rule>,
    /// The notifiers, by the names rules use.
    pub notifiers: Vec<NotifierConfig>,
    /// Retries and age limit of deliveries (`delivery:`).
    pub policy: RetryPolicy,
    /// The UI's base URL without a trailing `/`, for links in notifications; `None`: no links.
    pub ui_url: Option<String>,
    /// How often the periodic evaluation runs (resolve, repeat; default 10s).
    pub evaluate_every: Duration,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            enabled: true,
            rules: builtin_rules(),
            notifiers: Vec::new(),
            policy: RetryPolicy::default(),
            ui_url: None,
            evaluate_every: Duration::from_secs(10),
        }
    }
}

fn std_duration(d: SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

impl RawAlerting {
    /// Validates the section. `text` is the whole config file (to find lines), `base` the
    /// directory relative paths start from.
    pub fn validate(self, text: &str, base: &Path) -> Result<AlertingConfig> {
        let locator = Locator::new(text);
        let section =
            |field: &str, message: String| Error::invalid("alerting", field, None, message);
        // Built-in rules first, replaced by user rules of the same name.
        let defaults_on = self.default_rules.enabled.unwrap_or(true);
        for name in &self.default_rules.disable {
            if !BUILTIN_NAMES.contains(&name.as_str()) {
                return Err(section(
                    "default_rules.disable",
                    format!(
                        "no built-in rule is named {name:?} (they are: {})",
                        BUILTIN_NAMES.join(", ")
                    ),
                ));
            }
        }
        let mut user: Vec<Rule> = self
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, raw)| validate_rule(raw, &locator, i, false))
            .collect::<Result<_>>()?;
        check_unique(&user, &locator)?;
        for file in &self.rules_files {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let rules = parse_rules(&text).map_err(|e| Error::InFile {
                path: path.clone(),
                source: Box::new(e),
            })?;
            for r in rules {
                if user.iter().any(|u| u.name == r.name) {
                    return Err(Error::InFile {
                        path: path.clone(),
                        source: Box::new(Error::invalid(
                            format!("rule {:?}", r.name),
                            "name",
                            None,
                            "another rule has the same name",
                        )),
                    });
                }
                user.push(r);
            }
        }
        let mut rules: Vec<Rule> = if defaults_on {
            builtin_rules()
                .into_iter()
                .filter(|b| !self.default_rules.disable.contains(&b.name))
                .filter(|b| !user.iter().any(|u| u.name == b.name))
                .collect()
        } else {
            Vec::new()
        };
        rules.extend(user);

        let ui_url = self.ui_url.map(|u| u.trim_end_matches('/').to_string());
        let mut notifiers: Vec<NotifierConfig> = Vec::new();
        for raw in self.notifiers {
            let n = notifier(raw, &locator, base, ui_url.as_deref())?;
            if notifiers
                .iter()
                .any(|o| o.notifier.name() == n.notifier.name())
            {
                let name = n.notifier.name().to_string();
                return Err(Error::invalid(
                    format!("notifier {name:?}"),
                    "name",
                    locator.item(&name),
                    "another notifier has the same name",
                ));
            }
            notifiers.push(n);
        }
        for r in &rules {
            for name in r.notifiers.iter().flatten() {
                if !notifiers.iter().any(|n| n.notifier.name() == name) {
                    return Err(Error::invalid(
                        format!("rule {:?}", r.name),
                        "notifiers",
                        locator.field(&r.name, &["notifiers"]),
                        format!("no notifier is named {name:?}"),
                    ));
                }
            }
            for n in &notifiers {
                if let Notifier::Alertmanager(am) = &n.notifier
                    && r.notifiers.as_ref().is_none_or(|l| l.contains(&am.name))
                    && r.repeat >= am.validity
                {
                    return Err(Error::invalid(
                        format!("notifier {:?}", am.name),
                        "validity",
                        locator.field(&am.name, &["validity"]),
                        format!(
                            "must be longer than the repeat interval of rule {:?} ({}), or Alertmanager would end the alert between two sends",
                            r.name,
                            crate::template::duration(r.repeat)
                        ),
                    ));
                }
            }
        }

        let d = &self.delivery;
        let dur = |field: &str, v: &Option<String>, default: Duration| -> Result<Duration> {
            match v {
                Some(t) => parse_duration(t)
                    .map(std_duration)
                    .map_err(|e| section(&format!("delivery.{field}"), e.to_string())),
                None => Ok(default),
            }
        };
        let defaults = RetryPolicy::default();
        let jitter = d.jitter.unwrap_or(defaults.jitter);
        if !(0.0..=1.0).contains(&jitter) {
            return Err(section(
                "delivery.jitter",
                format!("must be between 0 and 1, not {jitter}"),
            ));
        }
        let timeout = notifiers
            .iter()
            .map(|n| timeout_of(&n.notifier))
            .max()
            .unwrap_or(Duration::from_secs(10));
        let policy = RetryPolicy {
            initial: dur("initial_backoff", &d.initial_backoff, defaults.initial)?,
            max: dur("max_backoff", &d.max_backoff, defaults.max)?,
            multiplier: defaults.multiplier,
            jitter,
            max_attempts: d.max_attempts.unwrap_or(defaults.max_attempts).max(1),
            max_age: match &d.max_age {
                Some(t) => {
                    parse_duration(t).map_err(|e| section("delivery.max_age", e.to_string()))?
                }
                None => defaults.max_age,
            },
            lease: timeout + Duration::from_secs(30),
        };
        if policy.initial > policy.max {
            return Err(section(
                "delivery.initial_backoff",
                "must not be longer than max_backoff".into(),
            ));
        }
        let evaluate_every = dur_top(self.evaluate_every.as_deref())?;
        Ok(AlertingConfig {
            enabled: self.enabled.unwrap_or(true),
            rules,
            notifiers,
            policy,
            ui_url,
            evaluate_every,
        })
    }
}

fn dur_top(v: Option<&str>) -> Result<Duration> {
    match v {
        Some(t) => {
            let d = parse_duration(t)
                .map_err(|e| Error::invalid("alerting", "evaluate_every", None, e.to_string()))?;
            let d = std_duration(d);
            if d.is_zero() {
                return Err(Error::invalid(
                    "alerting",
                    "evaluate_every",
                    None,
                    "must be longer than 0",
                ));
            }
            Ok(d)
        }
        None => Ok(Duration::from_secs(10)),
    }
}

fn timeout_of(n: &Notifier) -> Duration {
    match n {
        Notifier::Webhook(w) => w.timeout,
        Notifier::Slack(s) => s.timeout,
        Notifier::Alertmanager(a) => a.timeout,
    }
}

fn notifier(
    raw: RawNotifier,
    locator: &Locator<'_>,
    base: &Path,
    ui_url: Option<&str>,
) -> Result<NotifierConfig> {
    let name = raw.name.trim().to_string();
    let item = if name.is_empty() {
        "notifier".to_string()
    } else {
        format!("notifier {name:?}")
    };
    let err = |field: &str, message: String| {
        let line = if name.is_empty() {
            None
        } else {
            locator.field(&name, &[field])
        };
        Error::invalid(item.clone(), field, line, message)
    };
    if name.is_empty() {
        return Err(err("name", "every notifier needs a name".into()));
    }
    let timeout = match &raw.timeout {
        Some(t) => std_duration(parse_duration(t).map_err(|e| err("timeout", e.to_string()))?),
        None => Duration::from_secs(10),
    };
    if timeout.is_zero() {
        return Err(err("timeout", "must be longer than 0".into()));
    }
    let rate_limit = raw
        .rate_limit
        .as_deref()
        .map(|r| {
            parse_rate(r)
                .map(|rate| (rate, (rate * 10.0).ceil().clamp(1.0, 100.0) as u32))
                .ok_or_else(|| {
                    err(
                        "rate_limit",
                        format!("invalid rate {r:?} (expected e.g. 30/m, 1/s, 100/h)"),
                    )
                })
        })
        .transpose()?;
    let sources = [
        raw.url.is_some(),
        raw.url_file.is_some(),
        raw.url_env.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(err(
            "url",
            "give exactly one of url, url_file, url_env".into(),
        ));
    }
    let url = if let Some(u) = &raw.url {
        Secret::new(u.trim())
    } else if let Some(f) = &raw.url_file {
        Secret::from_file(&base.join(f)).map_err(|m| err("url_file", m))?
    } else if let Some(v) = &raw.url_env {
        Secret::from_env(v).map_err(|m| err("url_env", m))?
    } else {
        return Err(err("url", "missing".into()));
    };
    let parsed = reqwest::Url::parse(url.expose())
        .map_err(|_| err("url", "not a valid http(s) URL (value not shown)".into()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(err("url", "must be an http or https URL".into()));
    }
    let ui_url = ui_url.map(str::to_string);
    let only_webhook = |field: &str, set: bool| -> Result<()> {
        if set && raw.kind != "webhook" {
            return Err(err(field, "only webhooks are signed".into()));
        }
        Ok(())
    };
    only_webhook("secret_file", raw.secret_file.is_some())?;
    only_webhook("secret_env", raw.secret_env.is_some())?;
    if raw.validity.is_some() && raw.kind != "alertmanager" {
        return Err(err("validity", "only for alertmanager notifiers".into()));
    }
    let notifier = match raw.kind.as_str() {
        "webhook" => {
            let secret = match (&raw.secret_file, &raw.secret_env) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "secret_file",
                        "give secret_file or secret_env, not both".into(),
                    ));
                }
                (Some(f), None) => {
                    Some(Secret::from_file(&base.join(f)).map_err(|m| err("secret_file", m))?)
                }
                (None, Some(v)) => Some(Secret::from_env(v).map_err(|m| err("secret_env", m))?),
                (None, None) => None,
            };
            Notifier::Webhook(Webhook {
                name: name.clone(),
                url,
                secret,
                timeout,
                ui_url,
            })
        }
        "slack" => Notifier::Slack(Slack {
            name: name.clone(),
            url,
            timeout,
            ui_url,
        }),
        "alertmanager" => Notifier::Alertmanager(Alertmanager {
            name: name.clone(),
            url: url.expose().to_string(),
            timeout,
            validity: match &raw.validity {
                Some(v) => parse_duration(v).map_err(|e| err("validity", e.to_string()))?,
                None => SignedDuration::from_hours(5),
            },
            ui_url,
        }),
        other => {
            return Err(err(
                "type",
                format!(
                    "unknown notifier type {other:?} (expected webhook, slack or alertmanager)"
                ),
            ));
        }
    };
    Ok(NotifierConfig {
        notifier,
        rate_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        alerting: RawAlerting,
    }

    fn load(text: &str) -> Result<AlertingConfig> {
        let f: File = yaml_serde::from_str(text)
            .map_err(|e| crate::rules::yaml_error(text, &e, &["alerting", "rules"]))?;
        f.alerting.validate(text, Path::new("."))
    }

    #[test]
    fn built_in_rules_are_on_can_be_disabled_and_replaced() {
        let c = load("alerting: {}\n").unwrap();
        assert_eq!(c.rules.len(), BUILTIN_NAMES.len());
        let c = load(
            "alerting:\n  default_rules: {disable: [node-not-ready]}\n  rules:\n    - name: crash-loop\n      condition: count >= 10 within 5m\n",
        )
        .unwrap();
        let names: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
        assert!(!names.contains(&"node-not-ready"));
        let crash = c.rules.iter().find(|r| r.name == "crash-loop").unwrap();
        assert!(!crash.builtin, "replaced by the user's rule");
        let c = load("alerting:\n  default_rules: {enabled: false}\n").unwrap();
        assert!(c.rules.is_empty());
        let err = load("alerting:\n  default_rules: {disable: [crashloop]}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("crashloop") && err.contains("crash-loop"),
            "{err}"
        );
    }

    #[test]
    fn notifiers_are_checked_and_rules_may_only_name_existing_ones() {
        let text = "alerting:
  rules:
    - name: mine
      notifiers: [chat]
  notifiers:
    - name: ops
      type: webhook
      url: http://127.0.0.1:9/hook
";
        let err = load(text).unwrap_err().to_string();
        assert!(
            err.contains("rule \"mine\"")
                && err.contains("notifiers")
                && err.contains("line 4")
                && err.contains("\"chat\""),
            "{err}"
        );
        let err = load(
            "alerting:\n  notifiers:\n    - name: x\n      type: pager\n      url: http://a\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("notifier \"x\"") && err.contains("field type") && err.contains("line 4"),
            "{err}"
        );
        let err = load("alerting:\n  notifiers:\n    - name: x\n      type: slack\n      url: not a url with a token\n").unwrap_err().to_string();
        assert!(
            err.contains("field url") && !err.contains("token"),
            "the URL is not shown: {err}"
        );
        let err = load("alerting:\n  notifiers:\n    - name: x\n      type: slack\n      url: http://a\n      secret_env: K\n").unwrap_err().to_string();
        assert!(err.contains("secret_env"), "{err}");
        let err = load("alerting:\n  notifiers:\n    - name: am\n      type: alertmanager\n      url: http://a\n      validity: 1h\n").unwrap_err().to_string();
        assert!(err.contains("validity") && err.contains("repeat"), "{err}");
        let err = load("alerting:\n  notifiers:\n    - name: x\n      type: webhook\n      url: http://a\n      secret_file: /nonexistent/key\n").unwrap_err().to_string();
        assert!(
            err.contains("secret_file") && err.contains("/nonexistent/key"),
            "{err}"
        );
        let ok = load("alerting:\n  notifiers:\n    - {name: x, type: webhook, url: \"http://a\", rate_limit: 30/m, timeout: 2s}\n").unwrap();
        assert_eq!(ok.notifiers[0].rate_limit, Some((0.5, 5)));
        assert_eq!(ok.policy.lease, Duration::from_secs(32));
    }

    #[test]
    fn unknown_fields_name_the_rule_and_line() {
        let err = load("alerting:\n  rules:\n    - name: a\n    - name: b\n      cooldwn: 5m\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule \"b\"") && err.contains("cooldwn") && err.contains("line 5"),
            "{err}"
        );
        let err = load("alerting:\n  delivery: {max_backoff: soon}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("delivery.max_backoff"), "{err}");
    }
}
