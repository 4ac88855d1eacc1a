#!/usr/bin/env bash
# Writes crates/kubetrail/code-order.txt: the functions `kubetrail run` executes, which the
# release build places together at the start of the binary's text (issue 14 §2; see
# scripts/code_order.py and docs/BENCHMARKS.md). Run it again after a change, on a release
# build of that change, and commit the file with it.
#
#   scripts/code-order.sh [BINARY] [EVENTS]
#   scripts/code-order.sh --check [BINARY]
#
# The names are the linker's: a function ThinLTO made visible across modules carries its
# module's hash (`.llvm.N`), which changes when that module's code does, and a name the build
# no longer has is left where the linker puts it. `--check` counts the listed names a release
# build lacks: write the file again when that grows (2026-12-06: 0.7 % in the build after
# it was written, 6.7 % after one change to the store, 36 % after merging two branches that
# changed the store and the query crate; `bench live --memory` then showed `run`'s file pages
# at 10, 12.5 and 16 MiB).
#
# BINARY is a release build (default target/release/kubetrail); the measured `run` is profiled
# by callgrind (valgrind) through `bench live --memory` with EVENTS events (default 3000):
# start, growth, relist, restart with the incidents pass, initial list. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --check ]]; then
  bin=${2:-target/release/kubetrail}
  listed=$(wc -l <crates/kubetrail/code-order.txt)
  missing=$(comm -23 <(sort -u crates/kubetrail/code-order.txt) <(nm --defined-only "$bin" | awk '{print $3}' | sort -u) | wc -l)
  echo "code-order: $missing of $listed listed functions are not in $bin"
  exit 0
fi
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
