// Album View: the rows of the grid's current page as preview images with their key columns.
// It shares everything with List View (the grid): the same page, sort, facets and selection,
// so switching views keeps the place. Previews come only for rows the caller may retrieve
// (the server sends ``preview`` URLs for those alone), so no image answers 401 or 403.
import { STATUS_LABEL, formatValue, h, icon, rowStatus } from "./dom.js";
import { thumbnail } from "./results-grid.js";

const KEY_COLUMNS = ["instrument_name", "filters", "target_name", "proposal_id", "t_exptime", "calib_level"];

export class AlbumView {
  /** handlers: onDetails(row); the grid holds the rows and the selection. */
  constructor(container, grid, handlers) {
    this.container = container;
    this.grid = grid;
    this.handlers = handlers;
  }

  render() {
    const byName = Object.fromEntries(this.grid.columns.map((c) => [c.name, c]));
    const cards = this.grid.pageRows().map((row) => this.card(row, byName));
    this.container.replaceChildren(h("ul", { class: "album", "aria-label": "Observations (Album View)" }, cards));
  }

  card(row, byName) {
    const key = row[this.grid.key];
    const label = this.grid.rowLabel(row);
    const status = rowStatus(row);
    const facts = KEY_COLUMNS.filter((n) => byName[n] && row[n] !== null && row[n] !== "")
      .map((n) => [h("dt", {}, byName[n].label), h("dd", {}, formatValue(row[n], byName[n]))]);
    const check = h("input", { type: "checkbox", checked: this.grid.selected.has(key), "aria-label": `Select ${label}`,
      onchange: (event) => { this.grid.toggle(key, event.target.checked); this.mark(key); } });
    return h("li", { class: `album-card row-${status}${this.grid.selected.has(key) ? " selected" : ""}`, "data-key": key },
      h("div", { class: "album-image" }, thumbnail(row, label, 160)),
      h("div", { class: "album-head" }, check,
        h("span", { class: `icon ${status}`, title: STATUS_LABEL[status] },
          icon(status === "exclusive" ? "lock" : status, STATUS_LABEL[status])),
        h("button", { type: "button", class: "link-button album-title", title: "Details and files",
          onclick: () => this.handlers.onDetails(row) }, label)),
      h("dl", { class: "album-facts" }, facts));
  }

  mark(key) {
    const card = this.container.querySelector(`li[data-key="${CSS.escape(String(key))}"]`);
    card?.classList.toggle("selected", this.grid.selected.has(key));
  }
}
