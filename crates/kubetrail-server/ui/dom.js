// kubetrail UI: building the page safely and talking to the API.
//
// Every string that comes from the server (event notes, names, reasons) is added as a text node
// or with textContent: it is never parsed as HTML. Attributes are set one by one, never from
// event data except through encodeURIComponent into our own "#/..." links.
"use strict";

const KT = {};

// h("div", {class: "x"}, "text", child, [more]) -> an element. Strings become text nodes.
KT.h = function (tag, attrs, ...children) {
  const el = document.createElement(tag);
  KT.setAttrs(el, attrs);
  KT.append(el, children);
  return el;
};

// An SVG element, same calling convention.
KT.svg = function (tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  KT.setAttrs(el, attrs);
  KT.append(el, children);
  return el;
};

KT.setAttrs = function (el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) {
      // Handlers are functions of ours, never strings.
      if (typeof v === "function") el.addEventListener(k.slice(2), v);
      continue;
    }
    if (k === "text") {
      el.textContent = String(v);
      continue;
    }
    el.setAttribute(k, v === true ? "" : String(v));
  }
};

KT.append = function (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
};

// Replaces the children of el.
KT.replace = function (el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  KT.append(el, children);
};

KT.token = function () {
  return sessionStorage.getItem("kubetrail.token") || "";
};

KT.setToken = function (t) {
  if (t) sessionStorage.setItem("kubetrail.token", t);
  else sessionStorage.removeItem("kubetrail.token");
};

// An API failure: its status and the server's {"error": {"code", "message"}}.
KT.ApiError = class extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
};

// GET (or another method) of /api/v1/<path> with params; resolves to the parsed JSON.
KT.api = async function (path, params, method, body) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") q.set(k, v);
  }
  const qs = q.toString();
  const headers = {};
  const token = KT.token();
  if (token) headers["Authorization"] = "Bearer " + token;
  const init = { method: method || "GET", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1/" + path + (qs ? "?" + qs : ""), init);
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new KT.ApiError(res.status, err.code || "error", err.message || res.statusText);
  }
  return data;
};

// "2024-05-01 12:00:00" in UTC.
KT.time = function (t) {
  if (!t) return "";
  return String(t).replace("T", " ").replace(/\.\d+/, "").replace("Z", "");
};

// "#/object/ns/Kind/name" for "ns/Kind/name" (or "Kind/name" of a Node).
KT.objectLink = function (object, cluster) {
  const parts = String(object).split("/");
  const path = parts.length === 2 ? ["-", parts[0], parts[1]] : parts;
  let href = "#/object/" + path.map(encodeURIComponent).join("/");
  if (cluster) href += "?cluster=" + encodeURIComponent(cluster);
  return KT.h("a", { href, class: "object" }, object);
};

KT.severityBadge = function (s) {
  return KT.h("span", { class: "sev sev-" + String(s).replace(/[^a-z]/g, "") }, s);
};

// A table: headers and rows of cells (strings or nodes).
KT.table = function (headers, rows, attrs) {
  return KT.h(
    "table",
    attrs || {},
    KT.h("thead", {}, KT.h("tr", {}, headers.map((x) => KT.h("th", { scope: "col" }, x)))),
    KT.h("tbody", {}, rows.map((r) => (r instanceof Node ? r : KT.h("tr", {}, r.map((c) => KT.h("td", {}, c))))))
  );
};

// Parses "#/page/a/b?x=1" into {parts: ["page","a","b"], params: {x: "1"}}.
KT.route = function () {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  return { parts, params };
};

// "#/page?params" for the given page and params (empty values dropped).
KT.href = function (page, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") q.set(k, v);
  }
  const qs = q.toString();
  return "#/" + page + (qs ? "?" + qs : "");
};
