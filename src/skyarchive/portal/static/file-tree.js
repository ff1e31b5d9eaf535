// The basket's file tree: Mission > Observation > File, a checkbox on every level.
// Observations start folded; a folded observation's files are not in the page until opened.
// Files the caller may not download (exclusive-access period) carry a padlock and cannot be
// ticked: they are counted as excluded instead.
import { formatBytes, h, icon } from "./dom.js";

const CALIB = { 1: "calibration level 1 (raw)", 2: "calibration level 2 (calibrated)", 3: "calibration level 3 (combined)" };

export class FileTree {
  constructor(container, { onChange = () => {}, onRemove = () => {} } = {}) {
    this.container = container;
    this.onChange = onChange;
    this.onRemove = onRemove;
    this.tree = [];
    this.selection = new Set(); // product_id of every ticked file
    this.expanded = new Set(); // obsid of every opened observation
    this.container.addEventListener("change", (event) => this.changed(event));
    this.container.addEventListener("click", (event) => this.clicked(event));
  }

  /** New data from the server; ``reselect``: tick what the filters select (else keep ticks). */
  setTree(tree, { reselect = true } = {}) {
    this.tree = tree;
    const known = new Set(this.files().map((f) => f.product_id));
    if (reselect) {
      this.selection = new Set(this.files().filter((f) => f.selected && f.may_retrieve).map((f) => f.product_id));
    } else {
      this.selection = new Set([...this.selection].filter((id) => known.has(id)));
    }
    this.render();
  }

  files(node = null) {
    if (node && node.children) return node.children;
    const missions = node ? [node] : this.tree;
    return missions.flatMap((m) => m.observations.flatMap((o) => o.children));
  }

  selectable(files) { return files.filter((f) => f.may_retrieve); }

  setAll(on) {
    for (const f of this.selectable(this.files())) {
      if (on) this.selection.add(f.product_id); else this.selection.delete(f.product_id);
    }
    this.render();
    this.onChange();
  }

  expandAll(on) {
    this.expanded = new Set(on ? this.tree.flatMap((m) => m.observations.map((o) => o.obsid)) : []);
    this.render();
  }

  /** What a delivery would get: ticked files, their bytes, and the excluded ones with reasons. */
  summary() {
    const all = this.files();
    const chosen = all.filter((f) => this.selection.has(f.product_id));
    const locked = all.filter((f) => f.selected && !f.may_retrieve);
    return {
      files: all.length,
      bytes: all.reduce((n, f) => n + f.size, 0),
      selected: chosen.length,
      selectedBytes: chosen.reduce((n, f) => n + f.size, 0),
      productIds: chosen.map((f) => f.product_id),
      excluded: locked.length,
      lockedTotal: all.filter((f) => !f.may_retrieve).length,
    };
  }

  state(files) {
    const pick = this.selectable(files);
    const on = pick.filter((f) => this.selection.has(f.product_id)).length;
    return { on, of: pick.length, checked: pick.length > 0 && on === pick.length, mixed: on > 0 && on < pick.length };
  }

  changed(event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
    let files = [];
    if (box.dataset.product) files = this.files().filter((f) => String(f.product_id) === box.dataset.product);
    else if (box.dataset.obsid) files = this.observation(box.dataset.obsid)?.children || [];
    else if (box.dataset.mission) files = this.files(this.tree.find((m) => m.mission === box.dataset.mission));
    for (const f of this.selectable(files)) {
      if (box.checked) this.selection.add(f.product_id); else this.selection.delete(f.product_id);
    }
    this.render();
    this.onChange();
  }

  clicked(event) {
    const button = event.target.closest("button");
    if (!button || !this.container.contains(button)) return;
    const obsid = button.dataset.obsid;
    if (button.dataset.action === "toggle") {
      if (this.expanded.has(obsid)) this.expanded.delete(obsid); else this.expanded.add(obsid);
      this.render();
    } else if (button.dataset.action === "remove") {
      this.onRemove(this.observation(obsid));
    }
  }

  observation(obsid) {
    for (const m of this.tree) {
      const found = m.observations.find((o) => o.obsid === String(obsid));
      if (found) return found;
    }
    return null;
  }

  render() {
    const focused = document.activeElement && this.container.contains(document.activeElement)
      ? document.activeElement.id : null;
    const list = h("ul", { class: "tree-missions" }, this.tree.map((m) => this.missionNode(m)));
    this.container.replaceChildren(list);
    if (focused) document.getElementById(focused)?.focus();
  }

  checkbox(id, state, label, data) {
    const box = h("input", { type: "checkbox", id, checked: state.checked, disabled: state.of === 0,
      "aria-label": label, dataset: data });
    box.indeterminate = state.mixed;
    return box;
  }

  missionNode(m) {
    const files = this.files(m);
    const state = this.state(files);
    const id = `tree-m-${m.mission}`;
    return h("li", { class: "tree-mission" },
      h("div", { class: "tree-row mission-row" },
        this.checkbox(id, state, `All ${m.mission} files`, { mission: m.mission }),
        h("span", { class: "mission-name" }, m.mission),
        h("span", { class: "tree-count" }, `${m.observations.length} observation${m.observations.length === 1 ? "" : "s"}, ${state.on} of ${files.length} files selected`)),
      h("ul", { class: "tree-observations" }, m.observations.map((o) => this.observationNode(o))));
  }

  observationNode(o) {
    const state = this.state(o.children);
    const open = this.expanded.has(o.obsid);
    const chosen = o.children.filter((f) => this.selection.has(f.product_id));
    const bytes = chosen.reduce((n, f) => n + f.size, 0);
    const locked = o.children.some((f) => !f.may_retrieve);
    const listId = `tree-files-${o.obsid}`;
    return h("li", { class: "tree-observation", dataset: { obsid: o.obsid } },
      h("div", { class: "tree-row obs-row" },
        h("button", { type: "button", class: "icon-button toggle", "aria-expanded": String(open),
          "aria-controls": listId, "aria-label": `${open ? "Hide" : "Show"} the files of ${o.obs_id}`,
          id: `tree-t-${o.obsid}`, dataset: { action: "toggle", obsid: o.obsid } }, open ? "▾" : "▸"),
        this.checkbox(`tree-o-${o.obsid}`, state, `All files of ${o.obs_id}`, { obsid: o.obsid }),
        h("span", { class: "obs-label" }, o.obs_id),
        locked ? h("span", { class: "icon exclusive" }, icon("lock", "Exclusive-access files")) : null,
        h("span", { class: "tree-count" }, `${state.on} of ${o.files} files, ${formatBytes(bytes)}`),
        h("button", { type: "button", class: "link-button remove", id: `tree-r-${o.obsid}`,
          "aria-label": `Remove ${o.obs_id} from the basket`, dataset: { action: "remove", obsid: o.obsid } },
          "Remove")),
      open ? h("ul", { class: "tree-files", id: listId }, o.children.map((f) => this.fileNode(f))) : null);
  }

  fileNode(f) {
    const on = this.selection.has(f.product_id);
    const id = `tree-f-${f.product_id}`;
    const box = h("input", { type: "checkbox", id, checked: on, disabled: !f.may_retrieve,
      dataset: { product: String(f.product_id) } });
    const kinds = [...new Set([f.productType, f.productSubGroupDescription].filter(Boolean))];
    const facts = [...kinds, `L${f.calib_level}`, formatBytes(f.size)].join(" · ");
    const lock = f.may_retrieve ? null : h("span", { class: "icon exclusive" },
      icon("lock", "Exclusive-access period: you may not download this file"));
    return h("li", { class: `tree-file${f.may_retrieve ? "" : " locked"}${f.mrp ? " mrp" : ""}` },
      h("label", { for: id, class: "file-label", title: f.description || "" }, box, lock,
        h("span", { class: "file-name" }, f.productFilename)),
      h("span", { class: "file-facts", title: CALIB[f.calib_level] || `calibration level ${f.calib_level}` }, facts),
      f.mrp ? h("span", { class: "mrp-tag", title: "Minimum Recommended Product" }, "MRP") : null);
  }
}
