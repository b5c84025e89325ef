// Taxonomy editor: type-ahead search over every label, keyboard moves through the tree, and
// type-ahead for the path fields of large trees. Label names are only ever set with textContent.

const MAX_RESULTS = 50;
const dataEl = document.getElementById("taxonomy-nodes");
const nodes = dataEl ? JSON.parse(dataEl.textContent) : []; // [[id, "A > B > C"], ...]
const entries = nodes.map(([id, path]) => ({ id, path, lower: path.toLowerCase(), name: path.split(" > ").pop().toLowerCase() }));

function matches(query) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const starts = [];
  const contains = [];
  for (const entry of entries) {
    if (entry.name.startsWith(q)) starts.push(entry);
    else if (entry.lower.includes(q)) contains.push(entry);
    if (starts.length >= MAX_RESULTS) break;
  }
  return starts.concat(contains).slice(0, MAX_RESULTS);
}

function countMatches(query) {
  const q = query.trim().toLowerCase();
  return q ? entries.reduce((n, e) => n + (e.lower.includes(q) ? 1 : 0), 0) : 0;
}

function nodeUrl(id) {
  const url = new URL(window.location.href);
  url.search = "";
  url.searchParams.set("node", String(id));
  return url.toString();
}

// Moving focus through a list of elements with arrows and j/k.
function focusStep(items, current, step) {
  const index = items.indexOf(current);
  const next = items[Math.min(items.length - 1, Math.max(0, index + step))];
  if (next) next.focus();
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

// Search box and its result list.
const search = document.getElementById("node-search");
const results = document.getElementById("search-results");
const status = document.getElementById("search-status");

function renderResults() {
  const found = matches(search.value);
  results.replaceChildren();
  for (const entry of found) {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = nodeUrl(entry.id);
    link.className = "result-link";
    link.dir = "auto"; // a label path is user text: isolated from the page (htc_app/bidi.py)
    link.textContent = entry.path;
    li.append(link);
    results.append(li);
  }
  results.hidden = found.length === 0;
  if (!search.value.trim()) status.textContent = "";
  else {
    const total = countMatches(search.value);
    status.textContent = total === 0 ? "No label matches." : total > found.length ? `${total} matches, showing ${found.length}.` : `${total} match${total === 1 ? "" : "es"}.`;
  }
}

if (search && results) {
  search.addEventListener("input", renderResults);
  // Text typed before this module ran (or restored by the browser) is searched too.
  if (search.value) renderResults();
  search.addEventListener("keydown", (event) => {
    const links = [...results.querySelectorAll("a")];
    if (event.key === "ArrowDown" && links.length) { event.preventDefault(); links[0].focus(); }
    if (event.key === "Enter" && links.length) { event.preventDefault(); window.location.assign(links[0].href); }
    if (event.key === "Escape") { search.value = ""; renderResults(); }
  });
  results.addEventListener("keydown", (event) => {
    const links = [...results.querySelectorAll("a")];
    if (event.key === "ArrowDown" || event.key === "j") { event.preventDefault(); focusStep(links, document.activeElement, 1); }
    if (event.key === "ArrowUp" || event.key === "k") {
      event.preventDefault();
      if (links.indexOf(document.activeElement) === 0) search.focus();
      else focusStep(links, document.activeElement, -1);
    }
  });
}

// Keyboard moves through the visible tree: arrows or j/k, left/right fold and unfold.
const tree = document.getElementById("taxonomy-tree");
function visibleLinks() {
  return [...tree.querySelectorAll("a.node-link")].filter((a) => a.offsetParent !== null);
}
if (tree) {
  tree.addEventListener("keydown", (event) => {
    const link = event.target.closest ? event.target.closest("a.node-link") : null;
    if (!link) return;
    const details = link.parentElement.tagName === "SUMMARY" ? link.closest("details") : null;
    switch (event.key) {
      case "ArrowDown": case "j": event.preventDefault(); focusStep(visibleLinks(), link, 1); break;
      case "ArrowUp": case "k": event.preventDefault(); focusStep(visibleLinks(), link, -1); break;
      case "ArrowRight": if (details) { event.preventDefault(); details.open = true; } break;
      case "ArrowLeft": {
        event.preventDefault();
        if (details && details.open) details.open = false;
        else {
          const parent = link.closest("ul.tree").closest("details");
          if (parent) parent.querySelector(":scope > summary > a.node-link").focus();
        }
        break;
      }
      default: break;
    }
  });
  const current = tree.querySelector("a.node-link.selected");
  if (current) current.scrollIntoView({ block: "center" });
}

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && search && !isTyping(event.target)) {
    event.preventDefault();
    search.focus();
    search.select();
  } else if ((event.key === "j" || event.key === "k") && tree && !isTyping(event.target) && !event.target.closest?.("#taxonomy-tree, #search-results")) {
    const start = tree.querySelector("a.node-link.selected") || visibleLinks()[0];
    if (start) { event.preventDefault(); start.focus(); }
  }
});

// Path fields (large trees): suggestions as buttons under the field; choosing fills in the path.
for (const input of document.querySelectorAll("input[data-node-picker]")) {
  const list = document.createElement("ul");
  list.className = "tax-results";
  list.hidden = true;
  list.id = `${input.id}-suggestions`;
  input.setAttribute("aria-controls", list.id);
  input.insertAdjacentElement("afterend", list);
  input.addEventListener("input", () => {
    list.replaceChildren();
    for (const entry of matches(input.value).slice(0, 12)) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dir = "auto";
      button.textContent = entry.path;
      button.addEventListener("click", () => { input.value = entry.path; list.hidden = true; input.focus(); });
      li.append(button);
      list.append(li);
    }
    list.hidden = list.children.length === 0;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && !list.hidden) { event.preventDefault(); list.querySelector("button").focus(); }
    if (event.key === "Escape") list.hidden = true;
  });
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button")];
    if (event.key === "ArrowDown" || event.key === "j") { event.preventDefault(); focusStep(buttons, document.activeElement, 1); }
    if (event.key === "ArrowUp" || event.key === "k") { event.preventDefault(); focusStep(buttons, document.activeElement, -1); }
  });
}

// Terms field: a live preview of the terms as they will be saved (split on commas and new lines,
// spaces collapsed, duplicates dropped), each set with textContent so a term is never read as HTML.
const termsField = document.getElementById("describe-terms");
const termsPreview = document.getElementById("terms-preview");
function splitTerms(value) {
  const out = [];
  for (const raw of value.replace(/\n/g, ",").split(",")) {
    const term = raw.split(/\s+/).filter(Boolean).join(" ");
    if (term && !out.includes(term)) out.push(term);
  }
  return out;
}
function renderTermsPreview() {
  termsPreview.replaceChildren();
  for (const term of splitTerms(termsField.value)) {
    const li = document.createElement("li");
    li.dir = "auto";
    li.textContent = term;
    termsPreview.append(li);
  }
}
if (termsField && termsPreview) {
  termsField.addEventListener("input", renderTermsPreview);
  renderTermsPreview();
}
