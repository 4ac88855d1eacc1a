// kubetrail UI: the router (hash based), sign-in with a token, and keyboard shortcuts.
"use strict";

const PAGES = {
  "": KT.pages.overview,
  fleet: KT.fleetPage,
  events: KT.pages.events,
  incidents: KT.pages.incidents,
  incident: KT.pages.incident,
  object: KT.pages.object,
  patterns: KT.pages.patterns,
  anomalies: KT.pages.anomalies,
  alerts: KT.pages.alerts,
  alert: KT.pages.alert,
};

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let rendering = 0;

KT.showError = function (e) {
  if (e instanceof KT.ApiError && e.status === 401) {
    KT.replace(main, signIn(e.message));
    return;
  }
  const box = KT.h("div", { class: "error", role: "alert" }, KT.h("strong", {}, "Error: "), e.message || String(e));
  main.insertBefore(box, main.firstChild);
};

function signIn(message) {
  const input = KT.h("input", { type: "password", name: "token", id: "token-input", autocomplete: "off", required: true });
  const form = KT.h(
    "form",
    { class: "signin", id: "signin" },
    KT.h("h1", {}, "Sign in"),
    KT.h("p", {}, message),
    KT.h("label", {}, "Bearer token ", input),
    KT.h("button", { type: "submit" }, "Sign in")
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    KT.setToken(input.value.trim());
    KT.render();
  });
  setTimeout(() => input.focus(), 0);
  return form;
}

async function who() {
  const el = document.getElementById("who");
  try {
    const me = await KT.api("me");
    const scope = me.namespaces ? " · " + me.namespaces.join(", ") : me.admin ? " · all namespaces" : "";
    KT.replace(el, me.name + scope);
  } catch (e) {
    KT.replace(el, "");
  }
}

KT.render = async function () {
  const ticket = ++rendering;
  const { parts, params } = KT.route();
  const page = PAGES[parts[0] || ""];
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.getAttribute("href").replace(/^#\/?/, "");
    const active = target === (parts[0] || "") || (target === "incidents" && parts[0] === "incident") || (target === "alerts" && parts[0] === "alert");
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  statusLine.textContent = "Loading…";
  main.setAttribute("aria-busy", "true");
  try {
    if (!page) throw new Error("no such page");
    const node = await page(parts, params, main);
    if (ticket !== rendering) return;
    KT.replace(main, node);
    document.title = "kubetrail · " + ((main.querySelector("h1") || {}).textContent || "");
  } catch (e) {
    if (ticket !== rendering) return;
    KT.replace(main);
    KT.showError(e);
  } finally {
    if (ticket === rendering) {
      statusLine.textContent = "";
      main.removeAttribute("aria-busy");
      main.dataset.page = parts[0] || "overview";
    }
  }
  who();
};

function typing(target) {
  const tag = (target && target.tagName) || "";
  return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA";
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (typing(ev.target)) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  const nav = document.querySelector(`#nav a[data-key="${ev.key}"]`);
  if (nav) {
    ev.preventDefault();
    location.hash = nav.getAttribute("href");
    return;
  }
  if (ev.key === "/") {
    const input = main.querySelector("form input");
    if (input) {
      ev.preventDefault();
      input.focus();
    }
    return;
  }
  if (ev.key === "r") {
    KT.render();
    return;
  }
  if (ev.key === "?") {
    document.getElementById("keys").toggleAttribute("hidden");
    return;
  }
  if (KT.tableKeys(ev)) ev.preventDefault();
});

document.getElementById("token-button").addEventListener("click", () => {
  KT.replace(main, signIn(KT.token() ? "Use another token." : "Give your kubetrail token."));
});

window.addEventListener("hashchange", KT.render);
KT.render();
