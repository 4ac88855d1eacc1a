//! Fresh PostgreSQL stores for tests: one schema per store in the database `kubetrail_test`
//! (created if missing) of the server at `KUBETRAIL_TEST_POSTGRES_URL`, dropped when the guard
//! goes. A test that cannot reach the server fails: it never skips.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::{PostgresOptions, PostgresStore};

/// The server the tests use unless `KUBETRAIL_TEST_POSTGRES_URL` names another.
pub const DEFAULT_TEST_POSTGRES_URL: &str =
    "postgres://kubetrail:kubetrail@127.0.0.1:5432/postgres";

/// The database the test schemas live in.
const TEST_DATABASE: &str = "kubetrail_test";

/// `KUBETRAIL_TEST_POSTGRES_URL`, or the default.
pub fn test_postgres_url() -> String {
    std::env::var("KUBETRAIL_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// The URL with its database replaced (`postgres://…/db?params`).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let head = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{head}/{database}?{q}"),
        None => format!("{head}/{database}"),
    }
}

/// Drops its schema when dropped.
pub struct SchemaGuard {
    url: String,
    schema: String,
}

impl SchemaGuard {
    /// The URL of the test database (with its password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop may run inside an async test: do the async work on a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test schema");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

/// Creates the test database if it does not exist yet.
async fn ensure_database(url: &str) {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {} (start it, or set KUBETRAIL_TEST_POSTGRES_URL): {e}",
                crate::redact_url(url)
            )
        });
    tokio::spawn(conn);
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&TEST_DATABASE],
        )
        .await
        .expect("list databases")
        .is_some();
    if !exists
        && let Err(e) = client
            .batch_execute(&format!("CREATE DATABASE {TEST_DATABASE}"))
            .await
    {
        // Another test created it meanwhile.
        let raced = e.code().is_some_and(|c| {
            *c == SqlState::DUPLICATE_DATABASE || *c == SqlState::UNIQUE_VIOLATION
        });
        assert!(raced, "cannot create the test database: {e}");
    }
}

/// A fresh, empty PostgreSQL store in a schema of its own, and the guard that drops it.
pub async fn fresh_postgres_store() -> (Arc<PostgresStore>, SchemaGuard) {
    let (options, guard) = fresh_postgres_schema().await;
    let store = PostgresStore::connect(&options).await.unwrap_or_else(|e| {
        panic!(
            "cannot open a PostgreSQL store: {}",
            kubetrail_model::error_chain(&e)
        )
    });
    (Arc::new(store), guard)
}

/// Options naming a schema of its own that nothing has opened yet (no tables), and the guard
/// that drops it: to open several stores on it at once.
pub async fn fresh_postgres_schema() -> (PostgresOptions, SchemaGuard) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = test_postgres_url();
    ensure_database(&server).await;
    let url = with_database(&server, TEST_DATABASE);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let guard = SchemaGuard {
        url: url.clone(),
        schema: schema.clone(),
    };
    let options = PostgresOptions {
        schema: Some(schema),
        pool_size: 4,
        ..PostgresOptions::new(url)
    };
    (options, guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:5432?sslmode=disable", "x"),
            "postgres://h:5432/x?sslmode=disable"
        );
    }
}
