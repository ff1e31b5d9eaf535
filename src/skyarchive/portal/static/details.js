// Details of one observation: its fields, preview, links and product list.
import { api } from "./api.js";
import { STATUS_LABEL, formatBytes, formatValue, h, icon, rowStatus, subscribeHref } from "./dom.js";

const FIELDS = ["obs_id", "obs_collection", "instrument_name", "filters", "target_name", "s_ra", "s_dec",
  "proposal_id", "proposal_pi", "obs_title", "calib_level", "dataproduct_type", "t_min", "t_exptime",
  "t_obs_release", "dataRights", "obsid"];
const MRP = "Minimum Recommended Products";

export async function showDetails(dialog, row, columns, { onDownload, onBasket }) {
  const body = dialog.querySelector("#details-body");
  const title = dialog.querySelector("#details-title");
  title.textContent = row.obs_id;
  body.replaceChildren(h("p", { class: "hint" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  let details;
  try {
    details = await api(`/api/portal/observations/${encodeURIComponent(row.obsid)}`);
  } catch (err) {
    body.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
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
    status === "planned" ? null : h("section", { "aria-labelledby": "files-title" },
      h("h3", { id: "files-title" }, "Files"),
      h("label", {}, only, " Minimum Recommended Products only"),
      h("div", { class: "grid-scroll" }, table)));
}

/** The preview, or a padlock where the server says the caller may not retrieve it (no 403 asked for). */
function previewFigure(details, obs, status) {
  if (details.links.preview) {
    return h("figure", { class: "preview" }, h("img", { src: details.links.preview, alt: `Preview of ${obs.obs_id}`,
      width: 256, height: 256, loading: "lazy" }), h("figcaption", {}, "Preview"));
  }
  if (details.previewRestricted) {
    return h("figure", { class: "preview locked" }, icon("lock"),
      h("figcaption", {}, `Preview in the exclusive-access period of program ${obs.proposal_id}`));
  }
  return h("p", { class: "hint preview" }, status === "planned" ? "Planned observation: no data yet." : "No preview.");
}
