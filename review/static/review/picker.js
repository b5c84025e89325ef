// Keyboard-driven tree picker for the review page. User text is only ever set with textContent.
const dataEl = document.getElementById("picker-data");
const form = document.getElementById("decision-form");

if (dataEl && form) {
  const data = JSON.parse(dataEl.textContent);
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const children = new Map();
  for (const n of data.nodes) {
    const key = n.parent ?? "root";
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(n);
  }
  const search = document.getElementById("picker-search");
  const list = document.getElementById("picker-options");
  const crumbs = document.getElementById("picker-crumbs");
  const chosenEl = document.getElementById("picker-chosen");
  const actionInput = document.getElementById("decision-action");
  const pathsInput = document.getElementById("decision-paths");

  // Names are user text: each goes in its own <bdi>, so an RTL override in one cannot reorder the separators
  // or the words around it (as on the server-rendered pages, htc_app/bidi.py).
  const showNames = (el, names, separator, after = "") => {
    el.replaceChildren();
    names.forEach((name, i) => {
      if (i) el.append(separator);
      const bdi = document.createElement("bdi");
      bdi.textContent = name;
      el.append(bdi);
    });
    if (after) el.append(after);
  };
  const namesOf = (ids) => ids.map((id) => byId.get(id).name);

  const pathOf = (id) => {
    const out = [];
    let cur = byId.get(id);
    while (cur) { out.unshift(cur.id); cur = cur.parent == null ? null : byId.get(cur.parent); }
    return out;
  };
  const initial = data.initial && data.initial.length ? data.initial[0].slice() : [];
  // The path being edited; options show the choices at `level` (children of path[level-1]).
  let path = initial;
  // startLevel (review tasks) opens the picker on the children of the initial path's last node.
  let level = Number.isInteger(data.startLevel) ? data.startLevel : Math.max(0, path.length - 1);
  let options = [];
  let active = 0;
  const extraPaths = data.initial && data.initial.length > 1 ? data.initial.slice(1).map((p) => p.slice()) : [];

  function optionsAtLevel() {
    const parent = level === 0 ? "root" : path[level - 1];
    return children.get(parent) || [];
  }

  function render() {
    const q = search.value.trim().toLowerCase();
    options = q
      ? data.nodes.filter((n) => n.path.toLowerCase().includes(q)).slice(0, 50)
      : optionsAtLevel();
    if (!q) {
      const current = path[level];
      const idx = options.findIndex((n) => n.id === current);
      if (idx >= 0 && active === -1) active = idx;
    }
    active = Math.min(Math.max(active, 0), Math.max(options.length - 1, 0));
    list.replaceChildren();
    options.forEach((n, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = `picker-opt-${n.id}`;
      li.dataset.nodeId = String(n.id);
      li.className = "node-row" + (i === active ? " selected" : "");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      const more = (children.get(n.id) || []).length ? " ›" : "";
      showNames(li, q ? namesOf(pathOf(n.id)) : [n.name], " > ", q ? "" : more);
      li.addEventListener("click", () => { active = i; choose(); });
      list.appendChild(li);
    });
    if (options[active]) search.setAttribute("aria-activedescendant", `picker-opt-${options[active].id}`);
    const names = namesOf(path.slice(0, level));
    if (names.length) showNames(crumbs, names, " > ", " > …");
    else crumbs.textContent = "Level 1";
    if (chosenEl) {
      chosenEl.replaceChildren();
      extraPaths.forEach((p, k) => {
        chosenEl.append(k ? " | " : "Also: ");
        const span = document.createElement("span");
        showNames(span, namesOf(p), " > ");
        chosenEl.append(span);
      });
    }
    pathsInput.value = JSON.stringify(currentPaths());
  }

  // The picker saves exactly the highlighted node (with its ancestors), whatever key or button saves.
  function highlightedPath() {
    const node = options[active];
    return node ? pathOf(node.id) : [];
  }

  function currentPaths() {
    return [highlightedPath(), ...extraPaths].filter((p) => p.length);
  }

  function choose() {
    const node = options[active];
    if (!node) return;
    const kids = children.get(node.id) || [];
    if (kids.length) {
      path = pathOf(node.id);
      search.value = "";
      level = path.length; // show the children of the chosen node
      active = 0;
      render();
    } else {
      submit("change");
    }
  }

  function up() {
    if (level === 0) return;
    level -= 1;
    active = -1;
    path = path.slice(0, level + 1);
    render();
  }

  function submit(action) {
    actionInput.value = action;
    if (action === "change") {
      const paths = currentPaths();
      if (!paths.length) return; // nothing highlighted: nothing to save
      pathsInput.value = JSON.stringify(paths);
    }
    form.requestSubmit(document.getElementById(action === "accept" ? "btn-accept" : action === "reject" ? "btn-reject" : action === "skip" ? "btn-skip" : "btn-save"));
  }

  function saveHighlighted() {
    const node = options[active];
    if (!node) return;
    // Without internal labels, Ctrl+Enter on a label with children opens it instead of saving it.
    if (!data.allowInternal && (children.get(node.id) || []).length) { choose(); return; }
    submit("change");
  }

  search.addEventListener("input", () => { active = 0; render(); });
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { active = Math.min(active + 1, options.length - 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { saveHighlighted(); e.preventDefault(); }
    else if (e.key === "Enter") { choose(); e.preventDefault(); }
    else if (e.key === "Backspace" && !search.value) { up(); e.preventDefault(); }
    else if (e.key === "Escape") { search.value = ""; search.blur(); render(); }
  });

  // Buttons set the action and the paths before the form posts.
  form.addEventListener("submit", (e) => {
    const action = e.submitter ? e.submitter.value : actionInput.value;
    actionInput.value = action;
    if (action === "change") pathsInput.value = JSON.stringify(currentPaths());
  });

  const addBtn = document.getElementById("btn-add-path");
  function addPath() {
    const p = highlightedPath();
    if (p.length) extraPaths.push(p);
    path = []; level = 0; active = 0; search.value = ""; render(); search.focus();
  }
  if (addBtn) addBtn.addEventListener("click", addPath);

  document.addEventListener("keydown", (e) => {
    if (e.target === search || e.ctrlKey || e.metaKey || e.altKey) {
      return;
    }
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement) return;
    const key = e.key.toLowerCase();
    if (key === "a") { const b = document.getElementById("btn-accept"); if (b && !b.disabled) { submit("accept"); } e.preventDefault(); }
    else if (key === "r") { submit("reject"); e.preventDefault(); }
    else if (key === "s") { submit("skip"); e.preventDefault(); }
    else if (key === "c" || key === "/") { search.focus(); e.preventDefault(); }
    else if (key === "p" && addBtn) { addPath(); e.preventDefault(); }
    else if (key === "u") { const u = document.getElementById("undo-form"); if (u) u.requestSubmit(); e.preventDefault(); }
  });

  active = -1;
  render();
}
