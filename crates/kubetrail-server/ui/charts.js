// kubetrail UI: charts drawn as inline SVG (no library, no CDN). Every label is a text node.
"use strict";

KT.SEVERITIES = ["critical", "error", "warning", "info"];

// Events over time, stacked by severity. `rows` are aggregate rows grouped by severity with
// buckets; `since`/`until` are Date values; `step` is the bucket width in ms.
KT.timeChart = function (rows, since, until, step) {
  const W = 1200, H = 220, L = 48, B = 24, T = 8;
  const n = Math.max(1, Math.ceil((until - since) / step));
  const start = Math.floor(since / step) * step;
  const buckets = Array.from({ length: n + 1 }, () => ({ critical: 0, error: 0, warning: 0, info: 0 }));
  for (const r of rows) {
    const i = Math.floor((Date.parse(r.bucket) - start) / step);
    const sev = r.key.severity;
    if (i >= 0 && i < buckets.length && sev in buckets[i]) buckets[i][sev] += r.count;
  }
  const totals = buckets.map((b) => KT.SEVERITIES.reduce((s, k) => s + b[k], 0));
  const max = Math.max(1, ...totals);
  const bw = (W - L) / buckets.length;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const bars = [];
  buckets.forEach((b, i) => {
    let acc = 0;
    for (const sev of KT.SEVERITIES.slice().reverse()) {
      const v = b[sev];
      if (!v) continue;
      const top = y(acc + v), bottom = y(acc);
      acc += v;
      bars.push(
        KT.svg(
          "rect",
          { x: (L + i * bw + 1).toFixed(1), y: top.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: Math.max(0.5, bottom - top).toFixed(1), class: "bar sev-" + sev },
          KT.svg("title", {}, `${KT.time(new Date(start + i * step).toISOString())}: ${v} ${sev}`)
        )
      );
    }
  });
  const ticks = [0, Math.round(max / 2), max].map((v) =>
    KT.svg("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, String(v))
  );
  const last = buckets.length - 1;
  const labels = [0, Math.floor(buckets.length / 2), last].map((i) =>
    KT.svg(
      "text",
      { x: i === last ? W : L + i * bw, y: H - 6, class: "tick", "text-anchor": i === last ? "end" : "start" },
      KT.time(new Date(start + i * step).toISOString()).slice(5, 16)
    )
  );
  const legend = KT.h(
    "ul",
    { class: "legend" },
    KT.SEVERITIES.map((s) => KT.h("li", {}, KT.h("span", { class: "swatch sev-" + s }), s))
  );
  return KT.h(
    "figure",
    { class: "chart" },
    KT.svg(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "Events over time by severity", id: "time-chart" },
      KT.svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }),
      ticks,
      labels,
      bars
    ),
    legend
  );
};

// Horizontal bars with their labels and counts: [{label, value, href}], the largest first.
KT.barList = function (items, ariaLabel) {
  const max = Math.max(1, ...items.map((i) => i.value));
  const W = 420, R = 24, LABEL = 190, BAR = W - LABEL - 50;
  const H = Math.max(R, items.length * R);
  const rows = items.map((it, i) => {
    const y = i * R;
    const label = KT.svg("text", { x: 0, y: y + 16, class: "label" }, it.label.length > 28 ? it.label.slice(0, 27) + "…" : it.label);
    return KT.svg(
      "g",
      { class: "row" },
      KT.svg("title", {}, `${it.label}: ${it.value}`),
      it.href ? KT.svg("a", { href: it.href }, label) : label,
      KT.svg("rect", { x: LABEL, y: y + 5, width: Math.max(1, (BAR * it.value) / max).toFixed(1), height: R - 10, class: "bar hbar" }),
      KT.svg("text", { x: LABEL + Math.max(1, (BAR * it.value) / max) + 4, y: y + 16, class: "tick" }, String(it.value))
    );
  });
  return KT.svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": ariaLabel, class: "barlist" }, rows);
};
