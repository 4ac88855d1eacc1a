//! Incident IDs: the same failures get the same ID in every run and every process (the HTTP API,
//! the CLI, an alert that links to it), so the hash is spelled out here rather than taken from
//! the standard library, whose hasher may change between releases.

use jiff::Timestamp;

/// `inc-` and 12 hex digits of the FNV-1a hash of the cluster, the subject and the start.
pub fn incident_id(cluster: &str, subject: &str, start: Timestamp) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let micros = start.as_microsecond().to_le_bytes();
    for part in [
        cluster.as_bytes(),
        b"\0",
        subject.as_bytes(),
        b"\0",
        &micros,
    ] {
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("inc-{:012x}", h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_tell_incidents_apart() {
        let t: Timestamp = "2024-05-01T00:00:00Z".parse().unwrap();
        let a = incident_id("prod", "shop/Deployment/web", t);
        assert_eq!(a, incident_id("prod", "shop/Deployment/web", t));
        assert_eq!(a.len(), 16);
        assert_ne!(a, incident_id("prod", "shop/Deployment/api", t));
        assert_ne!(a, incident_id("dev", "shop/Deployment/web", t));
        assert_ne!(
            a,
            incident_id(
                "prod",
                "shop/Deployment/web",
                t + jiff::SignedDuration::from_secs(1)
            )
        );
        // Pinned (FNV-1a 64, checked with an independent implementation): a change here
        // changes every stored link to an incident.
        assert_eq!(a, "inc-bcc8e8ffe606");
    }
}
