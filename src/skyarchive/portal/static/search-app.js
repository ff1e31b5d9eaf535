// The search page: wires the search panel, advanced search, facets, grid, sky view and details.
// Observation searches are paged, sorted and faceted by the server (one page in hand); the
// keyword collection (keyword-search.js) has its own server-paged grid in the same place, and
// "Show observations" comes back here. The page's whole state lives in its URL (url-state.js).
import { AdvancedSearch } from "./advanced-search.js";
import { AlbumView } from "./album-view.js";
import { api, setCsrfToken } from "./api.js";
import { addFilesToBasket, addToBasket, basketCount } from "./basket-client.js";
import { showDetails } from "./details.js";
import { fillIcons, mayRetrieve } from "./dom.js";
import { Facets } from "./facets.js";
import { KeywordCollection } from "./keyword-search.js";
import { ResultsGrid } from "./results-grid.js";
import { initSearchPanel } from "./search-panel.js";
import { SkyView } from "./sky-view.js";
import { stateFromUrl, stateToUrl } from "./url-state.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const caller = page.caller;
setCsrfToken(caller.csrf_token);
const $ = (id) => document.getElementById(id);
// query: the shown observation search ({collection, text, filters}); view: list | album
const state = { result: null, position: null, token: 0, keywords: false, query: null, view: "list", row: null };

const panel = initSearchPanel({
  onSearch: (query) => search(query.collection === "keywords" ? { ...query, filters: keywords.dialog.filters() } : query),
  onAdvanced: () => advanced.open(currentFilters()),
  onInstrument: () => keywords.useInstrument(panel.get().instrument).catch((err) => showError(err.message)),
});
const advanced = new AdvancedSearch($("advanced"), page.columns, (filters) => search({ collection: "filters", filters }));
const facets = new Facets($("facet-list"), page.columns, (opts) => { grid.page = 1; fetchPage(opts).catch(() => {}); });
const grid = new ResultsGrid($("grid"), [...page.columns], {
  onSelect: (selected) => { updateSelection(selected); drawSky(); replaceUrl(); },
  onHover: (obsid) => sky.highlight(obsid),
  onDetails: (row) => openDetails(row),
  onDownload: (row, event) => guardDownload(row, event),
  onRemote: (opts) => fetchPage(opts).catch(() => {}), // fetchPage shows the error
}, { remote: true });
const album = new AlbumView($("album"), grid, { onDetails: (row) => openDetails(row) });
const sky = new SkyView($("sky"), {
  onHover: (obsid) => grid.highlight(obsid),
  onSelect: (obsid) => { grid.reveal(obsid); grid.toggle(obsid, !grid.selected.has(obsid)); },
}, { hips: page.hips });
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
  performance.mark("skyarchive-search-start");
  showError("");
  $("query-display").textContent = "Searching…";
  $("row-count").textContent = "";
  try {
    const shown = query.collection === "keywords"
      ? await showFiles(query, push, token) : await showObservationRows(query, push, token);
    if (!shown) return;
    $("results").hidden = false;
    $("results").dataset.renderMs = String(Math.round(performance.now() - started));
    // Grid, facets and sky are in the page now; they are painted in the next frame, so the
    // measure taken just after it is "searched to drawn" (read by benchmarks/bench_portal_browser.py).
    requestAnimationFrame(() => setTimeout(() => {
      if (token === state.token) performance.measure("skyarchive-search", "skyarchive-search-start");
    }));
  } catch (err) {
    if (token !== state.token) return;
    $("query-display").textContent = "";
    $("results").hidden = true;
    showError(err.message);
    $("q").focus();
  }
}

/** Run an observation search; ``query`` may carry the facets, sort, page, view and selection
 * of a shared link (otherwise: none chosen, page 1). */
async function showObservationRows(query, push, token) {
  state.query = { collection: query.collection, text: query.text || "", filters: query.filters || [] };
  facets.setChosen(query.facets);
  grid.sort = query.sort ? { name: query.sort, dir: query.descending ? -1 : 1 } : { name: null, dir: 1 };
  grid.page = query.page || 1;
  if (query.pagesize) setPageSize(query.pagesize);
  grid.selected = new Set(query.selected || []);
  state.view = query.view || "list";
  const result = await fetchPage({ push, token });
  if (!result) return false;
  updateSelection(grid.selected);
  if (query.row) openDetails({ obsid: query.row }, { remember: false });
  return true;
}

/** Ask the server for the current page (after a search, a facet, a sort or a page change). */
async function fetchPage({ push = true, token = ++state.token, focus = null } = {}) {
  if (!state.query) return null;
  const body = {
    ...state.query, facets: facets.chosenObject(), sort: grid.sort.name, descending: grid.sort.dir < 0,
    page: grid.page, pagesize: grid.pageSize,
  };
  let result;
  try {
    result = await api("/api/portal/search", { method: "POST", body });
  } catch (err) {
    if (token === state.token) showError(err.message);
    throw err;
  }
  if (token !== state.token) return null;
  useKeywords(false);
  state.result = result;
  state.position = result.query.position;
  grid.setColumns(result.columns);
  grid.setRows(result.rows, { keepPage: true, total: result.total });
  facets.render(result.facets);
  $("query-display").textContent = result.query.display;
  $("row-count").textContent = countText(result);
  showView(state.view);
  drawSky();
  if (push) pushUrl(); else replaceUrl();
  if (focus) document.querySelector(focus)?.focus();
  return result;
}

/** "Displaying n of m Total Rows": rows the chosen facets leave, of all the search matched
 * (counted by the server however many there are; the pager tells which of them are shown). */
function countText(result) {
  if (result.total === 0 && !result.matched) return result.message || "No observations found";
  return `Displaying ${result.total.toLocaleString()} of ${result.matched.toLocaleString()} Total Rows`;
}

/** The shown state, as the URL keeps it. */
function currentState() {
  if (state.keywords) return { collection: "keywords", ...keywords.query };
  return {
    ...state.query, facets: facets.chosenObject(), sort: grid.sort.name, descending: grid.sort.dir < 0,
    page: grid.page, pagesize: grid.pageSize, view: state.view, selected: [...grid.selected], row: state.row,
  };
}

async function showFiles(query, push, token) {
  const result = await keywords.search(query);
  if (token !== state.token || !result) return false;
  useKeywords(true);
  if (push) pushUrl();
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

function openDetails(row, { remember = true } = {}) {
  state.row = row.obsid;
  if (remember) replaceUrl();
  showDetails($("details"), row, grid.columns, { onDownload: guardDownload, onBasket: basketAdd, position: state.position });
}

function setPageSize(size) {
  for (const each of [grid, keywords.grid]) each.pageSize = size;
  const select = $("page-size");
  if (![...select.options].some((o) => Number(o.value) === size)) select.append(new Option(String(size)));
  select.value = String(size);
}

/** List View (the grid) or Album View (previews of the same page, album-view.js). */
function showView(view) {
  state.view = view === "album" && !state.keywords ? "album" : "list";
  for (const button of document.querySelectorAll("[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
    button.hidden = state.keywords;
  }
  $("grid").hidden = state.view === "album";
  $("album").hidden = state.view !== "album";
  if (state.view === "album") album.render();
}

/** The export link of the shown result: every row, or the selected ones; the shown columns. */
function exportHref() {
  const params = new URLSearchParams(stateToUrl(currentState()).split("?")[1]);
  for (const name of ["page", "size", "view", "sel", "row"]) params.delete(name);
  params.set("format", $("export-format").value);
  params.set("columns", grid.visible.join(","));
  if ($("export-scope").value === "selected") params.set("obsids", [...grid.selected].join(","));
  return `/api/portal/export?${params}`;
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
$("create-doi").addEventListener("click", async () => {
  // The rows the facets leave (every page, asked of the server), handed to "Create a DOI" in this tab.
  const total = state.result?.total || 0;
  if (!total) { showError("No observations to make a data set of."); return; }
  if (total > page.doi_limit) {
    showError(`A DOI names at most ${page.doi_limit.toLocaleString()} observations; these are ${total.toLocaleString()}. Narrow the search or the filters.`);
    return;
  }
  try {
    const body = { ...state.query, facets: facets.chosenObject(), limit: total };
    const every = await api("/api/portal/search", { method: "POST", body });
    const obsids = every.rows.map((row) => row.obsid);
    sessionStorage.setItem("skyarchive.doi.obsids", JSON.stringify({ obsids, query: state.result.query.display }));
    window.location.href = "/doi/new?source=search";
  } catch (err) {
    showError(err.message);
  }
});
$("keyword-filters-open").addEventListener("click", () => keywords.openDialog().catch((err) => showError(err.message)));
$("facets-clear").addEventListener("click", () => (state.keywords ? keywords.clearFacets() : facets.clear()));
$("page-size").addEventListener("change", (event) => {
  setPageSize(Number(event.target.value));
  if (state.keywords) { keywords.grid.goTo(1); return; }
  grid.page = 1;
  fetchPage().catch(() => {});
});
for (const button of document.querySelectorAll("[data-view]")) {
  button.addEventListener("click", () => { showView(button.dataset.view); pushUrl(); });
}
$("show-preview").addEventListener("change", (event) => { grid.showPreview = event.target.checked; grid.render(); });
$("export-link").addEventListener("click", (event) => {
  if ($("export-scope").value === "selected" && !grid.selected.size) {
    event.preventDefault();
    showError("Select rows to export, or choose All rows.");
    return;
  }
  event.currentTarget.href = exportHref();
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
$("details").addEventListener("close", () => { state.row = null; replaceUrl(); });

/** A new history entry for a new state (search, facet, sort, page, view). */
function pushUrl() {
  const url = stateToUrl(currentState());
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
}

/** The same entry, brought up to date (selection, details: not worth a Back step each). */
function replaceUrl() {
  if (!state.query && !state.keywords) return;
  const url = stateToUrl(currentState());
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

window.addEventListener("popstate", () => {
  const query = stateFromUrl();
  if (query) { panel.set(query.collection, query.text, query.instrument); search(query, { push: false }); }
});

const initial = stateFromUrl();
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
