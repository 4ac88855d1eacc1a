//! Status-only update storms (issue 15, performance): a controller rewriting the status of
//! Deployments over and over without touching their spec, as the deployment controller does
//! while pods come and go. `metadata.generation` stays; only `status` and the resourceVersion
//! move. A change tracker must read past these without recording anything, and without
//! slowing the Event path (`kubetrail bench live --storm`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::handle::SimHandle;
use crate::resources::Resource;
use crate::store::{ReadAt, remove_meta};
use crate::{ApiError, Result};

/// The field manager the storm writes as (the deployment controller's).
pub const STORM_MANAGER: &str = "kube-controller-manager";

/// Updates per pacing step: the storm sleeps until the step is due, then makes them.
const STEP: u64 = 50;

impl SimHandle {
    /// Rewrites the status of the Deployments of `namespace` in turn, `rate` updates a second
    /// (0: as fast as possible), until `stop` is set; returns how many updates it made. Each
    /// update changes `status.readyReplicas`, `availableReplicas` and `updatedReplicas` and the
    /// `Available` condition's `lastUpdateTime`, nothing else. Fails when `namespace` holds no
    /// Deployment.
    pub async fn status_storm(&self, namespace: &str, rate: u64, stop: &AtomicBool) -> Result<u64> {
        let store = self.store();
        let mut objects: Vec<Value> = store
            .snapshot(Resource::Deployment, ReadAt::Latest)?
            .items
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| v.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace))
            .collect();
        if objects.is_empty() {
            return Err(ApiError::bad_request(format!(
                "no Deployment in namespace {namespace} to storm"
            ))
            .into());
        }
        let started = Instant::now();
        let mut made: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            if rate > 0 {
                let due = started + Duration::from_secs_f64(made as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
            } else {
                tokio::task::yield_now().await;
            }
            for _ in 0..STEP {
                let i = (made % objects.len() as u64) as usize;
                let object = &mut objects[i];
                set_status(object, made);
                // Unconditional (no resourceVersion): the controller's own object is the latest.
                remove_meta(object, "resourceVersion");
                let (updated, _) =
                    store.update_by(Resource::Deployment, object.clone(), STORM_MANAGER)?;
                *object = updated;
                made += 1;
            }
        }
        Ok(made)
    }
}

/// Status fields that move with `n` (so that every update is a new version).
fn set_status(object: &mut Value, n: u64) {
    let replicas = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = (n as i64) % (replicas + 1);
    let generation = object
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(Value::from(1));
    let at = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let available = if ready > 0 { "True" } else { "False" };
    object["status"] = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": ready,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [{"type": "Available", "status": available,
            "lastUpdateTime": at, "lastTransitionTime": at,
            "reason": "MinimumReplicasAvailable", "message": format!("update {n}")}],
    });
}
