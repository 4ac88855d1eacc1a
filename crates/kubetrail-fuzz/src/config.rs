//! The config file (`kubetrail.yaml`): the input is written to a file and read by the binary's
//! own [`kubetrail::config::Config::load`], which parses the YAML and validates every section
//! (retention, storage, clusters, serve/auth/tenants, alerting with its rules and notifiers,
//! sources, nats).

use std::path::PathBuf;
use std::sync::OnceLock;

use kubetrail::config::Config;

/// Loads `data` as the config file and, when it validates, derives the database path and the alert
/// rules from it.
///
/// # Panics
/// Where loading or validating panics, and when the temporary config file cannot be written.
pub fn run(data: &[u8]) {
    let path = file();
    std::fs::write(path, data).expect("the fuzz config file is writable");
    if let Ok(config) = Config::load(Some(path), None) {
        let _ = (config.db_path(), config.rules(&[]).is_ok());
    }
}

/// One file per process, on a RAM disk where there is one (the file is rewritten for every
/// input); relative paths in the config resolve next to it.
fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("kubetrail-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the fuzz config file");
        dir.join("kubetrail.yaml")
    })
}
