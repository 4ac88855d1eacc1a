//! Benchmark (docs/BENCHMARKS.md, "PostgreSQL and NATS"): ingest into the PostgreSQL store
//! through `Store::write_batch` (dedup, occurrences, rollups, full-text, partitions), against a
//! bare binary `COPY` of the same rows into plain tables with the same indexes, on the server at
//! `KUBETRAIL_TEST_POSTGRES_URL`, in a scratch schema.
//!
//! `cargo run --release -p kubetrail-store --example postgres_ingest -- [EVENTS] [BATCH]`

use std::time::Instant;

use futures::pin_mut;
use jiff::SignedDuration;
use kubetrail_model::{Category, Event, ObjectRef, Severity, Timestamp};
use kubetrail_store::conformance::fresh_postgres_store;
use kubetrail_store::{EventReader, EventSink};
use tokio_postgres::NoTls;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

const REASONS: [&str; 8] = [
    "BackOff",
    "Unhealthy",
    "FailedScheduling",
    "Pulled",
    "Created",
    "Started",
    "Killing",
    "FailedMount",
];

fn event(i: usize, start: Timestamp) -> Event {
    let ns = format!("team-{}", i % 40);
    let pod = format!("svc-{}-7d9f8b6c4-{:05}", i % 200, i % 5000);
    let reason = REASONS[i % REASONS.len()];
    let last_seen = start + SignedDuration::from_millis((i as i64) * 400);
    let count = 1 + (i % 3) as u64;
    Event {
        cluster: format!("cluster-{}", i % 3),
        uid: format!("{i:08x}-5a1e-4c2b-9d3f-bench"),
        namespace: ns.clone(),
        name: format!("{pod}.{i:x}"),
        regarding: ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: ns.clone(),
            name: pod.clone(),
            uid: format!("pod-{}", i % 5000),
            field_path: "spec.containers{app}".into(),
        },
        related: None,
        reason: reason.into(),
        note: format!(
            "{reason}: back-off restarting failed container app in pod {pod}_{ns} after probe failure ({i})"
        ),
        type_: "Warning".into(),
        action: "Restarting".into(),
        reporting_controller: "kubelet".into(),
        reporting_instance: format!("node-{}", i % 30),
        first_seen: last_seen - SignedDuration::from_secs(60 * (count as i64 - 1)),
        last_seen,
        count,
        resource_version: i.to_string(),
        category: Category::Crash,
        severity: Severity::Error,
        correlation_id: format!("{ns}/Deployment/svc-{}", i % 200),
        owner: None,
        node: None,
        template:
            "<*>: back-off restarting failed container <*> in pod <*> after probe failure (<*>)"
                .into(),
        labels: Default::default(),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(200_000);
    let batch = args.get(1).copied().unwrap_or(1_000);
    let start = Timestamp::now() - SignedDuration::from_hours(24);
    let events: Vec<Event> = (0..n).map(|i| event(i, start)).collect();

    let (store, guard) = fresh_postgres_store().await;
    let t = Instant::now();
    for chunk in events.chunks(batch) {
        store
            .write_batch(chunk.to_vec(), None)
            .await
            .expect("write");
    }
    let store_secs = t.elapsed().as_secs_f64();
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.events, n as u64);

    // The same rows, bare: binary COPY into plain tables with the same columns and indexes.
    let (client, conn) = tokio_postgres::connect(guard.url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let schema = guard.schema();
    client
        .batch_execute(&format!(
            "SET search_path = {schema};
             CREATE TABLE bare_events (LIKE events INCLUDING ALL);
             CREATE TABLE bare_occurrences (event_id BIGINT NOT NULL, ts BIGINT NOT NULL, count BIGINT NOT NULL);
             CREATE INDEX ON bare_occurrences (ts);
             CREATE INDEX ON bare_occurrences (event_id, ts);"
        ))
        .await
        .expect("bare tables");
    let t = Instant::now();
    let mut id: i64 = 0;
    for chunk in events.chunks(batch) {
        client.batch_execute("BEGIN").await.expect("begin");
        let sink = client
            .copy_in(
                "COPY bare_events (cluster, uid, namespace, name, reg_api_version, reg_kind,
                    reg_namespace, reg_name, reg_uid, reg_field_path, reason, note, type, action,
                    reporting_controller, reporting_instance, first_seen, last_seen, count,
                    resource_version, category, severity, correlation_id, template, bytes)
                 FROM STDIN BINARY",
            )
            .await
            .expect("copy");
        let mut types = vec![Type::TEXT; 16];
        types.extend([Type::INT8, Type::INT8, Type::INT8]);
        types.extend([Type::TEXT; 5]);
        types.push(Type::INT8);
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        let mut occurrences = Vec::with_capacity(chunk.len() * 2);
        for e in chunk {
            id += 1;
            let (first, last) = (e.first_seen.as_microsecond(), e.last_seen.as_microsecond());
            let count = e.count as i64;
            let r = &e.regarding;
            writer
                .as_mut()
                .write(&[
                    &e.cluster,
                    &e.uid,
                    &e.namespace,
                    &e.name,
                    &r.api_version,
                    &r.kind,
                    &r.namespace,
                    &r.name,
                    &r.uid,
                    &r.field_path,
                    &e.reason,
                    &e.note,
                    &e.type_,
                    &e.action,
                    &e.reporting_controller,
                    &e.reporting_instance,
                    &first,
                    &last,
                    &count,
                    &e.resource_version,
                    &e.category.as_str(),
                    &e.severity.as_str(),
                    &e.correlation_id,
                    &e.template,
                    &0i64,
                ])
                .await
                .expect("row");
            if count == 1 {
                occurrences.push((id, last, 1i64));
            } else {
                occurrences.push((id, first, 1));
                occurrences.push((id, last, count - 1));
            }
        }
        writer.finish().await.expect("finish");
        let sink = client
            .copy_in("COPY bare_occurrences (event_id, ts, count) FROM STDIN BINARY")
            .await
            .expect("copy");
        let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::INT8]);
        pin_mut!(writer);
        for (event_id, ts, count) in &occurrences {
            writer
                .as_mut()
                .write(&[event_id, ts, count])
                .await
                .expect("row");
        }
        writer.finish().await.expect("finish");
        client.batch_execute("COMMIT").await.expect("commit");
    }
    let copy_secs = t.elapsed().as_secs_f64();
    let store_rate = n as f64 / store_secs;
    let copy_rate = n as f64 / copy_secs;
    println!(
        "{{\"events\":{n},\"batch\":{batch},\"occurrences\":{},\"store_seconds\":{store_secs:.2},\"store_events_per_s\":{store_rate:.0},\"copy_seconds\":{copy_secs:.2},\"copy_events_per_s\":{copy_rate:.0},\"ratio\":{:.2}}}",
        stats.occurrences,
        store_rate / copy_rate
    );
}
