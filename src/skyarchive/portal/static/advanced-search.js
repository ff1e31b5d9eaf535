// Advanced Search: filters on any column, with value lists and counts, wildcards and ranges.
// Builds MAST-style filters ({paramName, values}) that the server reads as Mast.Caom.Filtered does.
// The keyword collection's filter dialog is one too, with its own endpoints and columns
// (options: valuesPath, countPath, body() for the rest of the request, defaultRows, prefix).
import { api } from "./api.js";
import { MJD_COLUMNS, h, mjdToIso } from "./dom.js";

const DEFAULT_ROWS = ["obs_collection", "instrument_name", "target_name", "proposal_id", "filters",
  "dataproduct_type", "calib_level", "t_min"];
const NO_FILTER = new Set(["s_region", "jpegURL", "dataURL", "distance", "objID1"]);

export class AdvancedSearch {
  constructor(dialog, columns, onSearch, options = {}) {
    this.dialog = dialog;
    this.onSearch = onSearch;
    this.options = { valuesPath: "/api/portal/values", countPath: "/api/portal/count", body: () => ({}),
      defaultRows: DEFAULT_ROWS, prefix: "adv", needsFilter: true, noun: "observations", countText: (n) => `(${n})`, ...options };
    const part = (name) => dialog.querySelector(`[data-part="${name}"]`);
    this.list = part("filters");
    this.count = part("count");
    this.add = part("add");
    this.rows = new Map();
    this.timer = null;
    this.setColumns(columns);
    this.add.addEventListener("change", () => {
      if (this.add.value) this.addRow(this.add.value, { removable: true, focus: true });
      this.add.value = "";
    });
    part("reset").addEventListener("click", () => this.reset());
    dialog.querySelector(".close").addEventListener("click", () => dialog.close());
    part("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const filters = this.filters();
      if (!filters.length && this.options.needsFilter) { this.count.textContent = "Give at least one filter."; return; }
      dialog.close();
      this.onSearch(filters);
    });
  }

  /** The columns one may filter on (another keyword table brings other columns). */
  setColumns(columns) {
    this.columns = columns.filter((c) => !NO_FILTER.has(c.name) && c.filterable !== false);
    this.add.replaceChildren(this.add.options[0] || h("option", { value: "" }, "Choose a column…"),
      ...this.columns.map((c) => h("option", { value: c.name }, c.label)));
    this.reset();
  }

  isDate(column) { return MJD_COLUMNS.has(column.name) || Boolean(column.isDate); }

  request(body) { return { ...this.options.body(), ...body }; }

  open(filters = null) {
    if (filters) this.load(filters);
    this.dialog.showModal();
    this.list.querySelector("input")?.focus();
    this.refreshCount();
  }

  reset() {
    this.rows.clear();
    this.list.replaceChildren();
    for (const name of this.options.defaultRows) this.addRow(name);
    this.refreshCount();
  }

  load(filters) {
    this.reset();
    for (const filter of filters) {
      const row = this.rows.get(filter.paramName) || this.addRow(filter.paramName, { removable: true });
      if (!row) continue;
      const values = filter.values || [];
      if (row.kind === "range") {
        const range = values.find((v) => typeof v === "object") || {};
        row.min.value = this.rangeText(row.column, range.min);
        row.max.value = this.rangeText(row.column, range.max);
      } else {
        row.text.value = [...values, ...(filter.freeText ? [filter.freeText] : [])].join(", ");
      }
    }
  }

  rangeText(column, value) {
    if (value === null || value === undefined || value === "") return "";
    // A date arrives as MJD from a number, or as typed (a permalink keeps the text).
    return this.isDate(column) && typeof value === "number" ? mjdToIso(value, false) : String(value);
  }

  addRow(name, { removable = false, focus = false } = {}) {
    if (this.rows.has(name)) { if (focus) this.rows.get(name).focusable.focus(); return this.rows.get(name); }
    const column = this.columns.find((c) => c.name === name);
    if (!column) return null;
    const id = `${this.options.prefix}-${name}`;
    const remove = removable ? h("button", { type: "button", class: "icon-button", "aria-label": `Remove filter ${column.label}`,
      onclick: () => { element.remove(); this.rows.delete(name); this.refreshCount(); } }, "×") : null;
    let row, element;
    if (column.continuous) {
      const isDate = this.isDate(column);
      const hint = isDate ? "YYYY-MM-DD" : column.unit || "";
      const min = h("input", { id: `${id}-min`, type: "text", inputmode: isDate ? null : "decimal", placeholder: hint, oninput: () => this.changed() });
      const max = h("input", { id: `${id}-max`, type: "text", inputmode: isDate ? null : "decimal", placeholder: hint, oninput: () => this.changed() });
      const range = h("span", { class: "hint range-hint" });
      element = h("fieldset", { class: "adv-filter range", "data-name": name },
        h("legend", {}, column.label, column.unit ? ` (${isDate ? "date" : column.unit})` : ""),
        h("label", { for: min.id }, "from"), min, h("label", { for: max.id }, "to"), max, range, remove);
      row = { kind: "range", column, min, max, range, focusable: min };
      api(this.options.valuesPath, { method: "POST", body: this.request({ column: name, filters: [] }) }).then((data) => {
        if (data.min !== null && data.min !== undefined) {
          range.textContent = `in the archive: ${this.rangeText(column, data.min)} … ${this.rangeText(column, data.max)}`;
        }
      }).catch(() => {});
    } else {
      const text = h("input", { id, type: "text", autocomplete: "off", spellcheck: "false",
        placeholder: column.example ? `e.g. ${column.example}` : "values, comma-separated; * wildcard",
        oninput: () => this.changed() });
      const listId = `${id}-values`;
      const values = h("div", { id: listId, class: "value-list", hidden: true });
      const toggle = h("button", { type: "button", class: "values-toggle", "aria-expanded": "false", "aria-controls": listId,
        onclick: () => this.toggleValues(row) }, "Values");
      element = h("div", { class: "adv-filter", "data-name": name },
        h("label", { for: id, title: column.description }, column.label), text, toggle, remove, values);
      row = { kind: "values", column, text, values, toggle, focusable: text };
    }
    this.rows.set(name, row);
    this.list.append(element);
    if (focus) row.focusable.focus();
    return row;
  }

  async toggleValues(row) {
    const open = row.values.hidden;
    row.values.hidden = !open;
    row.toggle.setAttribute("aria-expanded", String(open));
    if (!open) return;
    row.values.replaceChildren(h("span", { class: "hint" }, "Loading…"));
    try {
      const others = this.filters().filter((f) => f.paramName !== row.column.name);
      const body = this.request({ column: row.column.name, filters: others });
      const data = await api(this.options.valuesPath, { method: "POST", body });
      const typed = this.typed(row);
      row.values.replaceChildren(...(data.values || []).map((item) => h("label", { class: "value-choice" },
        h("input", { type: "checkbox", value: item.value, checked: typed.includes(String(item.value)),
          onchange: (event) => this.tick(row, String(item.value), event.target.checked) }),
        ` ${item.value} `, h("span", { class: "count" }, this.options.countText(item.count)))));
      if (!(data.values || []).length) row.values.replaceChildren(h("span", { class: "hint" }, "No values."));
    } catch (err) {
      row.values.replaceChildren(h("span", { class: "error" }, err.message));
    }
  }

  typed(row) {
    return row.text.value.split(",").map((v) => v.trim()).filter(Boolean);
  }

  tick(row, value, on) {
    const values = this.typed(row).filter((v) => v !== value);
    if (on) values.push(value);
    row.text.value = values.join(", ");
    this.changed();
  }

  filters() {
    const out = [];
    for (const [name, row] of this.rows) {
      if (row.kind === "range") {
        // Sent as typed: the server reads numbers and dates and names the field it cannot read.
        const convert = (text) => (text.trim() === "" ? null : text.trim());
        const min = convert(row.min.value), max = convert(row.max.value);
        if (min !== null || max !== null) out.push({ paramName: name, values: [{ min, max }] });
      } else {
        const values = this.typed(row);
        if (values.length) out.push({ paramName: name, values });
      }
    }
    return out;
  }

  changed() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refreshCount(), 250);
  }

  async refreshCount() {
    if (!this.dialog.open) return; // counted when it opens
    const filters = this.filters();
    if (!filters.length && this.options.needsFilter) { this.count.textContent = "No filters yet."; return; }
    try {
      const data = await api(this.options.countPath, { method: "POST", body: this.request({ filters }) });
      this.count.textContent = `${data.count.toLocaleString()} ${this.options.noun} match`;
      this.count.classList.remove("error");
    } catch (err) {
      this.count.textContent = err.message;
      this.count.classList.add("error");
    }
  }
}
