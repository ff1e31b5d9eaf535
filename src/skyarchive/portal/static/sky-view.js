// Sky view: the footprints (s_region) of the rows on the grid's page over the archive's own
// sky image (HiPS, hips-layer.js), in an orthographic projection about the view's centre, with
// an RA/Dec grid, a scale bar, the search circle and a readout of the position under the
// cursor. Zoom (wheel, buttons, pinch, + and -), pan (drag, touch, arrow keys). Hovering a
// footprint highlights its row (and the reverse); click selects. A list beside it says in
// words what is drawn. The interface to the page: render(rows, position, selected),
// highlight(obsid), and the handlers onHover(obsid|null), onSelect(obsid).
import { STATUS_LABEL, h, rowStatus, svg } from "./dom.js";
import { HipsLayer } from "./hips-layer.js";
import {
  MAX_FOV, angleText, degreesText, greatCircle, project, separation, sexagesimal, smallCircle, unproject,
} from "./sky-math.js";

export { project } from "./sky-math.js";

const SIZE = 360;
const MIN_FOV = 1 / 3600;
const STEPS = [0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 18000, 36000, 72000, 108000]
  .map((s) => s / 3600);

/** STC-S regions as lists of shapes: {type: "polygon", points: [[ra, dec], ...]} or circles. */
export function parseRegion(text) {
  const shapes = [];
  let current = null;
  for (const token of String(text || "").trim().split(/\s+/)) {
    const word = token.toUpperCase();
    if (word === "POLYGON" || word === "CIRCLE") {
      current = { type: word.toLowerCase(), numbers: [] };
      shapes.push(current);
    } else if (current && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) {
      current.numbers.push(Number(token));
    }
  }
  return shapes.flatMap((shape) => {
    const n = shape.numbers;
    if (shape.type === "circle" && n.length >= 3) return [{ type: "circle", ra: n[0], dec: n[1], r: n[2] }];
    if (shape.type === "polygon" && n.length >= 6) {
      const points = [];
      for (let i = 0; i + 1 < n.length; i += 2) points.push([n[i], n[i + 1]]);
      return [{ type: "polygon", points }];
    }
    return [];
  });
}

/** The outline of a shape as sky points: polygon edges follow great circles, circles are sampled. */
function outline(shape, fov) {
  if (shape.type === "circle") return smallCircle(shape.ra, shape.dec, shape.r, 72);
  const points = [];
  shape.points.forEach((a, i) => {
    const b = shape.points[(i + 1) % shape.points.length];
    const steps = Math.min(64, Math.max(1, Math.ceil(separation(...a, ...b) / (fov / 40))));
    points.push(...greatCircle(a, b, steps).slice(0, -1));
  });
  return points;
}

/** Centre and size of a view that shows every footprint and the search circle. */
function fitView(drawn, position) {
  const all = drawn.flatMap(({ shapes }) => shapes.flatMap((s) => (s.type === "circle" ? smallCircle(s.ra, s.dec, s.r, 8) : s.points)));
  let centre;
  if (position) centre = [position.ra, position.dec];
  else if (all.length) {
    const sum = all.map(([ra, dec]) => [Math.cos(dec * Math.PI / 180) * Math.cos(ra * Math.PI / 180),
      Math.cos(dec * Math.PI / 180) * Math.sin(ra * Math.PI / 180), Math.sin(dec * Math.PI / 180)])
      .reduce((a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
    centre = [((Math.atan2(sum[1], sum[0]) * 180 / Math.PI) + 360) % 360, Math.atan2(sum[2], Math.hypot(sum[0], sum[1])) * 180 / Math.PI];
  } else return null;
  let reach = position ? position.radius : 10 / 3600;
  for (const [ra, dec] of all) reach = Math.max(reach, separation(ra, dec, ...centre));
  return { ra: centre[0], dec: centre[1], fov: Math.min(MAX_FOV, Math.max(20 / 3600, reach * 2.3)) };
}

export class SkyView {
  constructor(container, handlers, options = {}) {
    this.container = container;
    this.handlers = handlers; // onHover(obsid|null), onSelect(obsid)
    // bottom first: an operator's external HiPS, then the archive's own
    this.layers = (options.hips || []).map((hips) => new HipsLayer(hips, () => this.schedule()));
    this.view = null;
    this.units = "sexagesimal";
    this.pointers = new Map();
    this.rows = [];
    this.selected = new Set();
    this.build();
  }

  build() {
    const id = (name) => `${this.container.id || "sky"}-${name}`; // unique per view on a page
    this.canvas = h("canvas", { class: "sky-canvas", width: SIZE, height: SIZE, "aria-hidden": "true" });
    this.overlay = svg("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, class: "sky-svg", role: "img" });
    this.stage = h("div", {
      class: "sky-stage", tabindex: "0", role: "application", "aria-roledescription": "sky map",
      "aria-describedby": `${id("help")} ${id("list")}`,
      onkeydown: (event) => this.key(event),
      onwheel: (event) => this.wheel(event),
      onpointerdown: (event) => this.pointerDown(event),
      onpointermove: (event) => this.pointerMove(event),
      onpointerup: (event) => this.pointerUp(event),
      onpointercancel: (event) => this.pointerUp(event),
      onpointerleave: () => this.showReadout(null),
      onfocus: () => this.showReadout(null),
    }, this.canvas, this.overlay);
    const button = (label, text, action) => h("button", { type: "button", class: "sky-button", "aria-label": label,
      title: label, onclick: action }, text);
    this.unitsButton = h("button", { type: "button", class: "sky-button units", "aria-pressed": "false",
      title: "Show coordinates in degrees", onclick: () => this.toggleUnits() }, "deg");
    this.readout = h("output", { class: "sky-readout", id: id("readout") }, "");
    this.toolbar = h("div", { class: "sky-toolbar", role: "toolbar", "aria-label": "Sky view controls" },
      button("Zoom in", "+", () => this.zoom(1 / 1.6)),
      button("Zoom out", "−", () => this.zoom(1.6)),
      button("Reset the view", "⟲", () => this.reset()),
      this.unitsButton);
    this.help = h("p", { class: "visually-hidden", id: id("help") },
      "Arrow keys pan, plus and minus zoom, 0 resets the view.");
    this.list = h("div", { class: "visually-hidden sky-list", id: id("list") });
    this.note = h("p", { class: "hint sky-note" });
    this.container.replaceChildren(this.stage, this.toolbar, this.readout, this.help, this.list, this.note);
  }

  render(rows, position, selected) {
    this.rows = rows;
    this.selected = selected;
    this.drawn = rows.filter((row) => row.s_region).map((row) => ({ row, shapes: parseRegion(row.s_region) }))
      .filter(({ shapes }) => shapes.length);
    const signature = JSON.stringify([position, this.drawn.map(({ row }) => row.obsid)]);
    if (signature !== this.signature || !this.view) {
      this.signature = signature;
      this.position = position;
      this.home = fitView(this.drawn, position);
      this.view = this.home && { ...this.home };
    }
    this.draw();
  }

  reset() {
    if (this.home) this.view = { ...this.home };
    this.draw();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  scale() { return SIZE / this.view.fov; } // screen pixels per degree

  toScreen(ra, dec) {
    const p = project(ra, dec, this.view.ra, this.view.dec);
    return p && [SIZE / 2 - p[0] * this.scale(), SIZE / 2 - p[1] * this.scale()];
  }

  toSky(x, y) {
    return unproject((SIZE / 2 - x) / this.scale(), (SIZE / 2 - y) / this.scale(), this.view.ra, this.view.dec);
  }

  draw() {
    if (!this.view) {
      this.overlay.replaceChildren();
      this.canvas.getContext("2d").clearRect(0, 0, SIZE, SIZE);
      this.note.textContent = "No footprints to show.";
      this.list.replaceChildren();
      return;
    }
    const radius = Math.min(90, this.view.fov * 0.75);
    const ctx = this.canvas.getContext("2d");
    ctx.fillStyle = "#0e1726";
    ctx.fillRect(0, 0, SIZE, SIZE);
    const frame = { ra: this.view.ra, dec: this.view.dec, radius, degreesPerPixel: this.view.fov / SIZE,
      toScreen: (ra, dec) => this.toScreen(ra, dec) };
    const tiles = this.layers.reduce((sum, layer) => sum + layer.draw(ctx, frame), 0);
    this.stage.dataset.tiles = String(tiles);
    const children = [...this.grid(), ...this.searchCircle()];
    const inView = [], outside = [];
    for (const item of this.drawn) {
      const parts = item.shapes.map((shape) => this.path(outline(shape, this.view.fov))).filter(Boolean);
      (parts.length ? inView : outside).push(item.row);
      if (!parts.length) continue;
      const { row } = item, status = rowStatus(row);
      children.push(svg("g", {
        class: `footprint ${status}${this.selected.has(row.obsid) ? " selected" : ""}`,
        "data-obsid": row.obsid,
        onmouseenter: () => this.handlers.onHover?.(row.obsid),
        onmouseleave: () => this.handlers.onHover?.(null),
        onclick: () => this.handlers.onSelect?.(row.obsid),
      }, svg("title", {}, `${row.obs_id} (${row.instrument_name}, ${STATUS_LABEL[status]})`),
      parts.map((d) => svg("path", { d }))));
    }
    children.push(...this.scaleBar());
    this.overlay.replaceChildren(...children);
    const where = `${sexagesimal(this.view.ra, this.view.dec, 1)}, field ${angleText(this.view.fov)} wide`;
    this.overlay.setAttribute("aria-label", `Sky view at ${where}: ${inView.length} footprints`
      + (this.layers.length ? ` over the sky image (${tiles} tiles)` : ""));
    this.stage.setAttribute("aria-label", `Sky view at ${where}`);
    const missing = this.rows.length - this.drawn.length;
    this.note.textContent = [outside.length ? `${outside.length} footprint(s) outside the view.` : "",
      missing ? `${missing} row(s) have no footprint.` : ""].filter(Boolean).join(" ");
    this.describe(inView, outside);
  }

  describe(inView, outside) {
    const item = (row) => h("li", {}, `${row.obs_id}, ${row.instrument_name}, ${STATUS_LABEL[rowStatus(row)]}`
      + (this.selected.has(row.obsid) ? ", selected" : ""));
    this.list.replaceChildren(
      h("p", {}, `Footprints in the sky view (${inView.length}):`), h("ul", {}, inView.map(item)),
      outside.length ? h("p", {}, `Outside the view (${outside.length}):`) : null,
      outside.length ? h("ul", {}, outside.map(item)) : null);
  }

  /** An SVG path through the projected points; hidden stretches (far side) break it. */
  path(points, closed = true) {
    let d = "", pen = false, visible = 0;
    const limit = SIZE * 50;
    for (const [ra, dec] of points) {
      const p = this.toScreen(ra, dec);
      if (!p || Math.abs(p[0]) > limit || Math.abs(p[1]) > limit) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
      pen = true;
      if (p[0] >= 0 && p[0] <= SIZE && p[1] >= 0 && p[1] <= SIZE) visible++;
    }
    if (!d) return null;
    if (!visible && !this.encloses(points)) return null;
    return closed && pen && !d.slice(1).includes("M") ? `${d}Z` : d;
  }

  /** Whether a closed outline surrounds the view's centre (a footprint bigger than the view). */
  encloses(points) {
    const projected = points.map(([ra, dec]) => project(ra, dec, this.view.ra, this.view.dec));
    if (projected.some((p) => !p)) return false;
    let inside = false;
    for (let i = 0, j = projected.length - 1; i < projected.length; j = i++) {
      const [xi, yi] = projected[i], [xj, yj] = projected[j];
      if ((yi > 0) !== (yj > 0) && 0 < (xj - xi) * (0 - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  searchCircle() {
    if (!this.position) return [];
    const d = this.path(smallCircle(this.position.ra, this.position.dec, this.position.radius, 96));
    const c = this.toScreen(this.position.ra, this.position.dec);
    return [d && svg("path", { class: "search-circle", d }),
      c && svg("path", { class: "search-centre", d: `M${c[0] - 6} ${c[1]}h12M${c[0]} ${c[1] - 6}v12` })].filter(Boolean);
  }

  grid() {
    const { ra: ra0, dec: dec0, fov } = this.view;
    const radius = Math.min(90, fov * 0.75);
    const step = STEPS.find((s) => s >= fov / 4) || 30;
    const nearPole = Math.abs(dec0) + radius >= 89.9;
    const cosDec = Math.max(1e-3, Math.cos(Math.min(89.9, Math.abs(dec0) + radius) * Math.PI / 180));
    const raSpan = nearPole ? 180 : Math.min(180, radius / cosDec);
    const raStep = STEPS.find((s) => s >= Math.min(90, raSpan / 3)) || 30;
    const lines = [], labels = [];
    const lowDec = Math.max(-90, dec0 - radius), highDec = Math.min(90, dec0 + radius);
    for (let dec = Math.ceil(lowDec / step) * step; dec <= highDec; dec += step) {
      if (Math.abs(dec) >= 90) continue;
      const points = Array.from({ length: 121 }, (_, i) => [ra0 - raSpan + 2 * raSpan * i / 120, dec]);
      const d = this.path(points, false);
      if (!d) continue;
      lines.push(svg("path", { class: "grid-line", d }));
      const left = points.map((p) => this.toScreen(...p)).filter((p) => p && p[0] >= 0 && p[1] > 12 && p[1] < SIZE - 16)
        .sort((a, b) => a[0] - b[0])[0];
      if (left) labels.push(svg("text", { class: "grid-label", x: Math.max(3, left[0] + 3), y: left[1] - 3 }, decLabel(dec, step)));
    }
    const first = nearPole ? 0 : Math.ceil((ra0 - raSpan) / raStep) * raStep;
    const last = nearPole ? 360 - raStep / 2 : ra0 + raSpan;
    for (let ra = first; ra <= last; ra += raStep) {
      const points = Array.from({ length: 121 }, (_, i) => [ra, lowDec + (highDec - lowDec) * i / 120]);
      const d = this.path(points, false);
      if (!d) continue;
      lines.push(svg("path", { class: "grid-line", d }));
      const bottom = points.map((p) => this.toScreen(...p)).filter((p) => p && p[0] > 30 && p[0] < SIZE - 60 && p[1] <= SIZE)
        .sort((a, b) => b[1] - a[1])[0];
      if (bottom) labels.push(svg("text", { class: "grid-label", x: bottom[0] + 3, y: Math.min(SIZE - 4, bottom[1] - 3) }, raLabel(ra, raStep)));
    }
    return [...lines, ...labels, svg("text", { class: "compass", x: SIZE - 16, y: 16 }, "N↑"),
      svg("text", { class: "compass", x: SIZE - 40, y: 16 }, "E←")];
  }

  scaleBar() {
    const length = [...STEPS].reverse().find((s) => s <= this.view.fov / 4) || STEPS[0];
    const px = length * this.scale();
    const x = SIZE - 12 - px, y = SIZE - 22;
    return [svg("path", { class: "scale-bar", d: `M${x} ${y}h${px}M${x} ${y - 4}v8M${x + px} ${y - 4}v8` }),
      svg("text", { class: "scale-label", x: x + px / 2, y: y - 6, "text-anchor": "middle" }, angleText(length))];
  }

  highlight(obsid) {
    for (const el of this.container.querySelectorAll(".footprint.hover")) el.classList.remove("hover");
    if (!obsid) return;
    const el = this.container.querySelector(`.footprint[data-obsid="${obsid}"]`);
    if (el) el.classList.add("hover");
  }

  // --- interaction -------------------------------------------------------------------------

  local(event) {
    const box = this.overlay.getBoundingClientRect();
    return [(event.clientX - box.left) * SIZE / box.width, (event.clientY - box.top) * SIZE / box.height];
  }

  zoom(factor, at = [SIZE / 2, SIZE / 2]) {
    if (!this.view) return;
    const fov = Math.min(MAX_FOV, Math.max(MIN_FOV, this.view.fov * factor));
    const k = fov / this.view.fov;
    // keep the sky under ``at`` where it is: the new centre is the point that moves to the middle
    const centre = this.toSky(at[0] + (SIZE / 2 - at[0]) * k, at[1] + (SIZE / 2 - at[1]) * k);
    this.view = { ...this.view, fov, ...(centre ? { ra: centre[0], dec: centre[1] } : {}) };
    this.schedule();
  }

  pan(dx, dy) { // screen pixels
    const centre = this.view && this.toSky(SIZE / 2 - dx, SIZE / 2 - dy);
    if (centre) this.view = { ...this.view, ra: centre[0], dec: centre[1] };
    this.schedule();
  }

  key(event) {
    if (!this.view) return;
    const stepPx = SIZE / 10;
    const actions = {
      ArrowLeft: () => this.pan(stepPx, 0), ArrowRight: () => this.pan(-stepPx, 0),
      ArrowUp: () => this.pan(0, stepPx), ArrowDown: () => this.pan(0, -stepPx),
      "+": () => this.zoom(1 / 1.6), "=": () => this.zoom(1 / 1.6), "-": () => this.zoom(1.6),
      0: () => this.reset(), Home: () => this.reset(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
    this.showReadout([SIZE / 2, SIZE / 2]);
  }

  wheel(event) {
    if (!this.view) return;
    event.preventDefault();
    this.zoom(Math.exp(Math.max(-1, Math.min(1, event.deltaY / 300))), this.local(event));
  }

  pointerDown(event) {
    if (!this.view || event.button > 0) return;
    this.pointers.set(event.pointerId, this.local(event));
    this.gesture = { view: { ...this.view }, points: new Map(this.pointers), moved: false };
  }

  pointerMove(event) {
    const at = this.local(event);
    this.showReadout(at);
    if (!this.pointers.has(event.pointerId) || !this.gesture) return;
    this.pointers.set(event.pointerId, at);
    const start = this.gesture.view;
    const [a, b] = [...this.pointers.keys()];
    if (b !== undefined && this.gesture.points.has(b)) { // pinch: the distance sets the zoom
      const d0 = distance(this.gesture.points.get(a), this.gesture.points.get(b));
      const d1 = distance(this.pointers.get(a), this.pointers.get(b));
      if (d0 > 0 && d1 > 0) this.view = { ...start, fov: Math.min(MAX_FOV, Math.max(MIN_FOV, start.fov * d0 / d1)) };
      this.gesture.moved = true;
      this.schedule();
      return;
    }
    const [x0, y0] = this.gesture.points.get(event.pointerId) || at;
    if (!this.gesture.moved && Math.hypot(at[0] - x0, at[1] - y0) < 3) return;
    if (!this.gesture.moved) {
      try { this.stage.setPointerCapture(event.pointerId); } catch { /* the pointer is gone already */ }
    }
    this.gesture.moved = true;
    const scale = SIZE / start.fov;
    // the sky that was at (middle - drag) in the starting view comes to the middle
    const centre = unproject((at[0] - x0) / scale, (at[1] - y0) / scale, start.ra, start.dec);
    if (centre) this.view = { ...start, ra: centre[0], dec: centre[1] };
    this.schedule();
  }

  pointerUp(event) {
    this.pointers.delete(event.pointerId);
    if (!this.pointers.size) this.gesture = null;
  }

  toggleUnits() {
    this.units = this.units === "sexagesimal" ? "degrees" : "sexagesimal";
    const degrees = this.units === "degrees";
    this.unitsButton.setAttribute("aria-pressed", String(degrees));
    this.unitsButton.title = degrees ? "Show coordinates in hh:mm:ss" : "Show coordinates in degrees";
    this.showReadout(this.lastAt || [SIZE / 2, SIZE / 2]);
  }

  showReadout(at) {
    this.lastAt = at;
    if (!this.view) { this.readout.textContent = ""; return; }
    const where = at || [SIZE / 2, SIZE / 2];
    const sky = this.toSky(...where);
    const text = sky ? (this.units === "degrees" ? degreesText(...sky) : sexagesimal(...sky)) : "off the sky";
    this.readout.textContent = `${at ? "Cursor" : "Centre"}: ${text}`;
    this.readout.dataset.ra = sky ? String(sky[0]) : "";
    this.readout.dataset.dec = sky ? String(sky[1]) : "";
  }
}

function distance(a, b) { return Math.hypot(a[0] - b[0], a[1] - b[1]); }

function raLabel(ra, step) {
  const [text] = sexagesimal(((ra % 360) + 360) % 360, 0, 0).split(" ");
  const [hh, mm, ss] = text.split(":");
  if (step * 240 >= 3600) return `${Number(hh)}h`;
  if (step * 240 >= 60) return `${Number(hh)}h${mm}m`;
  return `${Number(hh)}h${mm}m${ss}s`;
}

function decLabel(dec, step) {
  const sign = dec < 0 ? "−" : "+";
  const total = Math.round(Math.abs(dec) * 3600);
  const dd = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
  if (step >= 1) return `${sign}${dd}°`;
  if (step >= 1 / 60) return `${sign}${dd}°${String(mm).padStart(2, "0")}′`;
  return `${sign}${dd}°${String(mm).padStart(2, "0")}′${String(ss).padStart(2, "0")}″`;
}
