//! The randomized fault suite: N rounds against the Kubernetes API simulator, each mixing
//! faults drawn from its seed (SIGKILL of `run`, `agent` or a consumer at random moments,
//! dropped watches, 410 after compaction, 429 storms with Retry-After, leader failover between
//! two replicas, SQLite write-locked, PostgreSQL cut, NATS restarted, a small spool), then
//! comparing the store with the simulator's full history (`verdict.rs`): nothing may be lost
//! outside a recorded gap, nothing counted twice.
//!
//! `cargo test -p kubetrail --test faults` runs 3 short rounds. Longer runs:
//! `KUBETRAIL_FAULT_ROUNDS=100 KUBETRAIL_FAULT_SEED=7 KUBETRAIL_FAULT_SECONDS=10
//!  cargo test -p kubetrail --test faults -- --nocapture`; every round prints one JSON line
//! (also appended to `$KUBETRAIL_FAULT_REPORT` when set). Round k uses seed `SEED + k`: a
//! failing round is replayed with `KUBETRAIL_FAULT_SEED=<its seed> KUBETRAIL_FAULT_ROUNDS=1`
//! (same plan; the processes' timing is the machine's).

#[path = "../common/mod.rs"]
mod common;
mod plan;
mod procs;
mod regressions;
mod rng;
mod round;
mod verdict;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_fault_rounds_lose_nothing_outside_a_recorded_gap_and_count_nothing_twice() {
    let rounds = env_u64("KUBETRAIL_FAULT_ROUNDS", 3);
    let seed = env_u64("KUBETRAIL_FAULT_SEED", 20_261_205);
    let active = Duration::from_secs(env_u64("KUBETRAIL_FAULT_SECONDS", 5));
    let mut report = std::env::var_os("KUBETRAIL_FAULT_REPORT").map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file")
    });
    eprintln!("fault suite: {rounds} rounds from seed {seed}, {active:?} of faults each");
    let started = Instant::now();
    let mut failed = Vec::new();
    let (mut created, mut deleted, mut covered, mut lost, mut doubled) = (0, 0, 0, 0, 0);
    for k in 0..rounds {
        let plan = plan::Plan::draw(seed.wrapping_add(k), active);
        let outcome = round::run(plan).await;
        let line = outcome.to_json(k);
        eprintln!("{line}");
        if let Some(file) = &mut report {
            writeln!(file, "{line}").expect("write the report");
        }
        created += outcome.verdict.created;
        deleted += outcome.verdict.deleted;
        covered += outcome.verdict.covered_uids();
        lost += outcome.verdict.lost.len();
        doubled += outcome.verdict.doubled.len();
        if !outcome.clean() {
            eprintln!("{}", outcome.logs);
            failed.push(format!(
                "round {k} (KUBETRAIL_FAULT_SEED={} KUBETRAIL_FAULT_ROUNDS=1), kept in {:?}",
                outcome.plan.seed, outcome.kept
            ));
        }
    }
    let totals = json!({
        "rounds": rounds,
        "seed": seed,
        "seconds": started.elapsed().as_secs_f64(),
        "uids_created": created,
        "uids_deleted_or_expired": deleted,
        "uids_missing_inside_gaps": covered,
        "lost_outside_gaps": lost,
        "doubled": doubled,
        "failed_rounds": failed.len(),
    });
    eprintln!("{totals}");
    if let Some(file) = &mut report {
        writeln!(file, "{totals}").expect("write the report");
    }
    assert!(
        failed.is_empty(),
        "rounds that lost or doubled:\n{}",
        failed.join("\n")
    );
}
