// The Keyword Dictionary page: filters the server-rendered entries as the user types.
// Names match case-insensitively; titles, descriptions and data-model paths when ticked.
// Changing the instrument reloads the page (the server picks that instrument's values), and
// leaves the chosen mode, which belongs to the previous instrument.

const form = document.getElementById("keyword-filter");
const box = document.getElementById("keyword-q");
const descriptions = document.getElementById("keyword-descriptions");
const instrument = document.getElementById("keyword-instrument");
const count = document.getElementById("keyword-count");
const entries = Array.from(document.querySelectorAll(".keyword-entry"));

function filter() {
  const needle = box.value.trim().toLowerCase();
  const inText = descriptions.checked;
  let shown = 0;
  for (const entry of entries) {
    const match = !needle || entry.dataset.name.includes(needle)
      || (inText && entry.dataset.text.includes(needle));
    entry.hidden = !match;
    if (match) shown += 1;
  }
  count.textContent = `${shown} keyword${shown === 1 ? "" : "s"}`;
  const url = new URL(window.location.href);
  if (needle) url.searchParams.set("q", box.value.trim()); else url.searchParams.delete("q");
  if (inText) url.searchParams.set("descriptions", "true"); else url.searchParams.delete("descriptions");
  window.history.replaceState(null, "", url);
}

box.addEventListener("input", filter);
descriptions.addEventListener("change", filter);
instrument.addEventListener("change", () => {
  form.querySelector("input[name=mode]")?.remove();
  form.requestSubmit();
});
filter();
