//! [`SimHandle`]: a running simulator, and a typed client for tests and scenarios that writes
//! straight into the store (same validation and conversion as the HTTP API, no round trip).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::convert;
use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::kubeconfig;
use crate::ledger::EventRecord;
use crate::policy::Policy;
use crate::resources::Resource;
use crate::status::ApiError;
use crate::store::{ReadAt, Store};

/// A running simulator. Cheap to clone; the server stops when [`SimHandle::shutdown`] is
/// called or the last clone is dropped.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    store: Arc<Store>,
    faults: Faults,
    policy: Policy,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Ends open watches and stops accepting; the server task then finishes by itself.
        self.shutdown.send_replace(true);
    }
}

impl SimHandle {
    pub(crate) fn new(
        addr: SocketAddr,
        store: Arc<Store>,
        faults: Faults,
        policy: Policy,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                addr,
                store,
                faults,
                policy,
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// The listening address (127.0.0.1 and a port chosen by the OS).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Writes a kubeconfig (one cluster, context and user; no auth) pointing at the simulator.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<()> {
        kubeconfig::write_kubeconfig(&self.url(), path.as_ref())
    }

    /// Stops the server: open watches end, and this returns once it has stopped.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "simulator server task failed");
        }
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The TokenReview / SubjectAccessReview table.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The object store behind the API (for in-crate generators such as the status storm).
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.store.resource_version()
    }

    /// Drops the watch history up to the current resourceVersion; returns that version.
    pub fn compact(&self) -> u64 {
        self.inner.store.compact()
    }

    /// Every Event ever created, deleted and expired ones included, by uid: its count changes
    /// (resourceVersion, time, count) and its deletion. Compaction does not trim it.
    pub fn event_history(&self) -> Vec<EventRecord> {
        self.inner.store.event_history()
    }

    /// Creates an object, as a POST would.
    pub fn create<K>(&self, object: &K) -> Result<K>
    where
        K: k8s_openapi::Resource + Serialize + DeserializeOwned,
    {
        let resource = served::<K>()?;
        let stored = convert::decode(resource, to_value(object)?)?;
        let created = self.inner.store.create(resource, stored)?;
        from_stored(resource, &created)
    }

    /// Replaces an object, as a PUT would (a stale resourceVersion is a `Conflict`).
    pub fn replace<K>(&self, object: &K) -> Result<K>
    where
        K: k8s_openapi::Resource + Serialize + DeserializeOwned,
    {
        let resource = served::<K>()?;
        let stored = convert::decode(resource, to_value(object)?)?;
        let (updated, _) = self.inner.store.update(resource, stored)?;
        from_stored(resource, &updated)
    }

    /// [`SimHandle::replace`] as the field manager `manager` (e.g. `kubectl-edit`), which
    /// `managedFields` then name as the last writer.
    pub fn replace_as<K>(&self, object: &K, manager: &str) -> Result<K>
    where
        K: k8s_openapi::Resource + Serialize + DeserializeOwned,
    {
        let resource = served::<K>()?;
        let stored = convert::decode(resource, to_value(object)?)?;
        let (updated, _) = self.inner.store.update_by(resource, stored, manager)?;
        from_stored(resource, &updated)
    }

    /// Reads an object; `None` if it does not exist.
    pub fn get<K>(&self, namespace: Option<&str>, name: &str) -> Result<Option<K>>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let resource = served::<K>()?;
        match self.inner.store.get(resource, namespace, name) {
            Ok(stored) => from_stored(resource, &stored).map(Some),
            Err(error) if error.code == 404 => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Lists the objects of one namespace, or all of them, in key order.
    pub fn list<K>(&self, namespace: Option<&str>) -> Result<Vec<K>>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let resource = served::<K>()?;
        let snapshot = self.inner.store.snapshot(resource, ReadAt::Latest)?;
        snapshot
            .items
            .iter()
            .filter(|(_, object)| {
                namespace.is_none_or(|ns| {
                    object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        == Some(ns)
                })
            })
            .map(|(_, object)| from_stored(resource, object))
            .collect()
    }

    /// Deletes an object at once; returns its last state.
    pub fn delete<K>(&self, namespace: Option<&str>, name: &str) -> Result<K>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let resource = served::<K>()?;
        let deleted = self.inner.store.delete(resource, namespace, name)?;
        from_stored(resource, &deleted)
    }
}

fn served<K: k8s_openapi::Resource>() -> Result<Resource> {
    Resource::of::<K>().ok_or(Error::NotServed {
        api_version: K::API_VERSION,
        kind: K::KIND,
    })
}

fn to_value<K: Serialize>(object: &K) -> Result<Value> {
    serde_json::to_value(object).map_err(|error| {
        Error::Api(ApiError::bad_request(format!(
            "object does not encode: {error}"
        )))
    })
}

fn from_stored<K: k8s_openapi::Resource + DeserializeOwned>(
    resource: Resource,
    stored: &Value,
) -> Result<K> {
    serde_json::from_value(convert::encode(resource, stored)).map_err(|source| Error::Decode {
        kind: K::KIND,
        source,
    })
}
