// Job page: poll the JSON API while the job is PENDING/RUNNING; reload when it changes.
(function () {
  "use strict";
  var el = document.getElementById("job");
  if (!el || el.dataset.active !== "true") { return; }
  var status = el.dataset.status;
  var delay = 2000;
  function poll() {
    fetch(el.dataset.api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (job && job.status !== status) { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 15000);  // back off on long jobs
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, delay);
})();
