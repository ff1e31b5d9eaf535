// Facet filters beside the grid, computed from the rows in hand (no server round trip).
// Values of one facet are OR-ed, facets are AND-ed; each value shows "(shown of total)".
import { h } from "./dom.js";

const FACETS = ["obs_collection", "instrument_name", "calib_level", "proposal_id", "filters",
  "dataproduct_type", "dataRights", "target_name", "wavelength_region", "intentType"];
const FIRST_VALUES = 8;
const CALIB_NAMES = { "-1": "-1 planned", 1: "1 raw", 2: "2 calibrated", 3: "3 combined" };

export class Facets {
  constructor(container, columns, onChange) {
    this.container = container;
    this.onChange = onChange;
    const byName = Object.fromEntries(columns.map((c) => [c.name, c]));
    this.columns = FACETS.map((name) => byName[name]).filter(Boolean);
    this.rows = [];
    this.chosen = new Map(); // column name -> Set of values
    this.expanded = new Set();
  }

  static values(row, column) {
    const value = row[column.name];
    if (value === null || value === undefined || value === "") return [];
    if (column.separator) {
      return [...new Set(String(value).split(column.separator).map((v) => v.trim()).filter(Boolean))];
    }
    return [String(value)];
  }

  setRows(rows) {
    this.rows = rows;
    this.chosen.clear();
  }

  clear() {
    this.chosen.clear();
    this.onChange();
  }

  matches(row) {
    for (const column of this.columns) {
      const chosen = this.chosen.get(column.name);
      if (!chosen || chosen.size === 0) continue;
      if (!Facets.values(row, column).some((v) => chosen.has(v))) return false;
    }
    return true;
  }

  filter(rows) {
    return rows.filter((row) => this.matches(row));
  }

  counts(rows, column) {
    const counts = new Map();
    for (const row of rows) {
      for (const value of Facets.values(row, column)) counts.set(value, (counts.get(value) || 0) + 1);
    }
    return counts;
  }

  render(shownRows) {
    const lists = [];
    for (const column of this.columns) {
      const total = this.counts(this.rows, column);
      if (total.size === 0) continue;
      const shown = this.counts(shownRows, column);
      const chosen = this.chosen.get(column.name) || new Set();
      const numeric = column.type === "int";
      const values = [...total.keys()].sort((a, b) => (numeric ? Number(a) - Number(b)
        : (total.get(b) - total.get(a)) || a.localeCompare(b)));
      const many = values.length > FIRST_VALUES && !this.expanded.has(column.name);
      const visible = many ? values.filter((v, i) => i < FIRST_VALUES || chosen.has(v)) : values;
      const id = `facet-${column.name}`;
      const items = visible.map((value) => {
        const box = h("input", {
          type: "checkbox", value, checked: chosen.has(value),
          onchange: (event) => this.toggle(column.name, value, event.target.checked),
        });
        const label = column.name === "calib_level" ? CALIB_NAMES[value] || value : value;
        return h("label", { class: `facet-value${shown.get(value) ? "" : " none-shown"}` }, box,
          h("span", { class: "facet-name" }, label),
          h("span", { class: "count" }, `(${shown.get(value) || 0} of ${total.get(value)})`));
      });
      const more = values.length > FIRST_VALUES ? h("button", {
        type: "button", class: "link-button",
        onclick: () => { this.toggleExpanded(column.name); },
      }, many ? `Show all ${values.length}` : "Show fewer") : null;
      lists.push(h("fieldset", { class: "facet", id }, h("legend", {}, column.label), items, more));
    }
    this.container.replaceChildren(...lists);
  }

  toggle(name, value, on) {
    const set = this.chosen.get(name) || new Set();
    if (on) set.add(value); else set.delete(value);
    this.chosen.set(name, set);
    this.onChange({ focus: `#facet-${name} input[value="${CSS.escape(value)}"]` });
  }

  toggleExpanded(name) {
    if (this.expanded.has(name)) this.expanded.delete(name); else this.expanded.add(name);
    this.onChange({ focus: `#facet-${name} button` });
  }
}
