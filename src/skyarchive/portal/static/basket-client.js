// The download basket as the search page sees it: add observations, show the count.
// The basket itself lives on the server (the delivery API under /api/portal/basket).
import { api } from "./api.js";

const UNAVAILABLE = "The download basket is coming with the delivery API; meanwhile use the file "
  + "icon of a row (recommended files as a zip) or the file links in its details.";

const page = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
export const basketAvailable = Boolean(page.basket_api);

export async function basketCount() {
  const badge = document.querySelector("[data-basket-count]");
  if (!basketAvailable) return 0;
  try {
    const basket = await api("/api/portal/basket");
    const summary = basket.summary || {};
    const count = Number(summary.observations ?? summary.files ?? 0) || 0;
    if (badge) badge.textContent = count ? ` (${count})` : "";
    return count;
  } catch {
    if (badge) badge.textContent = "";
    return 0;
  }
}

export async function addToBasket(obsids) {
  if (!obsids.length) return "Select rows first.";
  if (!basketAvailable) return UNAVAILABLE;
  try {
    await api("/api/portal/basket/observations", { method: "POST", body: { obsids: obsids.map(String) } });
  } catch (err) {
    if (err.status === 404 || err.status === 405) return UNAVAILABLE;
    return err.message;
  }
  await basketCount();
  return `Added ${obsids.length} observation(s) to the basket.`;
}
