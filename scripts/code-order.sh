#!/usr/bin/env bash
# Writes crates/kubetrail/code-order.txt: the functions `kubetrail run` executes, which the
# release build places together at the start of the binary's text (issue 14 §2; see
# scripts/code_order.py and docs/BENCHMARKS.md). Run it again when the benchmark's code
# figure (`bench live --memory`, `code_mib`) grows after a change.
#
#   scripts/code-order.sh [BINARY] [EVENTS]
#
# BINARY is a release build (default target/release/kubetrail); the measured `run` is profiled
# by callgrind (valgrind) through `bench live --memory` with EVENTS events (default 3000):
# start, growth, relist, restart with the incidents pass, initial list. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/kubetrail}
events=${2:-3000}
command -v valgrind >/dev/null || { echo "code-order: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d /tmp/kubetrail-code-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The measured process runs its own copy: callgrind names the functions by this path.
cp "$bin" "$work/kubetrail-run"
"$bin" bench live --memory --events "$events" --data-dir "$work/bench" \
  --run-binary "$work/kubetrail-run" \
  --wrapper "valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --callgrind-out-file=$work/callgrind.%p" \
  >"$work/bench.out"
python3 scripts/code_order.py "$work/kubetrail-run" "$work"/callgrind.* >crates/kubetrail/code-order.txt
echo "code-order: wrote crates/kubetrail/code-order.txt ($(wc -l <crates/kubetrail/code-order.txt) functions)"
