// The search page's state in its URL, so a shared link reproduces the page and back/forward
// walk through searches, facets, sorts, pages and views. One place writes and reads it:
//   collection, q, instrument, filters (JSON)  the search itself (MAST's ?searchQuery= too)
//   facets (JSON {column: [values]})           the chosen facet values
//   sort, desc=1, page, size                   the grid's order and page
//   view=album                                 Album view (List view when absent)
//   sel (obsids, comma-separated), row         the selected rows; the row whose details are open

const MAX_SELECTED_IN_URL = 200; // a link stays a link: larger selections are not kept in it

export function stateToUrl(state) {
  const params = new URLSearchParams({ collection: state.collection });
  if (state.collection === "keywords") {
    params.set("instrument", state.instrument);
    if (state.text) params.set("q", state.text);
    if (state.filters?.length) params.set("filters", JSON.stringify(state.filters));
  } else if (state.collection === "filters") params.set("filters", JSON.stringify(state.filters || []));
  else {
    params.set("q", state.text || "");
    if (state.filters?.length) params.set("filters", JSON.stringify(state.filters));
  }
  if (state.facets && Object.keys(state.facets).length) params.set("facets", JSON.stringify(state.facets));
  if (state.sort) params.set("sort", state.sort);
  if (state.sort && state.descending) params.set("desc", "1");
  if (state.page > 1) params.set("page", String(state.page));
  if (state.pagesize && state.pagesize !== 50) params.set("size", String(state.pagesize));
  if (state.view === "album") params.set("view", "album");
  const selected = state.selected || [];
  if (selected.length && selected.length <= MAX_SELECTED_IN_URL) params.set("sel", selected.join(","));
  if (state.row) params.set("row", state.row);
  return `/search?${params}`;
}

function json(params, name, fallback) {
  try { return JSON.parse(params.get(name) || fallback); } catch { return undefined; }
}

// MAST's portal permalinks: ?searchQuery=<JSON> with "service": "DOIOBS" is a search by DOI.
function fromMastQuery(value) {
  let parsed = null;
  try { parsed = JSON.parse(value); } catch { return { collection: "position", text: value }; }
  if (parsed?.service === "DOIOBS" && typeof parsed.inputText === "string") return { collection: "doi", text: parsed.inputText };
  return null;
}

/** The state a URL names, or null when it names no search. */
export function stateFromUrl(search = location.search) {
  const params = new URLSearchParams(search);
  if (params.has("searchQuery")) return fromMastQuery(params.get("searchQuery"));
  const collection = params.get("collection") || "position";
  const filters = json(params, "filters", "[]");
  const facets = json(params, "facets", "{}");
  if (filters === undefined || facets === undefined || !Array.isArray(filters)) return null;
  const whole = (name, fallback) => {
    const n = Number(params.get(name));
    return Number.isInteger(n) && n >= 1 ? n : fallback;
  };
  const common = {
    collection, filters, facets: facets && typeof facets === "object" ? facets : {},
    sort: params.get("sort") || null, descending: params.get("desc") === "1",
    page: whole("page", 1), pagesize: whole("size", 50),
    view: params.get("view") === "album" ? "album" : "list",
    selected: (params.get("sel") || "").split(",").filter(Boolean),
    row: params.get("row") || null,
  };
  if (collection === "keywords") {
    return { ...common, instrument: params.get("instrument") || "NIRCAM", text: params.get("q") || "",
      keyword: params.get("keyword") ?? (params.has("dialog") ? "" : null) };
  }
  if (collection === "filters") return common;
  const text = params.get("q");
  return text ? { ...common, text } : null;
}
