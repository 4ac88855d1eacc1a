//! The OpenAPI 3 document served at `/api/v1/openapi.json`, generated from the handlers'
//! annotations: the routes and the document come from the same `routes!` calls.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kubetrail",
        description = "Kubernetes Events kept, classified, correlated and explained. Every \
                       read is limited to the caller's clusters and namespaces.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "events", description = "Stored events, aggregations and custom events"),
        (name = "analysis", description = "Patterns, anomalies, incidents, object stories"),
        (name = "changes", description = "Changes of watched objects, with their diffs"),
        (name = "alerts", description = "Alerts and silences"),
        (name = "auth", description = "The caller"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
