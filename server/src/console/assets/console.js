// The console works without this script; it only adds conveniences.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before a decision that cannot be taken back (approving locks a sheet).
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });
  // Filters apply as soon as one is chosen.
  document.querySelectorAll("form.filters select[data-auto]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
