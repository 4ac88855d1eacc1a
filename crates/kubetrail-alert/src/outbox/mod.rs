//! The outbox: alerts are recorded with their notifications in the store first; a worker then
//! delivers what is due, with retries (exponential backoff, jitter, bounded), per-notifier rate
//! limits, and expiry. Delivery state lives in the store, so a restart resumes where it was.

mod policy;
mod ratelimit;
mod worker;

pub use policy::RetryPolicy;
pub use ratelimit::{TokenBucket, parse_rate};
pub use worker::DeliveryWorker;
