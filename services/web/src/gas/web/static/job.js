// Job page: poll the JSON API while the job is PENDING/RUNNING; show a running job's
// progress as it comes; reload when the status changes.
(function () {
  "use strict";
  var el = document.getElementById("job");
  if (!el || el.dataset.active !== "true") { return; }
  var status = el.dataset.status;
  var delay = 2000;
  function showProgress(progress) {
    var dd = document.getElementById("job-progress");
    if (!dd || !progress) { return; }
    var bar = dd.querySelector("progress");
    if (!bar) {
      bar = document.createElement("progress");
      bar.max = 100;
      bar.setAttribute("aria-label", "percent of the file read");
      dd.insertBefore(bar, dd.firstChild);
      dd.insertBefore(document.createTextNode(" "), bar.nextSibling);
    }
    bar.value = progress.percent;
    bar.textContent = progress.percent + "%";
    dd.querySelector(".progress-text").textContent = progress.text;
  }
  function poll() {
    fetch(el.dataset.api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (job && job.status !== status) { window.location.reload(); return; }
        if (job) { showProgress(job.progress); }
        // Back off on long jobs, but keep a running job's progress moving.
        delay = Math.min(delay * 1.5, status === "RUNNING" ? 5000 : 15000);
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, delay);
})();
