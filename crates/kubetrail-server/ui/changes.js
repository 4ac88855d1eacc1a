// kubetrail UI: changes of watched objects (issue 15). A change is a marker (a diamond) on the
// swimlane of the object that changed, with its diff on hover; the object page lists them; the
// overview shows the recent ones. Text nodes only.
"use strict";

// "ns/Kind/name" of a change's object ("Kind/name" when cluster-scoped), as incidents name it.
KT.changeObject = function (c) {
  const o = c.object;
  return (o.namespace ? o.namespace + "/" : "") + o.kind + "/" + o.name;
};

// One line per field: "path: before → after".
KT.changeSummary = function (c) {
  if (c.op === "deleted") return "deleted";
  if (!c.fields.length) return c.op;
  return c.fields
    .map((f) => {
      if (f.before != null && f.after != null) return `${f.path}: ${f.before} → ${f.after}`;
      if (f.after != null) return `${f.path}: added ${f.after}`;
      if (f.before != null) return `${f.path}: removed (was ${f.before})`;
      return `${f.path}: changed`;
    })
    .join("; ");
};

// Puts each change on the lane of its object (a lane of its own, relation "change", when the
// object has no events), for KT.swimlanes.
KT.changeLanes = function (lanes, byObject, changes) {
  for (const c of changes) {
    const object = KT.changeObject(c);
    if (!byObject.has(object)) {
      const lane = { object, relation: "change", entries: [] };
      byObject.set(object, lane);
      lanes.push(lane);
    }
    const lane = byObject.get(object);
    (lane.changes = lane.changes || []).push(c);
  }
};

// The markers of a lane's changes: a diamond at the change's time, the diff on hover.
KT.changeMarks = function (changes, x, mid) {
  return (changes || []).map((c) => {
    const cx = x(c.at);
    const d = `M${cx.toFixed(1)} ${(mid - 8).toFixed(1)} l7 8 l-7 8 l-7 -8 z`;
    const by = c.manager ? " by " + c.manager : "";
    return KT.svg(
      "g",
      { class: "change-mark", "data-object": KT.changeObject(c), "data-at": c.at },
      KT.svg("title", {}, `Change (${c.op}) ${KT.time(c.at)} UTC${by}: ${KT.changeSummary(c)}`),
      KT.svg("path", { d })
    );
  });
};

// The table of `changes`.
KT.changesTable = function (changes, cluster) {
  return KT.table(
    ["At", "Object", "Op", "By", "Change"],
    changes.map((c) => [
      KT.h("time", {}, KT.time(c.at)),
      KT.objectLink(KT.changeObject(c), cluster || c.cluster),
      c.op,
      c.manager || "",
      KT.h("span", { class: "note" }, KT.changeSummary(c)),
    ]),
    { class: "changes" }
  );
};

// The overview's "Recent changes" panel: the newest changes in the window `w` the caller may
// see (GET /api/v1/changes is scoped like events).
KT.recentChanges = async function (cluster, w) {
  const changes = await KT.api("changes", { cluster, ...w.iso, limit: 10 });
  return h(
    "section",
    { id: "recent-changes" },
    KT.h("h2", {}, "Recent changes"),
    changes.length ? KT.changesTable(changes) : KT.h("p", { class: "empty" }, "No changes in the window.")
  );
};
