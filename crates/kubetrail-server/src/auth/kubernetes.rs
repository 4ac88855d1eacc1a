//! `auth: kubernetes`: the caller's bearer token is a Kubernetes token, checked with a
//! TokenReview; what it may read is asked namespace by namespace with SubjectAccessReviews
//! (`list events`), so the query side honours the cluster's own RBAC. Answers are cached
//! briefly (a revoked token or binding takes effect within the TTL). A review that does not
//! come within [`REVIEW_DEADLINE`] fails the request closed (503), as does a caller's whole
//! set of namespace reviews: an API server that answers 503 or not at all never makes a
//! request hang.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Most cached answers of each kind; the cache is cleared when it is full.
const MAX_CACHED: usize = 10_000;
/// Most namespaces checked one by one for a caller who may not list events cluster-wide.
const MAX_NAMESPACES: usize = 1_000;
/// The longest one review, or the reviews of one request's namespaces together, may take.
pub const REVIEW_DEADLINE: Duration = Duration::from_secs(3);

/// A user as the TokenReview named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KubeUser {
    /// The username the TokenReview returned, e.g. `system:serviceaccount:ns:name`.
    pub username: String,
    /// Its groups, as SubjectAccessReview needs them.
    pub groups: Vec<String>,
}

/// The Kubernetes API could not be asked (not: the answer was no).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot ask the Kubernetes API for a review: {0}")]
pub struct ReviewError(pub String);

/// Asks a Kubernetes API server who a token is and what it may do.
#[async_trait]
pub trait AccessReviewer: Send + Sync {
    /// A TokenReview: the user of `token`, or `None` when it is not authenticated.
    async fn review_token(&self, token: &str) -> Result<Option<KubeUser>, ReviewError>;
    /// A SubjectAccessReview: may `user` `verb` events in `namespace` (`None`: in all)?
    async fn review_access(
        &self,
        user: &KubeUser,
        verb: &str,
        namespace: Option<&str>,
    ) -> Result<bool, ReviewError>;
}

/// Answers remembered for a while, by key.
type Cache<K, V> = Mutex<HashMap<K, (Instant, V)>>;
/// Who asks, for which verb, in which namespace (`None`: all).
type Question = (KubeUser, &'static str, Option<String>);

/// Cached reviews for one cluster.
pub(crate) struct KubeAuth {
    pub reviewer: Box<dyn AccessReviewer>,
    /// The cluster whose RBAC is asked: callers see that cluster's events only.
    pub cluster: String,
    pub ttl: Duration,
    /// See [`REVIEW_DEADLINE`].
    pub deadline: Duration,
    users: Cache<[u8; 32], Option<KubeUser>>,
    decisions: Cache<Question, bool>,
    namespaces: Mutex<Option<(Instant, Vec<String>)>>,
}

impl KubeAuth {
    pub fn new(reviewer: Box<dyn AccessReviewer>, cluster: String, ttl: Duration) -> Self {
        KubeAuth {
            reviewer,
            cluster,
            ttl,
            deadline: REVIEW_DEADLINE,
            users: Mutex::new(HashMap::new()),
            decisions: Mutex::new(HashMap::new()),
            namespaces: Mutex::new(None),
        }
    }

    /// The user of a token (cached by the token's hash).
    pub async fn user(&self, token: &str) -> Result<Option<KubeUser>, ReviewError> {
        let key = super::hash_token(token);
        if let Some(user) = fresh(&self.users, &key, self.ttl) {
            return Ok(user);
        }
        let user = self.within(self.reviewer.review_token(token)).await??;
        remember(&self.users, key, user.clone());
        Ok(user)
    }

    /// Whether `user` may `verb` events in `namespace` (cached).
    pub async fn may(
        &self,
        user: &KubeUser,
        verb: &'static str,
        namespace: Option<&str>,
    ) -> Result<bool, ReviewError> {
        let key = (user.clone(), verb, namespace.map(str::to_string));
        if let Some(answer) = fresh(&self.decisions, &key, self.ttl) {
            return Ok(answer);
        }
        let answer = self
            .within(self.reviewer.review_access(user, verb, namespace))
            .await??;
        remember(&self.decisions, key, answer);
        Ok(answer)
    }

    /// `work`, or an error when it takes longer than the deadline.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T, ReviewError> {
        tokio::time::timeout(self.deadline, work)
            .await
            .map_err(|_| {
                ReviewError(format!(
                    "the Kubernetes API did not answer within {:?}",
                    self.deadline
                ))
            })
    }

    /// The namespaces worth asking about, from the store (cached), at most [`MAX_NAMESPACES`].
    pub fn cached_namespaces(&self) -> Option<Vec<String>> {
        let guard = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, ns)| ns.clone())
    }

    pub fn remember_namespaces(&self, mut namespaces: Vec<String>) -> Vec<String> {
        namespaces.truncate(MAX_NAMESPACES);
        *self.namespaces.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), namespaces.clone()));
        namespaces
    }
}

fn fresh<K: Eq + std::hash::Hash, V: Clone>(
    cache: &Cache<K, V>,
    key: &K,
    ttl: Duration,
) -> Option<V> {
    let guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

fn remember<K: Eq + std::hash::Hash, V>(cache: &Cache<K, V>, key: K, v: V) {
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    if guard.len() >= MAX_CACHED {
        guard.clear();
    }
    guard.insert(key, (Instant::now(), v));
}

/// The reviewer of `kubetrail-source`, talking to a real (or simulated) API server.
#[async_trait]
impl AccessReviewer for kubetrail_source::review::KubeReviewer {
    async fn review_token(&self, token: &str) -> Result<Option<KubeUser>, ReviewError> {
        let found = self
            .token_review(token)
            .await
            .map_err(|e| ReviewError(kubetrail_alert::error_chain(&e)))?;
        Ok(found.map(|(username, groups)| KubeUser { username, groups }))
    }

    async fn review_access(
        &self,
        user: &KubeUser,
        verb: &str,
        namespace: Option<&str>,
    ) -> Result<bool, ReviewError> {
        self.access_review(&user.username, &user.groups, verb, "events", namespace)
            .await
            .map_err(|e| ReviewError(kubetrail_alert::error_chain(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API server that takes every review and never answers.
    struct Silent;

    #[async_trait]
    impl AccessReviewer for Silent {
        async fn review_token(&self, _: &str) -> Result<Option<KubeUser>, ReviewError> {
            std::future::pending().await
        }

        async fn review_access(
            &self,
            _: &KubeUser,
            _: &str,
            _: Option<&str>,
        ) -> Result<bool, ReviewError> {
            std::future::pending().await
        }
    }

    /// Issue 11, item 8: a review the API server never answered held the request for as long
    /// as the client kept waiting.
    #[tokio::test(start_paused = true)]
    async fn a_review_that_never_comes_fails_at_the_deadline() {
        let k = KubeAuth::new(Box::new(Silent), "prod".into(), Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let error = k.user("token").await.expect_err("no answer");
        assert_eq!(started.elapsed(), REVIEW_DEADLINE);
        assert!(error.to_string().contains("did not answer"), "{error}");
        let user = KubeUser {
            username: "alice".into(),
            groups: Vec::new(),
        };
        let started = tokio::time::Instant::now();
        k.may(&user, "list", Some("shop"))
            .await
            .expect_err("no answer");
        assert_eq!(started.elapsed(), REVIEW_DEADLINE);
    }
}
