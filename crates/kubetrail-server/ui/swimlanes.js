// kubetrail UI: the visual timeline of an object or an incident. One swimlane per object (the
// object first, then its owners, its pods, its nodes), time across; each Event object is a
// mark coloured by severity, drawn from its first to its last time seen in the window, with
// its reason, count and message on hover. Inline SVG, text nodes only.
"use strict";

KT.RELATION_ORDER = ["target", "owner", "owned", "node"];

// `entries`: timeline entries ({first_seen, last_seen, count, object, reason, severity,
// message, relation?}). `opts`: {id, label, cluster, highlight (an object to mark as the root
// cause), maxLanes, changes (drawn as markers on their objects' lanes, changes.js)}.
KT.swimlanes = function (entries, opts) {
  const o = Object.assign({ maxLanes: 40, changes: [] }, opts || {});
  if (!entries.length && !o.changes.length) return null;
  const lanes = [];
  const byObject = new Map();
  const rank = (e) => {
    const i = KT.RELATION_ORDER.indexOf(e.relation);
    return i < 0 ? KT.RELATION_ORDER.length : i;
  };
  // Oldest first within a relation: a lane's place is its object's first event.
  const sorted = entries.slice().sort((a, b) => rank(a) - rank(b) || Date.parse(a.first_seen) - Date.parse(b.first_seen));
  for (const e of sorted) {
    if (!byObject.has(e.object)) {
      const lane = { object: e.object, relation: e.relation, entries: [] };
      byObject.set(e.object, lane);
      lanes.push(lane);
    }
    byObject.get(e.object).entries.push(e);
  }
  KT.changeLanes(lanes, byObject, o.changes);
  const shown = lanes.slice(0, o.maxLanes);
  const changeTimes = o.changes.map((c) => Date.parse(c.at));
  let t0 = Math.min(...entries.map((e) => Date.parse(e.first_seen)), ...changeTimes);
  let t1 = Math.max(...entries.map((e) => Date.parse(e.last_seen)), ...changeTimes);
  const pad = Math.max(60e3, (t1 - t0) * 0.03);
  t0 -= pad;
  t1 += pad;
  const W = 1200, LABEL = 300, R = 26, TOP = 22, RIGHT = 16;
  const H = TOP + shown.length * R + 8;
  const x = (t) => LABEL + ((W - LABEL - RIGHT) * (Date.parse(t) - t0)) / (t1 - t0);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tx = LABEL + (W - LABEL - RIGHT) * f;
    const when = KT.time(new Date(t0 + (t1 - t0) * f).toISOString());
    return [
      KT.svg("line", { x1: tx.toFixed(1), y1: TOP - 4, x2: tx.toFixed(1), y2: H - 8, class: "gridline" }),
      KT.svg("text", { x: tx.toFixed(1), y: 12, class: "tick", "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, when.slice(5, 19)),
    ];
  });
  const rows = shown.map((lane, i) => {
    const y = TOP + i * R;
    const mid = y + R / 2;
    const label = lane.object.length > 40 ? "…" + lane.object.slice(-39) : lane.object;
    const href = KT.objectHref(lane.object, o.cluster);
    const marks = lane.entries.map((e) => {
      const a = x(e.first_seen), b = x(e.last_seen);
      const r = 4 + Math.min(3, Math.log10(Math.max(1, e.count)));
      const sev = String(e.severity).replace(/[^a-z]/g, "");
      return KT.svg(
        "g",
        { class: "mark sev-" + sev, "data-reason": e.reason, "data-object": e.object, "data-severity": sev },
        KT.svg("title", {}, `${e.reason} ×${e.count} (${e.severity}), ${KT.time(e.first_seen)} – ${KT.time(e.last_seen)} UTC: ${e.message}`),
        b - a >= 2 ? KT.svg("rect", { x: a.toFixed(1), y: (mid - 2).toFixed(1), width: (b - a).toFixed(1), height: 4, class: "span" }) : null,
        KT.svg("circle", { cx: a.toFixed(1), cy: mid.toFixed(1), r: r.toFixed(1) }),
        b - a >= 2 ? KT.svg("circle", { cx: b.toFixed(1), cy: mid.toFixed(1), r: r.toFixed(1) }) : null
      );
    });
    return KT.svg(
      "g",
      { class: "lane" + (lane.object === o.highlight ? " root" : ""), "data-object": lane.object },
      KT.svg("rect", { x: 0, y: y + 1, width: W, height: R - 2, class: i % 2 ? "band odd" : "band" }),
      lane.relation ? KT.svg("text", { x: 4, y: mid + 4, class: "relation" }, lane.relation) : null,
      KT.svg("a", { href }, KT.svg("text", { x: lane.relation ? 62 : 4, y: mid + 4, class: "label" }, KT.svg("title", {}, lane.object), label)),
      marks,
      KT.changeMarks(lane.changes, x, mid)
    );
  });
  return KT.h(
    "figure",
    { class: "chart swimlanes-figure" },
    KT.svg(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": o.label || "Timeline", id: o.id || null, class: "swimlanes" },
      ticks,
      rows
    ),
    KT.h(
      "figcaption",
      { class: "help" },
      KT.h("ul", { class: "legend" }, KT.SEVERITIES.map((s) => KT.h("li", {}, KT.h("span", { class: "swatch sev-" + s }), s))),
      lanes.length > shown.length ? (lanes.length - shown.length) + " more objects not drawn (see the table). " : "",
      "A mark runs from an event's first to its last time seen; a diamond is a change of the object; hover for the message or the diff. Times in UTC."
    )
  );
};

// "#/object/ns/Kind/name" for "ns/Kind/name" (or "Kind/name" of a Node), as KT.objectLink.
KT.objectHref = function (object, cluster) {
  const parts = String(object).split("/");
  const path = parts.length === 2 ? ["-", parts[0], parts[1]] : parts;
  let href = "#/object/" + path.map(encodeURIComponent).join("/");
  if (cluster) href += "?cluster=" + encodeURIComponent(cluster);
  return href;
};
