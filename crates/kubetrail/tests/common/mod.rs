//! What the CLI tests share: the real dumps, and a `kubetrail` binary with its own store.
#![allow(dead_code)]

pub mod kustomize;
pub mod live_run;
pub mod services;
pub mod sim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[allow(unused_imports)]
pub use kubetrail_testkit::{real, real_events};

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `kubetrail` binary with a data directory of its own.
pub struct Kt {
    pub data: tempfile::TempDir,
}

impl Kt {
    pub fn new() -> Self {
        Kt {
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// A store with the real dumps `files` imported as cluster "test".
    pub fn with(files: &[&str]) -> Self {
        let kt = Kt::new();
        if !files.is_empty() {
            let paths: Vec<PathBuf> = files.iter().map(|f| real(f)).collect();
            kt.import(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        }
        kt
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .args(args)
            .env("KUBETRAIL_DATA_DIR", self.data.path().join("data"))
            .env_remove("KUBETRAIL_CONFIG")
            .output()
            .expect("kubetrail runs")
    }

    /// Runs and expects success; returns stdout parsed as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubetrail {args:?} failed: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Runs and expects success; returns stdout as text.
    pub fn table(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubetrail {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Imports `paths` as cluster "test"; returns the summary.
    pub fn import(&self, paths: &[&Path]) -> Value {
        let mut args = vec!["import", "--cluster", "test", "-o", "json"];
        let strs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        args.extend(strs.iter().map(String::as_str));
        self.json(&args)
    }

    /// Writes a file in the test's directory.
    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.data.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Events in the store.
    pub fn stored(&self) -> u64 {
        self.json(&["status", "-o", "json"])["events"]
            .as_u64()
            .unwrap()
    }
}
