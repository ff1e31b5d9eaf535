// "Create a DOI": the form that describes a data set and reserves its DOI.
// The observations come from the search page (kept in sessionStorage under OBSIDS_KEY when
// one chose "Create a DOI" over the results) or from the signed-in user's basket (server side).
import { api, setCsrfToken } from "./api.js";

export const OBSIDS_KEY = "skyarchive.doi.obsids";
const page = JSON.parse(document.getElementById("page-data").textContent);
setCsrfToken(page.caller.csrf_token);
const $ = (id) => document.getElementById(id);

function fromSearch() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(OBSIDS_KEY) || "null");
    return kept && Array.isArray(kept.obsids) ? kept : null;
  } catch { return null; }
}

const search = page.source === "search" ? fromSearch() : null;
if (page.source === "search") {
  $("source-text").textContent = search
    ? `The ${search.obsids.length.toLocaleString()} observations of your search result (${search.query}).`
    : "No search result was handed over; run a search and choose Create a DOI above its results.";
}

function showError(message) {
  $("doi-error").hidden = !message;
  $("doi-error").textContent = message || "";
}

$("doi-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const body = {
    title: $("doi-title-input").value,
    creators: $("doi-creators-input").value.split("\n").map((line) => line.trim()).filter(Boolean),
    description: $("doi-description-input").value,
    related: $("doi-related-input").value.trim(),
    source: page.source === "search" ? "obsids" : "basket",
    obsids: page.source === "search" ? (search?.obsids || []) : [],
  };
  const button = $("doi-reserve");
  button.disabled = true;
  try {
    const made = await api("/api/portal/dois", { method: "POST", body });
    if (page.source === "search") sessionStorage.removeItem(OBSIDS_KEY);
    window.location.href = `/doi/${made.doi}`;
  } catch (err) {
    showError(err.message);
    button.disabled = false;
  }
});
