//! One round: start the simulator, the services and the kubetrail processes of the plan's
//! topology; make, change and delete Events while the plan's faults strike; then undo every
//! fault, wait until the store stops moving, and judge it against the simulator's history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use kubetrail_model::EventFilter;
use kubetrail_sim::{InjectedFailure, SimConfig, SimHandle, Simulator};
use kubetrail_store::conformance::{SchemaGuard, fresh_postgres_store};
use kubetrail_store::{Gap, Page, PostgresOptions, PostgresStore, SqliteStore, Store};
use serde_json::{Value, json};

use crate::common::services::{Nats, Proxy};
use crate::common::sim::{backoff, now};
use crate::plan::{Fault, Plan, Topology, Who};
use crate::procs::Proc;
use crate::rng::Rng;
use crate::verdict::{Verdict, judge};

/// The cluster name every process gives the simulator.
const CLUSTER: &str = "faults";
/// How long a round may take to start storing, and to settle after its faults.
const WARM_UP: Duration = Duration::from_secs(90);
const SETTLE: Duration = Duration::from_secs(150);

/// What a round found.
pub struct Outcome {
    pub plan: Plan,
    pub verdict: Verdict,
    /// Occurrences the store counted, and the sum of its events' counts (equal unless an
    /// occurrence row was doubled or lost).
    pub occurrences: (u64, u64),
    /// Whether the store settled on a clean verdict before the deadline.
    pub settled: bool,
    /// Why a process exited by itself (it was started again, as a supervisor would).
    pub exits: Vec<String>,
    pub seconds: f64,
    /// The round's directory (logs, data), kept when the round failed.
    pub kept: Option<PathBuf>,
    /// The end of every process's log, when the round failed.
    pub logs: String,
}

impl Outcome {
    pub fn clean(&self) -> bool {
        self.verdict.clean() && self.occurrences.0 == self.occurrences.1
    }

    pub fn to_json(&self, round: u64) -> Value {
        let plan = &self.plan;
        json!({
            "round": round,
            "seed": plan.seed,
            "topology": plan.topology.name(),
            "replicas": plan.replicas,
            "spool_max_size": plan.spool_max_size,
            "event_ttl_s": plan.event_ttl.map(|d| d.as_secs_f64()),
            "faults": plan.faults.iter().map(|t| format!("{:.1}s {}", t.at.as_secs_f64(), t.fault)).collect::<Vec<_>>(),
            "verdict": self.verdict.to_json(),
            "occurrences_stored": self.occurrences.0,
            "sum_of_counts": self.occurrences.1,
            "settled": self.settled,
            "self_exits": self.exits,
            "seconds": self.seconds,
            "clean": self.clean(),
            "kept": self.kept,
        })
    }
}

/// Runs one round of `plan`.
pub async fn run(plan: Plan) -> Outcome {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulator::start_with(SimConfig {
        event_ttl: plan.event_ttl,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let mut world = World::start(&plan, dir.path(), &sim).await;

    // Events start once one is stored: the watcher has listed, so every later Event reaches
    // it (one created and deleted before kubetrail ever watched is nobody's loss).
    sim.create(&backoff(CLUSTER, "canary", 1, 0))
        .expect("canary event");
    let mut reader = world.reader();
    let warm = Instant::now();
    loop {
        world.supervise();
        if reader.read().await.is_some_and(|s| !s.counts.is_empty()) {
            break;
        }
        assert!(
            warm.elapsed() < WARM_UP,
            "seed {}: nothing stored after {WARM_UP:?}\n{}",
            plan.seed,
            world.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let generator = Generator::spawn(sim.clone(), plan.seed ^ 0x5eed);

    tokio::task::block_in_place(|| world.strike(&plan, &sim, generator));

    // Settle: every fault is undone; wait for a clean verdict that holds still.
    let deadline = Instant::now() + SETTLE;
    let mut last: Option<(BTreeMap<String, u64>, u64)> = None;
    let (verdict, occurrences, settled) = loop {
        world.supervise();
        let history = sim.event_history();
        let snapshot = reader.read().await;
        if let Some(s) = snapshot {
            let verdict = judge(&history, &s.counts, &s.gaps);
            let sum: u64 = s.counts.values().sum();
            let state = (s.counts.clone(), s.occurrences);
            let steady = last.as_ref() == Some(&state);
            if verdict.clean() && s.occurrences == sum && steady {
                break (verdict, (s.occurrences, sum), true);
            }
            if Instant::now() > deadline {
                break (verdict, (s.occurrences, sum), false);
            }
            last = Some(state);
        } else if Instant::now() > deadline {
            let verdict = judge(&history, &BTreeMap::new(), &[]);
            break (verdict, (0, 0), false);
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    };

    let exits = world.procs.iter().flat_map(|p| p.exits.clone()).collect();
    let mut outcome = Outcome {
        plan,
        verdict,
        occurrences,
        settled,
        exits,
        seconds: started.elapsed().as_secs_f64(),
        kept: None,
        logs: String::new(),
    };
    if !outcome.clean() {
        outcome.logs = world.logs();
        drop(world);
        outcome.kept = Some(dir.keep());
    }
    sim.shutdown().await;
    outcome
}

/// Everything a round runs besides the simulator.
struct World {
    procs: Vec<Proc>,
    /// Index of the agent in `procs` (NATS topology).
    agent: Option<usize>,
    /// The schema the processes write, and the proxy they reach PostgreSQL through.
    postgres: Option<(SchemaGuard, Proxy)>,
    nats: Option<Nats>,
    sqlite: PathBuf,
}

impl World {
    async fn start(plan: &Plan, dir: &Path, sim: &SimHandle) -> World {
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let cluster = format!(
            "clusters:\n  - name: {CLUSTER}\n    kubeconfig: {}\n",
            kubeconfig.display()
        );
        let spool = plan
            .spool_max_size
            .map(|n| format!("spool_max_size: {n}\n"))
            .unwrap_or_default();
        let postgres = match plan.topology {
            Topology::Sqlite => None,
            Topology::Postgres | Topology::Nats => {
                let (_, guard) = fresh_postgres_store().await;
                let (proxy, proxied) = Proxy::for_postgres(guard.url()).await;
                Some((guard, proxy, proxied))
            }
        };
        let storage = postgres
            .as_ref()
            .map(|(guard, _, proxied)| {
                format!(
                    "storage:\n  postgres:\n    url: {proxied}\n    schema: {}\n",
                    guard.schema()
                )
            })
            .unwrap_or_default();
        let postgres = postgres.map(|(guard, proxy, _)| (guard, proxy));
        let nats = (plan.topology == Topology::Nats).then(Nats::start);
        let write = |name: &str, yaml: String| {
            let path = dir.join(format!("{name}.yaml"));
            std::fs::write(&path, yaml).expect("config");
            path.display().to_string()
        };
        let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut procs = Vec::new();
        let mut agent = None;
        match (&nats, plan.topology) {
            (Some(nats), _) => {
                let url = nats.url();
                let nats_args = ["--nats-url", &url, "--nats-ack-wait", "3s"];
                let config = write("consumer", storage);
                for i in 0..plan.replicas {
                    let mut args = strings(&["--config", &config, "run", "--source", "nats"]);
                    args.extend(strings(&["--listen", "127.0.0.1:0"]));
                    args.extend(strings(&nats_args));
                    let name = format!("replica-{i}");
                    procs.push(Proc::new(&name, &dir.join(&name), dir, args));
                }
                let config = write("agent", format!("{cluster}{spool}"));
                let mut args = strings(&["--config", &config, "agent", "--listen", "127.0.0.1:0"]);
                args.extend(strings(&nats_args));
                agent = Some(procs.len());
                procs.push(Proc::new("agent", &dir.join("agent"), dir, args));
            }
            (None, topology) => {
                let config = write("run", format!("{cluster}{spool}{storage}"));
                for i in 0..plan.replicas {
                    let mut args =
                        strings(&["--config", &config, "run", "--listen", "127.0.0.1:0"]);
                    if plan.replicas > 1 {
                        args.extend(strings(&["--leader-elect", "--lease-duration", "2s"]));
                    }
                    let name = format!("replica-{i}");
                    // SQLite replicas share the store's directory; PostgreSQL ones each
                    // have their own (their spool), as pods would.
                    let data = match topology {
                        Topology::Sqlite => dir.join("data"),
                        _ => dir.join(&name),
                    };
                    procs.push(Proc::new(&name, &data, dir, args));
                }
            }
        }
        for p in &mut procs {
            p.start();
        }
        World {
            procs,
            agent,
            postgres,
            nats,
            sqlite: dir.join("data").join("kubetrail.db"),
        }
    }

    /// A reader of the store the processes write (never through the proxy).
    fn reader(&self) -> Reader {
        match &self.postgres {
            Some((guard, _)) => Reader::Postgres {
                url: guard.url().to_string(),
                schema: guard.schema().to_string(),
                store: None,
            },
            None => Reader::Sqlite {
                path: self.sqlite.clone(),
                store: None,
            },
        }
    }

    fn supervise(&mut self) {
        for p in &mut self.procs {
            if p.down == 0 {
                p.supervise();
            }
        }
    }

    fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("--- {} ---\n{}", p.name, p.tail(25)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn proc_of(&self, who: Who) -> usize {
        match who {
            Who::Replica(i) => i,
            Who::Agent => self.agent.expect("an agent in the NATS topology"),
        }
    }

    /// Runs the plan's timeline while the generator works, stops the generator at the end of
    /// the active period, and returns once every fault is undone.
    fn strike(&mut self, plan: &Plan, sim: &SimHandle, generator: Generator) {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Step {
            End(usize),
            Begin(usize),
        }
        let mut steps: Vec<(Duration, Step)> = Vec::new();
        for (i, t) in plan.faults.iter().enumerate() {
            steps.push((t.at, Step::Begin(i)));
            steps.push((t.at + t.fault.span(), Step::End(i)));
        }
        steps.sort();
        let start = Instant::now();
        let mut generator = Some(generator);
        let mut state = Undo::default();
        let mut victims: Vec<Option<usize>> = vec![None; plan.faults.len()];
        let mut next = steps.into_iter().peekable();
        loop {
            let elapsed = start.elapsed();
            if elapsed >= plan.active
                && let Some(g) = generator.take()
            {
                g.stop();
            }
            match next.peek() {
                Some((at, _)) if *at <= elapsed => {
                    let (_, step) = next.next().expect("peeked");
                    match step {
                        Step::Begin(i) => {
                            victims[i] = self.begin(&plan.faults[i].fault, sim, &mut state)
                        }
                        Step::End(i) => {
                            self.end(&plan.faults[i].fault, sim, &mut state, victims[i])
                        }
                    }
                }
                None if generator.is_none() => return,
                _ => {
                    self.supervise();
                    // Pacing the timeline, not waiting for a result.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Starts a fault; returns the process it took down, if any.
    fn begin(&mut self, fault: &Fault, sim: &SimHandle, state: &mut Undo) -> Option<usize> {
        let faults = sim.faults();
        match fault {
            Fault::Kill { who, .. } => {
                let p = self.proc_of(*who);
                self.procs[p].hold_down();
                Some(p)
            }
            Fault::Failover { .. } => {
                let p = leader(sim).unwrap_or(0);
                self.procs[p].hold_down();
                Some(p)
            }
            Fault::DropWatches => {
                faults.drop_watches();
                None
            }
            Fault::Expire { .. } => {
                state.stalls += 1;
                faults.stall_watches(Duration::from_secs(3600));
                None
            }
            Fault::Storm {
                requests,
                retry_after,
            } => {
                faults.fail_next(
                    *requests,
                    InjectedFailure::TooManyRequests {
                        retry_after_seconds: *retry_after,
                    },
                );
                faults.drop_watches();
                None
            }
            Fault::LockStore { .. } => {
                state.locks += 1;
                if state.locks == 1 {
                    state.lock = lock_sqlite(&self.sqlite);
                }
                None
            }
            Fault::CutPostgres { .. } => {
                state.cuts += 1;
                if let Some((_, proxy)) = &self.postgres {
                    proxy.set(false);
                }
                None
            }
            Fault::RestartNats { .. } => {
                state.nats_down += 1;
                if state.nats_down == 1
                    && let Some(nats) = &mut self.nats
                {
                    nats.kill();
                }
                None
            }
        }
    }

    /// Undoes a fault (the last of nested ones of a kind undoes the kind).
    fn end(&mut self, fault: &Fault, sim: &SimHandle, state: &mut Undo, victim: Option<usize>) {
        let faults = sim.faults();
        match fault {
            Fault::Kill { compact, .. } => {
                if *compact {
                    sim.compact();
                }
                if let Some(p) = victim {
                    self.procs[p].release();
                }
            }
            Fault::Failover { .. } => {
                if let Some(p) = victim {
                    self.procs[p].release();
                }
            }
            Fault::DropWatches | Fault::Storm { .. } => {}
            Fault::Expire { .. } => {
                state.stalls -= 1;
                if state.stalls == 0 {
                    // Compacted while the watchers were held: their reconnects get 410.
                    sim.compact();
                    faults.drop_watches();
                    faults.stall_watches(Duration::ZERO);
                }
            }
            Fault::LockStore { .. } => {
                state.locks -= 1;
                if state.locks == 0
                    && let Some(conn) = state.lock.take()
                {
                    conn.execute_batch("ROLLBACK").expect("unlock the store");
                }
            }
            Fault::CutPostgres { .. } => {
                state.cuts -= 1;
                if state.cuts == 0
                    && let Some((_, proxy)) = &self.postgres
                {
                    proxy.set(true);
                }
            }
            Fault::RestartNats { .. } => {
                state.nats_down -= 1;
                if state.nats_down == 0
                    && let Some(nats) = &mut self.nats
                {
                    nats.spawn();
                }
            }
        }
    }
}

/// Faults in force that nest: how many of each, and the SQLite lock's connection.
#[derive(Default)]
struct Undo {
    stalls: u32,
    locks: u32,
    lock: Option<rusqlite::Connection>,
    cuts: u32,
    nats_down: u32,
}

/// Takes SQLite's write lock from another connection (waiting up to 10 s for a writer to
/// finish); `None` if the store does not exist (it is never created here).
fn lock_sqlite(path: &Path) -> Option<rusqlite::Connection> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .ok()?;
    conn.busy_timeout(Duration::from_secs(10)).ok()?;
    conn.execute_batch("BEGIN IMMEDIATE").ok()?;
    Some(conn)
}

/// The replica holding the Lease, from its holder identity (`replica-N`).
fn leader(sim: &SimHandle) -> Option<usize> {
    let lease = sim.get::<Lease>(Some("default"), "kubetrail").ok()??;
    let holder = lease.spec?.holder_identity?;
    holder.strip_prefix("replica-")?.parse().ok()
}

/// What the store holds, read as a user of the library would.
struct Snapshot {
    counts: BTreeMap<String, u64>,
    occurrences: u64,
    gaps: Vec<Gap>,
}

enum Reader {
    Sqlite {
        path: PathBuf,
        store: Option<SqliteStore>,
    },
    Postgres {
        url: String,
        schema: String,
        store: Option<PostgresStore>,
    },
}

impl Reader {
    /// The store's state; `None` while it cannot be read (not created yet, or failing).
    async fn read(&mut self) -> Option<Snapshot> {
        let store: &dyn Store = match self {
            Reader::Sqlite { path, store } => {
                if store.is_none() && path.exists() {
                    *store = SqliteStore::open(&*path).ok();
                }
                store.as_ref()?
            }
            Reader::Postgres { url, schema, store } => {
                if store.is_none() {
                    let options = PostgresOptions {
                        schema: Some(schema.clone()),
                        pool_size: 2,
                        ..PostgresOptions::new(url.clone())
                    };
                    *store = PostgresStore::connect(&options).await.ok();
                }
                store.as_ref()?
            }
        };
        let events = store
            .query(&EventFilter::default(), &Page::default())
            .await
            .ok()?;
        let stats = store.stats().await.ok()?;
        let gaps = store.gaps(None, None).await.ok()?;
        Some(Snapshot {
            counts: events
                .into_iter()
                .filter(|e| e.event.cluster == CLUSTER)
                .map(|e| (e.event.uid, e.event.count))
                .collect(),
            occurrences: stats.occurrences,
            gaps,
        })
    }
}

/// Makes, raises and deletes Events in the simulator, paced, until stopped.
struct Generator {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Generator {
    fn spawn(sim: SimHandle, seed: u64) -> Generator {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            let mut alive: Vec<String> = Vec::new();
            let mut n = 0usize;
            while !flag.load(Ordering::SeqCst) {
                for _ in 0..rng.range(1, 5) {
                    let event = backoff(CLUSTER, "web-5c8d7f9b4", 40, n);
                    n += 1;
                    if let Ok(created) = sim.create(&event) {
                        alive.extend(created.metadata.name);
                    }
                }
                if !alive.is_empty() && rng.chance(0.6) {
                    let i = rng.range(0, alive.len() as u64 - 1) as usize;
                    if !raise(&sim, &alive[i]) {
                        alive.swap_remove(i);
                    }
                }
                if !alive.is_empty() && rng.chance(0.2) {
                    let i = rng.range(0, alive.len() as u64 - 1) as usize;
                    let name = alive.swap_remove(i);
                    let _ = sim.delete::<Event>(Some(CLUSTER), &name);
                }
                // Pacing: about 150 Events a second.
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Generator { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the generator does not panic");
    }
}

/// Raises an Event's count by one (a repeat, as a kubelet reports it); false if it is gone.
fn raise(sim: &SimHandle, name: &str) -> bool {
    let Ok(Some(mut e)) = sim.get::<Event>(Some(CLUSTER), name) else {
        return false;
    };
    let count = e
        .series
        .as_ref()
        .map(|s| s.count)
        .or(e.deprecated_count)
        .unwrap_or(1);
    e.series = Some(EventSeries {
        count: count + 1,
        last_observed_time: now(),
    });
    sim.replace(&e).is_ok()
}
