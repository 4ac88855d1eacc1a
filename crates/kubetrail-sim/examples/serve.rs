//! Runs a simulator with every scenario looping, until Ctrl-C, and writes a kubeconfig:
//!
//! ```text
//! cargo run -p kubetrail-sim --example serve -- /tmp/sim.kubeconfig
//! kubectl --kubeconfig /tmp/sim.kubeconfig get events -A -w
//! ```

use std::time::Duration;

use kubetrail_sim::{Pace, Scenario, SimConfig, Simulator, run_scenario};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "kubetrail-sim.kubeconfig".to_string());
    // Old events expire as on a real cluster, so a long run does not grow without bound.
    let sim = Simulator::start_with(SimConfig {
        event_ttl: Some(Duration::from_secs(600)),
        ..SimConfig::default()
    })
    .await?;
    sim.write_kubeconfig(&path)?;
    println!("simulator at {} (kubeconfig {path})", sim.url());
    let mut runners = Vec::new();
    for scenario in Scenario::ALL {
        let sim = sim.clone();
        runners.push(tokio::spawn(async move {
            run_scenario(&sim, scenario, Pace::looping(Duration::from_secs(2))).await
        }));
    }
    tokio::signal::ctrl_c().await?;
    for runner in &runners {
        runner.abort();
    }
    sim.shutdown().await;
    Ok(())
}
