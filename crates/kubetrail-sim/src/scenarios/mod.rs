//! Scripted scenarios (placeholder while the server is built).
use std::time::Duration;

use crate::error::Result;
use crate::handle::SimHandle;

/// A scripted incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A crash loop.
    CrashLoop,
}

/// Whether a scenario runs once or repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Once.
    Once,
    /// Until the task is dropped.
    Loop,
}

/// How fast a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// Time between steps.
    pub step: Duration,
    /// Once or in a loop.
    pub mode: RunMode,
}

impl Pace {
    /// No waiting, once: for tests.
    pub fn instant() -> Self {
        Self {
            step: Duration::ZERO,
            mode: RunMode::Once,
        }
    }
}

/// Runs a scenario.
pub async fn run_scenario(_sim: &SimHandle, _scenario: Scenario, _pace: Pace) -> Result<()> {
    Ok(())
}
