// Facet filters beside the grid, counted by the server over the whole match set: each value
// shows "(shown of total)", its rows under the chosen values and in the whole result.
// Values of one facet are OR-ed, facets are AND-ed; choosing one asks the server again.
import { h, replaceBoxes } from "./dom.js";

const FIRST_VALUES = 8;
const CALIB_NAMES = { "-1": "-1 planned", 1: "1 raw", 2: "2 calibrated", 3: "3 combined" };
const RIGHTS_NAMES = { PUBLIC: "public", EXCLUSIVE_ACCESS: "exclusive access" };

export class Facets {
  constructor(container, columns, onChange) {
    this.container = container;
    this.onChange = onChange;
    this.byName = Object.fromEntries(columns.map((c) => [c.name, c]));
    this.chosen = new Map(); // column name -> Set of values
    this.expanded = new Set();
    this.counts = {};
  }

  /** The chosen values as the server takes them: {column: [values]}, empty facets left out. */
  chosenObject() {
    const out = {};
    for (const [name, values] of this.chosen) if (values.size) out[name] = [...values];
    return out;
  }

  /** Choose the values of ``chosen`` ({column: [values]}, e.g. from a shared link) and no others. */
  setChosen(chosen) {
    this.chosen = new Map(Object.entries(chosen || {}).map(([name, values]) => [name, new Set(values.map(String))]));
  }

  clear() {
    this.chosen.clear();
    this.onChange();
  }

  /** Draw the server's counts: {column: [{value, shown, total}]}, in its order. */
  render(counts) {
    this.counts = counts || {};
    const lists = [], layout = [];
    for (const [name, values] of Object.entries(this.counts)) {
      if (!values.length) continue;
      const column = this.byName[name] || { name, label: name };
      const chosen = this.chosen.get(name) || new Set();
      const many = values.length > FIRST_VALUES && !this.expanded.has(name);
      const visible = many ? values.filter((v, i) => i < FIRST_VALUES || chosen.has(v.value)) : values;
      const moreText = values.length > FIRST_VALUES ? (many ? `Show all ${values.length}` : "Show fewer") : null;
      layout.push([name, visible.map((v) => v.value), moreText]);
      const items = visible.map(({ value, shown, total }) => {
        const box = h("input", {
          type: "checkbox", value, checked: chosen.has(value),
          onchange: (event) => this.toggle(name, value, event.target.checked),
        });
        const names = { calib_level: CALIB_NAMES, dataRights: RIGHTS_NAMES }[name];
        const label = names?.[value] || value;
        return h("label", { class: `facet-value${shown ? "" : " none-shown"}` }, box,
          h("span", { class: "facet-name" }, label),
          h("span", { class: "count" }, `(${shown.toLocaleString()} of ${total.toLocaleString()})`));
      });
      const more = moreText && h("button", {
        type: "button", class: "link-button", onclick: () => this.toggleExpanded(name),
      }, moreText);
      lists.push(h("fieldset", { class: "facet", id: `facet-${name}` }, h("legend", {}, column.label), items, more));
    }
    replaceBoxes(this.container, JSON.stringify(["observations", layout]), lists);
  }

  toggle(name, value, on) {
    const set = this.chosen.get(name) || new Set();
    if (on) set.add(value); else set.delete(value);
    this.chosen.set(name, set);
    this.onChange({ focus: `#facet-${name} input[value="${CSS.escape(value)}"]` });
  }

  toggleExpanded(name) {
    if (this.expanded.has(name)) this.expanded.delete(name); else this.expanded.add(name);
    this.render(this.counts); // no new counts needed: only more of them shown
    this.container.querySelector(`#facet-${CSS.escape(name)} button`)?.focus();
  }
}
