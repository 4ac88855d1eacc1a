//! What every request handler shares, and the simulator's settings. A module of its own so
//! that the handlers (`api`, `list`) and the server that routes to them do not import each
//! other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::faults::Faults;
use crate::policy::Policy;
use crate::store::Store;
use crate::watch::WatchContext;

/// Settings of one simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Send a BOOKMARK this often on watches of resources other than Events that allow
    /// bookmarks. `None` (the default) sends none, like a watch served from etcd; the real
    /// watch cache sends one about every minute.
    pub bookmark_interval: Option<Duration>,
    /// Changes kept for watches to resume from; older ones are compacted away, as etcd's
    /// periodic compaction does. Default 100 000.
    pub history_limit: usize,
    /// Changes a watch may fall behind before its connection is cut. Default 16 384.
    pub watch_buffer: usize,
    /// Address to listen on; default 127.0.0.1 and a free port.
    pub listen: Option<std::net::SocketAddr>,
    /// Delete Events this long after their last write, as the API server's `--event-ttl`
    /// (default there: 1 hour) does; watchers see them DELETED. `None` (the default here)
    /// keeps them, so tests see everything they wrote.
    pub event_ttl: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bookmark_interval: None,
            history_limit: 100_000,
            watch_buffer: 16_384,
            listen: None,
            event_ttl: None,
        }
    }
}

/// The state every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub faults: Faults,
    pub policy: Policy,
    pub config: SimConfig,
    pub shutdown: watch::Receiver<bool>,
    pub addr: SocketAddr,
}

impl AppState {
    pub(crate) fn watch_context(&self) -> WatchContext {
        WatchContext {
            store: Arc::clone(&self.store),
            faults: self.faults.clone(),
            shutdown: self.shutdown.clone(),
            bookmark_interval: self.config.bookmark_interval,
        }
    }
}
