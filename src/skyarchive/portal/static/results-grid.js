// The results grid: paging, sorting, column chooser, row selection, status and download icons.
import { STATUS_LABEL, formatValue, h, icon, rowStatus, subscribeHref } from "./dom.js";

const STORAGE_KEY = "skyarchive.columns";

export class ResultsGrid {
  constructor(container, columns, handlers) {
    this.container = container;
    this.columns = columns;
    this.handlers = handlers; // onSelect(selected), onHover(obsid|null), onDetails(row), onDownload(row, event)
    this.rows = [];
    this.page = 1;
    this.pageSize = 50;
    this.sort = { name: null, dir: 1 };
    this.selected = new Set();
    this.defaultVisible = columns.filter((c) => c.visible).map((c) => c.name);
    this.visible = this.loadVisible();
  }

  loadVisible() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      const known = new Set(this.columns.map((c) => c.name));
      if (Array.isArray(saved) && saved.some((n) => known.has(n))) return saved.filter((n) => known.has(n));
    } catch { /* ignore a bad saved value */ }
    return [...this.defaultVisible];
  }

  setVisible(names) {
    this.visible = this.columns.map((c) => c.name).filter((n) => names.includes(n));
    localStorage.setItem(STORAGE_KEY, JSON.stringify(this.visible));
    this.render();
  }

  setColumns(columns) {
    const known = new Set(this.columns.map((c) => c.name));
    for (const column of columns) if (!known.has(column.name)) this.columns.push(column);
    if (columns.some((c) => c.name === "distance") && !this.visible.includes("distance")) {
      this.visible.push("distance");
    }
  }

  setRows(rows, { keepPage = false } = {}) {
    this.rows = rows;
    if (!keepPage) this.page = 1;
    this.page = Math.min(this.page, this.pageCount()) || 1;
    this.render();
  }

  pageCount() { return Math.max(1, Math.ceil(this.rows.length / this.pageSize)); }

  sorted() {
    const { name, dir } = this.sort;
    if (!name) return this.rows;
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
    const start = (this.page - 1) * this.pageSize;
    return this.sorted().slice(start, start + this.pageSize);
  }

  sortBy(name) {
    this.sort = this.sort.name === name ? { name, dir: -this.sort.dir } : { name, dir: 1 };
    this.page = 1;
    this.render();
    this.container.querySelector(`th[data-name="${name}"] button`)?.focus();
    this.handlers.onPage?.();
  }

  goTo(page) {
    this.page = Math.max(1, Math.min(page, this.pageCount()));
    this.render();
    this.handlers.onPage?.();
  }

  toggle(obsid, on) {
    if (on) this.selected.add(obsid); else this.selected.delete(obsid);
    const tr = this.container.querySelector(`tr[data-obsid="${obsid}"]`);
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
    const ids = this.pageRows().map((r) => r.obsid);
    const picked = ids.filter((id) => this.selected.has(id)).length;
    all.checked = picked > 0 && picked === ids.length;
    all.indeterminate = picked > 0 && picked < ids.length;
  }

  highlight(obsid) {
    for (const tr of this.container.querySelectorAll("tr.hover")) tr.classList.remove("hover");
    if (obsid) this.container.querySelector(`tr[data-obsid="${obsid}"]`)?.classList.add("hover");
  }

  /** Show the page that holds ``obsid`` and scroll its row into view. */
  reveal(obsid) {
    const index = this.sorted().findIndex((r) => r.obsid === obsid);
    if (index < 0) return;
    const page = Math.floor(index / this.pageSize) + 1;
    if (page !== this.page) this.goTo(page);
    this.container.querySelector(`tr[data-obsid="${obsid}"]`)?.scrollIntoView({ block: "nearest" });
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
        for (const row of this.pageRows()) this.toggle(row.obsid, on);
      } });
    const head = h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "narrow" }, allBox),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Access")),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Download")),
      h("th", { scope: "col", class: "narrow" }, h("span", { class: "visually-hidden" }, "Details")),
      headCells));
    const body = h("tbody", {}, this.pageRows().map((row) => this.rowElement(row, shown)));
    const table = h("table", { class: "results-table", "aria-label": "Observations" }, head, body);
    this.container.replaceChildren(table);
    this.updateAllBox();
    this.renderPager();
  }

  rowElement(row, shown) {
    const status = rowStatus(row);
    const label = row.obs_id || row.obsid;
    const check = h("input", { type: "checkbox", checked: this.selected.has(row.obsid),
      "aria-label": `Select ${label}`, onchange: (e) => this.toggle(row.obsid, e.target.checked) });
    const statusIcon = h("span", { class: `icon ${status}`, title: STATUS_LABEL[status] },
      icon(status === "exclusive" ? "lock" : status, STATUS_LABEL[status]));
    const download = status === "planned"
      ? h("span", { class: "icon muted", title: "No files yet: the observation is planned" },
        h("span", { class: "visually-hidden" }, "No files yet"))
      : h("a", { class: "icon download", href: `/api/v0.1/Download/mrp?obsid=${row.obsid}`,
        title: "Download the recommended files (zip)", "aria-label": `Download recommended files of ${label}`,
        onclick: (event) => this.handlers.onDownload?.(row, event) }, icon("file"));
    const details = h("button", { type: "button", class: "icon-button", title: "Details and files",
      "aria-label": `Details of ${label}`, onclick: () => this.handlers.onDetails?.(row) }, icon("info"));
    const follow = subscribeHref(row);
    const subscribe = follow && h("a", { class: "icon-button subscribe", href: follow,
      title: `Subscribe to ${row.obs_collection} program ${row.proposal_id}`,
      "aria-label": `Subscribe to ${row.obs_collection} program ${row.proposal_id} (${label})` }, icon("bell"));
    const cells = shown.map((column) => h("td", {
      class: column.type === "float" || column.type === "int" ? "num" : null,
    }, formatValue(row[column.name], column)));
    return h("tr", {
      class: `row-${status}${this.selected.has(row.obsid) ? " selected" : ""}`,
      "data-obsid": row.obsid,
      onmouseenter: () => this.handlers.onHover?.(row.obsid),
      onmouseleave: () => this.handlers.onHover?.(null),
      onfocusin: () => this.handlers.onHover?.(row.obsid),
    }, h("td", { class: "narrow" }, check), h("td", { class: "narrow" }, statusIcon),
    h("td", { class: "narrow" }, download), h("td", { class: "narrow row-actions" }, details, subscribe), cells);
  }

  renderPager() {
    const pager = document.getElementById("pager");
    if (!pager) return;
    const pages = this.pageCount();
    pager.replaceChildren(
      h("button", { type: "button", disabled: this.page <= 1, "aria-label": "Previous page",
        onclick: () => this.goTo(this.page - 1) }, "‹"),
      h("span", {}, ` Page ${this.page} of ${pages} `),
      h("button", { type: "button", disabled: this.page >= pages, "aria-label": "Next page",
        onclick: () => this.goTo(this.page + 1) }, "›"));
  }

  /** Fill the Edit Columns dialog's list of checkboxes. */
  renderChooser(list) {
    list.replaceChildren(...this.columns.map((column) => h("label", { class: "column-choice" },
      h("input", { type: "checkbox", value: column.name, checked: this.visible.includes(column.name),
        onchange: () => this.setVisible([...list.querySelectorAll("input:checked")].map((i) => i.value)) }),
      ` ${column.label}`)));
  }
}
