//! kubetrail processes of a round, kept running as a supervisor would (a process that exits by
//! itself is started again and counted), and killed and started by the faults.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One `kubetrail` process: `--data-dir <data> <args>`, logging to `<log>`.
pub struct Proc {
    pub name: String,
    data: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// Faults holding it down; it runs when this is 0.
    pub down: u32,
    /// Why it exited by itself each time (the last `error:` line of its log), before it
    /// was started again.
    pub exits: Vec<String>,
}

impl Proc {
    pub fn new(name: &str, data: &Path, log_dir: &Path, args: Vec<String>) -> Proc {
        Proc {
            name: name.to_string(),
            data: data.to_path_buf(),
            args,
            log: log_dir.join(format!("{name}.log")),
            child: None,
            down: 0,
            exits: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .arg("--data-dir")
            .arg(&self.data)
            .args(&self.args)
            .env("KUBETRAIL_LOG", "info")
            // The Lease holder's identity, so that a failover knows whom to kill.
            .env("POD_NAME", &self.name)
            .env_remove("KUBETRAIL_CONFIG")
            .env_remove("KUBETRAIL_POSTGRES_URL")
            .env_remove("KUBETRAIL_NATS_URL")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("kubetrail starts");
        self.child = Some(child);
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Holds it down for one more fault (killing it on the first).
    pub fn hold_down(&mut self) {
        self.down += 1;
        if self.down == 1 {
            self.kill();
        }
    }

    /// Releases one fault's hold, starting it when none is left.
    pub fn release(&mut self) {
        self.down = self.down.saturating_sub(1);
        if self.down == 0 && self.child.is_none() {
            self.start();
        }
    }

    /// Starts it again if it exited by itself while it should run.
    pub fn supervise(&mut self) {
        let exited = self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
        if exited {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let reason = log
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("no error line")
                .to_string();
            self.exits.push(format!("{}: {reason}", self.name));
            self.child = None;
            self.start();
        }
    }

    /// The last `lines` lines of its log.
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
