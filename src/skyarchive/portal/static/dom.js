// Small DOM helpers, icons and value formatting shared by the portal's widgets.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Put ``groups`` (elements holding labelled checkboxes, a box first in its label) in
 *  ``container``. While the boxes drawn there stand for the same values (``layout``, a string
 *  the caller makes of them), the drawn ones take the new ones' state and texts in place
 *  instead: a box replaced as a key goes down on it would get the key's release only, and the
 *  press would toggle nothing (filters reload, and redraw, as the user works through them). */
export function replaceBoxes(container, layout, groups) {
  const drawn = container.querySelectorAll("label");
  const fresh = groups.flatMap((group) => [...group.querySelectorAll("label")]);
  if (container.dataset.layout === layout && drawn.length === fresh.length) {
    drawn.forEach((label, i) => {
      const box = label.firstElementChild, next = fresh[i].firstElementChild;
      label.className = fresh[i].className;
      box.checked = next.checked;
      while (box.nextSibling) box.nextSibling.remove();  // the box itself, maybe focused, stays
      box.after(...[...fresh[i].childNodes].slice(1));
    });
    return;
  }
  container.dataset.layout = layout;
  container.replaceChildren(...groups);
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const PATHS = {
  public: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm-1.2 14.2-4-4 1.4-1.4 2.6 2.6 5.6-5.6 1.4 1.4z",
  lock: "M7 10V7a5 5 0 0 1 10 0v3h1.5a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1h-13a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zm2 0h6V7a3 3 0 0 0-6 0zm3 4a1.5 1.5 0 0 0-.8 2.8V19h1.6v-2.2A1.5 1.5 0 0 0 12 14z",
  planned: "M7 2h2v2h6V2h2v2h2.5a1 1 0 0 1 1 1v15a1 1 0 0 1-1 1h-15a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1H7zm-2 7v10h14V9zm2 2h4v4H7z",
  file: "M6 2h8l5 5v14a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zm7 1.5V8h4.5zM8 12v2h8v-2zm0 4v2h8v-2z",
  info: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm-1 8h2v7h-2zm0-4h2v2h-2z",
  basket: "M4 9h16l-1.6 10.2a1 1 0 0 1-1 .8H6.6a1 1 0 0 1-1-.8zm3.5-1L11 3h2l3.5 5z",
  bell: "M12 22a2.5 2.5 0 0 0 2.4-2h-4.8a2.5 2.5 0 0 0 2.4 2zm7-6V11a7 7 0 0 0-5.5-6.8V3a1.5 1.5 0 0 0-3 0v1.2A7 7 0 0 0 5 11v5l-2 2v1h18v-1z",
};

/** An inline SVG icon; decorative unless a label is given. */
export function icon(name, label = null) {
  const attrs = { class: `icon-svg icon-${name}`, viewBox: "0 0 24 24", width: "16", height: "16" };
  if (label) Object.assign(attrs, { role: "img", "aria-label": label });
  else attrs["aria-hidden"] = "true";
  const el = svg("svg", attrs, svg("path", { d: PATHS[name] || PATHS.info, fill: "currentColor" }));
  if (label) el.prepend(svg("title", {}, label));
  return el;
}

/** Replace every ``[data-icon]`` placeholder under ``root`` with its icon. */
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll("[data-icon]")) {
    if (!el.firstChild) el.append(icon(el.dataset.icon));
  }
}

const MJD_EPOCH_MS = Date.UTC(1858, 10, 17);
export const MJD_COLUMNS = new Set(["t_min", "t_max", "t_obs_release"]);

export function mjdToIso(mjd, withTime = true) {
  if (mjd === null || mjd === undefined || Number.isNaN(Number(mjd))) return "";
  const iso = new Date(MJD_EPOCH_MS + Number(mjd) * 86400000).toISOString();
  return withTime ? iso.slice(0, 16).replace("T", " ") : iso.slice(0, 10);
}

/** A cell's text. */
export function formatValue(value, column) {
  if (value === null || value === undefined || value === "") return "";
  const name = column.name;
  if (MJD_COLUMNS.has(name)) return mjdToIso(value);
  if (name === "s_ra" || name === "s_dec") return Number(value).toFixed(5);
  if (name === "distance") return Number(value).toFixed(2);
  if (column.type === "float") {
    const n = Number(value);
    return Math.abs(n) >= 1000 || Number.isInteger(n) ? n.toFixed(n % 1 ? 1 : 0) : n.toPrecision(4);
  }
  return String(value);
}

export function formatBytes(size) {
  const n = Number(size) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** public | exclusive | planned: how a row is marked in the grid and on the sky. */
export function rowStatus(row) {
  if (Number(row.calib_level) === -1) return "planned";
  return row.dataRights === "PUBLIC" ? "public" : "exclusive";
}

export const STATUS_LABEL = {
  public: "Public",
  exclusive: "Exclusive access period",
  planned: "Planned, not yet executed",
};

/** Whether the caller may download the row's files (the server decides; this only guides). */
export function mayRetrieve(row, caller) {
  if (row.dataRights === "PUBLIC") return true;
  return Boolean(caller && (caller.is_admin || (caller.programs || []).includes(String(row.proposal_id))));
}

// Subscriptions are for these missions' programs (as the server's notify/subscriptions.py says).
const SUBSCRIBABLE = new Set(["JWST", "HST"]);

/** The page that subscribes to a row's program, coming back here afterwards; null if none. */
export function subscribeHref(row) {
  const collection = String(row.obs_collection || "").toUpperCase();
  const program = String(row.proposal_id || "").trim();
  if (!SUBSCRIBABLE.has(collection) || !/^\d+$/.test(program)) return null;
  const query = new URLSearchParams({ collection, program, next: location.pathname + location.search });
  return `/subscribe?${query}`;
}
