// The search panel: collection selector, search box with hints and clickable examples.
// On the home page it is a plain form (GET /search); the search page passes onSearch.
// The "JWST Instrument Keywords" collection adds an instrument pull-down (its keyword filters
// are a dialog of the search page) and takes an optional name or coordinates in the same box.

export function initSearchPanel({ onSearch = null, onAdvanced = null, onInstrument = null } = {}) {
  const form = document.getElementById("search-form");
  if (!form) return null;
  const collection = form.querySelector("#collection");
  const box = form.querySelector("#q");
  const hint = form.querySelector("#q-hint");
  const instrument = form.querySelector("#si-instrument");
  const advancedButton = form.querySelector("#advanced-open");
  const wssDates = form.querySelectorAll(".wss-panel input");

  function showCollection() {
    const chosen = collection.value;
    for (const el of form.querySelectorAll("[data-collections]")) {
      el.hidden = !el.dataset.collections.split(" ").includes(chosen);
    }
    const text = hint.dataset[`hint${chosen[0].toUpperCase()}${chosen.slice(1)}`];
    hint.hidden = !text;
    if (text) hint.textContent = text;
    box.placeholder = { program: "e.g. 1073, 1558", keywords: "optional, e.g. WASP-39 r=2m", doi: "e.g. 10.17909/t9-9skz-qw10" }[chosen] || "e.g. M57 r=1m";
    form.querySelector("#q-label").textContent = { program: "Program IDs, separated by commas", doi: "DOI of a data set" }[chosen]
      || "Object name or coordinates, with an optional radius";
    advancedButton.hidden = chosen === "keywords";
    instrument.disabled = chosen !== "keywords"; // sent with the form only for this collection
    for (const input of wssDates) input.disabled = chosen !== "wss";
    box.disabled = chosen === "wss";
  }

  collection.addEventListener("change", () => { showCollection(); box.focus(); });
  for (const example of form.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      box.value = example.dataset.text;
      box.focus();
    });
  }
  instrument.addEventListener("change", () => onInstrument?.(instrument.value));
  form.querySelector("#keyword-filters-open").addEventListener("click", () => {
    // the search page opens its dialog itself; from the home page, go there with it open
    if (!onSearch) window.location.href = `/search?collection=keywords&instrument=${instrument.value}&dialog=1`;
  });
  advancedButton.addEventListener("click", () => {
    if (onAdvanced) onAdvanced();
    else window.location.href = "/search?advanced=1";
  });
  form.addEventListener("submit", (event) => {
    if (collection.value === "wss") { // WSS maps are a page of their own, not observations
      event.preventDefault();
      const range = new URLSearchParams();
      for (const input of wssDates) if (input.value) range.set(input.name, input.value);
      window.location.href = `/wss${range.size ? `?${range}` : ""}`;
      return;
    }
    if (!onSearch) return; // plain GET to /search
    event.preventDefault();
    onSearch({ collection: collection.value, text: box.value.trim(), instrument: instrument.value });
  });
  showCollection();
  return {
    set(collectionValue, text, instrumentValue = null) {
      if (collectionValue && collectionValue !== "filters") collection.value = collectionValue;
      if (instrumentValue) instrument.value = instrumentValue;
      box.value = text ?? "";
      showCollection();
    },
    get() { return { collection: collection.value, text: box.value.trim(), instrument: instrument.value }; },
  };
}

if (document.body.classList.contains("home")) initSearchPanel();
