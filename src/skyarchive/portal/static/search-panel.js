// The search panel: collection selector, search box with hints and clickable examples.
// On the home page it is a plain form (GET /search); the search page passes onSearch.

export function initSearchPanel({ onSearch = null, onAdvanced = null } = {}) {
  const form = document.getElementById("search-form");
  if (!form) return null;
  const collection = form.querySelector("#collection");
  const box = form.querySelector("#q");
  const hint = form.querySelector("#q-hint");
  const searchButton = form.querySelector("#search-button");

  function showCollection() {
    const chosen = collection.value;
    for (const el of form.querySelectorAll("[data-collections]")) {
      el.hidden = !el.dataset.collections.split(" ").includes(chosen);
    }
    const text = hint.dataset[`hint${chosen[0].toUpperCase()}${chosen.slice(1)}`];
    hint.hidden = !text;
    if (text) hint.textContent = text;
    box.placeholder = chosen === "program" ? "e.g. 1073, 1558" : "e.g. M57 r=1m";
    form.querySelector("#q-label").textContent = chosen === "program"
      ? "Program IDs, separated by commas" : "Object name or coordinates, with an optional radius";
    searchButton.disabled = chosen === "keywords";
  }

  collection.addEventListener("change", () => { showCollection(); box.focus(); });
  for (const example of form.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      box.value = example.dataset.text;
      box.focus();
    });
  }
  form.querySelector("#advanced-open").addEventListener("click", () => {
    if (onAdvanced) onAdvanced();
    else window.location.href = "/search?advanced=1";
  });
  form.addEventListener("submit", (event) => {
    if (collection.value === "keywords") { event.preventDefault(); return; }
    if (!onSearch) return; // plain GET to /search
    event.preventDefault();
    onSearch({ collection: collection.value, text: box.value.trim() });
  });
  showCollection();
  return {
    set(collectionValue, text) {
      if (collectionValue && collectionValue !== "filters") collection.value = collectionValue;
      box.value = text ?? "";
      showCollection();
    },
    get() { return { collection: collection.value, text: box.value.trim() }; },
  };
}

if (document.body.classList.contains("home")) initSearchPanel();
