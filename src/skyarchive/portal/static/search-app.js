// The search page: wires the search panel, advanced search, facets, grid, sky view and details.
// Observation searches keep their rows here; the keyword collection (keyword-search.js) has
// its own server-paged grid in the same place, and "Show observations" comes back here.
import { AdvancedSearch } from "./advanced-search.js";
import { api, setCsrfToken } from "./api.js";
import { addFilesToBasket, addToBasket, basketCount } from "./basket-client.js";
import { showDetails } from "./details.js";
import { fillIcons, mayRetrieve } from "./dom.js";
import { Facets } from "./facets.js";
import { KeywordCollection } from "./keyword-search.js";
import { ResultsGrid } from "./results-grid.js";
import { initSearchPanel } from "./search-panel.js";
import { SkyView } from "./sky-view.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const caller = page.caller;
setCsrfToken(caller.csrf_token);
const $ = (id) => document.getElementById(id);
const state = { result: null, position: null, token: 0, keywords: false };

const panel = initSearchPanel({
  onSearch: (query) => search(query.collection === "keywords" ? { ...query, filters: keywords.dialog.filters() } : query),
  onAdvanced: () => advanced.open(currentFilters()),
  onInstrument: () => keywords.useInstrument(panel.get().instrument).catch((err) => showError(err.message)),
});
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
const keywords = new KeywordCollection({
  onSearch: (query) => search(query),
  onSelect: (selected) => updateSelection(selected),
  onDetails: (row) => showDetails($("details"), { obsid: row.obsid, obs_id: row.filename }, page.columns,
    { onDownload: guardDownload, onBasket: basketAdd }),
  onDownload: (row, event) => guardDownload({ ...row, obs_id: row.filename }, event), // a file, named so
  onError: (message) => showError(message),
});
const active = () => (state.keywords ? keywords.grid : grid);
fillIcons();

function currentFilters() {
  return state.result?.query.collection === "filters" ? state.result.query.filters : null;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

function useKeywords(on) {
  state.keywords = on;
  if (on) state.result = null; // the observation grid's rows are gone from the page
  $("sky-area").hidden = on;
  $("results").classList.toggle("no-sky", on);
  $("show-observations").hidden = !on;
  $("create-doi").hidden = on;
  $("legend-download").textContent = on ? "download the file" : "download the recommended files (zip)";
}

async function search(query, { push = true } = {}) {
  const token = ++state.token;
  const started = performance.now();
  showError("");
  $("query-display").textContent = "Searching…";
  $("row-count").textContent = "";
  try {
    const shown = query.collection === "keywords"
      ? await showFiles(query, push, token) : await showObservationRows(query, push, token);
    if (!shown) return;
    $("results").hidden = false;
    $("results").dataset.renderMs = String(Math.round(performance.now() - started));
  } catch (err) {
    if (token !== state.token) return;
    $("query-display").textContent = "";
    $("results").hidden = true;
    showError(err.message);
    $("q").focus();
  }
}

async function showObservationRows(query, push, token) {
  const body = { collection: query.collection, text: query.text || "", filters: query.filters || [] };
  const result = await api("/api/portal/search", { method: "POST", body });
  if (token !== state.token) return false;
  useKeywords(false);
  state.result = result;
  state.position = result.query.position;
  if (push) pushUrl(query);
  grid.setColumns(result.columns);
  grid.selected.clear();
  facets.setRows(result.rows);
  $("query-display").textContent = result.query.display;
  refresh();
  updateSelection(grid.selected);
  return true;
}

async function showFiles(query, push, token) {
  const result = await keywords.search(query);
  if (token !== state.token || !result) return false;
  useKeywords(true);
  if (push) pushUrl({ collection: "keywords", ...keywords.query });
  $("query-display").textContent = result.display;
  updateSelection(keywords.grid.selected);
  return true;
}

async function showObservations() {
  showError("");
  try {
    const obsids = await keywords.observations();
    if (!obsids.length) { showError("These files belong to no observation of this archive."); return; }
    panel.set("position", "");
    await search({ collection: "filters", filters: [{ paramName: "obsid", values: obsids }] });
  } catch (err) {
    showError(err.message);
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
  const files = selected.size === 1 ? "file" : "files";
  const what = state.keywords ? ` ${files}` : "";
  button.disabled = selected.size === 0;
  button.textContent = selected.size ? `Add ${selected.size} selected${what} to basket` : "Add selected to basket";
  $("show-observations").textContent = selected.size
    ? `Show observations of ${selected.size} selected ${files}` : "Show observations";
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

$("basket-add").addEventListener("click", async () => {
  if (!state.keywords) { basketAdd([...grid.selected]); return; }
  $("query-display").textContent = await addFilesToBasket([...keywords.grid.selected]);
});
$("show-observations").addEventListener("click", () => showObservations());
$("create-doi").addEventListener("click", () => {
  // The rows the filters leave (every page), handed to "Create a DOI" in this tab.
  const obsids = facets.filter(state.result?.rows || []).map((row) => row.obsid);
  if (!obsids.length) { showError("No observations to make a data set of."); return; }
  if (state.result.total > state.result.returned) { // the grid holds only the first rows
    showError(`The search matched ${state.result.total.toLocaleString()} observations and shows the first ${state.result.returned.toLocaleString()}; narrow it so the data set is all of them.`);
    return;
  }
  if (obsids.length > page.doi_limit) {
    showError(`A DOI names at most ${page.doi_limit.toLocaleString()} observations; these are ${obsids.length.toLocaleString()}. Narrow the search or the filters.`);
    return;
  }
  sessionStorage.setItem("skyarchive.doi.obsids", JSON.stringify({ obsids, query: state.result.query.display }));
  window.location.href = "/doi/new?source=search";
});
$("keyword-filters-open").addEventListener("click", () => keywords.openDialog().catch((err) => showError(err.message)));
$("facets-clear").addEventListener("click", () => (state.keywords ? keywords.clearFacets() : facets.clear()));
$("page-size").addEventListener("change", (event) => {
  for (const each of [grid, keywords.grid]) each.pageSize = Number(event.target.value);
  if (state.keywords) { keywords.grid.goTo(1); return; }
  grid.setRows(grid.rows);
  drawSky();
});
$("columns-open").addEventListener("click", () => {
  active().renderChooser($("columns-list"));
  $("columns-dialog").showModal();
});
$("columns-default").addEventListener("click", () => {
  active().setVisible(active().defaultVisible);
  active().renderChooser($("columns-list"));
});
$("details").querySelector(".close").addEventListener("click", () => $("details").close());

function pushUrl(query) {
  const params = new URLSearchParams({ collection: query.collection });
  if (query.collection === "keywords") {
    params.set("instrument", query.instrument);
    if (query.text) params.set("q", query.text);
    if (query.filters?.length) params.set("filters", JSON.stringify(query.filters));
  } else if (query.collection === "filters") params.set("filters", JSON.stringify(query.filters || []));
  else params.set("q", query.text || "");
  const url = `/search?${params}`;
  if (url !== location.pathname + location.search) history.pushState(query, "", url);
}

// MAST's portal permalinks: ?searchQuery=<JSON> with "service": "DOIOBS" is a search by DOI.
function fromMastQuery(value) {
  let parsed = null;
  try { parsed = JSON.parse(value); } catch { return { collection: "position", text: value }; }
  if (parsed?.service === "DOIOBS" && typeof parsed.inputText === "string") return { collection: "doi", text: parsed.inputText };
  return null;
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  if (params.has("searchQuery")) return fromMastQuery(params.get("searchQuery"));
  const collection = params.get("collection") || "position";
  if (collection === "keywords") {
    let filters = [];
    try { filters = JSON.parse(params.get("filters") || "[]"); } catch { return null; }
    return { collection, instrument: params.get("instrument") || "NIRCAM", text: params.get("q") || "", filters,
      keyword: params.get("keyword") ?? (params.has("dialog") ? "" : null) };
  }
  if (collection === "filters") {
    try { return { collection, filters: JSON.parse(params.get("filters") || "[]") }; } catch { return null; }
  }
  const text = params.get("q");
  return text ? { collection, text } : null;
}

window.addEventListener("popstate", () => {
  const query = fromUrl();
  if (query) { panel.set(query.collection, query.text, query.instrument); search(query, { push: false }); }
});

const initial = fromUrl();
if (typeof initial?.keyword === "string") { // e.g. from the Keyword Dictionary: that keyword's dialog
  panel.set("keywords", initial.text, initial.instrument);
  if (initial.filters.length) search(initial, { push: false });
  keywords.openDialog(initial.keyword).catch((err) => showError(err.message));
} else if (initial) {
  if (initial.collection !== "filters") panel.set(initial.collection, initial.text);
  search(initial, { push: false });
}
else if (new URLSearchParams(location.search).get("advanced")) advanced.open();
else $("q").focus();
basketCount().catch(() => {});
