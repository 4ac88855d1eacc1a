//! The store conformance suite, run against SQLite.

use std::sync::Arc;

use kubetrail_store::{SqliteStore, Store};

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("open");
    (Arc::new(store), dir)
}

kubetrail_store::store_conformance_tests!(sqlite);

async fn sqlite_changes() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("kubetrail.db")).expect("open");
    (Arc::new(store), dir)
}

mod changes {
    use super::sqlite_changes;
    kubetrail_store::change_conformance_tests!(sqlite_changes);
}

mod incidents {
    use super::sqlite;
    kubetrail_store::incident_conformance_tests!(sqlite);
}
