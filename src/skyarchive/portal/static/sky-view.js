// Sky view: the footprints (s_region) of the rows on the grid's page, drawn in SVG on a
// tangent-plane projection around the search position, with an RA/Dec grid, a scale bar and
// the search circle. Hovering a footprint highlights its row (and the reverse); click selects.
import { STATUS_LABEL, h, rowStatus, svg } from "./dom.js";

const SIZE = 360;
const PAD = 28;
const MAX_OFFSET_DEG = 5;
const RAD = Math.PI / 180;
const STEPS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 18000, 36000]
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

/** Gnomonic projection about (ra0, dec0): offsets in degrees, x towards east, y north. */
export function project(ra, dec, ra0, dec0) {
  const d = dec * RAD, d0 = dec0 * RAD, da = (ra - ra0) * RAD;
  const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(da);
  if (cosc <= 0) return null;
  return [Math.cos(d) * Math.sin(da) / cosc / RAD,
    (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(da)) / cosc / RAD];
}

function separation(ra1, dec1, ra2, dec2) {
  const a = Math.sin((dec2 - dec1) * RAD / 2) ** 2
    + Math.cos(dec1 * RAD) * Math.cos(dec2 * RAD) * Math.sin((ra2 - ra1) * RAD / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a))) / RAD;
}

function angleText(deg) {
  if (deg >= 1) return `${+deg.toFixed(2)}°`;
  if (deg >= 1 / 60) return `${+(deg * 60).toFixed(1)}′`;
  return `${+(deg * 3600).toFixed(1)}″`;
}

function raText(ra, step) {
  const hours = ((ra % 360) + 360) % 360 / 15;
  const total = Math.round(hours * 3600);
  const hh = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
  if (step * 240 >= 60) return `${hh}h${String(mm).padStart(2, "0")}m`;
  return `${hh}h${String(mm).padStart(2, "0")}m${String(ss).padStart(2, "0")}s`;
}

function decText(dec, step) {
  const sign = dec < 0 ? "−" : "+";
  const total = Math.round(Math.abs(dec) * 3600);
  const dd = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
  if (step >= 1) return `${sign}${dd}°`;
  if (step >= 1 / 60) return `${sign}${dd}°${String(mm).padStart(2, "0")}′`;
  return `${sign}${dd}°${String(mm).padStart(2, "0")}′${String(ss).padStart(2, "0")}″`;
}

export class SkyView {
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers; // onHover(obsid|null), onSelect(obsid)
  }

  render(rows, position, selected) {
    const first = rows.find((r) => r.s_ra !== null && r.s_ra !== undefined);
    const centre = position ? [position.ra, position.dec] : first && [first.s_ra, first.s_dec];
    if (!centre) {
      this.container.replaceChildren(h("p", { class: "hint" }, "No footprints to show."));
      return;
    }
    const [ra0, dec0] = centre;
    const near = [], far = [];
    for (const row of rows) {
      const close = row.s_ra != null && separation(row.s_ra, row.s_dec, ra0, dec0) < MAX_OFFSET_DEG;
      (close && row.s_region ? near : far).push(row);
    }
    const drawn = near.map((row) => ({ row, shapes: parseRegion(row.s_region).map((shape) => (
      shape.type === "circle" ? { ...shape, centre: project(shape.ra, shape.dec, ra0, dec0) }
        : { ...shape, xy: shape.points.map(([ra, dec]) => project(ra, dec, ra0, dec0)).filter(Boolean) })) }));
    let extent = position ? position.radius : 10 / 3600;
    for (const { shapes } of drawn) {
      for (const shape of shapes) {
        const points = shape.type === "circle" ? (shape.centre ? [shape.centre] : []) : shape.xy;
        const pad = shape.type === "circle" ? shape.r : 0;
        for (const [x, y] of points) extent = Math.max(extent, Math.abs(x) + pad, Math.abs(y) + pad);
      }
    }
    extent *= 1.08;
    const scale = (SIZE / 2 - PAD) / extent;
    const toScreen = ([x, y]) => [SIZE / 2 - x * scale, SIZE / 2 - y * scale];
    const children = [svg("rect", { class: "sky-bg", x: 0, y: 0, width: SIZE, height: SIZE })];
    children.push(...this.grid(ra0, dec0, extent, toScreen));
    if (position) {
      children.push(svg("circle", { class: "search-circle", cx: SIZE / 2, cy: SIZE / 2,
        r: Math.max(2, position.radius * scale) }));
      children.push(svg("path", { class: "search-centre",
        d: `M${SIZE / 2 - 6} ${SIZE / 2}h12M${SIZE / 2} ${SIZE / 2 - 6}v12` }));
    }
    for (const { row, shapes } of drawn) {
      const status = rowStatus(row);
      const parts = shapes.map((shape) => (shape.type === "circle"
        ? shape.centre && svg("circle", { cx: toScreen(shape.centre)[0], cy: toScreen(shape.centre)[1],
          r: Math.max(1.5, shape.r * scale) })
        : svg("polygon", { points: shape.xy.map((p) => toScreen(p).map((v) => v.toFixed(1)).join(",")).join(" ") })));
      children.push(svg("g", {
        class: `footprint ${status}${selected.has(row.obsid) ? " selected" : ""}`,
        "data-obsid": row.obsid,
        onmouseenter: () => this.handlers.onHover?.(row.obsid),
        onmouseleave: () => this.handlers.onHover?.(null),
        onclick: () => this.handlers.onSelect?.(row.obsid),
      }, svg("title", {}, `${row.obs_id} (${row.instrument_name}, ${STATUS_LABEL[status]})`), parts));
    }
    children.push(...this.scaleBar(extent, scale));
    const label = `Sky view: ${drawn.length} footprints around RA ${ra0.toFixed(4)}, Dec ${dec0.toFixed(4)}`
      + (far.length ? `; ${far.length} rows elsewhere on the sky are not shown` : "");
    const picture = svg("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img", "aria-label": label,
      class: "sky-svg" }, children);
    const note = far.length ? h("p", { class: "hint" },
      `${far.length} row(s) of this page lie more than ${MAX_OFFSET_DEG}° away (or have no footprint) and are not drawn.`) : null;
    this.container.replaceChildren(picture, ...(note ? [note] : []));
  }

  grid(ra0, dec0, extent, toScreen) {
    const step = STEPS.find((s) => s >= extent / 2.5) || STEPS[STEPS.length - 1];
    const cosDec = Math.max(0.05, Math.cos(dec0 * RAD));
    const raStep = STEPS.find((s) => s * cosDec >= extent / 2.5) || step;
    const lines = [], labels = [];
    const decSpan = extent * 1.5, raSpan = Math.min(180, extent * 1.5 / cosDec);
    const sample = (fn) => Array.from({ length: 25 }, (_, i) => fn(i / 24))
      .map(([ra, dec]) => project(ra, dec, ra0, dec0)).filter(Boolean).map(toScreen);
    for (let dec = Math.ceil((dec0 - decSpan) / step) * step; dec <= dec0 + decSpan; dec += step) {
      if (Math.abs(dec) > 90) continue;
      const pts = sample((t) => [ra0 - raSpan + 2 * raSpan * t, dec]);
      lines.push(svg("polyline", { class: "grid-line", points: pts.map((p) => p.join(",")).join(" ") }));
      const left = pts.filter(([x, y]) => y > 12 && y < SIZE - 4 && x >= 0).sort((a, b) => a[0] - b[0])[0];
      if (left) labels.push(svg("text", { class: "grid-label", x: 3, y: left[1] - 3 }, decText(dec, step)));
    }
    for (let ra = Math.ceil((ra0 - raSpan) / raStep) * raStep; ra <= ra0 + raSpan; ra += raStep) {
      const pts = sample((t) => [ra, Math.max(-90, Math.min(90, dec0 - decSpan + 2 * decSpan * t))]);
      lines.push(svg("polyline", { class: "grid-line", points: pts.map((p) => p.join(",")).join(" ") }));
      const bottom = pts.filter(([x, y]) => x > 30 && x < SIZE - 30 && y <= SIZE).sort((a, b) => b[1] - a[1])[0];
      if (bottom) labels.push(svg("text", { class: "grid-label", x: bottom[0] + 3, y: SIZE - 4 }, raText(ra, raStep)));
    }
    return [...lines, ...labels,
      svg("text", { class: "compass", x: SIZE - 16, y: 16 }, "N↑"),
      svg("text", { class: "compass", x: SIZE - 40, y: 16 }, "E←")];
  }

  scaleBar(extent, scale) {
    const target = extent / 2;
    const length = [...STEPS].reverse().find((s) => s <= target) || STEPS[0];
    const px = length * scale;
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
}
