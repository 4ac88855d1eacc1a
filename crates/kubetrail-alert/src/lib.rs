//! Alerting: rules over processed events, one alert per group, an outbox in the store, and
//! delivery to a webhook, Slack and Alertmanager.
//!
//! `store → analyze → alert`: after each committed batch the live pipeline hands what the write
//! committed (the occurrences it added) to the [`Evaluator`] (pure: occurrences and `now` in,
//! [`AlertChange`]s out); the changes are
//! recorded in the store with their notifications *before* any is sent, and a delivery worker
//! sends them with retries, backoff and rate limits, so an alert survives a restart and is
//! delivered at least once. Silences keep matching alerts from being sent (they are still
//! recorded). The dry run [`dry_run`] is `kubetrail alerts test`.
//!
//! ```
//! use kubetrail_alert::{dry_run, builtin_rules, NoAnalysis};
//! let alerts = dry_run(builtin_rules(), &[], &[], &NoAnalysis);
//! assert!(alerts.is_empty());
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod condition;
pub mod config;
mod error;
mod evaluate;
mod group;
mod matcher;
mod metrics;
pub mod notify;
pub mod outbox;
mod record;
pub mod rules;
mod service;
mod silence;
mod template;

#[cfg(test)]
mod testing;

pub use condition::{Condition, FindingKind};
pub use config::{AlertingConfig, NotifierConfig, RawAlerting};
pub use error::{Error, Place, Result};
pub use evaluate::{
    AlertChange, Analysis, Analyzer, Cause, ChangeKind, DryRunAlert, Evaluator, Finding,
    GROUP_KEY_LABEL, Hit, NoAnalysis, Replayed, dry_run, spread,
};
pub use group::{GroupDim, group_key};
/// The model's error-chain walker, re-exported where alerting's callers have always found it.
pub use kubetrail_model::error_chain;
pub use matcher::{EventMatch, StringMatch};
pub use metrics::{AlertMetrics, NotifierLabel, RuleLabel};
pub use record::Recorder;
pub use rules::{BUILTIN_NAMES, Rule, builtin_rules, parse_rules};
pub use service::{AlertFeed, Alerting, start};
pub use silence::{Silences, new_silence, parse_matcher, silence_matchers};
pub use template::{Context, Template};
