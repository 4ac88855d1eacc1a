//! A real `kubetrail run` against the simulator, with its own data directory and log
//! (`run.log` in that directory), killed when dropped: what the live change tests share.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kubetrail_sim::SimHandle;

/// A running `kubetrail run`, killed and reaped when dropped.
pub struct Run(pub Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kubetrail run` on `dir/data` against `sim`, logging to `dir/run.log`.
pub fn start_run(dir: &Path, sim: &SimHandle) -> Run {
    start_run_with(dir, sim, None, Path::new(env!("CARGO_BIN_EXE_kubetrail")))
}

/// Like [`start_run`], with a configuration file (`--config`) and another build of the
/// binary (benchmarks compare two builds).
pub fn start_run_with(dir: &Path, sim: &SimHandle, config: Option<&Path>, binary: &Path) -> Run {
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let log = std::fs::File::create(dir.join("run.log")).expect("log");
    let mut command = Command::new(binary);
    command.arg("--data-dir").arg(dir.join("data"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let child = command
        .args(["run", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("KUBETRAIL_LOG", "info")
        .env_remove("KUBETRAIL_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("kubetrail run starts");
    Run(child)
}

/// The binaries benchmarks measure: `KUBETRAIL_BENCH_BINARY` if set, a `:`-separated list
/// measured in turn (e.g. a copy of the previous build and this one, for before/after in one
/// session), else this build's.
pub fn bench_binaries() -> Vec<PathBuf> {
    match std::env::var("KUBETRAIL_BENCH_BINARY") {
        Ok(list) if !list.is_empty() => list.split(':').map(PathBuf::from).collect(),
        _ => vec![PathBuf::from(env!("CARGO_BIN_EXE_kubetrail"))],
    }
}
