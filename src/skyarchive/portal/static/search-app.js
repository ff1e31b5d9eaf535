// The search page: wires the search panel, advanced search, facets, grid, sky view and details.
import { AdvancedSearch } from "./advanced-search.js";
import { api, setCsrfToken } from "./api.js";
import { addToBasket, basketCount } from "./basket-client.js";
import { showDetails } from "./details.js";
import { fillIcons, mayRetrieve } from "./dom.js";
import { Facets } from "./facets.js";
import { ResultsGrid } from "./results-grid.js";
import { initSearchPanel } from "./search-panel.js";
import { SkyView } from "./sky-view.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const caller = page.caller;
setCsrfToken(caller.csrf_token);
const $ = (id) => document.getElementById(id);
const state = { result: null, position: null, token: 0 };

const panel = initSearchPanel({ onSearch: (query) => search(query), onAdvanced: () => advanced.open(currentFilters()) });
const advanced = new AdvancedSearch($("advanced"), page.columns, (filters) => search({ collection: "filters", filters }));
const facets = new Facets($("facet-list"), page.columns, (opts) => refresh(opts));
const grid = new ResultsGrid($("grid"), [...page.columns], {
  onSelect: (selected) => { updateSelection(selected); drawSky(); },
  onHover: (obsid) => sky.highlight(obsid),
  onDetails: (row) => showDetails($("details"), row, grid.columns, { onDownload: guardDownload, onBasket: basketAdd }),
  onDownload: (row, event) => guardDownload(row, event),
  onPage: () => drawSky(),
});
const sky = new SkyView($("sky"), {
  onHover: (obsid) => grid.highlight(obsid),
  onSelect: (obsid) => { grid.reveal(obsid); grid.toggle(obsid, !grid.selected.has(obsid)); },
});
fillIcons();

function currentFilters() {
  return state.result?.query.collection === "filters" ? state.result.query.filters : null;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

async function search(query, { push = true } = {}) {
  const token = ++state.token;
  const started = performance.now();
  showError("");
  $("query-display").textContent = "Searching…";
  $("row-count").textContent = "";
  try {
    const body = { collection: query.collection, text: query.text || "", filters: query.filters || [] };
    const result = await api("/api/portal/search", { method: "POST", body });
    if (token !== state.token) return;
    state.result = result;
    state.position = result.query.position;
    if (push) pushUrl(query);
    grid.setColumns(result.columns);
    grid.selected.clear();
    facets.setRows(result.rows);
    $("results").hidden = false;
    $("query-display").textContent = result.query.display;
    refresh();
    updateSelection(grid.selected);
    $("results").dataset.renderMs = String(Math.round(performance.now() - started));
  } catch (err) {
    if (token !== state.token) return;
    $("query-display").textContent = "";
    $("results").hidden = true;
    showError(err.message);
    $("q").focus();
  }
}

function refresh(opts = {}) {
  if (!state.result) return;
  const shown = facets.filter(state.result.rows);
  grid.setRows(shown);
  facets.render(shown);
  const { total, returned } = state.result;
  let text = `Displaying ${shown.length.toLocaleString()} of ${returned.toLocaleString()} Total Rows`;
  if (total === 0) text = state.result.message || "No observations found";
  if (total > returned) text += ` (the first ${returned.toLocaleString()} of ${total.toLocaleString()} matches; narrow the search to see the rest)`;
  $("row-count").textContent = text;
  drawSky();
  if (opts.focus) document.querySelector(opts.focus)?.focus();
}

function drawSky() {
  if (state.result) sky.render(grid.pageRows(), state.position, grid.selected);
}

function updateSelection(selected) {
  const button = $("basket-add");
  button.disabled = selected.size === 0;
  button.textContent = selected.size ? `Add ${selected.size} selected to basket` : "Add selected to basket";
}

function guardDownload(row, event) {
  if (mayRetrieve(row, caller)) return;
  event.preventDefault();
  const dialog = $("notice");
  const login = $("notice-login");
  const program = row.proposal_id ? ` of program ${row.proposal_id}` : "";
  if (caller.anonymous) {
    $("notice-text").textContent = `${row.obs_id} is in the exclusive-access period${program}. `
      + "Log in with an account the program's PI has authorised to download it.";
    login.hidden = false;
    login.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  } else {
    $("notice-text").textContent = `${row.obs_id} is in the exclusive-access period${program}. `
      + `Ask the PI${program} to authorise ${caller.name}.`;
    login.hidden = true;
  }
  dialog.showModal();
}

async function basketAdd(obsids) {
  const message = await addToBasket(obsids);
  $("query-display").textContent = message;
}

$("basket-add").addEventListener("click", () => basketAdd([...grid.selected]));
$("facets-clear").addEventListener("click", () => facets.clear());
$("page-size").addEventListener("change", (event) => {
  grid.pageSize = Number(event.target.value);
  grid.setRows(grid.rows);
  drawSky();
});
$("columns-open").addEventListener("click", () => {
  grid.renderChooser($("columns-list"));
  $("columns-dialog").showModal();
});
$("columns-default").addEventListener("click", () => {
  grid.setVisible(grid.defaultVisible);
  grid.renderChooser($("columns-list"));
});
$("details").querySelector(".close").addEventListener("click", () => $("details").close());

function pushUrl(query) {
  const params = new URLSearchParams({ collection: query.collection });
  if (query.collection === "filters") params.set("filters", JSON.stringify(query.filters || []));
  else params.set("q", query.text || "");
  const url = `/search?${params}`;
  if (url !== location.pathname + location.search) history.pushState(query, "", url);
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  const collection = params.get("collection") || "position";
  if (collection === "filters") {
    try { return { collection, filters: JSON.parse(params.get("filters") || "[]") }; } catch { return null; }
  }
  const text = params.get("q");
  return text ? { collection, text } : null;
}

window.addEventListener("popstate", () => {
  const query = fromUrl();
  if (query) { panel.set(query.collection, query.text); search(query, { push: false }); }
});

const initial = fromUrl();
if (initial) search(initial, { push: false });
else if (new URLSearchParams(location.search).get("advanced")) advanced.open();
else $("q").focus();
basketCount().catch(() => {});
