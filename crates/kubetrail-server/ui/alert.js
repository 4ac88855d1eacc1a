// kubetrail UI: the page of one alert, `#/alert/<id>`, where the link of every notification
// (webhook, Slack, Alertmanager) leads: its rule, group and state, what it says, its
// deliveries, the objects and the incident it is about, and a one-click silence of its group.
"use strict";

(function () {
  const h = KT.h;

  // How long the one-click silence lasts.
  const SILENCE_FOR = "2h";

  function fact(name, ...value) {
    return [h("dt", {}, name), h("dd", {}, ...value)];
  }

  // The objects the alert's sampled events are about, each once.
  function objects(a) {
    const seen = new Map();
    for (const e of a.events) seen.set(e.cluster + "|" + e.object, e);
    return [...seen.values()];
  }

  // The window its incident is found in: from an hour before its first event to its end.
  function incidentWindow(a) {
    const since = new Date(Date.parse(a.first_seen) - 3.6e6);
    const until = new Date(Date.parse(a.ends_at || a.last_seen) + 1000);
    return { since: since.toISOString(), until: until.toISOString() };
  }

  // The incidents the alert is about: the same workload or node, or one of its objects.
  async function incidents(a) {
    const w = incidentWindow(a);
    const params = { ...w, cluster: a.labels.cluster, namespace: a.labels.namespace };
    const list = await KT.api("incidents", params);
    const mine = new Set(objects(a).map((e) => e.object));
    const subjects = new Set([a.labels.correlation, a.labels.node ? "Node/" + a.labels.node : null].filter(Boolean));
    const found = list.filter((i) => subjects.has(i.subject) || i.objects.some((o) => mine.has(o)));
    return { found, w };
  }

  async function incidentSection(a) {
    let result;
    try {
      result = await incidents(a);
    } catch (e) {
      return h("p", { class: "empty" }, "Cannot look for its incident: " + e.message);
    }
    if (!result.found.length) return h("p", { class: "empty" }, "No incident found around it.");
    return h(
      "ul",
      { class: "incidents" },
      result.found.map((i) =>
        h(
          "li",
          {},
          KT.severityBadge(i.severity),
          " ",
          h("a", { href: KT.href("incident/" + encodeURIComponent(i.id), result.w), class: "incident-link" }, i.title),
          " — ",
          h("span", { class: "reason" }, i.root_cause.reason),
          ": ",
          h("span", { class: "note" }, i.root_cause.message)
        )
      )
    );
  }

  function silenceControl(a) {
    const box = h("div", { class: "silence-box" });
    if (a.silenced_by) {
      KT.append(box, [h("p", { class: "silenced" }, "Silenced by silence #" + a.silenced_by + ".")]);
    }
    const button = h("button", { type: "button", class: "silence" }, "Silence this group for " + SILENCE_FOR);
    const matchers = h("code", {}, a.silence_matchers.join(" "));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const s = await KT.api("silences", null, "POST", {
          matchers: a.silence_matchers,
          duration: SILENCE_FOR,
          comment: "from the page of alert " + a.id,
        });
        KT.replace(box, h("p", { class: "silenced", role: "status" }, "Silenced until ", h("time", {}, KT.time(s.ends_at)), " UTC by silence #" + s.id + " (", h("a", { href: "#/alerts" }, "silences"), ")."));
      } catch (e) {
        button.disabled = false;
        KT.showError(e);
      }
    });
    KT.append(box, [h("p", {}, button, " matching ", matchers)]);
    return box;
  }

  KT.pages.alert = async function (parts) {
    const id = parts[1] || "";
    const a = await KT.api("alerts/" + encodeURIComponent(id));
    const notes = ["description", "root_cause", "hint"].filter((k) => a.annotations[k]);
    const others = Object.keys(a.annotations).filter((k) => k !== "summary" && !notes.includes(k));
    const objs = objects(a);
    return h(
      "section",
      { id: "alert", "data-id": String(a.id) },
      h("p", {}, h("a", { href: "#/alerts" }, "← Alerts")),
      h("h1", {}, a.annotations.summary || a.rule),
      h(
        "dl",
        { class: "facts" },
        fact("State", h("span", { class: "status status-" + a.status }, a.status)),
        fact("Severity", KT.severityBadge(a.severity)),
        fact("Rule", a.rule),
        fact("Group", a.group_key),
        fact("Started", KT.time(a.starts_at)),
        a.ends_at ? fact("Ended", KT.time(a.ends_at)) : null,
        fact("Events", String(a.event_count) + " from " + KT.time(a.first_seen) + " to " + KT.time(a.last_seen))
      ),
      notes.map((k) => [h("h2", {}, { description: "Description", root_cause: "Root cause", hint: "What to check next" }[k]), h("p", { class: "note " + k }, a.annotations[k])]),
      silenceControl(a),
      h("h2", {}, "Incident"),
      await incidentSection(a),
      h("h2", {}, "Objects (" + objs.length + ")"),
      h("ul", { class: "objects" }, objs.map((e) => h("li", {}, KT.objectLink(e.object, e.cluster)))),
      h("h2", {}, "Deliveries"),
      a.deliveries.length
        ? KT.table(
            ["Notifier", "State", "Attempts", "Updated", "Delivered", "Last error"],
            a.deliveries.map((d) => [d.notifier, h("span", { class: "delivery delivery-" + d.state }, d.state), String(d.attempts), KT.time(d.updated_at), KT.time(d.delivered_at), d.last_error || ""]),
            { class: "deliveries" }
          )
        : h("p", { class: "empty" }, a.silenced_by ? "None: it was silenced." : "None."),
      h("h2", {}, "Sampled events"),
      KT.table(
        ["Last seen", "Object", "Reason", "Count", "Message"],
        a.events.map((e) => [KT.time(e.last_seen), KT.objectLink(e.object, e.cluster), e.reason, String(e.count), h("span", { class: "note" }, e.note)]),
        { class: "alert-events" }
      ),
      h("h2", {}, "Labels"),
      h("dl", { class: "facts labels" }, Object.entries(a.labels).map(([k, v]) => fact(k, v))),
      others.length ? [h("h2", {}, "Annotations"), h("dl", { class: "facts labels" }, others.map((k) => fact(k, a.annotations[k])))] : null
    );
  };
})();
