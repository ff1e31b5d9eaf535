// The "JWST Instrument Keywords" collection of the search page: FITS files found by their
// header keywords (what Mast.Jwst.Filtered.<Instrument> answers), one row per file.
// The instrument sets the keywords offered; the filter dialog is an Advanced Search over that
// instrument's keywords, its value lists counted over every file the other filters match.
// A keyword table can hold millions of files, so the server pages and sorts; the grid holds
// one page. "Show observations" hands the files' observations to the ordinary grid.
import { AdvancedSearch } from "./advanced-search.js";
import { api } from "./api.js";
import { h, replaceBoxes } from "./dom.js";
import { ResultsGrid } from "./results-grid.js";

const BASE = "/api/portal/keyword-search";
// Filters the dialog offers before any is chosen (those the instrument's table has).
const DIALOG_ROWS = ["exp_type", "tsovisit", "subarray", "readpatt", "targname", "date_obs_mjd"];

export function fileUrl(uri) {
  return `/api/v0.1/Download/file?uri=${encodeURIComponent(uri)}`;
}

export class KeywordCollection {
  /** handlers: onSearch(query), onSelect(selected), onDetails(row), onDownload(row, event), onError(message) */
  constructor(handlers) {
    this.handlers = handlers;
    this.$ = (id) => document.getElementById(id);
    this.columns = new Map(); // instrument -> its column facts
    this.instrument = null;
    this.query = null; // { instrument, text, filters } of the shown result
    this.result = null;
    this.token = 0;
    this.grid = new ResultsGrid(this.$("grid"), [], {
      onSelect: (selected) => handlers.onSelect(selected),
      onDetails: (row) => handlers.onDetails(row),
      onDownload: (row, event) => handlers.onDownload(row, event),
      onRemote: (opts) => this.fetchPage(opts).catch((err) => handlers.onError(err.message)),
    }, {
      key: "ArchiveFileID", remote: true, noun: "Files", rowLabel: (row) => row.filename,
      download: (row) => ({ href: fileUrl(row.dataURI), title: "Download this file", label: "Download" }),
    });
    this.dialog = new AdvancedSearch(this.$("si-filters"), [],
      (filters) => handlers.onSearch({ ...this.panelQuery(), filters }), {
        valuesPath: `${BASE}/values`, countPath: `${BASE}/count`, defaultRows: DIALOG_ROWS,
        body: () => ({ instrument: this.instrument, text: this.panelQuery().text }),
        prefix: "kw", noun: "files", needsFilter: false, countText: (n) => `(${n.toLocaleString()} Total)`,
      });
  }

  panelQuery() {
    return { collection: "keywords", instrument: this.$("si-instrument").value, text: this.$("q").value.trim() };
  }

  /** Load the instrument's keywords (once) into the grid and the filter dialog. */
  async useInstrument(instrument) {
    const wanted = String(instrument || "NIRCAM").toUpperCase();
    if (this.instrument === wanted) return;
    let facts = this.columns.get(wanted);
    if (!facts) {
      facts = await api(`${BASE}/columns?instrument=${encodeURIComponent(wanted)}`);
      this.columns.set(wanted, facts);
    }
    this.instrument = facts.instrument;
    this.grid.replaceColumns(facts.columns, `skyarchive.keyword-columns.${facts.instrument}`);
    this.grid.sort = { name: null, dir: 1 };
    this.dialog.setColumns(facts.columns);
  }

  /** Open the filter dialog, with the shown search's filters; ``keyword``: add and open its row. */
  async openDialog(keyword = null) {
    const chosen = this.panelQuery().instrument;
    await this.useInstrument(chosen);
    const same = this.query && this.query.instrument === this.instrument;
    this.dialog.open(same && this.query.filters.length ? this.query.filters : null);
    if (!keyword) return;
    const row = this.dialog.addRow(String(keyword).trim().toLowerCase(), { removable: true, focus: true });
    if (!row) {
      this.dialog.count.textContent = `The ${this.$("si-instrument").selectedOptions[0].text} table has no keyword `
        + `'${keyword}'; the Keyword Dictionary lists them.`;
      this.dialog.count.classList.add("error");
    } else if (row.kind === "values") {
      await this.dialog.toggleValues(row);
    }
  }

  /** Run a search (page 1); throws the server's error. */
  async search(query) {
    await this.useInstrument(query.instrument);
    this.query = { instrument: this.instrument, text: query.text || "", filters: query.filters || [] };
    this.dialog.load(this.query.filters);
    const n = this.query.filters.length;
    this.$("keyword-summary").textContent = n ? `${n} keyword filter${n === 1 ? "" : "s"}` : "";
    this.grid.selected.clear();
    this.grid.page = 1;
    return this.fetchPage();
  }

  async fetchPage(opts = {}) {
    const token = ++this.token;
    const { sort, page, pageSize } = this.grid;
    const body = { ...this.query, sort: sort.name, descending: sort.dir < 0, page, pagesize: pageSize };
    const result = await api(`${BASE}/search`, { method: "POST", body });
    if (token !== this.token) return null;
    this.result = result;
    this.grid.setRows(result.rows, { keepPage: true, total: result.total });
    this.renderFacets(result.facets);
    this.$("row-count").textContent = this.countText();
    if (opts.focus) this.grid.container.querySelector(opts.focus)?.focus();
    return result;
  }

  countText() {
    const { total, rows } = this.result;
    if (!total) return "No files match these filters";
    const first = (this.grid.page - 1) * this.grid.pageSize + 1;
    return `Displaying files ${first.toLocaleString()}–${(first + rows.length - 1).toLocaleString()} `
      + `of ${total.toLocaleString()} Total`;
  }

  filterValues(column) {
    const found = (this.query?.filters || []).find((f) => f.paramName === column);
    return (found?.values || []).map(String);
  }

  /** The facets beside the grid, counted by the server over the whole match set. */
  renderFacets(facets) {
    // the same boxes as the search page's facets, drawn in the same place: the layout names
    // its kind, so that one page's boxes are never taken for the other's
    const layout = JSON.stringify(["keywords", Object.values(facets || {}).map(
      (facet) => [facet.column, (facet.values || []).map((item) => item.value)])]);
    const lists = Object.values(facets || {}).map((facet) => {
      const chosen = new Set(this.filterValues(facet.column));
      return h("fieldset", { class: "facet", id: `facet-${facet.column}` }, h("legend", {}, facet.column),
        (facet.values || []).map((item) => h("label", { class: "facet-value" },
          h("input", { type: "checkbox", value: item.value, checked: chosen.has(String(item.value)),
            onchange: (event) => this.toggleFacet(facet.column, String(item.value), event.target.checked) }),
          h("span", { class: "facet-name" }, item.value),
          h("span", { class: "count" }, `(${item.count.toLocaleString()} Total)`))));
    });
    replaceBoxes(this.$("facet-list"), layout, lists);
  }

  toggleFacet(column, value, on) {
    const values = new Set(this.filterValues(column));
    if (on) values.add(value); else values.delete(value);
    const filters = this.query.filters.filter((f) => f.paramName !== column);
    if (values.size) filters.push({ paramName: column, values: [...values] });
    this.handlers.onSearch({ collection: "keywords", instrument: this.query.instrument, text: this.query.text, filters });
  }

  clearFacets() {
    const names = new Set(Object.keys(this.result?.facets || {}));
    const filters = (this.query?.filters || []).filter((f) => !names.has(f.paramName));
    this.handlers.onSearch({ collection: "keywords", instrument: this.query.instrument, text: this.query.text, filters });
  }

  /** The observations owning the selected files (all matching files when none is selected). */
  async observations() {
    const body = { ...this.query, product_ids: [...this.grid.selected] };
    const found = await api(`${BASE}/observations`, { method: "POST", body });
    return found.obsids;
  }
}
