// Upload form: check the chosen file and set the S3 key before the browser POSTs to S3.
// safeFilename mirrors gas.web.uploads.safe_filename; the server re-checks everything.
(function () {
  "use strict";
  var MAX_NAME = 128;
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = document.getElementById("file");
  var errorBox = document.getElementById("upload-error");
  var prefix = form.dataset.keyPrefix;
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var suffixes = form.dataset.suffixes.split(",");

  function safeFilename(name) {
    var parts = name.split(/[\\/]/);
    var base = parts[parts.length - 1].replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "");
    if (base.length > MAX_NAME) {
      var lower = base.toLowerCase();
      var suffix = "";
      for (var i = suffixes.length - 1; i >= 0; i--) {
        if (lower.endsWith(suffixes[i])) { suffix = suffixes[i]; break; }
      }
      base = base.slice(0, MAX_NAME - suffix.length) + suffix;
    }
    return base;
  }

  function formatBytes(n) {
    var exact = n.toLocaleString("en-US") + " bytes";
    if (n < 1024) { return exact; }
    var units = ["KiB", "MiB", "GiB"], value = n / 1024, i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return (Math.round(value * 10) / 10) + " " + units[i] + " (" + exact + ")";
  }

  // The size message offers the upgrade to a free user (a link built with DOM calls).
  var tooLarge = false;

  function problem(file) {
    tooLarge = false;
    if (!file) { return "Choose a file first."; }
    var name = safeFilename(file.name);
    var lower = name.toLowerCase();
    var ok = suffixes.some(function (s) { return lower.endsWith(s) && lower.length > s.length; });
    if (!ok) { return "Only .vcf and .vcf.gz files can be annotated (you chose \u201c" + file.name + "\u201d)."; }
    if (file.size === 0) { return "The file is empty."; }
    if (file.size > maxBytes) {
      tooLarge = true;
      return "\u201c" + file.name + "\u201d is " + formatBytes(file.size) + "; your " + form.dataset.tier +
        " account may upload at most " + formatBytes(maxBytes) + ".";
    }
    return null;
  }

  function show(message) {
    // textContent, never innerHTML: the file name is the user's own input.
    errorBox.textContent = message || "";
    if (message && tooLarge && form.dataset.tier === "free") {
      var link = document.createElement("a");
      link.href = form.dataset.upgradeUrl;
      link.className = "alert-link ms-1";
      link.id = "upgrade-link";
      link.textContent = "Upgrade to premium for larger files.";
      errorBox.appendChild(document.createTextNode(" "));
      errorBox.appendChild(link);
    }
    errorBox.classList.toggle("d-none", !message);
  }

  input.addEventListener("change", function () { show(problem(input.files[0])); });
  form.addEventListener("submit", function (event) {
    var file = input.files[0];
    var msg = problem(file);
    if (msg) { event.preventDefault(); show(msg); return; }
    form.elements.namedItem("key").value = prefix + safeFilename(file.name);
    // S3 metadata is ASCII: the name travels percent-encoded (the server decodes it).
    var jobName = document.getElementById("job-name");
    document.getElementById("job-name-field").value = encodeURIComponent(jobName.value.trim());
    document.getElementById("upload-button").disabled = true;
  });
})();
