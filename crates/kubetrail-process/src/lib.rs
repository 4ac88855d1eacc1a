//! Processing: normalize → classify → correlate → template. Pure functions, no I/O.
//!
//! `source → process → store`: sources hand over Kubernetes Event objects (typed with
//! k8s-openapi, or read from JSON by [`wire`] into [`EventFields`], both normalized by the
//! one [`normalize()`]) and the owner links of other objects they see; [`Processor::process`] returns
//! the [`Event`] record with category, severity, correlation ID, top owner, node and message
//! template filled in. [`FutureLimit`] refuses events dated far past their time of receipt,
//! the same way on every input path.
//!
//! ```
//! use kubetrail_process::{Processor, Rules};
//! let processor = Processor::new(Rules::builtin());
//! # let _ = processor;
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

pub mod catalogue;
pub mod change;
pub mod classify;
mod correlate;
mod future;
pub mod normalize;
#[cfg(test)]
mod normalize_reference;
mod objects;
mod processor;
pub mod template;
pub mod wire;

pub use catalogue::{Coverage, catalogue_coverage};
pub use classify::{Classification, Rule, RuleMatch, Rules, RulesError};
pub use correlate::{ObjectLink, OwnerIndex, OwnerRef, infer_owner_from_name};
pub use future::{DEFAULT_MAX_FUTURE, FutureLimit};
pub use normalize::{EventFields, Rejected, from_core, from_events_v1, normalize};
pub use processor::Processor;
pub use template::template;

pub use kubetrail_model::Event;
