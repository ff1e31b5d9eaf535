// The basket page: filters with counts from the server, the file tree, and deliveries
// (zip, tar.gz, cURL script, batch staging) over /api/portal/basket (docs/delivery.md).
import { api, setCsrfToken } from "./api.js";
import { setBasketCount } from "./basket-client.js";
import { formatBytes, h, icon, replaceBoxes } from "./dom.js";
import { FileTree } from "./file-tree.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const caller = page.caller;
setCsrfToken(caller.csrf_token);
const $ = (id) => document.getElementById(id);

const FACETS = [
  { name: "mrp", label: "Recommended" },
  { name: "productType", label: "Product category" },
  { name: "productSubGroupDescription", label: "Group" },
  { name: "calib_level", label: "Calibration level" },
  { name: "extension", label: "Extension" },
];
const DEFAULT_FILTERS = () => ({
  mrp: new Set([true]), productType: new Set(), productSubGroupDescription: new Set(),
  calib_level: new Set(), extension: new Set(),
});
/** Methods that answer a list of the files (their left-out files are notes in that list). */
const LISTS = new Set(["curl", "urls"]);
const BUTTON_TEXT = { zip: "Download zip", "tar.gz": "Download tar.gz", curl: "Download cURL script", urls: "Download list of URLs", staging: "Request staging" };
const POLL_MS = 1000;

const state = { filters: DEFAULT_FILTERS(), facets: {}, summary: null, loading: 0 };
const tree = new FileTree($("file-tree"), { onChange: () => showSummary(), onRemove: (obs) => removeObservation(obs) });

function showError(message) {
  $("basket-error").hidden = !message;
  $("basket-error").textContent = message || "";
}

function mrpFilter() {
  const chosen = state.filters.mrp;
  return chosen.size === 1 ? [...chosen][0] : null;
}

function query() {
  const params = new URLSearchParams();
  const mrp = mrpFilter();
  if (mrp !== null) params.set("mrp", String(mrp));
  for (const { name } of FACETS.slice(1)) {
    for (const value of state.filters[name]) params.append(name, String(value));
  }
  return params;
}

async function load({ reselect = true, focus = null } = {}) {
  const token = ++state.loading;
  const body = $("basket-body");
  body.setAttribute("aria-busy", "true");  // assistive technology (and tests) wait for the new tree
  showError("");
  try {
    const basket = await api(`/api/portal/basket?${query()}`);
    if (token !== state.loading) return;
    state.facets = basket.facets;
    state.summary = basket.summary;
    setBasketCount(basket.summary);
    const empty = basket.summary.files === 0;
    $("basket-empty").hidden = !empty;
    body.hidden = empty;
    // Focus goes back to the box the user toggled only if it still has it: re-rendering
    // replaces the box, but a user who has moved on (to the tree, say) keeps their place.
    const refocus = focus && document.activeElement?.matches(focus);
    renderFacets();
    tree.setTree(basket.tree, { reselect });
    showSummary();
    if (refocus) document.querySelector(focus)?.focus();
  } catch (err) {
    if (token !== state.loading) return;
    $("basket-status").textContent = "";
    showError(`The basket could not be loaded: ${err.message}`);
  } finally {
    if (token === state.loading) body.removeAttribute("aria-busy");
  }
}

function facetValues(name) {
  const values = [...(state.facets[name] || [])];
  if (name === "mrp") {
    // Both choices stay on the page even when the basket has no file of one kind.
    for (const [value, label] of [[true, "Minimum Recommended Products"], [false, "Other products"]]) {
      if (!values.some((v) => v.value === value)) values.push({ value, count: 0, total: 0, label: `${label} (0 of 0)` });
    }
    values.sort((a, b) => Number(b.value) - Number(a.value));
  }
  return values;
}

function renderFacets() {
  const layout = JSON.stringify(FACETS.map(({ name }) => facetValues(name).map((v) => v.value)));
  const groups = FACETS.map(({ name, label }) => {
    const values = facetValues(name);
    if (!values.length) return null;
    const id = `bf-${name}`;
    return h("fieldset", { class: "facet", id },
      h("legend", {}, label),
      values.map((v, i) => {
        const key = JSON.stringify(v.value);
        const box = h("input", {
          type: "checkbox", id: `${id}-${i}`, checked: state.filters[name].has(v.value),
          dataset: { facet: name, value: key },
          onchange: (event) => toggleFilter(name, v.value, event.target.checked, `#${id}-${i}`),
        });
        return h("label", { class: `facet-value${v.count ? "" : " none-shown"}`, for: `${id}-${i}` }, box,
          h("span", { class: "facet-name" }, v.label));
      }));
  });
  replaceBoxes($("basket-facets"), layout, groups.filter(Boolean));
}

function toggleFilter(name, value, on, focus) {
  if (on) state.filters[name].add(value); else state.filters[name].delete(value);
  load({ focus });
}

function showSummary() {
  const s = tree.summary();
  const obs = state.summary ? state.summary.observations : 0;
  $("basket-status").textContent = `${obs} observation${obs === 1 ? "" : "s"}, ${s.files} files (${formatBytes(s.bytes)}) in the basket`;
  $("selection-summary").textContent = `${s.selected} of ${s.files} files selected, ${formatBytes(s.selectedBytes)}`;
  const excluded = $("excluded-summary");
  excluded.hidden = s.excluded === 0;
  if (s.excluded) {
    const why = caller.anonymous
      ? "exclusive-access period; log in with an account the program's PI authorised"
      : "exclusive-access period; you are not authorised for the program (ask its PI)";
    excluded.replaceChildren(h("span", { class: "icon exclusive" }, icon("lock")),
      ` ${s.excluded} file${s.excluded === 1 ? "" : "s"} matching the filters ${s.excluded === 1 ? "is" : "are"} excluded: ${why}.`);
    if (caller.anonymous) excluded.append(" ", h("a", { href: "/login?next=/basket" }, "Log in"));
  }
  $("deliver").disabled = s.selected === 0;
}

function method() {
  return new FormData($("delivery-form")).get("method") || "zip";
}

/** Anonymous callers stage by giving an e-mail address for the notice. */
function showEmailRow() {
  const row = $("staging-email-row");
  if (!row) return;
  row.hidden = method() !== "staging";
  $("staging-email").required = !row.hidden;
}

function setStatus(...content) {
  $("delivery-status").replaceChildren(...content);
}

async function deliver(event) {
  event.preventDefault();
  const s = tree.summary();
  if (!s.selected) { setStatus("Select files first."); return; }
  const chosen = method();
  const removeCompleted = $("remove-completed").checked;
  const button = $("deliver");
  button.disabled = true;
  setStatus(chosen === "staging" ? "Requesting staging…" : "Preparing the download…");
  try {
    const info = await api("/api/portal/basket/deliveries", {
      method: "POST",
      body: { method: chosen, filters: {}, product_ids: s.productIds, remove_completed: removeCompleted,
        email: chosen === "staging" && caller.anonymous ? $("staging-email").value.trim() : null },
    });
    const files = `${info.files_total} file${info.files_total === 1 ? "" : "s"} (${formatBytes(info.bytes_total)})`;
    const listedIn = LISTS.has(chosen) ? "as notes in the file" : "in MANIFEST.HTML";
    const skipped = info.not_included?.length ? `; ${info.not_included.length} not included (listed ${listedIn})` : "";
    if (chosen === "staging") {
      setStatus(`Staging of ${files} is queued${skipped}. `,
        h("a", { href: `/deliveries/${encodeURIComponent(info.request_id)}` }, "Follow it on the delivery status page"),
        ". You will get an e-mail when it is ready.");
      if (removeCompleted) followUntilDone(info.request_id);
    } else {
      startDownload(`/api/portal/deliveries/${encodeURIComponent(info.request_id)}/download`);
      setStatus(`Your download of ${files} has started${skipped}.`
        + (removeCompleted ? " The files leave the basket once it is complete." : ""));
      if (removeCompleted) followUntilDone(info.request_id);
    }
  } catch (err) {
    setStatus(h("span", { class: "error" }, err.message));
  } finally {
    button.disabled = tree.summary().selected === 0;
  }
}

function startDownload(url) {
  const link = h("a", { href: url, download: "", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}

/** Poll a request until it is done, then show the basket without the delivered files. */
async function followUntilDone(requestId) {
  const deadline = Date.now() + 6 * 3600 * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    let info;
    try { info = await api(`/api/portal/deliveries/${encodeURIComponent(requestId)}`); } catch { continue; }
    if (info.status === "done") {
      await load();
      setStatus("Delivery complete: its files were removed from the basket.");
      return;
    }
    if (info.status === "failed" || info.status === "expired") return;
  }
}

async function removeObservation(obs) {
  if (!obs) return;
  try {
    await api("/api/portal/basket/remove", { method: "POST", body: { obsids: [obs.obsid] } });
    setStatus(`${obs.obs_id} was removed from the basket.`);
    await load({ reselect: false });
    $("tree-title").focus();
  } catch (err) {
    setStatus(h("span", { class: "error" }, err.message));
  }
}

async function clearBasket() {
  try {
    await api("/api/portal/basket", { method: "DELETE" });
    setStatus("The basket is empty.");
    await load();
  } catch (err) {
    setStatus(h("span", { class: "error" }, err.message));
  }
}

$("delivery-form").addEventListener("submit", deliver);
$("delivery-form").addEventListener("change", (event) => {
  if (event.target.name !== "method") return;
  $("deliver").textContent = BUTTON_TEXT[method()] || "Download";
  showEmailRow();
});
$("select-all").addEventListener("click", () => tree.setAll(true));
$("select-none").addEventListener("click", () => tree.setAll(false));
$("expand-all").addEventListener("click", (event) => {
  const button = event.currentTarget;
  const on = button.dataset.expanded !== "true";
  button.dataset.expanded = String(on);
  button.textContent = on ? "Collapse all" : "Expand all";
  tree.expandAll(on);
});
$("filters-reset").addEventListener("click", () => { state.filters = DEFAULT_FILTERS(); load(); });
$("basket-clear").addEventListener("click", () => {
  $("clear-dialog").returnValue = "";
  $("clear-dialog").showModal();
});
$("clear-dialog").addEventListener("close", () => {
  if ($("clear-dialog").returnValue === "clear") clearBasket();
});
$("deliver").textContent = BUTTON_TEXT[method()];
load();
