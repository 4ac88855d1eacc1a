//! Every committed seed (`fuzz/seeds/<target>/`) and every input that ever crashed a target
//! (`fuzz/regressions/<target>/`) goes through its target again in a plain `cargo test`, so a
//! fixed crash stays fixed without a nightly toolchain.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted (none when the folder does not exist).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable fuzz folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut count = 0;
    for (target, run) in kubetrail_fuzz::TARGETS {
        for file in inputs(kind, target) {
            let data = std::fs::read(&file).expect("a readable fuzz input");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panics on {}", file.display());
            count += 1;
        }
    }
    count
}

#[test]
fn every_input_that_ever_crashed_a_target_passes() {
    replay("regressions");
}

#[test]
fn every_seed_passes_and_every_target_has_seeds() {
    for (target, _) in kubetrail_fuzz::TARGETS {
        assert!(
            !inputs("seeds", target).is_empty(),
            "no seeds in fuzz/seeds/{target}"
        );
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file(),
            "no fuzz/fuzz_targets/{target}.rs"
        );
    }
    assert!(replay("seeds") > 0);
}
