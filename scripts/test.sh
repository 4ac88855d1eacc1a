#!/usr/bin/env bash
# Runs every test of kubetrail on a fresh machine: installs and starts what the tests need,
# then formatting, lints, unit/integration/property tests, and checks that benchmarks compile.
# Usage: ./scripts/test.sh            (CI calls exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { echo "[test.sh $(date +%T)] $*" >&2; }

# --- what the tests need --------------------------------------------------------------------
# The real event dumps the tests read (never modified). Found next to the checkout as in the
# development layout, or given by KUBETRAIL_REAL_EVENTS.
if [[ -z ${KUBETRAIL_REAL_EVENTS:-} ]]; then
  for candidate in "$ROOT/../shared/datasets/real-events" "$ROOT/../../shared/datasets/real-events" /work/shared/datasets/real-events; do
    if [[ -f $candidate/README.md ]]; then KUBETRAIL_REAL_EVENTS=$(cd "$candidate" && pwd); break; fi
  done
fi
if [[ -z ${KUBETRAIL_REAL_EVENTS:-} ]]; then
  echo "cannot find the real event dumps (../shared/datasets/real-events); set KUBETRAIL_REAL_EVENTS" >&2
  exit 1
fi
export KUBETRAIL_REAL_EVENTS
log "real events: $KUBETRAIL_REAL_EVENTS"

# Prometheus Alertmanager: the alerting tests start a real one (Debian names the binary
# prometheus-alertmanager). Installed once; the tests start and stop their own instances.
if ! command -v alertmanager >/dev/null 2>&1 && ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  log "installing prometheus-alertmanager"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq prometheus-alertmanager >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq prometheus-alertmanager >/dev/null; }
  # The package enables a system service; the tests need none running.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true; fi
fi

# Prometheus: a server test starts a real one that scrapes a kubetrail server and queries it;
# tests/deploy_monitoring.rs runs its promtool (same package) on the alert rules and dashboard.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  log "installing prometheus"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq prometheus >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq prometheus >/dev/null; }
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

# buildah: tests/image.rs builds the container image (scripts/build-image.sh, FROM scratch, no
# daemon, no registry) and runs kubetrail in it.
if ! command -v buildah >/dev/null 2>&1; then
  log "installing buildah"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq buildah >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq buildah >/dev/null; }
fi

# openapi-spec-validator (PyPI) and jsonschema: a server test validates the OpenAPI document and
# the API's answers with them. Installed once into a virtualenv; the test reads its Python from
# KUBETRAIL_TEST_PYTHON.
openapi_venv=${XDG_CACHE_HOME:-$HOME/.cache}/kubetrail-test/venv
if ! "$openapi_venv/bin/python" -c 'import openapi_spec_validator, jsonschema' >/dev/null 2>&1; then
  log "installing openapi-spec-validator into $openapi_venv"
  if ! python3 -m venv "$openapi_venv" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq python3-venv >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null; }
    python3 -m venv "$openapi_venv"
  fi
  "$openapi_venv/bin/pip" install -q openapi-spec-validator
fi
export KUBETRAIL_TEST_PYTHON=$openapi_venv/bin/python

# Chromium and chromedriver: the web UI tests drive a headless browser over WebDriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  log "installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null; }
fi

# kubectl: the real client the simulator tests run against (installed on these machines; not in
# Debian's archive, so it cannot be installed from here).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl is required by the tests (a real client against the API simulator) and is not installed" >&2
  exit 1
fi
log "kubectl: $(kubectl version --client 2>/dev/null | head -1)"

# PostgreSQL 15: the PostgreSQL store's conformance suite and the fan-in tests run against the
# real server on 127.0.0.1:5432 (KUBETRAIL_TEST_POSTGRES_URL). Installed on these machines but
# not running: start it (idempotent) and create the role the tests connect as (with CREATEDB:
# they make a database kubetrail_test and a schema per test in it).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "starting PostgreSQL 15"
  if [[ ! -x /usr/lib/postgresql/15/bin/postgres ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql-15 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql-15 >/dev/null; }
  fi
  if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then pg_createcluster 15 main >/dev/null; fi
  pg_ctlcluster 15 main start || true
  for _ in $(seq 1 120); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi
su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kubetrail') THEN
    CREATE ROLE kubetrail LOGIN PASSWORD 'kubetrail' CREATEDB;
  END IF;
END $$;
SQL
export KUBETRAIL_TEST_POSTGRES_URL=${KUBETRAIL_TEST_POSTGRES_URL:-postgres://kubetrail:kubetrail@127.0.0.1:5432/postgres}
# TLS: the server also accepts TLS with a certificate for 127.0.0.1/localhost signed by a test
# CA made here once; the TLS tests of the PostgreSQL store verify the server against that CA
# (KUBETRAIL_TEST_POSTGRES_CA). Plain connections keep working.
if [[ -z "${KUBETRAIL_TEST_POSTGRES_CA:-}" ]]; then
  command -v openssl >/dev/null 2>&1 || { apt-get install -y -qq openssl >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq openssl >/dev/null; }; }
  pg_tls=/var/lib/postgresql/kubetrail-test-tls
  if [[ ! -f $pg_tls/server.crt ]]; then
    log "making the PostgreSQL test CA and server certificate in $pg_tls"
    mkdir -p "$pg_tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kubetrail test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$pg_tls/ca.key" -out "$pg_tls/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$pg_tls/server.key" -out "$pg_tls/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > "$pg_tls/server.ext"
    openssl x509 -req -in "$pg_tls/server.csr" -CA "$pg_tls/ca.crt" -CAkey "$pg_tls/ca.key" \
      -CAcreateserial -days 3650 -extfile "$pg_tls/server.ext" -out "$pg_tls/server.crt" 2>/dev/null
    chown -R postgres: "$pg_tls"
    chmod 600 "$pg_tls/server.key" "$pg_tls/ca.key"
  fi
  su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres" <<SQL >/dev/null
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = '$pg_tls/server.crt';
ALTER SYSTEM SET ssl_key_file = '$pg_tls/server.key';
SELECT pg_reload_conf();
SQL
  export KUBETRAIL_TEST_POSTGRES_CA=$pg_tls/ca.crt
fi
# Connections: every test of a binary runs at once on a machine with many cores, each with its
# own store pools (up to 8 connections each) and the kubetrail processes it starts; PostgreSQL's
# default of 100 runs out ("remaining connection slots are reserved"), a consumer then exits at
# start and its test times out. 400 slots, set once (a restart of the server).
max_connections=$(su postgres -c "psql -tAq -d postgres -c 'SHOW max_connections'")
if (( max_connections < 400 )); then
  log "raising PostgreSQL's max_connections from $max_connections to 400 (restarts it)"
  su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres -c 'ALTER SYSTEM SET max_connections = 400'" >/dev/null
  pg_ctlcluster 15 main restart
  for _ in $(seq 1 120); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL did not come back on 127.0.0.1:5432" >&2; exit 1; }
fi
log "postgres: $(pg_isready -h 127.0.0.1 -p 5432), max_connections $(su postgres -c "psql -tAq -d postgres -c 'SHOW max_connections'")"

# nats-server: the scale-out fan-in tests (crates/kubetrail/tests/fanin.rs) start their own
# `nats-server -js` on a free port of 127.0.0.1 with a temporary store; installed once here.
if ! command -v nats-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/nats-server ]]; then
  log "installing nats-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq nats-server >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq nats-server >/dev/null; }
  # The package may enable a system service; the tests need none running.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nats-server >/dev/null 2>&1 || true; fi
fi
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
log "nats-server: $("$nats_server" --version)"

# --- checks ---------------------------------------------------------------------------------
# One build from scratch: incremental caches would only add gigabytes to the disk (and CI runs on
# a fresh clone). Debug info is kept small by the profiles in Cargo.toml for the same reason.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# API docs build without warnings (broken or ambiguous intra-doc links, links to private items).
# RUSTDOCFLAGS reaches rustdoc only: dependencies are not rebuilt.
log "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# Dependencies: licences, bans (unmaintained crates, a second TLS stack), sources; duplicate
# versions are reported as warnings (deny.toml). Advisories only when a RustSec database is on
# disk: this machine cannot fetch it.
log "cargo deny"
if ! command -v cargo-deny >/dev/null 2>&1; then
  log "installing cargo-deny (once; a few minutes)"
  cargo install --quiet --locked --no-default-features cargo-deny@0.20.2
fi
deny_checks=(licenses bans sources)
if compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/*" >/dev/null; then
  deny_checks+=(advisories)
  cargo deny --log-level error check --disable-fetch "${deny_checks[@]}"
else
  cargo deny --log-level error check "${deny_checks[@]}"
fi
log "cargo test"
cargo test --workspace --locked
# The script that writes the release build's function order (crates/kubetrail/code-order.txt).
log "scripts' tests"
python3 scripts/code_order_test.py
# Benchmarks keep compiling: clippy --all-targets above type-checks them; this links them too,
# in the test profile (an optimised `cargo bench --no-run` would add a third full build).
log "benchmarks build (test profile)"
cargo test --workspace --locked --benches --no-run
# Fuzz targets: `cargo test` above replays every committed seed and every input that ever
# crashed a target (crates/kubetrail-fuzz/tests/replay.rs) on stable. The libFuzzer smoke run
# (nightly, cargo-fuzz) rebuilds every dependency with coverage instrumentation, longer than
# CI's budget allows on 2 cores (see docs/BENCHMARKS.md, Robustness): opt in with
# KUBETRAIL_FUZZ_SMOKE=1.
if [[ ${KUBETRAIL_FUZZ_SMOKE:-0} == 1 ]]; then
  log "fuzz smoke (libFuzzer, a few seconds per target)"
  ./scripts/fuzz.sh smoke
fi
log "all tests passed"
