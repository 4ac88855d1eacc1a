// kubetrail UI: one function per page. Each takes the route's parts and params and returns a
// node (or fills `main`). Everything shown from the API goes through KT.h (text nodes).
"use strict";

const h = KT.h;
KT.pages = {};

const UNITS = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 };

// "90s", "15m", "24h", "7d" -> milliseconds.
KT.ms = function (text) {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(String(text || "").trim());
  return m ? Number(m[1]) * UNITS[m[2]] : null;
};

KT.RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];

// The window a page shows: `since`/`until` from the route, else `range` (default 24h) ending
// at the newest event the caller can see (imported dumps are history), else now.
KT.dataWindow = async function (params, defaultRange) {
  const range = params.range || defaultRange || "24h";
  let until = params.until ? new Date(params.until) : null;
  if (!until) {
    const newest = await KT.api("events", { limit: 1, cluster: params.cluster });
    const e = newest.events[0];
    until = e ? new Date(Date.parse(e.last_seen) + 1000) : new Date();
  }
  const since = params.since ? new Date(params.since) : new Date(until - (KT.ms(range) || 8.64e7));
  return { since, until, range, iso: { since: since.toISOString(), until: until.toISOString() } };
};

function rangePicker(page, params, current) {
  return h(
    "nav",
    { class: "ranges", "aria-label": "Time range" },
    "Last ",
    KT.RANGES.map((r) =>
      h("a", { href: KT.href(page, { ...params, range: r, since: "", until: "" }), class: r === current ? "current" : null, "aria-current": r === current ? "true" : null }, r)
    ),
    " of the data"
  );
}

function windowLine(w) {
  return h("p", { class: "window" }, "From ", h("time", {}, KT.time(w.iso.since)), " to ", h("time", {}, KT.time(w.iso.until)), " UTC");
}

function incidentLink(i, w) {
  return h("a", { href: KT.href("incident/" + encodeURIComponent(i.id), w.iso), class: "incident-link" }, i.title);
}

const INCIDENT_HEADERS = ["Status", "Severity", "Cluster", "Incident", "Rule", "Start", "Events"];

function incidentRows(list, w) {
  return list.map((i) => [
    h("span", { class: "status status-" + i.status }, i.status),
    KT.severityBadge(i.severity),
    i.cluster,
    incidentLink(i, w),
    i.root_cause.rule,
    KT.time(i.start),
    String(i.event_count),
  ]);
}

// ---- Overview ------------------------------------------------------------------------------

KT.pages.overview = async function (parts, params) {
  const w = await KT.dataWindow(params, "1h");
  const rangeMs = w.until - w.since;
  const step = Math.max(60e3, Math.ceil(rangeMs / 48 / 60e3) * 60e3);
  const c = { cluster: params.cluster };
  const [series, reasons, bySeverity, incidents, filters, changes] = await Promise.all([
    KT.api("aggregate", { group_by: "severity", interval: step / 1000 + "s", ...c, ...w.iso }),
    KT.api("aggregate", { group_by: "reason", limit: 10, severity: "warning+", ...c, ...w.iso }),
    KT.api("aggregate", { group_by: "severity", ...c, ...w.iso }),
    KT.api("incidents", { ...c, ...w.iso }),
    KT.scopeFilters("", params),
    KT.recentChanges(params.cluster, w),
  ]);
  const total = (s) => (bySeverity.find((r) => r.key.severity === s) || { count: 0 }).count;
  const ongoing = incidents.filter((i) => i.status === "ongoing");
  return h(
    "section",
    { id: "overview" },
    h("h1", {}, "Overview"),
    filters,
    rangePicker("", params, w.range),
    windowLine(w),
    h(
      "ul",
      { class: "cards" },
      KT.SEVERITIES.map((s) =>
        h("li", { class: "card sev-" + s }, h("a", { href: KT.href("events", { severity: s, ...c, ...w.iso }) }, h("span", { class: "n" }, String(total(s))), " ", s))
      ),
      h("li", { class: "card" }, h("a", { href: KT.href("incidents", c) }, h("span", { class: "n" }, String(ongoing.length)), " ongoing incidents"))
    ),
    h("h2", {}, "Events over time"),
    KT.timeChart(series, w.since, w.until, step),
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        {},
        h("h2", {}, "Top reasons (warning and above)"),
        reasons.length
          ? KT.barList(
              reasons.map((r) => ({ label: r.key.reason || "(none)", value: r.count, href: KT.href("events", { reason: r.key.reason, ...c, ...w.iso }) })),
              "Top reasons"
            )
          : h("p", { class: "empty" }, "No warnings in the window.")
      ),
      h(
        "section",
        { id: "ongoing" },
        h("h2", {}, "Incidents"),
        incidents.length
          ? KT.table(INCIDENT_HEADERS, incidentRows(incidents.slice(0, 12), w), { class: "incidents" })
          : h("p", { class: "empty" }, "No incidents in the window.")
      )
    ),
    changes
  );
};

// ---- Events --------------------------------------------------------------------------------

const FILTERS = [
  ["namespace", "Namespace"],
  ["kind", "Kind"],
  ["name", "Name"],
  ["reason", "Reason"],
  ["category", "Category"],
  ["node", "Node"],
  ["correlation", "Correlation"],
  ["search", "Search"],
  ["since", "Since"],
  ["until", "Until"],
];

function eventRow(e) {
  const object = (e.regarding.namespace ? e.regarding.namespace + "/" : "") + e.regarding.kind + "/" + e.regarding.name;
  const row = h(
    "tr",
    { tabindex: "0", class: "event", "data-object": object, "data-cluster": e.cluster },
    h("td", {}, h("time", {}, KT.time(e.last_seen))),
    h("td", {}, KT.severityBadge(e.severity)),
    h("td", { class: "cluster" }, e.cluster),
    h("td", { class: "namespace" }, e.namespace),
    h("td", {}, KT.objectLink(object, e.cluster)),
    h("td", { class: "reason" }, e.reason),
    h("td", { class: "num" }, String(e.count)),
    h("td", { class: "note" }, e.note)
  );
  row.dataset.key = e.cluster + "/" + e.uid + "@" + e.last_seen;
  return row;
}

KT.pages.events = async function (parts, params, main) {
  const filters = {};
  for (const [k] of FILTERS) if (params[k]) filters[k] = params[k];
  if (params.severity) filters.severity = params.severity;
  if (params.cluster) filters.cluster = params.cluster;
  const clusters = await KT.clusters();
  const form = h(
    "form",
    { class: "filters", role: "search", id: "filters" },
    KT.clusterSelect(clusters, params.cluster || ""),
    FILTERS.map(([k, label]) =>
      h("label", {}, label, h("input", { name: k, value: params[k] || "", placeholder: k === "since" ? "2h or RFC 3339" : "", autocomplete: "off" }))
    ),
    h(
      "label",
      {},
      "Severity",
      h(
        "select",
        { name: "severity" },
        ["", "critical", "error+", "warning+", "info"].map((s) => h("option", { value: s, selected: params.severity === s ? true : null }, s || "any"))
      )
    ),
    h("button", { type: "submit" }, "Filter"),
    h("label", { class: "live" }, h("input", { type: "checkbox", name: "live", checked: params.live === "1" ? true : null }), "Live")
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    data.live = data.live ? "1" : "";
    location.hash = KT.href("events", data);
  });
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "events", id: "event-table" },
    h("thead", {}, h("tr", {}, ["Last seen", "Severity", "Cluster", "Namespace", "Object", "Reason", "Count", "Message"].map((x) => h("th", { scope: "col" }, x)))),
    body
  );
  const more = h("button", { type: "button", id: "more", hidden: true }, "More");
  const count = h("p", { class: "count", role: "status" });
  let cursor = null;
  const seen = new Set();
  const add = (events, atTop) => {
    const rows = events.filter((e) => !seen.has(e.cluster + "/" + e.uid + "@" + e.last_seen)).map(eventRow);
    rows.forEach((r) => seen.add(r.dataset.key));
    if (atTop) rows.reverse().forEach((r) => body.insertBefore(r, body.firstChild));
    else rows.forEach((r) => body.appendChild(r));
    count.textContent = body.rows.length + " events shown";
  };
  const load = async () => {
    const page = await KT.api("events", { ...filters, limit: 100, cursor });
    add(page.events, false);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch(KT.showError));
  await load();
  if (params.live === "1") {
    const poll = setInterval(async () => {
      if (!document.body.contains(table)) return clearInterval(poll);
      try {
        const page = await KT.api("events", { ...filters, limit: 100 });
        add(page.events, true);
      } catch (e) {
        KT.showError(e);
      }
    }, 3000);
  }
  return h(
    "section",
    { id: "events" },
    h("h1", {}, "Events"),
    form,
    h("p", { class: "help" }, "Keys: j/k move, Enter opens the object, / edits the filters."),
    count,
    table,
    more
  );
};

// Moves the selection in the event table (j/k) and opens the selected object (Enter).
KT.tableKeys = function (ev) {
  const rows = Array.from(document.querySelectorAll("#event-table tbody tr"));
  if (!rows.length) return false;
  const i = rows.indexOf(document.activeElement);
  if (ev.key === "j" || ev.key === "k") {
    const next = ev.key === "j" ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1);
    rows.forEach((r) => r.classList.remove("selected"));
    rows[next].classList.add("selected");
    rows[next].focus();
    return true;
  }
  if (ev.key === "Enter" && i >= 0) {
    const link = rows[i].querySelector("a.object");
    if (link) location.hash = link.getAttribute("href");
    return true;
  }
  return false;
};

// ---- Incidents -----------------------------------------------------------------------------

KT.pages.incidents = async function (parts, params) {
  const w = await KT.dataWindow(params, "24h");
  const [list, filters] = await Promise.all([KT.api("incidents", { cluster: params.cluster, ...w.iso }), KT.scopeFilters("incidents", params)]);
  return h(
    "section",
    { id: "incidents" },
    h("h1", {}, "Incidents"),
    filters,
    rangePicker("incidents", params, w.range),
    windowLine(w),
    list.length
      ? KT.table(INCIDENT_HEADERS, incidentRows(list, w), { class: "incidents" })
      : h("p", { class: "empty" }, "No incidents in the window.")
  );
};

function rootCause(rc) {
  if (!rc) return h("p", { class: "empty" }, "No failures in the window.");
  return h(
    "section",
    { class: "root-cause", id: "root-cause" },
    h("h2", {}, "Likely root cause"),
    h("p", {}, h("strong", { class: "reason" }, rc.reason), " on ", KT.objectLink(rc.object), " at ", h("time", {}, KT.time(rc.at)), " ", h("span", { class: "rule" }, "(" + rc.rule + ")")),
    h("blockquote", { class: "note" }, rc.message),
    h("h3", {}, "Evidence"),
    h("ul", {}, rc.evidence.map((e) => h("li", {}, e))),
    h("h3", {}, "What to check next"),
    h("p", { class: "hint" }, rc.hint)
  );
}

function timelineTable(entries, withRelation) {
  const headers = ["First", "Last", ...(withRelation ? ["Relation"] : []), "Object", "Reason", "Severity", "Count", "Message"];
  return KT.table(
    headers,
    entries.map((t) => [
      KT.time(t.first_seen),
      KT.time(t.last_seen),
      ...(withRelation ? [t.relation] : []),
      KT.objectLink(t.object),
      t.reason,
      KT.severityBadge(t.severity),
      String(t.count),
      h("span", { class: "note" }, t.message),
    ]),
    { class: "timeline" }
  );
}

KT.pages.incident = async function (parts, params) {
  const id = parts[1];
  const i = await KT.api("incidents/" + encodeURIComponent(id), { since: params.since, until: params.until });
  return h(
    "section",
    { id: "incident" },
    h("p", {}, h("a", { href: KT.href("incidents", { since: params.since, until: params.until }) }, "← Incidents")),
    h("h1", {}, i.title),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, h("span", { class: "status status-" + i.status }, i.status)),
      h("dt", {}, "Severity"), h("dd", {}, KT.severityBadge(i.severity)),
      h("dt", {}, "About"), h("dd", {}, i.subject),
      h("dt", {}, "Cluster"), h("dd", {}, i.cluster),
      h("dt", {}, "When"), h("dd", {}, KT.time(i.start), " – ", KT.time(i.end)),
      h("dt", {}, "Events"), h("dd", {}, String(i.event_count))
    ),
    rootCause(i.root_cause),
    i.cluster_wide
      ? [
          h("h2", {}, "Workloads hit (" + i.affected.length + ")"),
          h("ul", { class: "affected" }, i.affected.map((a) => h("li", {}, a.workload, " — " + a.objects + " objects, " + a.events + " events"))),
        ]
      : null,
    h("h2", {}, "Affected objects (" + i.object_count + ")"),
    h("ul", { class: "objects" }, i.objects.map((o) => h("li", {}, KT.objectLink(o, i.cluster)))),
    i.nodes.length ? [h("h2", {}, "Nodes"), h("ul", {}, i.nodes.map((n) => h("li", {}, KT.objectLink("Node/" + n, i.cluster))))] : null,
    h("h2", {}, "Timeline"),
    KT.swimlanes(i.timeline, { id: "incident-lanes", label: "Timeline of the incident's objects", cluster: i.cluster, highlight: i.root_cause.object, changes: i.root_cause.change ? [i.root_cause.change] : [] }),
    timelineTable(i.timeline, false),
    i.timeline_omitted ? h("p", { class: "help" }, i.timeline_omitted + " more entries not shown") : null
  );
};

// ---- Object --------------------------------------------------------------------------------

KT.pages.object = async function (parts, params) {
  const [ns, kind, name] = parts.slice(1);
  const path = "timeline/" + [ns, kind, name].map(encodeURIComponent).join("/");
  const x = await KT.api(path, { cluster: params.cluster, since: params.since, until: params.until });
  // The story's own window: its incidents are found again in it, however old they are.
  const w = { iso: x.window };
  return h(
    "section",
    { id: "object" },
    h("h1", {}, x.object),
    x.correlation_id
      ? h("p", {}, "Part of ", h("strong", {}, x.correlation_id), " · ", h("a", { href: KT.href("events", { correlation: x.correlation_id, cluster: params.cluster }), id: "correlation-events" }, "all its events"))
      : null,
    x.timeline.length ? null : h("p", { class: "empty" }, "No events about it in the window."),
    h("h2", {}, "Related objects"),
    h("ul", { class: "objects" }, x.related.map((r) => h("li", {}, h("span", { class: "relation" }, r.relation), " ", KT.objectLink(r.object, params.cluster)))),
    rootCause(x.root_cause),
    x.incidents.length
      ? [h("h2", {}, "Incidents"), KT.table(INCIDENT_HEADERS, incidentRows(x.incidents, w), { class: "incidents" })]
      : null,
    h("h2", {}, "Story"),
    KT.swimlanes(x.timeline, { id: "object-lanes", label: "Timeline of the object and its related objects", cluster: params.cluster, highlight: x.root_cause && x.root_cause.object, changes: x.changes || [] }),
    timelineTable(x.timeline, true),
    x.changes && x.changes.length ? [h("h2", {}, "Changes"), KT.changesTable(x.changes, params.cluster)] : null
  );
};

// ---- Patterns and anomalies ----------------------------------------------------------------

KT.pages.patterns = async function (parts, params) {
  const w = await KT.dataWindow(params, "1h");
  // Info events are most of the noise: the page opens on warnings and above.
  const severity = params.severity || "warning+";
  const [list, filters] = await Promise.all([
    KT.api("patterns", { cluster: params.cluster, severity: KT.severityParam(severity), ...w.iso }),
    KT.scopeFilters("patterns", params, severity),
  ]);
  return h(
    "section",
    { id: "patterns" },
    h("h1", {}, "Patterns"),
    filters,
    rangePicker("patterns", params, w.range),
    windowLine(w),
    list.length
      ? KT.table(
          ["Count", "Per min", "Severity", "Cluster", "Namespace", "Kind", "Reason", "Objects", "Template", "Sample"],
          list.map((p) => [
            String(p.count),
            p.frequency_per_min.toFixed(2),
            KT.severityBadge(p.severity),
            p.key.cluster,
            p.key.namespace,
            p.key.kind,
            p.key.reason,
            String(p.object_count),
            h("code", {}, p.key.template),
            h("span", { class: "note" }, p.samples.length ? p.samples[0].note : ""),
          ]),
          { class: "patterns" }
        )
      : h("p", { class: "empty" }, "No patterns in the window.")
  );
};

KT.pages.anomalies = async function (parts, params) {
  const w = await KT.dataWindow(params, "1h");
  const [list, filters] = await Promise.all([KT.api("anomalies", { cluster: params.cluster, ...w.iso }), KT.scopeFilters("anomalies", params)]);
  return h(
    "section",
    { id: "anomalies" },
    h("h1", {}, "Anomalies"),
    filters,
    rangePicker("anomalies", params, w.range),
    windowLine(w),
    list.length
      ? KT.table(
          ["Bucket", "Kind", "Score", "Severity", "Cluster", "Namespace", "Reason", "Count", "Evidence"],
          list.map((a) => [KT.time(a.at), a.kind.replace("_", " "), a.score.toFixed(1), KT.severityBadge(a.severity), a.key.cluster, a.key.namespace, a.key.reason, String(a.count), a.evidence]),
          { class: "anomalies" }
        )
      : h("p", { class: "empty" }, "No anomalies in the window.")
  );
};

// ---- Alerts and silences -------------------------------------------------------------------

KT.pages.alerts = async function (parts, params, main) {
  const [all, silences, filters] = await Promise.all([KT.api("alerts", { limit: 100 }), KT.api("silences"), KT.scopeFilters("alerts", params)]);
  // The API has no cluster filter for alerts: the clusters of an alert are its sampled events'.
  const clustersOf = (a) => [...new Set(a.events.map((e) => e.cluster))];
  const alerts = params.cluster ? all.filter((a) => clustersOf(a).includes(params.cluster)) : all;
  const form = h(
    "form",
    { id: "silence-form", class: "filters" },
    h("label", {}, "Matchers", h("input", { name: "matchers", placeholder: "alertname=crash-loop namespace=shop", required: true })),
    h("label", {}, "Duration", h("input", { name: "duration", value: "2h", required: true })),
    h("label", {}, "Comment", h("input", { name: "comment" })),
    h("button", { type: "submit" }, "Silence")
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = Object.fromEntries(new FormData(form));
    try {
      await KT.api("silences", null, "POST", { matchers: d.matchers.split(/\s+/).filter(Boolean), duration: d.duration, comment: d.comment });
      KT.render();
    } catch (e) {
      KT.showError(e);
    }
  });
  const expire = (id) =>
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            await KT.api("silences/" + encodeURIComponent(id), null, "DELETE");
            KT.render();
          } catch (e) {
            KT.showError(e);
          }
        },
      },
      "End now"
    );
  return h(
    "section",
    { id: "alerts" },
    h("h1", {}, "Alerts"),
    filters,
    alerts.length
      ? KT.table(
          ["Status", "Rule", "Cluster", "Severity", "Group", "Events", "Started", "Ended", "Summary"],
          alerts.map((a) => [
            h("span", { class: "status status-" + a.status }, a.status),
            a.rule,
            clustersOf(a).join(", "),
            KT.severityBadge(a.severity),
            h("a", { href: "#/alert/" + encodeURIComponent(a.id), class: "alert-link" }, a.group_key),
            String(a.event_count),
            KT.time(a.starts_at),
            KT.time(a.ends_at),
            h("span", { class: "note" }, (a.annotations && a.annotations.summary) || ""),
          ]),
          { class: "alerts" }
        )
      : h("p", { class: "empty" }, "No alerts."),
    h("h2", {}, "Silences"),
    silences.length
      ? KT.table(
          ["Id", "Matchers", "Until", "By", "Comment", ""],
          silences.map((s) => [String(s.id), s.matchers.map((m) => m.name + m.op + m.value).join(" "), KT.time(s.ends_at), s.created_by, s.comment, expire(s.id)]),
          { class: "silences" }
        )
      : h("p", { class: "empty" }, "No silences in force."),
    h("h2", {}, "New silence"),
    form
  );
};
