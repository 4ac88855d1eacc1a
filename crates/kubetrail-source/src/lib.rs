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

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

pub mod error;
pub mod import;
pub mod leader;
pub mod nats;
pub mod review;
pub mod watch;

pub use error::{ImportError, NatsError, Result};
