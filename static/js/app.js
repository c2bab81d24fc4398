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
  // Similar topics under the title while a resident types a new topic (the form works without this).
  var similarForm = document.querySelector("form[data-similar-topics]");
  var similarBox = document.getElementById("similar-topics");
  var similarTitle = similarForm && similarForm.querySelector("input[name=title]");
  if (similarForm && similarBox && similarTitle && window.fetch) {
    var similarTimer = null;
    var lastQuery = "";
    var showSimilar = function (hits) {
      similarBox.textContent = "";
      if (!hits.length) { similarBox.hidden = true; return; }
      var heading = document.createElement("p");
      heading.textContent = similarBox.dataset.heading;
      var list = document.createElement("ul");
      hits.forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = hit.url;
        link.textContent = hit.title;
        item.appendChild(link);
        if (hit.badges.length) {
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = hit.badges[0];
          item.appendChild(document.createTextNode(" "));
          item.appendChild(badge);
        }
        list.appendChild(item);
      });
      similarBox.appendChild(heading);
      similarBox.appendChild(list);
      similarBox.hidden = false;
    };
    similarTitle.addEventListener("input", function () {
      window.clearTimeout(similarTimer);
      similarTimer = window.setTimeout(function () {
        var query = similarTitle.value.trim();
        if (query === lastQuery) { return; }
        lastQuery = query;
        if (query.length < 2) { showSimilar([]); return; }
        var url = "/api/v1/topics/similar?area=" + encodeURIComponent(similarForm.dataset.similarTopics) +
          "&q=" + encodeURIComponent(query);
        window.fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : { hits: [] }; })
          .then(function (data) { if (query === lastQuery) { showSimilar(data.hits || []); } })
          .catch(function () { showSimilar([]); });
      }, 300);
    });
  }
})();
