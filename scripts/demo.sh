#!/usr/bin/env bash
# Shows kubetrail working with no cluster: imports the real event dumps in examples/dumps into a
# fresh store and shows what it found. Usage: ./scripts/demo.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-$(mktemp -d -t kubetrail-demo.XXXXXX)}
export KUBETRAIL_DATA_DIR=$DATA
echo "== building kubetrail (release)"
cargo build --release --quiet -p kubetrail
KT=target/release/kubetrail
step() { echo; echo "== $*"; }
step "kubetrail import examples/dumps   (store: $DATA)"
$KT import examples/dumps --cluster demo
step "importing again adds nothing (dedup by cluster and uid)"
$KT import examples/dumps --cluster demo
step "kubetrail status"
$KT status -o table
step "kubetrail aggregate --group-by category,severity"
$KT aggregate --group-by category,severity -o table
step "kubetrail aggregate --severity error+ --group-by correlation,reason --limit 15"
$KT aggregate --severity error+ --group-by correlation,reason --limit 15 -o table
step "kubetrail query --severity critical,error --limit 15"
$KT query --severity critical,error --limit 15 -o table
step "kubetrail query --search 'mount' --limit 5 -o json (first event)"
$KT query --search mount --limit 1 -o json
echo
echo "The store is in $DATA; try: KUBETRAIL_DATA_DIR=$DATA $KT query --help"
