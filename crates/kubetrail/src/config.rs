//! The configuration file: raw YAML (every field optional, unknown fields rejected with their
//! line) → validated typed values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kubetrail_model::{Severity, parse_duration};
use kubetrail_process::Rules;
use kubetrail_store::RetentionPolicy;
use serde::Deserialize;

/// `kubetrail.yaml` as written. Every field has a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the embedded store lives (default `./kubetrail-data`, or `--data-dir`,
    /// or `KUBETRAIL_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Name given to events whose source does not name a cluster (default `default`).
    pub cluster: Option<String>,
    /// How long events are kept.
    #[serde(default)]
    pub retention: RawRetention,
    /// Classification rules files (YAML, `rules: [...]`), tried in order before the built-in
    /// rules. Relative paths are relative to the config file.
    #[serde(default)]
    pub rules_files: Vec<PathBuf>,
    /// Bound of the on-disk spool that holds batches while storage is unavailable
    /// (default `1GiB`).
    pub spool_max_size: Option<String>,
    /// Events dated more than this past the moment they are received (import, watch, POST,
    /// NATS) are refused and counted, so that one far-future time cannot become the newest
    /// event forever (default `1d`; kubetrail-process `DEFAULT_MAX_FUTURE`).
    pub max_future: Option<String>,
    /// Clusters `kubetrail run` watches (default: the current kube context).
    #[serde(default)]
    pub clusters: Vec<RawCluster>,
    /// Alert rules, notifiers and delivery (see kubetrail-alert); built-in rules are on by
    /// default.
    #[serde(default)]
    pub alerting: kubetrail_alert::RawAlerting,
    /// The HTTP server of `run`, `demo` and `serve`: listen address and request limits (see
    /// kubetrail-server).
    #[serde(default)]
    pub serve: kubetrail_server::RawServe,
    /// How API callers authenticate: tenant tokens, optionally Kubernetes tokens, anonymous
    /// reads on loopback.
    #[serde(default)]
    pub auth: kubetrail_server::RawAuth,
    /// Bearer tokens (stored hashed, or read from files or variables) and what each tenant
    /// sees.
    #[serde(default)]
    pub tenants: Vec<kubetrail_server::RawTenant>,
    /// Where events are kept: `{postgres: {url: ...}}` for a PostgreSQL shared by many
    /// instances; default: the embedded SQLite store in `data_dir`.
    #[serde(default)]
    pub storage: RawStorage,
    /// Where `kubetrail run` gets events: `[watch]` (the clusters, the default) or `[nats]`
    /// (what `kubetrail agent`s publish to NATS JetStream); `--source` overrides it.
    #[serde(default)]
    pub sources: Vec<crate::fanin::Source>,
    /// The NATS JetStream fan-in of `agent` and `run --source nats`: servers, stream, durable
    /// consumer, credentials and TLS; the `--nats-*` flags override it.
    #[serde(default)]
    pub nats: crate::fanin::RawNats,
    /// Change tracking (issue 15): which objects `run` watches for changes that cause
    /// failures. On by default for workloads, HPAs, Nodes and ConfigMaps; Secrets opt-in.
    #[serde(default)]
    pub changes: RawChanges,
}

/// The `changes:` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChanges {
    /// Whether `run` tracks changes at all (default `true`).
    pub enabled: Option<bool>,
    /// The resources watched (plural names; default: deployments, statefulsets, daemonsets,
    /// cronjobs, horizontalpodautoscalers, nodes, configmaps). `secrets` is not accepted here:
    /// see `secrets`.
    pub resources: Option<Vec<String>>,
    /// Also track Secrets: their names, keys and a content hash per key, never values
    /// (default `false`; needs list/watch on secrets).
    pub secrets: Option<bool>,
}

impl RawChanges {
    fn validate(self) -> Result<Vec<kubetrail_source::watch::TrackedResource>> {
        use kubetrail_source::watch::TrackedResource;
        if self.enabled == Some(false) {
            return Ok(Vec::new());
        }
        let mut out = match self.resources {
            None => TrackedResource::ALL
                .into_iter()
                .filter(|r| *r != TrackedResource::Secrets)
                .collect(),
            Some(names) => {
                let mut out = Vec::new();
                for name in names {
                    let r = match TrackedResource::parse(&name) {
                        Some(TrackedResource::Secrets) => bail!(
                            "config field changes.resources: secrets are tracked only with changes.secrets: true"
                        ),
                        Some(r) => r,
                        None => bail!(
                            "config field changes.resources: unknown resource {name:?} (one of {})",
                            TrackedResource::NAMES[..7].join(", ")
                        ),
                    };
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
                out
            }
        };
        if self.secrets == Some(true) {
            out.push(TrackedResource::Secrets);
        }
        Ok(out)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// A PostgreSQL store (also `--postgres-url` or `KUBETRAIL_POSTGRES_URL`).
    pub postgres: Option<RawPostgres>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// `postgres://user:password@host:5432/database`.
    pub url: Option<String>,
    /// Or the name of an environment variable holding the URL (keeps the password out of the
    /// file).
    pub url_env: Option<String>,
    /// Schema of kubetrail's tables (default: the server's search path, normally `public`).
    pub schema: Option<String>,
    /// Connections in the pool (default 8).
    pub pool_size: Option<usize>,
    /// PEM of the CAs that sign the server's certificate; implies TLS (which is also used with
    /// `sslmode=require` in the URL). Relative to the config file.
    pub ca_file: Option<PathBuf>,
}

impl RawPostgres {
    fn validate(self, base: &Path) -> Result<kubetrail_store::PostgresOptions> {
        let url = url_or_env(self.url, self.url_env.as_deref(), "storage.postgres")?
            .context("config field storage.postgres: url or url_env is required")?;
        let mut options = kubetrail_store::PostgresOptions::new(url);
        options.schema = self.schema;
        options.ca_file = self
            .ca_file
            .map(|ca| existing_file(base, ca, "storage.postgres.ca_file"))
            .transpose()?;
        if let Some(n) = self.pool_size {
            if n == 0 {
                bail!("config field storage.postgres.pool_size must be at least 1");
            }
            options.pool_size = n;
        }
        Ok(options)
    }
}

/// One watched cluster.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Name stored with its events (default: the context name).
    pub name: Option<String>,
    /// Kubeconfig file (default: `$KUBECONFIG`, `~/.kube/config`, or in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: its current context).
    pub context: Option<String>,
    /// Namespaces to watch (default: all).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Field selector sent to the API server, e.g. `type=Warning`.
    pub field_selector: Option<String>,
    /// Label selector sent to the API server.
    pub label_selector: Option<String>,
    /// Client-side limit on list/watch requests per second (default 5, burst 10).
    pub requests_per_second: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Maximum age of an event's last occurrence (default `30d`).
    pub max_age: Option<String>,
    /// Per-severity maximum ages, e.g. `{info: 7d, critical: 90d}`.
    #[serde(default)]
    pub max_age_by_severity: BTreeMap<String, String>,
    /// Maximum size of the store, e.g. `10GB`, `500MiB` (default: unlimited).
    pub max_size: Option<String>,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub cluster: String,
    pub retention: RetentionPolicy,
    pub rules_files: Vec<PathBuf>,
    pub clusters: Vec<RawCluster>,
    pub spool_max_bytes: u64,
    /// How far past their receipt events may be dated (`max_future`).
    pub max_future: kubetrail_process::FutureLimit,
    /// Validated `alerting:` section (defaults when there is no config file).
    pub alerting: kubetrail_alert::AlertingConfig,
    /// Validated `serve:`, `auth:` and `tenants:` sections.
    pub serve: kubetrail_server::ServeConfig,
    /// A PostgreSQL store, when configured (`storage.postgres`, `--postgres-url`).
    pub postgres: Option<kubetrail_store::PostgresOptions>,
    /// Where `run` gets events (`sources:`), unless `--source` says.
    pub source: crate::fanin::Source,
    /// The validated `nats:` section (defaults when absent).
    pub nats: kubetrail_source::nats::NatsSettings,
    /// The resources `run` tracks changes of (`changes:`); empty when disabled.
    pub changes: Vec<kubetrail_source::watch::TrackedResource>,
}

impl Config {
    /// Reads the config file (if any) and applies the command-line overrides.
    pub fn load(path: Option<&Path>, data_dir: Option<PathBuf>) -> Result<Config> {
        let (mut raw, base, text) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                let raw: RawConfig = yaml_serde::from_str(&text)
                    // Errors inside alerting.rules also name the rule.
                    .map_err(|e| {
                        kubetrail_alert::rules::yaml_error(&text, &e, &["alerting", "rules"])
                    })
                    .with_context(|| format!("invalid config file {}", p.display()))?;
                (
                    raw,
                    p.parent().map(Path::to_path_buf).unwrap_or_default(),
                    text,
                )
            }
            None => (RawConfig::default(), PathBuf::new(), String::new()),
        };
        let alerting = std::mem::take(&mut raw.alerting)
            .validate(&text, &base)
            .with_context(|| match path {
                Some(p) => format!("invalid alerting configuration in {}", p.display()),
                None => "invalid alerting configuration".to_string(),
            })?;
        let mut config = raw.validate(data_dir, &base)?;
        config.alerting = alerting;
        Ok(config)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("kubetrail.db")
    }

    /// The built-in classification rules with the configured rules files in front.
    pub fn rules(&self, extra: &[PathBuf]) -> Result<Rules> {
        let mut rules = Rules::builtin();
        for path in self.rules_files.iter().chain(extra) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read rules file {}", path.display()))?;
            let file = Rules::from_yaml(&text)
                .with_context(|| format!("invalid rules file {}", path.display()))?;
            rules.extend_user(file);
        }
        Ok(rules)
    }
}

impl RawConfig {
    fn validate(self, data_dir: Option<PathBuf>, base: &Path) -> Result<Config> {
        let data_dir = data_dir
            .or(self.data_dir.map(|d| base.join(d)))
            .unwrap_or_else(|| PathBuf::from("kubetrail-data"));
        let mut retention = RetentionPolicy::default();
        if let Some(age) = &self.retention.max_age {
            retention.max_age = parse_duration(age).context("config field retention.max_age")?;
        }
        for (sev, age) in &self.retention.max_age_by_severity {
            let severity: Severity = sev
                .parse()
                .with_context(|| format!("config field retention.max_age_by_severity.{sev}"))?;
            let age = parse_duration(age)
                .with_context(|| format!("config field retention.max_age_by_severity.{sev}"))?;
            retention.max_age_by_severity.insert(severity, age);
        }
        if let Some(size) = &self.retention.max_size {
            retention.max_bytes =
                Some(parse_size(size).context("config field retention.max_size")?);
        }
        let serve =
            kubetrail_server::ServeConfig::validate(self.serve, self.auth, self.tenants, base)
                .context("config section serve/auth/tenants")?;
        let source = match self.sources.as_slice() {
            [] => crate::fanin::Source::default(),
            [one] => *one,
            _ => bail!(
                "config field sources: give one source, watch or nats (run one instance per \
                 source to have both)"
            ),
        };
        let nats = self.nats.validate(base)?;
        let changes = self.changes.validate()?;
        Ok(Config {
            data_dir,
            cluster: self.cluster.unwrap_or_else(|| "default".to_string()),
            retention,
            rules_files: self.rules_files.into_iter().map(|p| base.join(p)).collect(),
            spool_max_bytes: match &self.spool_max_size {
                Some(s) => parse_size(s).context("config field spool_max_size")?,
                None => 1 << 30,
            },
            max_future: match &self.max_future {
                Some(d) => kubetrail_process::FutureLimit::new(
                    parse_duration(d).context("config field max_future")?,
                ),
                None => kubetrail_process::FutureLimit::default(),
            },
            clusters: self
                .clusters
                .into_iter()
                .map(|mut c| {
                    c.kubeconfig = c.kubeconfig.map(|k| base.join(k));
                    c
                })
                .collect(),
            alerting: kubetrail_alert::AlertingConfig::default(),
            serve,
            postgres: self
                .storage
                .postgres
                .map(|p| p.validate(base))
                .transpose()?,
            source,
            nats,
            changes,
        })
    }
}

/// A URL given as `url`, or as `url_env`: the name of the variable holding it (keeps secrets
/// out of the file). `None` when neither is given; `section` names the field in errors.
pub(crate) fn url_or_env(
    url: Option<String>,
    url_env: Option<&str>,
    section: &str,
) -> Result<Option<String>> {
    match (url, url_env) {
        (Some(url), None) => Ok(Some(url)),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .with_context(|| format!("config field {section}.url_env: variable {var} is not set")),
        (Some(_), Some(_)) => bail!("config field {section}: give url or url_env, not both"),
        (None, None) => Ok(None),
    }
}

/// `base/path`, which must be a file: a missing file is named when the config is read, not at
/// the first connection.
pub(crate) fn existing_file(base: &Path, path: PathBuf, field: &str) -> Result<PathBuf> {
    let full = base.join(path);
    if !full.is_file() {
        bail!("config field {field}: {} is not a file", full.display());
    }
    Ok(full)
}

/// `500MB`, `10GiB`, `1048576` → bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid size {text:?} (expected e.g. 500MB or 10GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" | "t" => 1 << 40,
        _ => bail!("invalid size {text:?} (expected e.g. 500MB or 10GiB)"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_errors_that_name_the_field_and_line() {
        let err = yaml_serde::from_str::<RawConfig>("data_dir: x\nretention:\n  max_agee: 3d\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_agee") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn max_future_defaults_to_a_day_and_is_validated() {
        let default: RawConfig = yaml_serde::from_str("cluster: c\n").unwrap();
        let c = default.validate(None, Path::new("")).unwrap();
        assert_eq!(c.max_future, kubetrail_process::FutureLimit::default());
        let raw: RawConfig = yaml_serde::from_str("max_future: 6h\n").unwrap();
        let c = raw.validate(None, Path::new("")).unwrap();
        assert_eq!(
            c.max_future.max_ahead(),
            jiff::SignedDuration::from_hours(6)
        );
        let raw: RawConfig = yaml_serde::from_str("max_future: soon\n").unwrap();
        let err = format!("{:#}", raw.validate(None, Path::new("")).unwrap_err());
        assert!(err.contains("max_future"), "{err}");
    }

    #[test]
    fn retention_values_are_validated() {
        let raw: RawConfig = yaml_serde::from_str(
            "retention:\n  max_age: 14d\n  max_age_by_severity: {info: 2d}\n  max_size: 2GiB\n",
        )
        .unwrap();
        let c = raw.validate(None, Path::new("")).unwrap();
        assert_eq!(
            c.retention.max_age,
            jiff::SignedDuration::from_hours(14 * 24)
        );
        assert_eq!(c.retention.max_bytes, Some(2 << 30));
        assert_eq!(c.data_dir, PathBuf::from("kubetrail-data"));
        let raw: RawConfig =
            yaml_serde::from_str("retention:\n  max_age_by_severity: {loud: 2d}\n").unwrap();
        let err = format!("{:#}", raw.validate(None, Path::new("")).unwrap_err());
        assert!(err.contains("max_age_by_severity.loud"), "{err}");
    }

    #[test]
    fn a_postgres_store_is_configured_by_url_or_by_a_variable_holding_it() {
        let raw: RawConfig = yaml_serde::from_str(
            "storage:\n  postgres: {url: \"postgres://kt:pw@db/kt\", schema: trail, pool_size: 3}\n",
        )
        .unwrap();
        let pg = raw.validate(None, Path::new("")).unwrap().postgres.unwrap();
        assert_eq!(
            (pg.url.as_str(), pg.schema.as_deref(), pg.pool_size),
            ("postgres://kt:pw@db/kt", Some("trail"), 3)
        );
        let raw: RawConfig =
            yaml_serde::from_str("storage:\n  postgres: {url_env: KT_NO_SUCH_VARIABLE}\n").unwrap();
        let err = format!("{:#}", raw.validate(None, Path::new("")).unwrap_err());
        assert!(
            err.contains("storage.postgres.url_env") && err.contains("KT_NO_SUCH_VARIABLE"),
            "{err}"
        );
        let raw: RawConfig = yaml_serde::from_str("storage:\n  postgres: {}\n").unwrap();
        assert!(raw.validate(None, Path::new("")).is_err());
        let err = yaml_serde::from_str::<RawConfig>("storage:\n  postgres: {uri: x}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("uri") && err.contains("line 2"), "{err}");
        let none: RawConfig = yaml_serde::from_str("cluster: x\n").unwrap();
        assert!(
            none.validate(None, Path::new(""))
                .unwrap()
                .postgres
                .is_none()
        );
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn change_tracking_is_on_by_default_without_secrets_which_are_opt_in() {
        use kubetrail_source::watch::TrackedResource;
        let default = RawChanges::default().validate().unwrap();
        assert_eq!(default.len(), 7);
        assert!(!default.contains(&TrackedResource::Secrets));
        let raw: RawChanges =
            yaml_serde::from_str("resources: [nodes, configmaps]\nsecrets: true").unwrap();
        assert_eq!(
            raw.validate().unwrap(),
            [
                TrackedResource::Nodes,
                TrackedResource::ConfigMaps,
                TrackedResource::Secrets
            ]
        );
        let off: RawChanges = yaml_serde::from_str("enabled: false").unwrap();
        assert!(off.validate().unwrap().is_empty());
        let sneaky: RawChanges = yaml_serde::from_str("resources: [secrets]").unwrap();
        assert!(format!("{:#}", sneaky.validate().unwrap_err()).contains("changes.secrets"));
        let unknown: RawChanges = yaml_serde::from_str("resources: [pods]").unwrap();
        assert!(format!("{:#}", unknown.validate().unwrap_err()).contains("\"pods\""));
    }
}
