//! The catalogue of reasons (kubetrail-process) names at least 95 % of the 200 most frequent
//! reasons across the shared real dumps and the simulator's scenarios; the ones that fall
//! back on kind and type are listed.

mod common;

use std::path::PathBuf;

use anyhow::{Context, Result};
use k8s_openapi::api::events::v1::Event;
use kubetrail_process::catalogue_coverage;
use kubetrail_sim::{Pace, Scenario, Simulator, run_scenario};
use kubetrail_source::import::{Item, read_file};

use kubetrail_testkit::real_events as dataset;

/// One reason per Event of every dump (a later copy of the same Event counts once).
fn dump_reasons() -> Vec<String> {
    let dir = dataset();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set KUBETRAIL_REAL_EVENTS)", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the 25 dumps in {}",
        dir.display()
    );
    let mut reasons = Vec::new();
    for path in files {
        let mut seen = std::collections::HashSet::new();
        for item in read_file(&path, "c").unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            if let Item::Event { event, .. } = item.expect("a readable dump")
                && seen.insert(event.uid.clone())
            {
                reasons.push(event.reason);
            }
        }
    }
    reasons
}

async fn scenario_reasons() -> Result<Vec<String>> {
    let mut reasons = Vec::new();
    for scenario in Scenario::ALL {
        let sim = Simulator::start().await?;
        tokio::time::timeout(common::WAIT, run_scenario(&sim, scenario, Pace::instant()))
            .await
            .context("scenario timed out")??;
        for event in sim.list::<Event>(None)? {
            reasons.push(event.reason.unwrap_or_default());
        }
        sim.shutdown().await;
    }
    Ok(reasons)
}

#[tokio::test]
async fn the_catalogue_names_95_percent_of_the_200_most_frequent_reasons() -> Result<()> {
    let mut reasons = dump_reasons();
    reasons.extend(scenario_reasons().await?);
    let coverage = catalogue_coverage(reasons.iter().map(String::as_str), 200);
    println!(
        "catalogue coverage: {}/{} of the most frequent reasons ({:.1} %); fall back: {:?}",
        coverage.matched,
        coverage.top.len(),
        coverage.ratio() * 100.0,
        coverage.fallback
    );
    assert!(coverage.top.len() >= 190, "{} reasons", coverage.top.len());
    assert!(
        coverage.ratio() >= 0.95,
        "{:.1} % catalogued; these fall back on kind and type: {:?}",
        coverage.ratio() * 100.0,
        coverage.fallback
    );
    Ok(())
}
