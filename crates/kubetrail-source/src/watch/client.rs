//! The two API calls an Event watch makes, behind a trait: [`kube::Api`] in production, a
//! scripted fake in the watch's unit tests.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use kube::api::{Api, ListParams, ObjectList, WatchEvent, WatchParams};

use super::events::Watched;

/// A stream of watch events, as the API server sends them.
pub type WatchStream<K> = BoxStream<'static, kube::Result<WatchEvent<K>>>;

/// Lists and watches one resource (Events of either API, or an object change tracking follows).
pub trait EventClient<K: Clone>: Send + Sync + 'static {
    /// One list page.
    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, kube::Result<ObjectList<K>>>;
    /// Opens a watch from `version`.
    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        version: &'a str,
    ) -> BoxFuture<'a, kube::Result<WatchStream<K>>>;
}

impl<K: Watched> EventClient<K> for Api<K>
where
    K::DynamicType: Default,
{
    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, kube::Result<ObjectList<K>>> {
        Api::list(self, params).boxed()
    }

    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        version: &'a str,
    ) -> BoxFuture<'a, kube::Result<WatchStream<K>>> {
        async move { Ok(Api::watch(self, params, version).await?.boxed()) }.boxed()
    }
}
