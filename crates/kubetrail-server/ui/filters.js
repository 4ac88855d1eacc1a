// kubetrail UI: the filters every page shares — the cluster (one store may hold many) and, on
// the patterns page, the severity. A change navigates, so a filtered page is a link.
"use strict";

// The clusters the caller can see, most events first (asked once per token).
KT.clusters = async function () {
  const token = KT.token();
  if (!KT.clusterList || KT.clusterList.token !== token) {
    const rows = await KT.api("aggregate", { group_by: "cluster" });
    KT.clusterList = { token, names: rows.map((r) => r.key.cluster).filter((c) => c) };
  }
  return KT.clusterList.names;
};

// A <select name="cluster"> with "any" and each visible cluster; `current` stays listed even
// when it has no events.
KT.clusterSelect = function (clusters, current) {
  const names = clusters.includes(current) || !current ? clusters : [current, ...clusters];
  return KT.h(
    "label",
    {},
    "Cluster",
    KT.h(
      "select",
      { name: "cluster", id: "cluster-filter" },
      KT.h("option", { value: "" }, "any"),
      names.map((c) => KT.h("option", { value: c, selected: c === current ? true : null }, c))
    )
  );
};

KT.SEVERITY_CHOICES = [
  ["warning+", "warning and above"],
  ["error+", "error and above"],
  ["critical", "critical"],
  ["info", "info only"],
  ["any", "any"],
];

// A <select name="severity"> of KT.SEVERITY_CHOICES.
KT.severitySelect = function (current) {
  return KT.h(
    "label",
    {},
    "Severity",
    KT.h(
      "select",
      { name: "severity", id: "severity-filter" },
      KT.SEVERITY_CHOICES.map(([v, label]) => KT.h("option", { value: v, selected: v === current ? true : null }, label))
    )
  );
};

// The filters bar of an analysis page: the cluster (and the severity when `severity` is given)
// of `page`; a change opens the page with the new value, keeping its other parameters.
KT.scopeFilters = async function (page, params, severity) {
  const clusters = await KT.clusters();
  const form = KT.h(
    "form",
    { class: "filters", id: "scope-filters", "aria-label": "Filters" },
    KT.clusterSelect(clusters, params.cluster || ""),
    severity ? KT.severitySelect(severity) : null
  );
  form.addEventListener("change", () => {
    const data = Object.fromEntries(new FormData(form));
    location.hash = KT.href(page, { ...params, ...data });
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
  return form;
};

// The API's `severity` for a choice ("any" is no filter).
KT.severityParam = function (choice) {
  return choice === "any" ? "" : choice;
};
