// The results grid: paging, sorting, column chooser, row selection, status and download icons.
// Observations (rows keyed by obsid, paged and sorted here) by default; with ``remote`` the
// server pages and sorts (keyword files: a table too big for the browser) and the grid asks
// it through ``handlers.onRemote`` whenever the page, the sort or the page size changes.
import { STATUS_LABEL, formatValue, h, icon, rowStatus, subscribeHref } from "./dom.js";

/** A row's preview image, small; a short text when there is none the caller may see. */
export function thumbnail(row, label, size = 64) {
  if (row.preview) return h("img", { class: "thumb", src: row.preview, alt: `Preview of ${label}`, width: size, height: size, loading: "lazy" });
  const why = rowStatus(row) === "exclusive" && row.jpegURL ? "Exclusive access" : "No preview";
  return h("span", { class: "no-thumb" }, why);
}

const STORAGE_KEY = "skyarchive.columns";

export class ResultsGrid {
  constructor(container, columns, handlers, options = {}) {
    this.container = container;
    this.columns = columns;
    // onSelect(selected), onHover(key|null), onDetails(row), onDownload(row, event), onPage(), onRemote()
    this.handlers = handlers;
    this.key = options.key || "obsid";
    this.storageKey = options.storageKey || STORAGE_KEY;
    this.remote = Boolean(options.remote);
    this.noun = options.noun || "Observations";
    this.rowLabel = options.rowLabel || ((row) => row.obs_id || row.obsid);
    this.download = options.download || ((row) => ({ href: `/api/v0.1/Download/mrp?obsid=${row.obsid}`,
      title: "Download the recommended files (zip)", label: "Download recommended files of" }));
    this.total = 0;
    this.rows = [];
    this.page = 1;
    this.pageSize = 50;
    this.sort = { name: null, dir: 1 };
    this.selected = new Set();
    this.showPreview = false; // "Show Preview": a thumbnail column (rows carry ``preview`` URLs)
    this.defaultVisible = columns.filter((c) => c.visible).map((c) => c.name);
    this.visible = this.loadVisible();
  }

  loadVisible() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
      const known = new Set(this.columns.map((c) => c.name));
      if (Array.isArray(saved) && saved.some((n) => known.has(n))) return saved.filter((n) => known.has(n));
    } catch { /* ignore a bad saved value */ }
    return [...this.defaultVisible];
  }

  setVisible(names) {
    this.visible = this.columns.map((c) => c.name).filter((n) => names.includes(n));
    localStorage.setItem(this.storageKey, JSON.stringify(this.visible));
    this.render();
  }

  setColumns(columns) {
    const known = new Set(this.columns.map((c) => c.name));
    for (const column of columns) if (!known.has(column.name)) this.columns.push(column);
    if (columns.some((c) => c.name === "distance") && !this.visible.includes("distance")) {
      this.visible.push("distance");
    }
  }

  /** Another set of columns (another keyword table), with its own saved choice of columns. */
  replaceColumns(columns, storageKey) {
    this.columns = columns;
    this.storageKey = storageKey;
    this.defaultVisible = columns.filter((c) => c.visible).map((c) => c.name);
    this.visible = this.loadVisible();
    if (!columns.some((c) => c.name === this.sort.name)) this.sort = { name: null, dir: 1 };
  }

  /** The rows to show; a remote grid gets one page of them and the total of all pages. */
  setRows(rows, { keepPage = false, total = rows.length } = {}) {
    this.rows = rows;
    this.total = total;
    if (!keepPage) this.page = 1;
    this.page = Math.min(this.page, this.pageCount()) || 1;
    this.render();
  }

  pageCount() {
    return Math.max(1, Math.ceil((this.remote ? this.total : this.rows.length) / this.pageSize));
  }

  sorted() {
    const { name, dir } = this.sort;
    if (!name || this.remote) return this.rows;
    const column = this.columns.find((c) => c.name === name);
    const numeric = column && (column.type === "float" || column.type === "int");
    return [...this.rows].sort((a, b) => {
      const x = a[name], y = b[name];
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return dir * (numeric ? Number(x) - Number(y) : String(x).localeCompare(String(y)));
    });
  }

  pageRows() {
    if (this.remote) return this.rows;
    const start = (this.page - 1) * this.pageSize;
    return this.sorted().slice(start, start + this.pageSize);
  }

  sortBy(name) {
    this.sort = this.sort.name === name ? { name, dir: -this.sort.dir } : { name, dir: 1 };
    this.page = 1;
    if (this.remote) { this.handlers.onRemote?.({ focus: `th[data-name="${name}"] button` }); return; }
    this.render();
    this.container.querySelector(`th[data-name="${name}"] button`)?.focus();
    this.handlers.onPage?.();
  }

  goTo(page) {
    this.page = Math.max(1, Math.min(page, this.pageCount()));
    if (this.remote) { this.handlers.onRemote?.(); return; }
    this.render();
    this.handlers.onPage?.();
  }

  toggle(key, on) {
    if (on) this.selected.add(key); else this.selected.delete(key);
    const tr = this.container.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`);
    if (tr) {
      tr.classList.toggle("selected", on);
      tr.querySelector("input[type=checkbox]").checked = on;
    }
    this.updateAllBox();
    this.handlers.onSelect?.(this.selected);
  }

  updateAllBox() {
    const all = this.container.querySelector("#select-page");
    if (!all) return;
    const ids = this.pageRows().map((r) => r[this.key]);
    const picked = ids.filter((id) => this.selected.has(id)).length;
    all.checked = picked > 0 && picked === ids.length;
    all.indeterminate = picked > 0 && picked < ids.length;
  }

  highlight(key) {
    for (const tr of this.container.querySelectorAll("tr.hover")) tr.classList.remove("hover");
    if (key) this.container.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`)?.classList.add("hover");
  }

  /** Show the page that holds the row of ``key`` and scroll it into view. */
  reveal(key) {
    const index = this.sorted().findIndex((r) => r[this.key] === key);
    if (index < 0) return;
    const page = Math.floor(index / this.pageSize) + 1;
    if (page !== this.page) this.goTo(page);
    this.container.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`)?.scrollIntoView({ block: "nearest" });
  }

  render() {
    const shown = this.visible.map((n) => this.columns.find((c) => c.name === n)).filter(Boolean);
    const headCells = shown.map((column) => {
      const sorted = this.sort.name === column.name;
      return h("th", {
        scope: "col", "data-name": column.name,
        "aria-sort": sorted ? (this.sort.dir > 0 ? "ascending" : "descending") : "none",
      }, h("button", { type: "button", class: "sort", title: column.description,
        onclick: () => this.sortBy(column.name) },
      column.label, sorted ? (this.sort.dir > 0 ? " ▲" : " ▼") : ""));
    });
    const allBox = h("input", { type: "checkbox", id: "select-page", "aria-label": "Select all rows on this page",
      onchange: (event) => {
        // Read the box once: toggling a row re-renders the header and resets this box.
        const on = event.target.checked;
        for (const row of this.pageRows()) this.toggle(row[this.key], on);
      } });
    const head = h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "narrow" }, allBox),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Access")),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Download")),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Details")),
      this.showPreview ? h("th", { scope: "col", class: "preview-col" }, "Preview") : null,
      headCells));
    const body = h("tbody", {}, this.pageRows().map((row) => this.rowElement(row, shown)));
    const table = h("table", { class: "results-table", "aria-label": this.noun }, head, body);
    this.container.replaceChildren(table);
    this.updateAllBox();
    this.renderPager();
  }

  rowElement(row, shown) {
    const status = rowStatus(row);
    const label = this.rowLabel(row);
    const key = row[this.key];
    const check = h("input", { type: "checkbox", checked: this.selected.has(key),
      "aria-label": `Select ${label}`, onchange: (e) => this.toggle(key, e.target.checked) });
    const statusIcon = h("span", { class: `icon ${status}`, title: STATUS_LABEL[status] },
      icon(status === "exclusive" ? "lock" : status, STATUS_LABEL[status]));
    const link = this.download(row);
    const download = status === "planned"
      ? h("span", { class: "icon muted", title: "No files yet: the observation is planned" },
        h("span", { class: "visually-hidden" }, "No files yet"))
      : h("a", { class: "icon download", href: link.href, title: link.title, "aria-label": `${link.label} ${label}`,
        onclick: (event) => this.handlers.onDownload?.(row, event) }, icon("file"));
    const details = h("button", { type: "button", class: "icon-button", title: "Details and files",
      "aria-label": `Details of ${label}`, onclick: () => this.handlers.onDetails?.(row) }, icon("info"));
    const follow = subscribeHref(row);
    const subscribe = follow && h("a", { class: "icon-button subscribe", href: follow,
      title: `Subscribe to ${row.obs_collection} program ${row.proposal_id}`,
      "aria-label": `Subscribe to ${row.obs_collection} program ${row.proposal_id} (${label})` }, icon("bell"));
    // JWST observations: their engineering telemetry during the exposure (MJD start and end)
    const edb = row.obs_collection === "JWST" && row.t_min != null && row.t_max != null
      && h("a", { class: "icon-button edb", href: `/edb?${new URLSearchParams({ start: row.t_min, end: row.t_max })}`,
        title: "Engineering data (EDB) during this observation", "aria-label": `EDB of ${label}` }, "EDB");
    const cells = shown.map((column) => h("td", {
      class: column.type === "float" || column.type === "int" ? "num" : null, "data-column": column.name,
    }, formatValue(row[column.name], column)));
    return h("tr", {
      class: `row-${status}${this.selected.has(key) ? " selected" : ""}`,
      "data-key": key,
      "data-obsid": row.obsid,
      onmouseenter: () => this.handlers.onHover?.(key),
      onmouseleave: () => this.handlers.onHover?.(null),
      onfocusin: () => this.handlers.onHover?.(key),
    }, h("td", { class: "narrow" }, check), h("td", { class: "narrow" }, statusIcon),
    h("td", { class: "narrow" }, download), h("td", { class: "narrow row-actions" }, details, subscribe, edb),
    this.showPreview ? h("td", { class: "preview-col" }, thumbnail(row, label)) : null, cells);
  }

  renderPager() {
    const pager = document.getElementById("pager");
    if (!pager) return;
    const pages = this.pageCount();
    pager.replaceChildren(
      h("button", { type: "button", disabled: this.page <= 1, "aria-label": "Previous page",
        onclick: () => this.goTo(this.page - 1) }, "‹"),
      h("span", {}, ` ${this.rangeText()} · Page ${this.page} of ${pages} `),
      h("button", { type: "button", disabled: this.page >= pages, "aria-label": "Next page",
        onclick: () => this.goTo(this.page + 1) }, "›"));
  }

  /** "Rows 51–100": which rows of the whole result this page shows. */
  rangeText() {
    const count = this.remote ? this.rows.length : this.pageRows().length;
    if (!count) return "No rows";
    const first = (this.page - 1) * this.pageSize + 1;
    return `Rows ${first.toLocaleString()}–${(first + count - 1).toLocaleString()}`;
  }

  /** Fill the Edit Columns dialog's list of checkboxes. */
  renderChooser(list) {
    list.replaceChildren(...this.columns.map((column) => h("label", { class: "column-choice" },
      h("input", { type: "checkbox", value: column.name, checked: this.visible.includes(column.name),
        onchange: () => this.setVisible([...list.querySelectorAll("input:checked")].map((i) => i.value)) }),
      ` ${column.label}`)));
  }
}
