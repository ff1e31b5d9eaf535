// Details of one observation: its fields, preview, links and product list.
import { api } from "./api.js";
import { STATUS_LABEL, formatBytes, formatValue, h, icon, rowStatus, subscribeHref } from "./dom.js";

const FIELDS = ["obs_id", "obs_collection", "instrument_name", "filters", "target_name", "s_ra", "s_dec",
  "proposal_id", "proposal_pi", "obs_title", "calib_level", "dataproduct_type", "t_min", "t_exptime",
  "t_obs_release", "dataRights", "obsid"];
const MRP = "Minimum Recommended Products";

export async function showDetails(dialog, row, columns, { onDownload, onBasket, position = null }) {
  const body = dialog.querySelector("#details-body");
  const title = dialog.querySelector("#details-title");
  title.textContent = row.obs_id;
  body.replaceChildren(h("p", { class: "hint" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  // Only the newest opening draws: an earlier answer arriving late must not replace it.
  const opening = String(Number(dialog.dataset.opening || 0) + 1);
  dialog.dataset.opening = opening;
  let details;
  try {
    details = await api(`/api/portal/observations/${encodeURIComponent(row.obsid)}`);
  } catch (err) {
    if (dialog.dataset.opening === opening) body.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  if (dialog.dataset.opening !== opening) return;
  const obs = details.observation;
  title.textContent = obs.obs_id; // a keyword row opens the observation owning its file
  const status = rowStatus(obs);
  const byName = Object.fromEntries(columns.map((c) => [c.name, c]));
  const facts = h("dl", { class: "facts" }, FIELDS.filter((n) => byName[n] && obs[n] !== null && obs[n] !== "")
    .map((n) => [h("dt", {}, byName[n].label), h("dd", {}, formatValue(obs[n], byName[n]))]));
  const preview = previewFigure(details, obs, status);
  const follow = subscribeHref(obs);
  const subscribe = follow && h("a", { class: "button", href: follow }, icon("bell"),
    ` Subscribe to ${obs.obs_collection} program ${obs.proposal_id}`);
  const actions = h("p", { class: "actions" },
    status === "planned" ? null : h("a", { class: "button primary", href: details.links.mrp,
      onclick: (event) => onDownload(obs, event) }, icon("file"), " Download recommended files (zip)"),
    status !== "planned" && onBasket
      ? h("button", { type: "button", onclick: () => onBasket([obs.obsid]) }, icon("basket"), " Add to basket") : null,
    subscribe);
  const only = h("input", { type: "checkbox", id: "details-mrp", checked: true });
  const table = h("table", { class: "products-table" });
  const fill = () => {
    const products = details.products.filter((p) => !only.checked || p.productGroupDescription === MRP);
    table.replaceChildren(
      h("caption", {}, `${products.length} of ${details.products.length} files`),
      h("thead", {}, h("tr", {}, ["File", "Subgroup", "Category", "Size", "Access"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, products.map((p) => h("tr", {},
        h("td", {}, h("a", { href: p.download, download: p.productFilename,
          onclick: (event) => onDownload({ ...obs, dataRights: p.dataRights }, event) }, p.productFilename)),
        h("td", {}, p.productSubGroupDescription || ""), h("td", {}, p.productType || ""),
        h("td", { class: "num" }, formatBytes(p.size)),
        h("td", {}, p.dataRights === "PUBLIC" ? "public" : "exclusive")))));
  };
  only.addEventListener("change", fill);
  fill();
  body.replaceChildren(
    h("p", { class: `status-line ${status}` }, icon(status === "exclusive" ? "lock" : status), ` ${STATUS_LABEL[status]}`),
    h("div", { class: "details-top" }, facts, preview),
    actions,
    details.links.cutouts?.length ? cutoutSection(details.links.cutouts, position || { ra: obs.s_ra, dec: obs.s_dec }) : null,
    status === "planned" ? null : h("section", { "aria-labelledby": "files-title" },
      h("h3", { id: "files-title" }, "Files"),
      h("label", {}, only, " Minimum Recommended Products only"),
      h("div", { class: "grid-scroll" }, table)));
}

/** The preview, or a padlock where the server says the caller may not retrieve it (no 403 asked for). */
function previewFigure(details, obs, status) {
  if (details.links.preview) {
    // Full size (within the dialog): the details view is where a preview is looked at.
    return h("figure", { class: "preview full" }, h("img", { src: details.links.preview, alt: `Preview of ${obs.obs_id}` }),
      h("figcaption", {}, "Preview"));
  }
  if (details.previewRestricted) {
    return h("figure", { class: "preview locked" }, icon("lock"),
      h("figcaption", {}, `Preview in the exclusive-access period of program ${obs.proposal_id}`));
  }
  return h("p", { class: "hint preview" }, status === "planned" ? "Planned observation: no data yet." : "No preview.");
}

/** Show Cutout: a piece of one of the observation's calibrated images around the search
 * position (the observation's centre without one), shown and downloadable as FITS with WCS. */
function cutoutSection(uris, position) {
  const image = h("select", { id: "cutout-image" }, uris.map((uri) => h("option", { value: uri }, uri.split("/").pop())));
  const size = h("input", { type: "number", id: "cutout-size", min: 1, max: 600, step: 1, value: 30 });
  const shown = h("figure", { class: "cutout", hidden: true });
  const download = h("a", { class: "button", id: "cutout-fits", hidden: true, download: "" }, icon("file"), " Download cutout (FITS)");
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const url = (format) => `/api/v0.1/cutout?${new URLSearchParams({ uri: image.value, ra: position.ra,
    dec: position.dec, size: size.value, format })}`;
  const show = async () => {
    message.hidden = true;
    // Ask first: a refused position (outside the image) is a message here, not a broken image.
    const answer = await fetch(url("png"), { credentials: "same-origin" });
    if (!answer.ok) {
      const problem = await answer.json().catch(() => null);
      message.textContent = problem?.error?.message || `The cutout failed (${answer.status}).`;
      message.hidden = false;
      shown.hidden = download.hidden = true;
      return;
    }
    const blob = await dataUrl(await answer.blob()); // the page's policy allows data: images, not blob:
    shown.replaceChildren(h("img", { src: blob, alt: `Cutout of ${image.selectedOptions[0].text}` }),
      h("figcaption", {}, `${Number(position.ra).toFixed(5)} ${Number(position.dec).toFixed(5)}, ${size.value}″`));
    shown.hidden = false;
    download.href = url("fits");
    download.hidden = false;
  };
  return h("section", { class: "cutout-section", "aria-labelledby": "cutout-title" },
    h("h3", { id: "cutout-title" }, "Cutout"),
    h("p", { class: "panel-row" }, h("label", { for: "cutout-image" }, "Image "), image,
      h("label", { for: "cutout-size" }, " Size (arcsec) "), size,
      h("button", { type: "button", id: "cutout-show", onclick: show }, "Show Cutout")),
    message, shown, download);
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
