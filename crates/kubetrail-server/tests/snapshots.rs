//! The OpenAPI document as a snapshot (`tests/snapshots/*.snap`): every change to the API's
//! contract shows up as a diff in review, next to the code that made it. Accept an intended
//! change with `INSTA_UPDATE=always cargo test -p kubetrail-server --test snapshots` (or
//! `cargo insta review`); the contract itself is validated in `openapi_contract.rs`.

mod common;

use axum::http::StatusCode;
use common::*;
use kubetrail_server::Auth;

#[tokio::test]
async fn the_openapi_document() {
    let (_dir, store) = store_with(Vec::new()).await;
    let app = app(store, Auth::tokens(tenants(), false));
    let (status, doc) = get(&app, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_snapshot!(serde_json::to_string_pretty(&doc).expect("JSON"));
}
