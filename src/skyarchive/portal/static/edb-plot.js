// The EDB page: mnemonic completion, a min/max plot decimated on the server, drag to zoom,
// and the pipeline's CSV for the range shown.

import { api } from "./api.js";
import { svg } from "./dom.js";

const MJD_EPOCH_MS = Date.UTC(1858, 10, 17);
const WIDTH = 900, HEIGHT = 360, LEFT = 78, RIGHT = 16, TOP = 14, BOTTOM = 42;
const BUCKETS = 820;

const $ = (id) => document.getElementById(id);
const form = $("edb-form"), mnemonicBox = $("edb-mnemonic"), startBox = $("edb-start"), endBox = $("edb-end");
const plot = $("edb-plot"), statusBar = $("edb-status"), errorBox = $("edb-error");
const csvLink = $("edb-csv"), resetButton = $("edb-reset"), description = $("edb-description");
let firstRange = null;

/** Milliseconds since 1970 of an ISO UTC time or an MJD typed in a box; NaN when neither. */
export function parseMoment(text) {
  const value = String(text || "").trim();
  if (/^\d+(\.\d+)?$/.test(value)) return MJD_EPOCH_MS + Number(value) * 86400000;
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(" ", "T")}Z`;
  return Date.parse(zoned);
}

function isoSeconds(ms) { return new Date(ms).toISOString().slice(0, 19); }
function compact(ms) { return isoSeconds(ms).replace(/[-:]/g, ""); }

function csvHref(mnemonic, startMs, endMs) {
  const uri = `mast:jwstedb/${mnemonic.toUpperCase()}-${compact(startMs)}-${compact(endMs)}.csv`;
  return `/api/v0.1/Download/file?uri=${encodeURIComponent(uri)}`;
}

async function complete() {
  const text = mnemonicBox.value.trim();
  const found = await api(`/api/portal/edb/mnemonics?text=${encodeURIComponent(text)}&limit=30`);
  const list = $("edb-mnemonics");
  list.replaceChildren(...found.mnemonics.map((m) => {
    const option = document.createElement("option");
    option.value = m.tlmMnemonic;
    option.label = m.description || "";
    return option;
  }));
  const exact = found.mnemonics.find((m) => m.tlmMnemonic === text.toUpperCase());
  description.textContent = exact ? describe(exact) : "";
}

function describe(m) {
  const unit = m.unit ? ` (${m.unit})` : "";
  const span = m.firstTime ? `; data from ${m.firstTime.slice(0, 19)} to ${m.lastTime.slice(0, 19)}` : "";
  return `${m.tlmMnemonic}: ${m.description || "no description"}${unit}, ${m.sampleCount} samples${span}.`;
}

function ticks(low, high, count) {
  const step = (high - low) / count;
  return Array.from({ length: count + 1 }, (_, i) => low + i * step);
}

function draw(data, startMs, endMs) {
  const x = (ms) => LEFT + ((ms - startMs) / (endMs - startMs)) * (WIDTH - LEFT - RIGHT);
  let low = Math.min(...data.min), high = Math.max(...data.max);
  if (!Number.isFinite(low)) { low = 0; high = 1; }
  if (high === low) { high += 1e-9 + Math.abs(high) * 1e-6; low -= 1e-9 + Math.abs(low) * 1e-6; }
  const y = (v) => TOP + (1 - (v - low) / (high - low)) * (HEIGHT - TOP - BOTTOM);
  const width = data.bucket_seconds * 1000;
  const parts = [];
  parts.push(svg("rect", { x: LEFT, y: TOP, width: WIDTH - LEFT - RIGHT, height: HEIGHT - TOP - BOTTOM, class: "edb-frame" }));
  for (const v of ticks(low, high, 4)) {
    parts.push(svg("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(v), y2: y(v), class: "edb-grid" }));
    parts.push(svg("text", { x: LEFT - 6, y: y(v) + 4, class: "edb-label", "text-anchor": "end" }, v.toPrecision(6)));
  }
  for (const t of ticks(startMs, endMs, 4)) {
    parts.push(svg("text", { x: x(t), y: HEIGHT - BOTTOM + 18, class: "edb-label", "text-anchor": "middle" },
      isoSeconds(t).replace("T", " ")));
  }
  // one vertical bar per bucket from its minimum to its maximum: the envelope of every sample
  const bars = data.t.map((t, i) => {
    const left = x(t), right = Math.max(left + 0.8, x(t + width));
    return `M${left.toFixed(1)},${y(data.max[i]).toFixed(1)}H${right.toFixed(1)}V${y(data.min[i]).toFixed(1)}H${left.toFixed(1)}Z`;
  }).join("");
  parts.push(svg("path", { d: bars, class: "edb-band" }));
  const middle = data.t.map((t, i) => `${i ? "L" : "M"}${x(t + width / 2).toFixed(1)},${y((data.min[i] + data.max[i]) / 2).toFixed(1)}`).join("");
  parts.push(svg("path", { d: middle, class: "edb-line" }));
  const unit = data.mnemonic.unit ? ` [${data.mnemonic.unit}]` : "";
  parts.push(svg("text", { x: 12, y: TOP + (HEIGHT - TOP - BOTTOM) / 2, class: "edb-label",
    transform: `rotate(-90 12 ${TOP + (HEIGHT - TOP - BOTTOM) / 2})`, "text-anchor": "middle" },
  `${data.mnemonic.tlmMnemonic}${unit}`));
  const selection = svg("rect", { class: "edb-selection", y: TOP, height: HEIGHT - TOP - BOTTOM, width: 0, visibility: "hidden" });
  parts.push(selection);
  plot.replaceChildren(...parts);
  zoomable(selection, startMs, endMs);
}

function zoomable(selection, startMs, endMs) {
  const toMs = (event) => {
    const box = plot.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    const fraction = Math.min(1, Math.max(0, (px - LEFT) / (WIDTH - LEFT - RIGHT)));
    return [startMs + fraction * (endMs - startMs), LEFT + fraction * (WIDTH - LEFT - RIGHT)];
  };
  let anchor = null;
  plot.onpointerdown = (event) => {
    anchor = toMs(event);
    selection.setAttribute("x", anchor[1]);
    selection.setAttribute("width", 0);
    selection.setAttribute("visibility", "visible");
  };
  plot.onpointermove = (event) => {
    if (!anchor) return;
    const [, px] = toMs(event);
    selection.setAttribute("x", Math.min(px, anchor[1]));
    selection.setAttribute("width", Math.abs(px - anchor[1]));
  };
  plot.onpointerup = (event) => {
    if (!anchor) return;
    const [ms] = toMs(event);
    const [from] = anchor;
    anchor = null;
    selection.setAttribute("visibility", "hidden");
    if (Math.abs(ms - from) < (endMs - startMs) / 200) return; // a click, not a drag
    startBox.value = isoSeconds(Math.min(ms, from));
    endBox.value = isoSeconds(Math.max(ms, from));
    show();
  };
}

async function show() {
  errorBox.hidden = true;
  const mnemonic = mnemonicBox.value.trim().toUpperCase();
  const startMs = parseMoment(startBox.value), endMs = parseMoment(endBox.value);
  if (!mnemonic || Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs) {
    errorBox.textContent = "Give a mnemonic and a time range (ISO UTC such as 2022-07-04T09:00:00, or MJD) whose end comes after its start.";
    errorBox.hidden = false;
    return;
  }
  firstRange ??= [startBox.value, endBox.value];
  resetButton.hidden = firstRange[0] === startBox.value && firstRange[1] === endBox.value;
  history.replaceState(null, "", `/edb?${new URLSearchParams({ mnemonic, start: startBox.value, end: endBox.value })}`);
  statusBar.textContent = "Loading…";
  const query = new URLSearchParams({ mnemonic, start: isoSeconds(startMs), end: isoSeconds(endMs), buckets: BUCKETS });
  try {
    const began = performance.now();
    const data = await api(`/api/portal/edb/plot?${query}`);
    draw(data, startMs, endMs);
    const samples = data.count.reduce((a, b) => a + b, 0);
    const source = data.source === "samples" ? "samples" : `${data.source.split(":")[1]} s rollups`;
    statusBar.textContent = `${samples.toLocaleString("en")} samples in ${data.t.length} buckets of ` +
      `${data.bucket_seconds.toPrecision(3)} s (from ${source}), ${Math.round(performance.now() - began)} ms.`;
    plot.dataset.buckets = String(data.t.length);
    plot.dataset.samples = String(samples);
    description.textContent = describe(data.mnemonic);
    csvLink.href = csvHref(mnemonic, startMs, endMs);
    csvLink.hidden = false;
  } catch (err) {
    statusBar.textContent = "";
    errorBox.textContent = err.message;
    errorBox.hidden = false;
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
resetButton.addEventListener("click", () => { [startBox.value, endBox.value] = firstRange; show(); });
let typing = null;
mnemonicBox.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(complete, 150); });

const given = JSON.parse($("page-data").textContent);
const asBox = (text) => (/^\d+(\.\d+)?$/.test(text) ? isoSeconds(parseMoment(text)) : text);
mnemonicBox.value = given.mnemonic || "";
startBox.value = given.start ? asBox(given.start) : "";
endBox.value = given.end ? asBox(given.end) : "";
complete();
if (mnemonicBox.value && startBox.value && endBox.value) show();
else if (!mnemonicBox.value) mnemonicBox.focus();
