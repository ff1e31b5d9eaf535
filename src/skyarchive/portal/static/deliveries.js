// The delivery status page: the signed-in user's requests (or one request), refreshed while
// any of them is queued or running. Data from /api/portal/deliveries (docs/delivery.md).
import { api } from "./api.js";
import { basketCount } from "./basket-client.js";
import { formatBytes, h } from "./dom.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;
const METHODS = { zip: "Zip file", tar: "Tar file", "tar.gz": "Tar file (gzip)", curl: "cURL script", urls: "List of URLs", staging: "Batch staging" };
const ACTIVE = new Set(["queued", "running"]);
let previous = new Map();

function when(seconds) {
  if (!seconds) return "—";
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function shortId(id) { return id.length > 10 ? `${id.slice(0, 10)}…` : id; }

function statusCell(info) {
  return h("span", { class: `delivery-state state-${info.status}` }, info.status);
}

function progressCell(info) {
  const total = info.files_total || 0;
  const label = `${info.files_done} of ${total} files`
    + (info.files_missing ? `, ${info.files_missing} missing` : "")
    + ` (${formatBytes(info.bytes_done)} of ${formatBytes(info.bytes_total)})`;
  return h("div", { class: "delivery-progress" },
    h("progress", { max: String(Math.max(total, 1)), value: String(info.files_done),
      "aria-label": `Progress of request ${shortId(info.request_id)}` }),
    h("span", {}, label));
}

function locationCell(info) {
  const id = encodeURIComponent(info.request_id);
  if (info.method === "staging") {
    if (info.status === "done") return h("a", { href: `/staging/${id}/` }, "Staged files");
    if (info.status === "expired") return "expired";
    if (info.status === "failed") return "—";
    return h("span", { class: "hint" }, "when done");
  }
  if (info.status === "expired") return "expired";
  return h("a", { href: `/api/portal/deliveries/${id}/download`, download: "" },
    info.status === "done" ? "Download again" : "Download");
}

function expiryCell(info) {
  if (info.expires_at) return when(info.expires_at);
  return info.method === "staging" && ACTIVE.has(info.status) ? "after it finishes" : "—";
}

function table(deliveries) {
  const head = ["Request", "Requested", "Method", "Status", "Progress", "Location", "Expires"];
  return h("table", { class: "deliveries-table" },
    h("caption", {}, page.request_id ? "The request" : "Your delivery requests, newest first"),
    h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, deliveries.map((info) => h("tr", { dataset: { request: info.request_id, status: info.status } },
      h("th", { scope: "row" }, h("a", { href: `/deliveries/${encodeURIComponent(info.request_id)}`,
        "aria-label": `Request ${info.request_id}` }, shortId(info.request_id))),
      h("td", {}, when(info.created_at)),
      h("td", {}, METHODS[info.method] || info.method),
      h("td", {}, statusCell(info)),
      h("td", {}, progressCell(info)),
      h("td", {}, locationCell(info)),
      h("td", {}, expiryCell(info))))));
}

function details(info) {
  const parts = [];
  if (info.error) parts.push(h("p", { class: "error" }, `The request failed: ${info.error}`));
  if (info.not_included?.length) {
    parts.push(h("h2", {}, `Not included (${info.not_included.length})`),
      h("ul", { class: "not-included" }, info.not_included.map((e) => h("li", {}, h("code", {}, e.file), `: ${e.reason}`))));
  }
  if (info.method === "staging" && info.status === "done") {
    parts.push(h("h2", {}, "Fetch the staged files"),
      h("pre", { class: "command" }, info.fetch_command));
    if (info.needs_token) {
      parts.push(h("p", { class: "hint" }, "Some files are in an exclusive-access period: set MAST_API_TOKEN to one of your ",
        h("a", { href: "/account" }, "API tokens"), " first."));
    }
  }
  return parts;
}

function announce(deliveries, active) {
  const changed = deliveries.filter((d) => previous.has(d.request_id) && previous.get(d.request_id) !== d.status);
  previous = new Map(deliveries.map((d) => [d.request_id, d.status]));
  const parts = [];
  if (!deliveries.length) parts.push("No delivery requests yet.");
  else parts.push(`${deliveries.length} request${deliveries.length === 1 ? "" : "s"}.`);
  for (const d of changed) parts.push(`Request ${shortId(d.request_id)} is ${d.status}.`);
  if (active) parts.push("Refreshing while a request is queued or running…");
  $("deliveries-status").textContent = parts.join(" ");
}

async function load() {
  let deliveries;
  try {
    deliveries = page.request_id
      ? [await api(`/api/portal/deliveries/${encodeURIComponent(page.request_id)}`)]
      : (await api("/api/portal/deliveries")).deliveries;
  } catch (err) {
    $("deliveries-error").hidden = false;
    $("deliveries-error").textContent = err.message;
    $("deliveries-status").textContent = "";
    if (err.status === 0) setTimeout(load, REFRESH_MS * 3);
    return;
  }
  $("deliveries-error").hidden = true;
  const active = deliveries.some((d) => ACTIVE.has(d.status));
  const focused = document.activeElement?.closest?.("#deliveries a")?.getAttribute("href");
  const content = deliveries.length ? [table(deliveries)] : [];
  if (page.request_id && deliveries.length) content.push(...details(deliveries[0]));
  $("deliveries").replaceChildren(...content);
  if (focused) $("deliveries").querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
  announce(deliveries, active);
  if (active) setTimeout(load, REFRESH_MS);
}

load();
basketCount().catch(() => {});
