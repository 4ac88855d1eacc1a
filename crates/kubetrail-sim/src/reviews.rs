//! `TokenReview` and `SubjectAccessReview` answered from the [`Policy`] table.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewStatus, UserInfo};
use k8s_openapi::api::authorization::v1::{SubjectAccessReview, SubjectAccessReviewStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::policy::Policy;
use crate::status::ApiError;

/// Answers a review POSTed to the `plural` endpoint: the request with its `status` filled.
pub(crate) fn answer(policy: &Policy, plural: &str, body: &[u8]) -> Result<Value, ApiError> {
    match plural {
        "tokenreviews" => {
            let mut review: TokenReview = parse(body)?;
            review.status = Some(token_status(policy, &review));
            to_value(&review)
        }
        "subjectaccessreviews" => {
            let mut review: SubjectAccessReview = parse(body)?;
            review.status = Some(access_status(policy, &review));
            to_value(&review)
        }
        _ => Err(ApiError::no_route()),
    }
}

fn token_status(policy: &Policy, review: &TokenReview) -> TokenReviewStatus {
    let token = review.spec.token.as_str();
    match policy.authenticate(token) {
        Some(user) => TokenReviewStatus {
            authenticated: Some(true),
            audiences: review.spec.audiences.clone(),
            user: Some(UserInfo {
                username: Some(user.username),
                groups: Some(user.groups),
                ..UserInfo::default()
            }),
            error: None,
        },
        None => TokenReviewStatus {
            authenticated: Some(false),
            error: Some("invalid bearer token".to_string()),
            user: Some(UserInfo::default()),
            ..TokenReviewStatus::default()
        },
    }
}

fn access_status(policy: &Policy, review: &SubjectAccessReview) -> SubjectAccessReviewStatus {
    let user = review.spec.user.as_deref().unwrap_or_default();
    let groups = review.spec.groups.clone().unwrap_or_default();
    let allowed = review
        .spec
        .resource_attributes
        .as_ref()
        .is_some_and(|attributes| {
            policy.authorize(
                user,
                &groups,
                attributes.verb.as_deref().unwrap_or_default(),
                attributes.resource.as_deref().unwrap_or_default(),
                attributes.namespace.as_deref().filter(|n| !n.is_empty()),
            )
        });
    SubjectAccessReviewStatus {
        allowed,
        reason: Some(if allowed {
            "allowed by the simulator policy table".to_string()
        } else {
            "no rule of the simulator policy table allows this".to_string()
        }),
        ..SubjectAccessReviewStatus::default()
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding request body: {error}")))
}

fn to_value<T: Serialize>(review: &T) -> Result<Value, ApiError> {
    serde_json::to_value(review)
        .map_err(|error| ApiError::bad_request(format!("error encoding review: {error}")))
}
