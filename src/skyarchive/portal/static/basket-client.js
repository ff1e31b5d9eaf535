// The download basket as the other pages see it: add observations, show the count in the header.
// The basket itself lives on the server (the delivery API under /api/portal/basket).
import { api } from "./api.js";

const UNAVAILABLE = "The download basket is coming with the delivery API; meanwhile use the file "
  + "icon of a row (recommended files as a zip) or the file links in its details.";

const page = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
export const basketAvailable = Boolean(page.basket_api);

/** The count badge after the header's Basket link (added once, on every page using this). */
function badges() {
  const found = [...document.querySelectorAll("[data-basket-count]")];
  if (found.length) return found;
  const link = document.querySelector('.site-header nav a[href="/basket"]');
  if (!link) return [];
  const badge = document.createElement("span");
  badge.className = "basket-count";
  badge.dataset.basketCount = "";
  link.append(badge);
  return [badge];
}

/** Show the basket's size from a summary ({observations, files, ...}) of the basket API. */
export function setBasketCount(summary) {
  const count = Number(summary?.observations ?? 0) || 0;
  const files = Number(summary?.files ?? 0) || 0;
  for (const badge of badges()) {
    badge.textContent = count ? ` (${count})` : "";
    badge.title = count ? `${count} observation${count === 1 ? "" : "s"}, ${files} files` : "";
  }
  return count;
}

export async function basketCount() {
  if (!basketAvailable) return 0;
  try {
    const basket = await api("/api/portal/basket");
    return setBasketCount(basket.summary);
  } catch {
    return setBasketCount(null);
  }
}

/** Add observations (by obsid) to the basket; answers a sentence for the status line. */
export async function addToBasket(obsids) {
  return add("/api/portal/basket/observations", { obsids: obsids.map(String) }, obsids.length, "observation");
}

/** Add single files (by product id), e.g. rows of a keyword search, with their observations. */
export async function addFilesToBasket(productIds) {
  return add("/api/portal/basket/files", { product_ids: productIds.map(Number) }, productIds.length, "file");
}

async function add(path, body, n, noun) {
  if (!n) return "Select rows first.";
  if (!basketAvailable) return UNAVAILABLE;
  let summary;
  try {
    ({ summary } = await api(path, { method: "POST", body }));
  } catch (err) {
    if (err.status === 405) return UNAVAILABLE;
    return err.message;
  }
  setBasketCount(summary);
  return `Added ${n} ${noun}${n === 1 ? "" : "s"} to the basket; it now holds `
    + `${summary.files} files in ${summary.observations} observation${summary.observations === 1 ? "" : "s"}.`;
}
