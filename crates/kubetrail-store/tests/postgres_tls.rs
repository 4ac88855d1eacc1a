//! TLS to the real PostgreSQL server. `scripts/test.sh` gives the server a certificate for
//! 127.0.0.1/localhost signed by a test CA and exports the CA as `KUBETRAIL_TEST_POSTGRES_CA`;
//! these tests fail (never skip) without it.

use kubetrail_model::EventFilter;
use kubetrail_store::conformance::{SchemaGuard, event, fresh_postgres_store, t0};
use kubetrail_store::{EventReader, EventSink, Page, PostgresOptions, PostgresStore};

fn test_ca() -> std::path::PathBuf {
    let ca = std::env::var("KUBETRAIL_TEST_POSTGRES_CA")
        .expect("KUBETRAIL_TEST_POSTGRES_CA names the test CA (scripts/test.sh sets it up)");
    std::path::PathBuf::from(ca)
}

/// The guard's URL with `params` added to its query.
fn with_params(guard: &SchemaGuard, params: &str) -> String {
    let url = guard.url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

fn options(guard: &SchemaGuard, url: String) -> PostgresOptions {
    PostgresOptions {
        schema: Some(guard.schema().to_string()),
        pool_size: 2,
        ..PostgresOptions::new(url)
    }
}

#[tokio::test]
async fn sslmode_require_with_the_ca_file_encrypts_and_stores() {
    let (plain, guard) = fresh_postgres_store().await;
    let mut opts = options(&guard, with_params(&guard, "sslmode=require"));
    opts.ca_file = Some(test_ca());
    let store = PostgresStore::connect(&opts).await.expect("TLS connection");
    assert!(
        store.uses_tls().await.unwrap(),
        "the connection is encrypted"
    );

    let mut txn = store.begin().await.unwrap();
    txn.write(vec![event("tls-1", t0(), 3)]).await.unwrap();
    txn.commit().await.unwrap();
    // What went in over TLS is what a plain connection reads back.
    let rows = plain
        .query(&EventFilter::default(), &Page::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].event.uid.as_str(), rows[0].event.count),
        ("tls-1", 3)
    );
}

#[tokio::test]
async fn libpq_verify_full_and_sslrootcert_in_the_url_are_understood() {
    let (_plain, guard) = fresh_postgres_store().await;
    let url = with_params(
        &guard,
        &format!("sslmode=verify-full&sslrootcert={}", test_ca().display()),
    );
    let store = PostgresStore::connect(&options(&guard, url))
        .await
        .expect("libpq-style TLS URL");
    assert!(store.uses_tls().await.unwrap());
}

#[tokio::test]
async fn a_server_certificate_not_signed_by_a_trusted_ca_is_refused() {
    let (_plain, guard) = fresh_postgres_store().await;
    // The system's CAs do not know the test CA: verification must fail, not fall back.
    let err = PostgresStore::connect(&options(&guard, with_params(&guard, "sslmode=require")))
        .await
        .expect_err("an unknown CA is refused");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        chain.push_str(&format!(": {e}"));
        source = e.source();
    }
    let chain = chain.to_lowercase();
    assert!(chain.contains("certificate"), "{chain}");
}

#[tokio::test]
async fn without_sslmode_or_ca_the_connection_is_plain() {
    let (_plain, guard) = fresh_postgres_store().await;
    let store = PostgresStore::connect(&options(&guard, guard.url().to_string()))
        .await
        .expect("plain connection");
    assert!(!store.uses_tls().await.unwrap());
}
