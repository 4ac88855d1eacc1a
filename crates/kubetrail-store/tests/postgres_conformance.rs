//! The store conformance suite, run against the real PostgreSQL server at
//! `KUBETRAIL_TEST_POSTGRES_URL` (default `postgres://kubetrail:kubetrail@127.0.0.1:5432/postgres`),
//! each test in a fresh schema. Fails, never skips, when the server cannot be reached.

use std::sync::Arc;

use kubetrail_store::Store;
use kubetrail_store::conformance::{SchemaGuard, fresh_postgres_store};

async fn postgres() -> (Arc<dyn Store>, SchemaGuard) {
    let (store, guard) = fresh_postgres_store().await;
    (store, guard)
}

kubetrail_store::store_conformance_tests!(postgres);

mod changes {
    use kubetrail_store::conformance::fresh_postgres_store;
    kubetrail_store::change_conformance_tests!(fresh_postgres_store);
}

mod incidents {
    use super::postgres;
    kubetrail_store::incident_conformance_tests!(postgres);
}
