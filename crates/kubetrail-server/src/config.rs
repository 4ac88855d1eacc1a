//! The `serve:`, `auth:` and `tenants:` sections of the configuration file, as written
//! (`Raw*`, every field optional, unknown fields refused) and validated ([`ServeConfig`]).
//!
//! ```yaml
//! serve:
//!   listen: 127.0.0.1:7070        # also --listen
//!   metrics_listen: 0.0.0.0:7071  # /metrics, /healthz, /readyz without a token (default: none)
//!   max_page_size: 1000
//!   query_timeout: 10s
//! auth:
//!   anonymous_read: false         # reads without a token, on a loopback listener only
//!   mode: tokens                  # or kubernetes (TokenReview + SubjectAccessReview)
//! tenants:
//!   - name: shop
//!     token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     clusters: [prod]
//!     namespaces: [shop, cart]
//!   - name: ops
//!     token_file: /etc/kubetrail/ops.token   # or token_env: OPS_TOKEN
//!     admin: true
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;
use kubetrail_model::parse_duration;
use serde::Deserialize;

use crate::auth::{TenantToken, hash_token, parse_hex};
use crate::{Error, Limits, Result};

/// `serve:` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// Address of the HTTP server (default `127.0.0.1:7070`; `--listen` overrides).
    pub listen: Option<String>,
    /// Address of a second listener that serves only `/metrics`, `/healthz` and `/readyz`,
    /// without a token, for Prometheus and probes (default: none; `/metrics` is then only on
    /// `listen`, for admin tokens).
    pub metrics_listen: Option<String>,
    /// Events per page when a request does not say (default 100).
    pub default_page_size: Option<usize>,
    /// Most events per page (default 1000).
    pub max_page_size: Option<usize>,
    /// Longest time range of an aggregation or analysis (default `90d`).
    pub max_range: Option<String>,
    /// Longest a query may take before the request fails with 503 (default `10s`).
    pub query_timeout: Option<String>,
    /// Largest request body in bytes (default 1048576).
    pub max_body_bytes: Option<usize>,
    /// Most custom events in one POST (default 500).
    pub max_post_events: Option<usize>,
    /// Most events one analysis reads (default 200000).
    pub max_analysis_events: Option<usize>,
}

/// `auth:` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `tokens` (default: the tenants' tokens) or `kubernetes` (Kubernetes bearer tokens,
    /// checked with TokenReview and SubjectAccessReview; the tenants' tokens work too).
    pub mode: Option<String>,
    /// Reads without a token. Only ever on a loopback listener. Default: on for `kubetrail
    /// demo`, and for `run`/`serve` when no tenant is configured; off otherwise.
    pub anonymous_read: Option<bool>,
    /// Settings of `mode: kubernetes`.
    #[serde(default)]
    pub kubernetes: RawKubeAuth,
}

/// `auth.kubernetes:` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubeAuth {
    /// The cluster whose RBAC decides (its name in `clusters:`; default: the first watched
    /// cluster). Callers see that cluster's events.
    pub cluster: Option<String>,
    /// How long reviews are cached (default `30s`).
    pub cache_ttl: Option<String>,
}

/// One entry of `tenants:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Shown in logs and stored with its custom events.
    pub name: String,
    /// SHA-256 of the token, 64 hex digits (`printf %s TOKEN | sha256sum`).
    pub token_sha256: Option<String>,
    /// A file holding the token (relative to the config file); read at startup.
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token; read at startup.
    pub token_env: Option<String>,
    /// Sees every cluster and namespace (default false).
    #[serde(default)]
    pub admin: bool,
    /// Clusters it sees (default, when left out: all). An empty list is refused.
    pub clusters: Option<Vec<String>>,
    /// Namespaces it sees and may write custom events into (default, when left out: all).
    /// An empty list is refused.
    pub namespaces: Option<Vec<String>>,
}

/// How callers authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Only the tenants' bearer tokens (`auth.mode: tokens`, the default).
    Tokens,
    /// Kubernetes bearer tokens checked with TokenReview and SubjectAccessReview, and the
    /// tenants' tokens too.
    Kubernetes,
}

/// The validated `serve:`, `auth:` and `tenants:` sections.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The API and UI listener (default `127.0.0.1:7070`).
    pub listen: SocketAddr,
    /// The token-free listener of `/metrics`, `/healthz` and `/readyz`, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// Page sizes, ranges, time and body limits.
    pub limits: Limits,
    /// How callers authenticate.
    pub mode: AuthMode,
    /// `None`: the command decides (see [`RawAuth::anonymous_read`]).
    pub anonymous_read: Option<bool>,
    /// The configured tenants, their tokens hashed.
    pub tenants: Vec<TenantToken>,
    /// The cluster whose RBAC decides in `kubernetes` mode; `None`: the first watched cluster.
    pub kube_cluster: Option<String>,
    /// How long a TokenReview or SubjectAccessReview answer is reused (default 30s).
    pub kube_cache_ttl: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            metrics_listen: None,
            limits: Limits::default(),
            mode: AuthMode::Tokens,
            anonymous_read: None,
            tenants: Vec::new(),
            kube_cluster: None,
            kube_cache_ttl: Duration::from_secs(30),
        }
    }
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::InvalidSetting {
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

fn duration(field: &str, text: &str) -> Result<SignedDuration> {
    let d = parse_duration(text).map_err(|e| invalid(field, e))?;
    if d <= SignedDuration::ZERO {
        return Err(invalid(field, "must be positive"));
    }
    Ok(d)
}

fn positive(field: &str, v: Option<usize>, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(0) => Err(invalid(field, "must be at least 1")),
        Some(n) => Ok(n),
    }
}

impl ServeConfig {
    /// Validates the three sections; token files are relative to `base` (the config file's
    /// directory) and read now, like token variables.
    pub fn validate(
        serve: RawServe,
        auth: RawAuth,
        tenants: Vec<RawTenant>,
        base: &Path,
    ) -> Result<ServeConfig> {
        let d = Limits::default();
        let mut limits = Limits {
            default_page: positive(
                "serve.default_page_size",
                serve.default_page_size,
                d.default_page,
            )?,
            max_page: positive("serve.max_page_size", serve.max_page_size, d.max_page)?,
            max_body_bytes: positive(
                "serve.max_body_bytes",
                serve.max_body_bytes,
                d.max_body_bytes,
            )?,
            max_post_events: positive(
                "serve.max_post_events",
                serve.max_post_events,
                d.max_post_events,
            )?,
            max_analysis_events: positive(
                "serve.max_analysis_events",
                serve.max_analysis_events,
                d.max_analysis_events,
            )?,
            ..d
        };
        if let Some(t) = &serve.max_range {
            limits.max_range = duration("serve.max_range", t)?;
        }
        if let Some(t) = &serve.query_timeout {
            let q = duration("serve.query_timeout", t)?;
            limits.query_timeout = Duration::from_millis(q.as_millis().max(1) as u64);
        }
        limits.default_page = limits.default_page.min(limits.max_page);
        let listen = match &serve.listen {
            None => ServeConfig::default().listen,
            Some(a) => a
                .parse()
                .map_err(|e| invalid("serve.listen", format!("{a:?}: {e}")))?,
        };
        let metrics_listen = match &serve.metrics_listen {
            None => None,
            Some(a) => Some(
                a.parse()
                    .map_err(|e| invalid("serve.metrics_listen", format!("{a:?}: {e}")))?,
            ),
        };
        if metrics_listen == Some(listen) {
            return Err(invalid(
                "serve.metrics_listen",
                format!("{listen} is serve.listen too; give the metrics listener its own port"),
            ));
        }
        let mode = match auth.mode.as_deref() {
            None | Some("tokens") => AuthMode::Tokens,
            Some("kubernetes") => AuthMode::Kubernetes,
            Some(other) => {
                return Err(invalid(
                    "auth.mode",
                    format!("{other:?} (expected tokens or kubernetes)"),
                ));
            }
        };
        let kube_cache_ttl = match &auth.kubernetes.cache_ttl {
            None => Duration::from_secs(30),
            Some(t) => {
                let d = duration("auth.kubernetes.cache_ttl", t)?;
                Duration::from_millis(d.as_millis().max(1) as u64)
            }
        };
        Ok(ServeConfig {
            listen,
            metrics_listen,
            limits,
            mode,
            anonymous_read: auth.anonymous_read,
            tenants: tenant_tokens(tenants, base)?,
            kube_cluster: auth.kubernetes.cluster,
            kube_cache_ttl,
        })
    }
}

fn tenant_tokens(raw: Vec<RawTenant>, base: &Path) -> Result<Vec<TenantToken>> {
    let mut names = HashSet::new();
    let mut hashes = HashSet::new();
    let mut out = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("tenants[{i}].{f}");
        if t.name.trim().is_empty() {
            return Err(invalid(&field("name"), "required"));
        }
        if !names.insert(t.name.clone()) {
            return Err(invalid(
                &field("name"),
                format!("{:?} is used twice", t.name),
            ));
        }
        let sources = [
            t.token_sha256.is_some(),
            t.token_file.is_some(),
            t.token_env.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(invalid(
                &field("token_sha256"),
                "give exactly one of token_sha256, token_file, token_env",
            ));
        }
        let sha256 = if let Some(hex) = &t.token_sha256 {
            parse_hex(hex)
                .ok_or_else(|| invalid(&field("token_sha256"), "must be 64 hex digits"))?
        } else if let Some(path) = &t.token_file {
            let path = base.join(path);
            let token = std::fs::read_to_string(&path).map_err(|source| Error::TokenFile {
                tenant: t.name.clone(),
                path: path.display().to_string(),
                source,
            })?;
            token_hash(&field("token_file"), token.trim())?
        } else {
            let var = t.token_env.clone().unwrap_or_default();
            let token = std::env::var(&var)
                .map_err(|_| invalid(&field("token_env"), format!("${var} is not set")))?;
            token_hash(&field("token_env"), token.trim())?
        };
        if !hashes.insert(sha256) {
            return Err(invalid(&field("token"), "the same token as another tenant"));
        }
        for (list, name) in [(&t.clusters, "clusters"), (&t.namespaces, "namespaces")] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return Err(invalid(
                    &field(name),
                    format!(
                        "tenant {:?}: an empty list would allow nothing; name the {name} it \
                         may see, or leave the field out for all",
                        t.name
                    ),
                ));
            }
        }
        if !t.admin && t.clusters.is_none() && t.namespaces.is_none() {
            tracing::warn!(tenant = %t.name, "tenant sees every cluster and namespace without being an admin");
        }
        out.push(TenantToken {
            name: t.name,
            sha256,
            admin: t.admin,
            clusters: t.clusters,
            namespaces: t.namespaces,
        });
    }
    Ok(out)
}

fn token_hash(field: &str, token: &str) -> Result<[u8; 32]> {
    if token.len() < 16 {
        return Err(invalid(field, "the token must be at least 16 characters"));
    }
    Ok(hash_token(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> RawTenant {
        RawTenant {
            name: name.into(),
            token_sha256: Some(crate::auth::hex(&hash_token(&format!(
                "{name}-token-0123456789"
            )))),
            namespaces: Some(vec!["shop".into()]),
            ..RawTenant::default()
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = ServeConfig::validate(
            RawServe::default(),
            RawAuth::default(),
            Vec::new(),
            Path::new(""),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.mode, AuthMode::Tokens);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let err = ServeConfig::validate(
            RawServe {
                query_timeout: Some("soon".into()),
                ..RawServe::default()
            },
            RawAuth::default(),
            Vec::new(),
            Path::new(""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("serve.query_timeout"), "{err}");
        let mut twice = vec![tenant("a"), tenant("a")];
        let err = ServeConfig::validate(
            RawServe::default(),
            RawAuth::default(),
            std::mem::take(&mut twice),
            Path::new(""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("tenants[1].name"), "{err}");
        let mut none = tenant("b");
        none.token_sha256 = None;
        let err = ServeConfig::validate(
            RawServe::default(),
            RawAuth::default(),
            vec![none],
            Path::new(""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    /// Issue 11, item 6: `namespaces: []` (or `clusters: []`) read as "every namespace", so a
    /// tenant meant to see nothing saw everything. An empty list is refused at start-up,
    /// naming the tenant and the field; a list left out still means all.
    #[test]
    fn an_empty_allow_list_is_refused_naming_the_tenant_and_field() {
        // As the configuration file is read (serde), so that `[]` and a missing list differ.
        let parse = |lists: &str| -> Vec<RawTenant> {
            let hash = crate::auth::hex(&hash_token("empty-token-0123456789"));
            serde_json::from_str(&format!(
                r#"[{{"name": "team", "token_sha256": "{hash}"{lists}}}]"#
            ))
            .unwrap()
        };
        for (lists, field) in [
            (r#", "namespaces": []"#, "tenants[0].namespaces"),
            (
                r#", "clusters": [], "namespaces": ["shop"]"#,
                "tenants[0].clusters",
            ),
        ] {
            let err = ServeConfig::validate(
                RawServe::default(),
                RawAuth::default(),
                parse(lists),
                Path::new(""),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(field), "{err}");
            assert!(err.contains("\"team\""), "names the tenant: {err}");
            assert!(err.contains("empty"), "{err}");
        }
        let c = ServeConfig::validate(
            RawServe::default(),
            RawAuth::default(),
            parse(r#", "namespaces": ["shop"]"#),
            Path::new(""),
        )
        .unwrap();
        assert_eq!(c.tenants[0].clusters, None, "left out: every cluster");
        assert_eq!(c.tenants[0].namespaces, Some(vec!["shop".to_string()]));
    }

    #[test]
    fn the_metrics_listener_is_optional_and_needs_its_own_port() {
        let serve = |listen: &str, metrics: &str| RawServe {
            listen: Some(listen.into()),
            metrics_listen: Some(metrics.into()),
            ..RawServe::default()
        };
        let validate = |s| ServeConfig::validate(s, RawAuth::default(), Vec::new(), Path::new(""));
        let c = validate(serve("0.0.0.0:7070", "0.0.0.0:7071")).unwrap();
        assert_eq!(c.metrics_listen.unwrap().to_string(), "0.0.0.0:7071");
        assert_eq!(validate(RawServe::default()).unwrap().metrics_listen, None);
        for (s, want) in [
            (serve("0.0.0.0:7070", "7071"), "serve.metrics_listen"),
            (serve("0.0.0.0:7070", "0.0.0.0:7070"), "its own port"),
        ] {
            let err = validate(s).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn token_files_are_read_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), "file-token-0123456789\n").unwrap();
        let t = RawTenant {
            name: "f".into(),
            token_file: Some("t".into()),
            ..RawTenant::default()
        };
        let c = ServeConfig::validate(RawServe::default(), RawAuth::default(), vec![t], dir.path())
            .unwrap();
        assert_eq!(c.tenants[0].sha256, hash_token("file-token-0123456789"));
    }
}
