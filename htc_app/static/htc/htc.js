// Shared progressive enhancement. Pages add their own modules; user text is only ever set with textContent.

// Forms with data-confirm ask before submitting (delete, merge).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Job progress: any element with data-job-url is refreshed from the job's JSON until it finishes.
function formatElapsed(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

async function pollJob(el) {
  const url = el.dataset.jobUrl;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const job = await response.json();
    const bar = el.querySelector("progress");
    if (bar) { bar.max = 100; bar.value = job.percent; }
    const set = (sel, text) => { const node = el.querySelector(sel); if (node) node.textContent = text; };
    set("[data-job-state]", job.state);
    set("[data-job-percent]", `${job.percent}%`);
    set("[data-job-elapsed]", formatElapsed(job.elapsed_seconds));
    set("[data-job-message]", job.error || job.message || "");
    const badge = el.querySelector("[data-job-state]");
    if (badge) badge.className = `badge ${job.state}`;
    if (job.state === "queued" || job.state === "running") {
      setTimeout(() => pollJob(el), 1000);
    } else if (el.dataset.jobReload === "1" && job.state === "succeeded") {
      window.location.reload();
    }
  } catch (err) {
    setTimeout(() => pollJob(el), 3000);
  }
}

document.querySelectorAll("[data-job-url]").forEach((el) => pollJob(el));
