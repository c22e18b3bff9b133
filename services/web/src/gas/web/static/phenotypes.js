// The phenotype filter's suggestions (gas.web.jobs.phenotypes): HPO terms and diseases
// matching what is typed, in the field's datalist; the form still works without it.
(function () {
  "use strict";
  const field = document.getElementById("f-phenotype");
  const list = document.getElementById("phenotype-options");
  if (!field || !list) return;
  let timer = null;
  let asked = "";
  field.addEventListener("input", function () {
    clearTimeout(timer);
    const q = field.value.trim();
    if (q.length < 2 || q.length > 100 || q === asked) return;
    timer = setTimeout(async function () {
      asked = q;
      const response = await fetch(field.dataset.search + "?" + new URLSearchParams({ q: q }), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok || field.value.trim() !== q) return;
      const found = await response.json();
      list.replaceChildren(
        ...found.map(function (s) {
          const option = document.createElement("option");
          option.value = s.label;
          option.textContent = s.genes + (s.genes === 1 ? " gene" : " genes");
          return option;
        })
      );
    }, 200);
  });
})();
