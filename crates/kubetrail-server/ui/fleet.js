// kubetrail UI: the fleet — every cluster and tenant (or namespace) the caller can see, the
// worst first: open incidents, errors and their trend, worst workloads. A tenant's token gets
// its own row only (the server decides). Loaded before pages.js (whose range picker it uses
// when it renders), so it is `KT.fleetPage` rather than one of `KT.pages`.
"use strict";

// Bars of `values` (oldest first), scaled to the largest.
KT.sparkline = function (values, ariaLabel) {
  const W = 120, H = 26;
  const max = Math.max(1, ...values);
  const bw = W / Math.max(1, values.length);
  return KT.svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": ariaLabel, class: "sparkline" },
    values.map((v, i) => {
      const h = v ? Math.max(1.5, ((H - 2) * v) / max) : 0.5;
      return KT.svg("rect", { x: (i * bw + 0.5).toFixed(1), y: (H - h).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: h.toFixed(1), class: v ? "bar sev-error" : "bar zero" }, KT.svg("title", {}, String(v)));
    })
  );
};

// "▲ 40%", "▼ 10%", "new", "=" : errors now against the window before.
KT.trendWord = function (now, before) {
  if (now === before) return { word: "steady", cls: "steady" };
  if (!before) return { word: "new", cls: "up" };
  const pct = Math.round(((now - before) / before) * 100);
  return pct > 0 ? { word: "▲ " + pct + "%", cls: "up" } : { word: "▼ " + -pct + "%", cls: "down" };
};

function fleetRow(r, w, grouping) {
  const events = (extra) => KT.href("events", { cluster: r.cluster, namespace: r.namespaces.join(","), ...extra });
  const trend = KT.trendWord(r.errors, r.previous_errors);
  const incidents = r.incidents.map((i) =>
    KT.h(
      "li",
      {},
      KT.h("span", { class: "status status-" + i.status }, i.status),
      " ",
      KT.h("a", { href: KT.href("incident/" + encodeURIComponent(i.id), w.iso), class: "incident-link" }, i.title)
    )
  );
  const tr = KT.h(
    "tr",
    { class: "fleet-row" + (r.open_incidents ? " open" : ""), "data-cluster": r.cluster, "data-group": r.group },
    KT.h("td", { class: "cluster" }, r.cluster),
    KT.h("td", { class: "group" }, r.namespaces.length ? KT.h("a", { href: events() }, r.group) : r.group, grouping === "tenant" && r.namespaces.length ? KT.h("div", { class: "relation" }, r.namespaces.join(", ")) : null),
    KT.h("td", { class: "num open-incidents" }, KT.h("strong", {}, String(r.open_incidents)), r.incident_count > r.open_incidents ? " / " + r.incident_count : ""),
    KT.h("td", { class: "incidents" }, incidents.length ? KT.h("ul", { class: "plain" }, incidents) : "—"),
    KT.h("td", { class: "num errors" }, KT.h("a", { href: events({ severity: "error+" }) }, String(r.errors)), KT.h("div", { class: "relation" }, r.errors_per_hour.toFixed(1) + "/h")),
    KT.h("td", { class: "trend" }, KT.sparkline(r.trend, "Errors over the window in " + r.cluster + " " + r.group), " ", KT.h("span", { class: "trend-word " + trend.cls, title: r.previous_errors + " errors in the window before" }, trend.word)),
    KT.h("td", { class: "num warnings" }, String(r.warnings)),
    KT.h("td", { class: "num" }, String(r.events)),
    KT.h(
      "td",
      { class: "workloads" },
      r.worst_workloads.length
        ? KT.h("ul", { class: "plain" }, r.worst_workloads.map((x) => KT.h("li", {}, KT.objectLink(x.workload, r.cluster), " ", KT.h("span", { class: "relation" }, String(x.count)))))
        : "—"
    )
  );
  return tr;
}

KT.fleetPage = async function (parts, params) {
  const w = await KT.dataWindow(params, "24h");
  const [fleet, filters] = await Promise.all([KT.api("fleet", { cluster: params.cluster, ...w.iso }), KT.scopeFilters("fleet", params)]);
  const grouping = fleet.grouping;
  const clusters = new Set(fleet.rows.map((r) => r.cluster));
  const open = fleet.rows.reduce((s, r) => s + r.open_incidents, 0);
  const errors = fleet.rows.reduce((s, r) => s + r.errors, 0);
  const hurting = fleet.rows.filter((r) => r.open_incidents || r.errors).length;
  const groupName = grouping === "tenant" ? "Tenant" : "Namespace";
  return KT.h(
    "section",
    { id: "fleet" },
    KT.h("h1", {}, "Fleet"),
    filters,
    rangePicker("fleet", params, w.range),
    windowLine(w),
    KT.h(
      "ul",
      { class: "cards" },
      KT.h("li", { class: "card" }, KT.h("span", { class: "n" }, String(clusters.size)), " clusters"),
      KT.h("li", { class: "card" }, KT.h("span", { class: "n" }, String(fleet.rows.length)), " " + groupName.toLowerCase() + " rows"),
      KT.h("li", { class: "card sev-error" }, KT.h("span", { class: "n" }, String(open)), " open incidents"),
      KT.h("li", { class: "card sev-error" }, KT.h("span", { class: "n" }, String(errors)), " errors"),
      KT.h("li", { class: "card sev-warning" }, KT.h("span", { class: "n" }, String(hurting)), " rows with incidents or errors")
    ),
    fleet.rows.length
      ? KT.h(
          "table",
          { class: "fleet", id: "fleet-table" },
          KT.h(
            "thead",
            {},
            KT.h("tr", {}, ["Cluster", groupName, "Open incidents", "Incidents", "Errors", "Error trend", "Warnings", "Events", "Worst workloads"].map((x) => KT.h("th", { scope: "col" }, x)))
          ),
          KT.h("tbody", {}, fleet.rows.map((r) => fleetRow(r, w, grouping)))
        )
      : KT.h("p", { class: "empty" }, "No events in the window."),
    fleet.rows_omitted ? KT.h("p", { class: "help" }, fleet.rows_omitted + " more rows not shown") : null,
    KT.h("p", { class: "help" }, "Errors are error and critical events; the trend compares them with the window of the same length before. Worst workloads: most warnings and errors.")
  );
};
