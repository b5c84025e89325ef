// Shared progressive enhancement. Pages add their own modules; user text is only ever set with textContent.

// Forms with data-confirm ask before submitting (delete, merge).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Job progress: an element with data-job-url is refreshed from the job's status JSON until the job finishes.
// Everything about the job on the page reads that one JSON: [data-job-field] text inside the element (and in
// elements marked data-job-of="<job id>" elsewhere, such as a run's state badge), [data-job-show] visibility,
// the phases, the result table and the target link.
function formatElapsed(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

function jobValue(job, field) {
  if (field === "percent_text") return `${job.percent}%`;
  if (field === "elapsed") return formatElapsed(job.elapsed_seconds);
  let value = job;
  for (const part of field.split(".")) value = value == null ? null : value[part];
  return value == null ? "" : String(value);
}

function renderJobPhases(list, phases) {
  list.replaceChildren(...phases.map((phase) => {
    const li = document.createElement("li");
    li.className = `phase ${phase.state}`;
    const label = document.createElement("span");
    label.className = "phase-label";
    label.dir = "auto"; // a phase names a run: user text, isolated as on the server-rendered page
    label.textContent = phase.label;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = phase.percent;
    bar.setAttribute("aria-label", phase.label);
    bar.textContent = `${phase.percent}%`;
    const state = document.createElement("span");
    state.className = "phase-state";
    state.textContent = phase.state;
    li.append(label, " ", bar, " ", state);
    return li;
  }));
}

function renderJobResult(body, rows) {
  body.replaceChildren(...rows.map(([key, value]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.dir = "auto";
    th.textContent = key;
    const td = document.createElement("td");
    td.dir = "auto";
    td.textContent = value;
    tr.append(th, td);
    return tr;
  }));
}

function renderJobTarget(cell, target) {
  if (!target) return;
  if (target.url) {
    const link = document.createElement("a");
    link.href = target.url;
    link.textContent = target.label;
    cell.replaceChildren(link);
  } else {
    cell.textContent = target.id == null ? `${target.type} (not created yet)` : target.label;
  }
}

function applyJob(el, job) {
  const scopes = [el, ...document.querySelectorAll(`[data-job-of="${job.id}"]`)];
  for (const scope of scopes) {
    const nodes = scope.matches("[data-job-field]") ? [scope] : [];
    nodes.push(...scope.querySelectorAll("[data-job-field]"));
    for (const node of nodes) {
      const value = jobValue(job, node.dataset.jobField);
      if (node.dataset.jobField.startsWith("target.") && !value) continue;
      node.textContent = value;
    }
  }
  el.querySelectorAll(".job-progress > progress").forEach((bar) => { bar.max = 100; bar.value = job.percent; });
  el.querySelectorAll("[data-job-badge]").forEach((badge) => { badge.className = `badge ${job.state}`; });
  document.querySelectorAll(`[data-job-of="${job.id}"][data-job-badge-target]`).forEach((badge) => {
    if (job.target && job.target.state) badge.className = `badge ${job.target.state}`;
  });
  el.querySelectorAll(".job-progress [data-job-field=message]").forEach((node) => {
    node.classList.toggle("job-error", Boolean(job.error));
  });
  const shown = { active: job.active, partial: job.partial, error: Boolean(job.error), result: job.result.length > 0 };
  el.querySelectorAll("[data-job-show]").forEach((node) => { node.hidden = !shown[node.dataset.jobShow]; });
  el.querySelectorAll("[data-job-phases]").forEach((list) => renderJobPhases(list, job.phases));
  el.querySelectorAll("[data-job-result]").forEach((body) => renderJobResult(body, job.result));
  el.querySelectorAll("[data-job-target]").forEach((cell) => renderJobTarget(cell, job.target));
}

async function pollJob(el) {
  const url = el.dataset.jobUrl;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const job = await response.json();
    applyJob(el, job);
    if (job.active) {
      setTimeout(() => pollJob(el), 1000);
    } else if (el.dataset.jobReload === "1" && job.state === "succeeded") {
      window.location.reload();
    }
  } catch (err) {
    setTimeout(() => pollJob(el), 3000);
  }
}

document.querySelectorAll("[data-job-url]").forEach((el) => pollJob(el));
