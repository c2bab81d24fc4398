// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Submit preference forms as soon as a choice is made (the button stays for no-JS visitors).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
  // Move focus to the error summary so screen readers announce it after a failed submit.
  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
  // A double tap cannot be submitted twice by a double tap.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitted) { event.preventDefault(); return; }
      form.dataset.submitted = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; }, 0);
        window.setTimeout(function () { b.disabled = false; form.dataset.submitted = ""; }, 8000);
      });
    });
  });
})();
