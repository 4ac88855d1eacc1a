//! TokenReview and SubjectAccessReview: who a bearer token belongs to, and whether that user
//! may do something, asked of the API server. The HTTP server uses them for `auth: kubernetes`
//! so that the query side honours the cluster's own RBAC.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> Result<(), kube::Error> {
//! use kubetrail_source::review::KubeReviewer;
//! let reviewer = KubeReviewer::new(client); // or from_config(config): no retries
//! if let Some((user, groups)) = reviewer.token_review("eyJhbGciOi…").await? {
//!     let may = reviewer.access_review(&user, &groups, "list", "events", Some("shop")).await?;
//!     # let _ = may;
//! }
//! # Ok(()) }
//! ```

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

/// Reviews asked of one cluster.
#[derive(Clone)]
pub struct KubeReviewer {
    client: kube::Client,
}

impl KubeReviewer {
    /// A reviewer that asks through `client` (with kube's default retries).
    pub fn new(client: kube::Client) -> Self {
        KubeReviewer { client }
    }

    /// A reviewer with a client of its own that asks once: no retries on 429/503/504 (kube's
    /// default retries for up to 15 times, waiting `Retry-After` each time), since a caller is
    /// waiting for the answer and an unavailable API server must fail the request fast.
    pub fn from_config(mut config: kube::Config) -> Result<Self, kube::Error> {
        config.default_retry = false;
        Ok(KubeReviewer {
            client: kube::Client::try_from(config)?,
        })
    }

    /// The user name and groups of `token`, or `None` when the API server does not
    /// authenticate it.
    pub async fn token_review(
        &self,
        token: &str,
    ) -> Result<Option<(String, Vec<String>)>, kube::Error> {
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let answer = api.create(&PostParams::default(), &review).await?;
        let Some(status) = answer.status else {
            return Ok(None);
        };
        if status.authenticated != Some(true) {
            return Ok(None);
        }
        let user = status.user.unwrap_or_default();
        Ok(user
            .username
            .filter(|u| !u.is_empty())
            .map(|u| (u, user.groups.unwrap_or_default())))
    }

    /// Whether `user` (with `groups`) may `verb` `resource` (core group) in `namespace`
    /// (`None`: in every namespace).
    pub async fn access_review(
        &self,
        user: &str,
        groups: &[String],
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Result<bool, kube::Error> {
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.to_string()),
                groups: Some(groups.to_vec()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    resource: Some(resource.to_string()),
                    namespace: namespace.map(str::to_string),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let answer = api.create(&PostParams::default(), &review).await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }
}
