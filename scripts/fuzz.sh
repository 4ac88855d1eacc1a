#!/usr/bin/env bash
# Coverage-guided fuzzing of kubetrail's parsers (cargo-fuzz + libFuzzer, nightly toolchain).
#
#   scripts/fuzz.sh smoke [SECONDS]      every target for SECONDS (default 5) from the committed
#                                        seeds (fuzz/seeds/<target>); what CI runs
#   scripts/fuzz.sh long [SECS] [TARGET...]
#                                        each target for SECS seconds (default 3600; 10,000,000
#                                        executions take 10 min to hours, see BENCHMARKS) on one
#                                        core under nice 19 (libFuzzer's fork mode with one job:
#                                        a crash, hang or OOM is saved and the run goes on), from
#                                        fuzz/corpus/<target> (built from the seeds and the real
#                                        dumps); logs in fuzz/logs/
#   scripts/fuzz.sh corpus               (re)build fuzz/corpus/<target> from the seeds and the
#                                        real event dumps ($KUBETRAIL_REAL_EVENTS)
#
# Every target is a function of crates/kubetrail-fuzz; an input that crashes one is saved by
# libFuzzer in fuzz/artifacts/<target>/ and belongs in fuzz/regressions/<target>/ (replayed by
# `cargo test -p kubetrail-fuzz` on stable). Limits that make hangs and unbounded memory
# findings: -timeout (seconds per input), -rss_limit_mb, -malloc_limit_mb and -max_len.
# Builds are without a sanitizer (-s none: the workspace forbids unsafe code, so ASan would
# mostly slow the search) and with debug assertions (integer overflow panics, as in tests).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { echo "[fuzz.sh $(date +%T)] $*" >&2; }

TARGETS=(import event_wire watch_line normalize http_params http_api cursor config rules selectors nats_wire change_object)
# Largest input per target: big enough for a few real Events (or a config file), small enough
# to keep executions fast.
max_len() {
  case $1 in
    import | watch_line | nats_wire) echo 65536 ;;
    config | rules | change_object) echo 16384 ;;
    normalize | event_wire) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
LIMITS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024)

need_tools() {
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzzing needs the nightly toolchain (rustup toolchain list shows none)" >&2
    return 1
  fi
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    nice -n 10 cargo install cargo-fuzz --locked --quiet
  fi
}

build() {
  log "building the fuzz targets (nightly, no sanitizer, debug assertions)"
  cargo +nightly fuzz build --fuzz-dir fuzz -s none -a "$@"
}

# run TARGET CORPUS_DIR EXTRA_ARGS...: one libFuzzer process on one core.
run() {
  local target=$1 corpus=$2
  shift 2
  local dict=()
  [[ -f fuzz/dict/$target.dict ]] && dict=(-dict="fuzz/dict/$target.dict")
  mkdir -p "fuzz/artifacts/$target"
  "$ROOT/fuzz/target/x86_64-unknown-linux-gnu/release/$target" "$corpus" \
    -max_len="$(max_len "$target")" "${LIMITS[@]}" "${dict[@]}" \
    -artifact_prefix="fuzz/artifacts/$target/" "$@"
}

corpus() {
  local dumps=${KUBETRAIL_REAL_EVENTS:-$ROOT/../shared/datasets/real-events}
  [[ -d $dumps ]] || dumps=/work/shared/datasets/real-events
  for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/"
  done
  python3 fuzz/seed_corpus.py "$dumps" fuzz/corpus
  for target in "${TARGETS[@]}"; do log "corpus $target: $(ls "fuzz/corpus/$target" | wc -l) inputs"; done
}

mode=${1:-smoke}
case $mode in
  smoke)
    seconds=${2:-5}
    need_tools
    build
    for target in "${TARGETS[@]}"; do
      # A scratch corpus: new inputs found in CI are not kept.
      scratch=$(mktemp -d)
      log "smoke $target (${seconds}s)"
      run "$target" "$scratch" "fuzz/seeds/$target" -max_total_time="$seconds" -print_final_stats=1 \
        2>"$scratch.log" || { tail -40 "$scratch.log" >&2; exit 1; }
      grep -E '^stat::number_of_executed_units' "$scratch.log" | sed "s/^/  $target /" >&2 || true
      rm -rf "$scratch" "$scratch.log"
    done
    log "fuzz smoke passed"
    ;;
  long)
    seconds=${2:-3600}
    shift $(($# < 2 ? $# : 2))
    targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS[@]}")
    need_tools
    build
    [[ -d fuzz/corpus/import ]] || corpus
    mkdir -p fuzz/logs
    for target in "${targets[@]}"; do
      log "long $target: ${seconds}s (log fuzz/logs/$target.log)"
      nice -n 19 "$0" _run "$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" >"fuzz/logs/$target.log" 2>&1 || log "$target: see fuzz/logs/$target.log"
      # The last status line: executions, coverage, corpus, exec/s, oom/timeout/crash counts.
      grep -E '^#[0-9]+: cov' "fuzz/logs/$target.log" | tail -1 >&2 || true
    done
    ;;
  _run)
    target=$2
    shift 2
    run "$target" "fuzz/corpus/$target" "$@"
    ;;
  corpus) corpus ;;
  *)
    echo "usage: scripts/fuzz.sh smoke [SECONDS] | long [SECONDS] [TARGET...] | corpus" >&2
    exit 2
    ;;
esac
