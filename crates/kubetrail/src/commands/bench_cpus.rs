//! CPU pinning for `kubetrail bench live --storm` (`--run-cpus`, `--sim-cpus`): the measured
//! `kubetrail run` on some cores, this process (the simulator, its storm, the Event generator)
//! on others, so that what the simulator burns does not slow `run` (issue 15, Performance).

use anyhow::{Context, Result, bail};
use rustix::thread::{CpuSet, Pid, sched_getaffinity, sched_setaffinity};

/// A set of CPUs, as `taskset -c` writes it: `0`, `0,2`, `1-3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpus(Vec<usize>);

impl std::str::FromStr for Cpus {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Cpus> {
        let mut cpus = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (from, to) = part.split_once('-').unwrap_or((part, part));
            let number = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .with_context(|| format!("{s:?} in the CPU list {text:?} is not a CPU number"))
            };
            let (from, to) = (number(from)?, number(to)?);
            if from > to || to >= CpuSet::MAX_CPU {
                bail!("{part:?} in the CPU list {text:?} is not a range of CPUs");
            }
            cpus.extend(from..=to);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(Cpus(cpus))
    }
}

impl std::fmt::Display for Cpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&list.join(","))
    }
}

impl Cpus {
    fn set(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for &cpu in &self.0 {
            set.set(cpu);
        }
        set
    }

    /// Pins every thread of this process to these CPUs (threads started later inherit it from
    /// the thread that starts them).
    pub fn pin_this_process(&self) -> Result<()> {
        let set = self.set();
        for task in
            std::fs::read_dir("/proc/self/task").context("cannot list this process's threads")?
        {
            let tid: i32 = task?.file_name().to_string_lossy().parse()?;
            // A thread that ended meanwhile is no error.
            if let Some(pid) = Pid::from_raw(tid)
                && let Err(e) = sched_setaffinity(Some(pid), &set)
                && e != rustix::io::Errno::SRCH
            {
                return Err(e).with_context(|| format!("cannot pin thread {tid} to CPUs {self}"));
            }
        }
        Ok(())
    }

    /// Runs `start` (which starts a process) on a thread pinned to these CPUs, so that the
    /// process starts pinned, every thread of it; the thread's own CPUs are set back after.
    pub fn spawn_pinned<T>(&self, start: impl FnOnce() -> Result<T>) -> Result<T> {
        let own = sched_getaffinity(None).context("cannot read this thread's CPUs")?;
        sched_setaffinity(None, &self.set())
            .with_context(|| format!("cannot pin to CPUs {self}"))?;
        let started = start();
        sched_setaffinity(None, &own).context("cannot set this thread's CPUs back")?;
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_as_taskset_writes_them() {
        let parse = |s: &str| s.parse::<Cpus>().map(|c| c.0);
        assert_eq!(parse("1").unwrap(), [1]);
        assert_eq!(parse("0,2").unwrap(), [0, 2]);
        assert_eq!(parse("2-4,0").unwrap(), [0, 2, 3, 4]);
        assert_eq!(
            parse("3-1").unwrap_err().to_string(),
            "\"3-1\" in the CPU list \"3-1\" is not a range of CPUs"
        );
        assert!(parse("a").is_err() && parse("").is_err());
        assert_eq!("0-2".parse::<Cpus>().unwrap().to_string(), "0,1,2");
    }

    #[test]
    fn a_process_started_pinned_runs_on_those_cpus_only() {
        let cpus: Cpus = "0".parse().unwrap();
        let child = cpus
            .spawn_pinned(|| {
                Ok(std::process::Command::new("grep")
                    .args(["Cpus_allowed_list", "/proc/self/status"])
                    .output()?)
            })
            .unwrap();
        let out = String::from_utf8_lossy(&child.stdout);
        assert_eq!(out.split_whitespace().nth(1), Some("0"), "{out}");
        // This thread is back on its own CPUs.
        assert_eq!(
            sched_getaffinity(None).unwrap().count() as usize,
            std::thread::available_parallelism().unwrap().get()
        );
    }
}
