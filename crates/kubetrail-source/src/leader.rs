//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does:
//! one replica holds the lease and watches; the others poll and take over when the holder has
//! not renewed it for the lease duration (measured on their own clock, so clock skew between
//! replicas does not matter).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The namespace of the Lease object.
    pub namespace: String,
    /// The name of the Lease object.
    pub name: String,
    /// This replica's identity (e.g. pod name, or host and pid).
    pub identity: String,
    /// A holder that has not renewed for this long is replaced.
    pub lease_duration: Duration,
    /// The leader gives up when it could not renew for this long (< lease_duration).
    pub renew_deadline: Duration,
    /// How often followers try and the leader renews.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's defaults scaled to `lease_duration` (15 s → 10 s deadline, 2 s retry).
    pub fn new(namespace: &str, name: &str, identity: &str, lease_duration: Duration) -> Self {
        LeaseConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
            renew_deadline: lease_duration * 2 / 3,
            retry_period: (lease_duration / 7).max(Duration::from_millis(100)),
        }
    }
}

/// Holding the lease: `lost` fires when renewal failed for the renew deadline.
pub struct Leadership {
    /// Cancelled when this replica lost the lease (it could not renew for the renew deadline): stop
    /// watching.
    pub lost: CancellationToken,
    renewer: tokio::task::JoinHandle<()>,
    elector: LeaderElector,
}

impl Leadership {
    /// Stops renewing and hands the lease back, so a follower takes over at once.
    pub async fn release(self) {
        self.renewer.abort();
        if let Err(e) = self.elector.release().await {
            warn!(error = %e, "cannot release the lease");
        }
    }
}

/// Competes for one Lease.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

/// The last lease record seen and when it was first seen unchanged (our clock).
struct Observed {
    holder: Option<String>,
    renew: Option<Timestamp>,
    since: Instant,
}

impl LeaderElector {
    /// An elector for the Lease that `config` names, through `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// Waits until this replica holds the lease; `None` when cancelled first.
    pub async fn acquire(&self, cancel: &CancellationToken) -> Option<Leadership> {
        let mut observed: Option<Observed> = None;
        loop {
            match self.try_acquire_or_renew(&mut observed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    warn!(error = %e, lease = %self.config.name, "cannot read or update the lease")
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
        }
        info!(identity = %self.config.identity, lease = %self.config.name, "became leader");
        let lost = cancel.child_token();
        let renewer = tokio::spawn(self.clone().renew(lost.clone()));
        Some(Leadership {
            lost,
            renewer,
            elector: self.clone(),
        })
    }

    /// Renews until the renew deadline passes without success, then cancels `lost`.
    async fn renew(self, lost: CancellationToken) {
        let mut last_renewed = Instant::now();
        let mut observed = None;
        loop {
            tokio::select! {
                _ = lost.cancelled() => return,
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
            match self.try_acquire_or_renew(&mut observed).await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => {
                    warn!(identity = %self.config.identity, "another replica holds the lease");
                    lost.cancel();
                    return;
                }
                Err(e) => debug!(error = %e, "lease renewal failed"),
            }
            if last_renewed.elapsed() > self.config.renew_deadline {
                warn!(identity = %self.config.identity, "could not renew the lease in time: leadership lost");
                lost.cancel();
                return;
            }
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: true when we hold the lease after it.
    async fn try_acquire_or_renew(
        &self,
        observed: &mut Option<Observed>,
    ) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renew = spec.renew_time.as_ref().map(|t| t.0);
        let changed = observed
            .as_ref()
            .is_none_or(|o| o.holder != holder || o.renew != renew);
        if changed {
            *observed = Some(Observed {
                holder: holder.clone(),
                renew,
                since: Instant::now(),
            });
        }
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        let duration = spec
            .lease_duration_seconds
            .map(|s| Duration::from_secs(s.max(1) as u64))
            .unwrap_or(self.config.lease_duration);
        let expired = observed
            .as_ref()
            .is_some_and(|o| o.since.elapsed() > duration);
        if !ours && holder.is_some() && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours {
            spec.acquire_time.map(|t| t.0)
        } else {
            None
        };
        lease.spec = Some(self.spec(now, acquired, transitions));
        // Optimistic concurrency: the resourceVersion read above makes a racing replica's
        // update fail with 409.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                if !ours {
                    info!(identity = %self.config.identity, previous = ?holder, "took over the lease");
                }
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn spec(&self, now: Timestamp, acquired: Option<Timestamp>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.lease_duration.as_secs().max(1) as i32),
            acquire_time: Some(MicroTime(acquired.unwrap_or(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Empties the holder if it is still us.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        lease.spec = Some(spec);
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
            .map(|_| info!(identity = %self.config.identity, "released the lease"))
    }
}
