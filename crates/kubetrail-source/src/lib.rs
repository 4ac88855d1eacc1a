//! Sources: where Events come from, as streams of items for processing.
//!
//! `sources → process → store`: the file import ([`import`]) reads dumps as `kubectl get
//! events -o json|yaml` and watch streams write them, in bounded memory, and hands over
//! normalized [`kubetrail_model::Event`]s and the owner links of other objects it meets.
//!
//! ```no_run
//! use kubetrail_source::import::{Item, read_file};
//! # fn main() -> kubetrail_source::Result<()> {
//! let events = read_file("events.json.gz".as_ref(), "prod")?
//!     .filter(|item| matches!(item, Ok(Item::Event { .. })))
//!     .count();
//! # let _ = events;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod import;
pub mod leader;
pub mod nats;
pub mod review;
pub mod watch;

pub use error::{ImportError, NatsError, Result};
