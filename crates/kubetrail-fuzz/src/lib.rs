//! Fuzz targets: each function drives one parser's real public entry point with one input and
//! panics only where the code under test panics (or an invariant the target checks breaks).
//!
//! `fuzz/` (cargo-fuzz, libFuzzer) calls these functions from its `fuzz_targets/`; the replay
//! test (`tests/replay.rs`) runs every committed seed and every input that ever crashed through
//! the same functions in a plain `cargo test`. `scripts/fuzz.sh` runs them.
//!
//! ```
//! kubetrail_fuzz::run("selectors", b"app in (web,db),!legacy");
//! ```

// Shipped code neither unwraps nor prints (stdout is the CLI's output); tests may. Set
// here, not in [workspace.lints], which would cover tests too (CONTRIBUTING.md, Lints).
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

pub mod change_object;
pub mod config;
pub mod cursor;
pub mod event_wire;
pub mod http_api;
pub mod http_params;
pub mod import;
pub mod nats_wire;
pub mod normalize;
pub mod rules;
pub mod selectors;
pub mod watch_line;

/// A target: runs one input through the code under test.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs`.
pub const TARGETS: [(&str, Target); 12] = [
    ("import", import::run),
    ("event_wire", event_wire::run),
    ("watch_line", watch_line::run),
    ("normalize", normalize::run),
    ("http_params", http_params::run),
    ("http_api", http_api::run),
    ("cursor", cursor::run),
    ("config", config::run),
    ("rules", rules::run),
    ("selectors", selectors::run),
    ("nats_wire", nats_wire::run),
    ("change_object", change_object::run),
];

/// Runs the target called `name` on `data`.
///
/// # Panics
/// On an unknown target name, and wherever the target panics.
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name:?}"));
    target(data);
}
