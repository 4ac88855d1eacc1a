//! Processing: normalize → classify → correlate → template. Pure functions, no I/O.
//!
//! `source → process → store`: sources hand over Kubernetes Event objects (typed with
//! k8s-openapi) and the owner links of other objects they see; [`Processor::process`] returns
//! the [`Event`] record with category, severity, correlation ID, top owner, node and message
//! template filled in. [`FutureLimit`] refuses events dated far past their time of receipt,
//! the same way on every input path.
//!
//! ```
//! use kubetrail_process::{Processor, Rules};
//! let processor = Processor::new(Rules::builtin());
//! # let _ = processor;
//! ```

#![warn(missing_docs)]

// catalogue/, classify.rs and correlate.rs are documented separately (issue 12 §4); until then
// their items are exempt.
#[allow(missing_docs)]
pub mod catalogue;
pub mod change;
#[allow(missing_docs)]
pub mod classify;
#[allow(missing_docs)]
mod correlate;
mod future;
pub mod normalize;
mod processor;
pub mod template;

pub use catalogue::{Coverage, catalogue_coverage};
pub use classify::{Classification, Rule, RuleMatch, Rules, RulesError};
pub use correlate::{ObjectLink, OwnerIndex, OwnerRef, infer_owner_from_name};
pub use future::{DEFAULT_MAX_FUTURE, FutureLimit};
pub use normalize::{Rejected, from_core, from_events_v1};
pub use processor::Processor;
pub use template::template;

pub use kubetrail_model::Event;
