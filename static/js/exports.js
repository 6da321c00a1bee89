// Exports page: follow the jobs in progress, reload the page when one of them ends.
// Progressive enhancement only: without JavaScript, the "Actualiser" link does the same.
document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("export-jobs");
  if (!section || !section.dataset.active) return;
  const active = section.dataset.active.split(",").filter(Boolean);
  if (!active.length) return;
  const url = `${section.dataset.statusUrl}?ids=${active.join(",")}`;
  const format = new Intl.NumberFormat("fr-FR");

  const poll = async () => {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      data = await response.json();
    } catch (error) {
      return; // the next poll will try again
    }
    let ended = false;
    for (const job of data.jobs) {
      if (job.status === "done" || job.status === "failed") ended = true;
      const bar = section.querySelector(`progress[data-job="${job.id}"]`);
      if (bar) {
        bar.max = job.total || 1;
        bar.value = job.total ? job.progress : 0;
      }
      const text = section.querySelector(`[data-job-text="${job.id}"]`);
      if (text) text.textContent = `${format.format(job.progress)} / ${format.format(job.total)} lignes`;
      const badge = section.querySelector(`[data-job-status="${job.id}"]`);
      if (badge) badge.textContent = job.status_label;
    }
    if (ended) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 1500);
});
