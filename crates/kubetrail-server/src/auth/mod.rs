//! Who is calling: a bearer token mapped to a tenant (hashed tokens from the configuration) or
//! checked against Kubernetes (`auth: kubernetes`), or nobody (anonymous reads, allowed only on
//! a loopback listener). Handlers take a [`Caller`] and ask it for the caller's [`Scope`].

mod kubernetes;
mod tokens;

pub use kubernetes::{AccessReviewer, KubeUser, REVIEW_DEADLINE, ReviewError};
#[cfg(test)]
pub(crate) use tokens::hex;
pub(crate) use tokens::parse_hex;
pub use tokens::{TenantToken, hash_token};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kubetrail_model::{AggregateQuery, Dimension, EventFilter};

use crate::scope::{Allowed, Scope};
use crate::{ApiError, AppState};
use kubernetes::KubeAuth;

/// How callers are authenticated.
pub struct Auth {
    tenants: HashMap<[u8; 32], Arc<TenantToken>>,
    kubernetes: Option<KubeAuth>,
    anonymous_read: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tenants", &self.tenants.len())
            .field("kubernetes", &self.kubernetes.as_ref().map(|k| &k.cluster))
            .field("anonymous_read", &self.anonymous_read)
            .finish()
    }
}

impl Auth {
    /// No tokens; anyone may read everything (a local demo or a test).
    pub fn anonymous_admin() -> Auth {
        Auth {
            tenants: HashMap::new(),
            kubernetes: None,
            anonymous_read: true,
        }
    }

    /// Tenants by token hash; anonymous reads when `anonymous_read`.
    pub fn tokens(tenants: Vec<TenantToken>, anonymous_read: bool) -> Auth {
        Auth {
            tenants: tenants
                .into_iter()
                .map(|t| (t.sha256, Arc::new(t)))
                .collect(),
            kubernetes: None,
            anonymous_read,
        }
    }

    /// Kubernetes tokens, reviewed by `reviewer` for `cluster`, answers cached for `ttl`.
    /// Configured tenant tokens keep working next to them.
    pub fn with_kubernetes(
        mut self,
        reviewer: Box<dyn AccessReviewer>,
        cluster: &str,
        ttl: Duration,
    ) -> Auth {
        self.kubernetes = Some(KubeAuth::new(reviewer, cluster.to_string(), ttl));
        self
    }

    /// Whether requests without a token may read everything (on a loopback listener only;
    /// they never write).
    pub fn anonymous_read(&self) -> bool {
        self.anonymous_read
    }

    /// The configured tenants that are not admins, by name, with what each sees (the fleet
    /// view's rows).
    pub(crate) fn tenant_scopes(&self) -> Vec<(String, Scope)> {
        let mut out: Vec<(String, Scope)> = self
            .tenants
            .values()
            .filter(|t| !t.admin)
            .map(|t| (t.name.clone(), tenant_scope(t)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Anonymous reads are for a listener only this machine can reach: on any other address
    /// they are turned off (returns whether they were).
    pub fn restrict_to_loopback(&mut self, addr: SocketAddr) -> bool {
        if self.anonymous_read && !addr.ip().is_loopback() {
            self.anonymous_read = false;
            return true;
        }
        false
    }

    async fn authenticate(&self, header: Option<&str>) -> Result<Principal, ApiError> {
        let Some(header) = header else {
            if self.anonymous_read {
                return Ok(Principal::Anonymous);
            }
            return Err(ApiError::unauthorized(
                "a bearer token is required (Authorization: Bearer TOKEN)",
            ));
        };
        let token = tokens::bearer(header).ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`")
        })?;
        if let Some(t) = self.tenants.get(&hash_token(token)) {
            return Ok(Principal::Tenant(t.clone()));
        }
        if let Some(k) = &self.kubernetes {
            let user = k.user(token).await.map_err(unavailable)?;
            if let Some(user) = user {
                return Ok(Principal::Kube(user));
            }
        }
        Err(ApiError::unauthorized("unknown or invalid token"))
    }
}

fn unavailable(e: ReviewError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "auth_unavailable",
        e.to_string(),
    )
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    /// No token, on a loopback listener that allows anonymous reads: reads everything, writes
    /// nothing.
    Anonymous,
    Tenant(Arc<TenantToken>),
    Kube(KubeUser),
}

/// The extractor handlers use: authenticates from the `Authorization` header.
pub(crate) struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let header = values.next();
        if values.next().is_some() {
            // Deciding by one of them would let whoever added the other (a proxy, a client
            // smuggling a second token) choose who the caller is.
            return Err(ApiError::bad_request(
                "duplicate_authorization",
                "the request has more than one Authorization header; send exactly one",
            ));
        }
        let header = match header {
            Some(v) => Some(v.to_str().map_err(|_| {
                ApiError::unauthorized("the Authorization header is not valid text")
            })?),
            None => None,
        };
        Ok(Caller(state.auth.authenticate(header).await?))
    }
}

impl Caller {
    pub fn name(&self) -> String {
        match &self.0 {
            Principal::Anonymous => "anonymous".to_string(),
            Principal::Tenant(t) => t.name.clone(),
            Principal::Kube(u) => u.username.clone(),
        }
    }

    /// The caller's tenant, when it is a configured tenant that is not an admin.
    pub(crate) fn limited_tenant(&self) -> Option<(String, Scope)> {
        match &self.0 {
            Principal::Tenant(t) if !t.admin => Some((t.name.clone(), tenant_scope(t))),
            _ => None,
        }
    }

    /// Who the caller is, unambiguously across kinds of callers (a tenant and a Kubernetes
    /// user of the same name differ): the owner of the events it posts.
    pub fn identity(&self) -> String {
        match &self.0 {
            Principal::Anonymous => "anonymous".to_string(),
            Principal::Tenant(t) => format!("tenant:{}", t.name),
            Principal::Kube(u) => format!("kubernetes:{}", u.username),
        }
    }

    /// Whether the caller may change anything (custom events, silences).
    pub fn require_writer(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Anonymous => Err(ApiError::unauthorized(
                "anonymous callers may only read; send a bearer token",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the caller sees everything (an admin tenant, a cluster-wide reader, anonymous
    /// on loopback): needed for `/metrics`.
    pub async fn is_admin(&self, state: &AppState) -> Result<bool, ApiError> {
        Ok(match &self.0 {
            Principal::Anonymous => true,
            Principal::Tenant(t) => t.admin,
            Principal::Kube(_) => self.scope(state, &[]).await?.is_everything(),
        })
    }

    /// What the caller may see. `namespaces` are the ones a request names (for Kubernetes
    /// callers, only those are reviewed; none: every namespace the store knows).
    pub async fn scope(&self, state: &AppState, namespaces: &[String]) -> Result<Scope, ApiError> {
        match &self.0 {
            Principal::Anonymous => Ok(Scope::everything("anonymous callers")),
            Principal::Tenant(t) => Ok(tenant_scope(t)),
            Principal::Kube(user) => {
                let k =
                    state.auth.kubernetes.as_ref().ok_or_else(|| {
                        ApiError::unauthorized("kubernetes tokens are not accepted")
                    })?;
                kube_scope(state, k, user, namespaces).await
            }
        }
    }

    /// `filter` narrowed to what the caller may see; `None` when that is nothing.
    pub async fn narrow(
        &self,
        state: &AppState,
        filter: EventFilter,
    ) -> Result<Option<EventFilter>, ApiError> {
        let scope = self.scope(state, &filter.namespaces).await?;
        scope.narrow(filter)
    }

    /// Whether the caller may write custom events about `namespace` of `cluster`.
    pub async fn may_write(
        &self,
        state: &AppState,
        cluster: &str,
        namespace: &str,
    ) -> Result<bool, ApiError> {
        match &self.0 {
            Principal::Anonymous => Ok(false),
            Principal::Tenant(t) => Ok(tenant_scope(t).sees(cluster, namespace)),
            Principal::Kube(user) => {
                let Some(k) = state.auth.kubernetes.as_ref() else {
                    return Ok(false);
                };
                if cluster != k.cluster {
                    return Ok(false);
                }
                k.may(user, "create", Some(namespace))
                    .await
                    .map_err(unavailable)
            }
        }
    }
}

fn tenant_scope(t: &TenantToken) -> Scope {
    let who = format!("tenant {:?}", t.name);
    if t.admin {
        return Scope::everything(&who);
    }
    Scope {
        who,
        clusters: Allowed::from_list(t.clusters.as_deref()),
        namespaces: Allowed::from_list(t.namespaces.as_deref()),
    }
}

async fn kube_scope(
    state: &AppState,
    k: &KubeAuth,
    user: &KubeUser,
    requested: &[String],
) -> Result<Scope, ApiError> {
    let mut scope = Scope {
        who: format!("user {:?}", user.username),
        clusters: Allowed::only([k.cluster.clone()]),
        namespaces: Allowed::All,
    };
    if k.may(user, "list", None).await.map_err(unavailable)? {
        return Ok(scope);
    }
    let candidates = if requested.is_empty() {
        known_namespaces(state, k).await?
    } else {
        requested.to_vec()
    };
    // One deadline for all of them: many slow answers must not add up to a hang.
    let allowed = k
        .within(async {
            let mut allowed = Vec::new();
            for ns in candidates {
                if k.may(user, "list", Some(&ns)).await? {
                    allowed.push(ns);
                }
            }
            Ok::<_, ReviewError>(allowed)
        })
        .await
        .and_then(|allowed| allowed)
        .map_err(unavailable)?;
    scope.namespaces = Allowed::only(allowed);
    Ok(scope)
}

/// The namespaces the store has events in for the reviewed cluster (cached).
async fn known_namespaces(state: &AppState, k: &KubeAuth) -> Result<Vec<String>, ApiError> {
    if let Some(ns) = k.cached_namespaces() {
        return Ok(ns);
    }
    let rows = state
        .reader
        .aggregate(&AggregateQuery {
            filter: EventFilter {
                clusters: vec![k.cluster.clone()],
                ..EventFilter::default()
            },
            group_by: vec![Dimension::Namespace],
            interval: None,
            limit: None,
        })
        .await?;
    let names = rows
        .into_iter()
        .filter_map(|r| r.key.into_iter().next().and_then(|(_, v)| v))
        .collect();
    Ok(k.remember_namespaces(names))
}
