//! `kubetrail version` and `kubetrail completion SHELL`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;
use serde::Serialize;

use crate::args::{Output, OutputArgs};
use crate::output::choose;

/// The version, the commit and the build date (`build.rs`).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KUBETRAIL_COMMIT"),
    ", built ",
    env!("KUBETRAIL_BUILD_DATE"),
    ")"
);

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Serialize)]
struct Version {
    version: &'static str,
    commit: &'static str,
    build_date: &'static str,
}

pub fn run(args: VersionArgs) -> Result<ExitCode> {
    let v = Version {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("KUBETRAIL_COMMIT"),
        build_date: env!("KUBETRAIL_BUILD_DATE"),
    };
    let mut out = std::io::stdout().lock();
    match choose(args.output.output) {
        Output::Table | Output::Wide => writeln!(
            out,
            "kubetrail {}\ncommit:     {}\nbuild date: {}",
            v.version, v.commit, v.build_date
        )?,
        Output::Yaml => yaml_serde::to_writer(&mut out, &v)?,
        Output::Json | Output::Ndjson => {
            serde_json::to_writer(&mut out, &v)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish, powershell.
    pub shell: Shell,
}

/// Prints the completion script of the command line `cmd` for `shell` (e.g. `kubetrail completion bash >
/// /etc/bash_completion.d/kubetrail`, or `source <(kubetrail completion zsh)`).
pub fn completion(args: CompletionArgs, mut cmd: clap::Command) -> Result<ExitCode> {
    // Into memory first: the generator panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kubetrail", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
