//! The NATS fan-in's message decoder ([`kubetrail_source::nats::wire::decode`]), what
//! `kubetrail run --source nats` reads from JetStream.

/// Decodes `data` as a JetStream message of kubetrail's wire format.
///
/// # Panics
/// Where decoding panics.
pub fn run(data: &[u8]) {
    if let Ok(batch) = kubetrail_source::nats::wire::decode("kubetrail.events.fuzz", data) {
        let _ = format!("{batch:?}");
    }
}
