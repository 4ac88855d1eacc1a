//! A round's plan, drawn from its seed alone: the topology, the settings of the processes and
//! of the simulator, and a timeline of faults. The same seed gives the same plan; the moments
//! at which the processes happen to be when a fault strikes are not reproducible.

use std::fmt;
use std::time::Duration;

use crate::rng::Rng;

/// What runs between the simulator and the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// `run` watching the simulator and writing SQLite; replicas share one data directory.
    Sqlite,
    /// `run` writing PostgreSQL through a proxy the round can cut; each replica has its own
    /// data directory (its spool), as two pods would.
    Postgres,
    /// `agent` → NATS JetStream → `run --source nats` (the replicas) → PostgreSQL through
    /// the proxy.
    Nats,
}

impl Topology {
    pub fn name(self) -> &'static str {
        match self {
            Topology::Sqlite => "sqlite",
            Topology::Postgres => "postgres",
            Topology::Nats => "nats",
        }
    }
}

/// Which process a fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// `run` replica (or, with NATS, consumer) number i.
    Replica(usize),
    Agent,
}

/// One fault. Those with a duration are undone at its end; overlapping ones nest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, started again after `down`; with `compact`, the watch history is compacted
    /// just before, so the watcher resumes from an expired version (410).
    Kill {
        who: Who,
        down: Duration,
        compact: bool,
    },
    /// Every open watch connection cut.
    DropWatches,
    /// Watches held silent for `stall` while the cluster goes on, then the history compacted
    /// and the watches cut: the watcher resumes from an expired version (410) and relists.
    Expire { stall: Duration },
    /// The next `requests` API requests answered 429 with `Retry-After: retry_after`, and the
    /// watches cut so that their reconnects meet them.
    Storm { requests: usize, retry_after: u32 },
    /// The holder of the Lease killed; started again (as a follower) after `down`.
    Failover { down: Duration },
    /// SQLite: another connection holds the write lock for `hold`: reads go on, writes wait
    /// for the busy timeout and fail, as with a store that is read-only for a while.
    LockStore { hold: Duration },
    /// Every connection to PostgreSQL cut, new ones refused, for `down`.
    CutPostgres { down: Duration },
    /// nats-server killed, started again (same port, same JetStream store) after `down`.
    RestartNats { down: Duration },
}

impl Fault {
    /// How long it lasts (0 for one that is a single act).
    pub fn span(&self) -> Duration {
        match self {
            Fault::Kill { down, .. }
            | Fault::Failover { down }
            | Fault::CutPostgres { down }
            | Fault::RestartNats { down } => *down,
            Fault::Expire { stall } => *stall,
            Fault::LockStore { hold } => *hold,
            Fault::DropWatches | Fault::Storm { .. } => Duration::ZERO,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |d: &Duration| format!("{:.1}s", d.as_secs_f64());
        match self {
            Fault::Kill { who, down, compact } => {
                let who = match who {
                    Who::Replica(i) => format!("replica-{i}"),
                    Who::Agent => "agent".to_string(),
                };
                let compact = if *compact {
                    ", compacted meanwhile"
                } else {
                    ""
                };
                write!(f, "SIGKILL {who}, down {}{compact}", s(down))
            }
            Fault::DropWatches => write!(f, "watches dropped"),
            Fault::Expire { stall } => write!(f, "watches stalled {}, then 410", s(stall)),
            Fault::Storm {
                requests,
                retry_after,
            } => write!(f, "{requests} × 429 (Retry-After {retry_after}s)"),
            Fault::Failover { down } => write!(f, "leader killed, down {}", s(down)),
            Fault::LockStore { hold } => write!(f, "SQLite write-locked {}", s(hold)),
            Fault::CutPostgres { down } => write!(f, "PostgreSQL cut {}", s(down)),
            Fault::RestartNats { down } => write!(f, "NATS restarted, down {}", s(down)),
        }
    }
}

/// A fault at a moment of the round (from the end of the warm-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timed {
    pub at: Duration,
    pub fault: Fault,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    pub topology: Topology,
    /// `run` replicas (with `--leader-elect` when 2), or NATS consumers.
    pub replicas: usize,
    /// `spool_max_size` of every process, in bytes; `None`: the default.
    pub spool_max_size: Option<u64>,
    /// The simulator's `--event-ttl`; `None`: Events stay until deleted.
    pub event_ttl: Option<Duration>,
    /// How long events are made and faults start.
    pub active: Duration,
    /// Sorted by `at`.
    pub faults: Vec<Timed>,
}

impl Plan {
    /// The plan of `seed`; consecutive seeds cycle through the topologies.
    pub fn draw(seed: u64, active: Duration) -> Plan {
        let topology = [Topology::Sqlite, Topology::Postgres, Topology::Nats][(seed % 3) as usize];
        let mut rng = Rng::new(seed);
        let replicas = if rng.chance(0.4) { 2 } else { 1 };
        let spool_max_size = rng.chance(0.35).then(|| rng.range(16, 96) * 1024);
        let event_ttl = rng.chance(0.3).then(|| rng.millis(3_000, 8_000));
        let count = rng.range(2, 5);
        let active_ms = active.as_millis() as u64;
        let mut faults: Vec<Timed> = (0..count)
            .map(|_| Timed {
                at: rng.millis(300, active_ms.saturating_sub(500).max(300)),
                fault: draw_fault(&mut rng, topology, replicas),
            })
            .collect();
        faults.sort_by_key(|t| t.at);
        Plan {
            seed,
            topology,
            replicas,
            spool_max_size,
            event_ttl,
            active,
            faults,
        }
    }
}

fn draw_fault(rng: &mut Rng, topology: Topology, replicas: usize) -> Fault {
    #[derive(Clone, Copy)]
    enum Kind {
        Kill,
        Drop,
        Expire,
        Storm,
        Failover,
        Lock,
        Cut,
        Nats,
    }
    let mut kinds = vec![Kind::Kill, Kind::Drop, Kind::Expire, Kind::Storm];
    match topology {
        Topology::Sqlite => kinds.push(Kind::Lock),
        Topology::Postgres => kinds.push(Kind::Cut),
        Topology::Nats => kinds.extend([Kind::Cut, Kind::Nats]),
    }
    if replicas == 2 && topology != Topology::Nats {
        kinds.push(Kind::Failover);
    }
    match *rng.pick(&kinds) {
        Kind::Kill => {
            let who = if topology == Topology::Nats && rng.chance(0.5) {
                Who::Agent
            } else {
                Who::Replica(rng.range(0, replicas as u64 - 1) as usize)
            };
            Fault::Kill {
                who,
                down: rng.millis(100, 3_000),
                compact: rng.chance(0.3),
            }
        }
        Kind::Drop => Fault::DropWatches,
        Kind::Expire => Fault::Expire {
            stall: rng.millis(500, 2_500),
        },
        Kind::Storm => Fault::Storm {
            requests: rng.range(2, 12) as usize,
            retry_after: rng.range(1, 2) as u32,
        },
        Kind::Failover => Fault::Failover {
            down: rng.millis(500, 4_000),
        },
        Kind::Lock => Fault::LockStore {
            hold: rng.millis(1_000, 8_000),
        },
        Kind::Cut => Fault::CutPostgres {
            down: rng.millis(1_000, 6_000),
        },
        Kind::Nats => Fault::RestartNats {
            down: rng.millis(200, 3_000),
        },
    }
}

#[test]
fn a_seed_always_gives_the_same_plan_and_faults_fit_the_topology() {
    let active = Duration::from_secs(8);
    for seed in 0..300 {
        let plan = Plan::draw(seed, active);
        assert_eq!(plan, Plan::draw(seed, active));
        for t in &plan.faults {
            assert!(t.at < active, "{seed}: {t:?}");
            match t.fault {
                Fault::LockStore { .. } => assert_eq!(plan.topology, Topology::Sqlite),
                Fault::CutPostgres { .. } => assert_ne!(plan.topology, Topology::Sqlite),
                Fault::RestartNats { .. } => assert_eq!(plan.topology, Topology::Nats),
                Fault::Failover { .. } => assert_eq!(plan.replicas, 2),
                Fault::Kill {
                    who: Who::Replica(i),
                    ..
                } => assert!(i < plan.replicas),
                _ => {}
            }
        }
    }
}
