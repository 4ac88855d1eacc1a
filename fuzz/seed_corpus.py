#!/usr/bin/env python3
"""Builds seed inputs for every fuzz target from the real event dumps (never modified).

Usage: seed_corpus.py DUMPS OUT [--small]
  DUMPS  the real event dumps (shared/datasets/real-events)
  OUT    a folder; OUT/<target>/ receives the seeds (existing files are kept)
  --small  a few seeds per shape, each at most 4 KiB (what fuzz/seeds/ holds in git)

Import seeds are slices of each dump in every shape the importer reads (JSON List, bare
array, concatenated values, NDJSON, watch envelopes, YAML List and multi-document, each also
gzipped); a first byte 0 hands the rest over as it is, 1 gzips it first (see the targets'
docs in crates/kubetrail-fuzz). Other targets get real values (namespaces, reasons, labels,
messages) from the same Events.
"""
import gzip
import hashlib
import json
import os
import sys


def write(out, target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def json_events(dumps):
    """(file name, list of Event dicts) of every JSON dump."""
    for name in sorted(os.listdir(dumps)):
        path = os.path.join(dumps, name)
        if not name.endswith(".json"):
            continue
        with open(path, "rb") as f:
            doc = json.load(f)
        items = doc if isinstance(doc, list) else doc.get("items", [])
        yield name, [i for i in items if isinstance(i, dict)]


def yaml_slices(dumps, limit):
    """The first documents of each YAML dump, cut at a document boundary within `limit`."""
    for name in sorted(os.listdir(dumps)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(dumps, name), encoding="utf-8") as f:
            text = f.read()
        if len(text) <= limit:
            yield text
            continue
        cut = text.rfind("\n---", 0, limit)
        if cut > 0:
            yield text[: cut + 1]
        # A slice that ends inside a document: the importer must say so, not crash.
        yield text[:limit]


def to_events_v1(e):
    """A core/v1 Event in the events.k8s.io/v1 shape (as the API server converts it)."""
    out = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": e.get("metadata", {}),
        "regarding": e.get("involvedObject"),
        "note": e.get("message"),
        "reason": e.get("reason"),
        "type": e.get("type"),
        "eventTime": e.get("eventTime"),
        "reportingController": e.get("reportingComponent") or (e.get("source") or {}).get("component"),
        "reportingInstance": e.get("reportingInstance") or (e.get("source") or {}).get("host"),
        "deprecatedFirstTimestamp": e.get("firstTimestamp"),
        "deprecatedLastTimestamp": e.get("lastTimestamp"),
        "deprecatedCount": e.get("count"),
    }
    return {k: v for k, v in out.items() if v is not None}


def model_event(e, cluster):
    """kubetrail's normalized Event record (the NATS wire format) from a core/v1 Event."""
    meta = e.get("metadata", {})
    inv = e.get("involvedObject", {})
    first = e.get("firstTimestamp") or e.get("eventTime") or meta.get("creationTimestamp")
    last = e.get("lastTimestamp") or first
    return {
        "cluster": cluster, "uid": meta.get("uid", ""), "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "regarding": {"api_version": inv.get("apiVersion", ""), "kind": inv.get("kind", ""),
                      "namespace": inv.get("namespace", ""), "name": inv.get("name", ""),
                      "uid": inv.get("uid", "")},
        "related": None, "reason": e.get("reason", ""), "note": e.get("message", ""),
        "type": e.get("type", ""), "action": "", "reporting_controller": "",
        "reporting_instance": "", "first_seen": first, "last_seen": last,
        "count": e.get("count") or 1, "resource_version": meta.get("resourceVersion", ""),
        "category": "other", "severity": "info", "correlation_id": "", "owner": None,
        "node": None, "template": "",
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    dumps, out = sys.argv[1], sys.argv[2]
    small = "--small" in sys.argv[3:]
    per_file = 2 if small else 8
    limit = 4096 if small else 65536

    def fits(data):
        return len(data) <= limit

    def seed(target, data):
        if isinstance(data, str):
            data = data.encode()
        if fits(data):
            write(out, target, data)

    values = {"namespace": set(), "reason": set(), "kind": set(), "name": set(), "label": set()}
    for index, (name, events) in enumerate(json_events(dumps)):
        some = events[:per_file]
        if not some:
            continue
        for e in some:
            meta = e.get("metadata", {})
            inv = e.get("involvedObject", {})
            values["namespace"].add(meta.get("namespace", ""))
            values["reason"].add(e.get("reason", ""))
            values["kind"].add(inv.get("kind", ""))
            values["name"].add(inv.get("name", ""))
            for k, v in (meta.get("labels") or {}).items():
                values["label"].add(f"{k}={v}")
        pretty = json.dumps({"kind": "EventList", "apiVersion": "v1", "items": some}, indent=2)
        compact = [json.dumps(e, separators=(",", ":")) for e in some]
        shapes = [
            pretty,
            json.dumps({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": some}),
            json.dumps(some, indent=1),
            "\n".join(json.dumps(e, indent=2) for e in some),
            "\n".join(compact) + "\n",
            "\n".join(json.dumps({"type": t, "object": e}) for t, e in zip(["ADDED", "MODIFIED", "DELETED", "BOOKMARK"] * 4, some)) + "\n",
            json.dumps({"kind": "EventList", "apiVersion": "events.k8s.io/v1", "items": [to_events_v1(e) for e in some]}),
        ]
        if small:
            # One shape per file, in turn: every shape is still seeded, from different files.
            shapes = [shapes[index % len(shapes)]]
        for shape in shapes:
            seed("import", b"\x00" + shape.encode())
            seed("import", b"\x01" + shape.encode())
            seed("import", b"\x00" + gzip.compress(shape.encode(), mtime=0))
        if small and index % 3:
            continue
        lines = "\n".join(json.dumps({"type": "ADDED", "object": e}) for e in some) + "\n"
        seed("watch_line", b"\x01" + lines.encode())
        v1 = "\n".join(json.dumps({"type": "MODIFIED", "object": to_events_v1(e)}) for e in some)
        seed("watch_line", b"\x00" + v1.encode())
        seed("nats_wire", json.dumps({"v": 1, "cluster": "prod", "events": [model_event(e, "prod") for e in some]}))
        seed("normalize", compact[0])
        seed("event_wire", compact[0])
        seed("event_wire", json.dumps(to_events_v1(some[-1]), indent=1))
    for text in yaml_slices(dumps, limit - 1):
        seed("import", b"\x00" + text.encode())
        seed("import", b"\x01" + text.encode())
    seed("watch_line", b'\x00{"type":"BOOKMARK","object":{"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"resourceVersion":"12345"}}}\n{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}\n')
    seed("nats_wire", '{"v":1,"cluster":"prod","events":[],"gaps":[{"stream":"events","from":"2024-05-01T12:00:00Z","to":"2024-05-01T12:05:00Z","cause":"resourceVersion expired"}]}')

    ns = sorted(v for v in values["namespace"] if v)[: per_file * 2]
    reasons = sorted(v for v in values["reason"] if v)[: per_file * 2]
    kinds = sorted(v for v in values["kind"] if v)
    names = sorted(v for v in values["name"] if v)[:per_file]
    queries = [
        "", f"namespace={','.join(ns[:3])}&reason={reasons[0]}&since=2h",
        f"since=2023-01-01T00:00:00Z&until=2024-06-01T00:00:00Z&kind={kinds[0]}&limit=5",
        "severity=warning,critical&category=crash&search=back-off&cluster=prod",
        "group_by=namespace,reason&interval=1h&since=1d", "since=30d&until=1d&type=Warning",
        "bucket=5m&history=7d&threshold=2.5&min_count=3&min_rate=0.5", "quiet=30m&link_window=10m&max_events=1000",
        "status=firing&rule=crash-loop&limit=10", "all=true", "correlation=shop%2FDeployment%2Fweb&node=node-1",
        "cursor=eyJ0IjoxLCJpZCI6MSwic2luY2UiOm51bGwsInVudGlsIjpudWxsLCJmIjoiMDAifQ",
        "since=1h30m&until=2024-05-01T12:00:00.123456789%2B02:00",
    ]
    for i, q in enumerate(queries):
        seed("http_params", bytes([i % 5]) + q.encode())
    paths = ["events", "aggregate", "patterns", "anomalies", "incidents", "incidents/abc", "alerts",
             "silences", "gaps", "me"]
    for i, p in enumerate(paths):
        seed("http_api", bytes([i % 2]) + f"{p}?{queries[i % len(queries)]}".encode())
    for kind, name in zip(kinds, names):
        seed("http_api", f"\x00timeline/{ns[0]}/{kind}/{name}?since=7d".encode())
    for c in [
        {"t": 1714564800000000, "id": 42, "since": None, "until": None, "f": "0123456789abcdef"},
        {"t": -1, "id": -9223372036854775808, "since": 1714564800000000, "until": 1714568400000000, "f": ""},
        {"t": 253402300799999999, "id": 9223372036854775807, "since": -377705116800000000, "until": None, "f": "x"},
    ]:
        seed("cursor", json.dumps(c, separators=(",", ":")))
    labels = sorted(values["label"])[:per_file]
    selectors = ["app=web,tier in (front,back),!legacy", "app!=db,env notin (dev),replicas>2,replicas<10",
                 "metadata.name=web-1,metadata.namespace!=kube-system", "involvedObject.kind=Pod,reason==BackOff,type!=Normal",
                 "spec.nodeName=node-1,status.phase=Running", "regarding.name=a\\,b", "a in ()", ",,=,!"] + labels
    for s in selectors:
        seed("selectors", s)
    for e in [{"uid": "u"}, {}]:
        seed("normalize", json.dumps(e))


if __name__ == "__main__":
    main()
