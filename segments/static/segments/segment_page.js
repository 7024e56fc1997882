/*
 * The segment page: follows a refresh until it is done (progress bar, then the new
 * figures), and shows the conditions or the upload note depending on the type.
 * Every sentence shown comes from the server's JSON, already translated.
 */
(function () {
  "use strict";

  var FIRST_DELAY = 1500;
  var LONGEST_DELAY = 10000;

  function followRefresh(box) {
    var url = box.dataset.refreshStatusUrl;
    var summary = box.querySelector("[data-refresh-summary]");
    var progress = box.querySelector("[data-refresh-progress]");
    var bar = progress ? progress.querySelector(".cdp-progress-bar") : null;
    var button = box.querySelector("[data-refresh-button]");
    var delay = FIRST_DELAY;

    if (button && !document.getElementById(button.getAttribute("form"))) button.remove();

    function show(data) {
      summary.textContent = data.summary;
      summary.classList.toggle("cdp-failed", data.status === "failed");
      box.dataset.refreshState = data.status;
      if (progress) {
        progress.hidden = data.done;
        progress.classList.toggle("cdp-progress-unknown", data.progress === null);
        if (data.progress !== null) {
          bar.style.width = data.progress + "%";
          progress.setAttribute("aria-valuenow", String(data.progress));
        } else {
          progress.removeAttribute("aria-valuenow");
        }
      }
      Object.keys(data.figures || {}).forEach(function (name) {
        document.querySelectorAll('[data-figure="' + name + '"]').forEach(function (node) {
          node.textContent = data.figures[name];
        });
      });
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          show(data);
          if (!data.done) schedule();
        })
        .catch(schedule);
    }

    function schedule() {
      window.setTimeout(poll, delay);
      delay = Math.min(LONGEST_DELAY, Math.round(delay * 1.3));
    }

    var state = box.dataset.refreshState;
    if (state === "queued" || state === "running") {
      if (progress && !bar.style.width.replace(/0%|^$/, "")) progress.classList.add("cdp-progress-unknown");
      poll();
    }
  }

  function followKind(form) {
    var inputs = form.querySelectorAll('input[name="kind"]');
    var rules = form.querySelector(".cdp-rules-fieldset");
    var note = form.querySelector("[data-static-note]");
    var kindRow = form.querySelector(".form-row.field-kind > div");
    // Beside the choice it explains rather than at the top of the form.
    if (note && kindRow) kindRow.append(note);
    function apply() {
      var checked = form.querySelector('input[name="kind"]:checked');
      var isStatic = Boolean(checked) && checked.value === "static";
      if (rules) rules.hidden = isStatic;
      if (note) note.hidden = !isStatic;
    }
    inputs.forEach(function (input) {
      input.addEventListener("change", apply);
    });
    if (inputs.length) apply();
  }

  function start() {
    document.querySelectorAll("[data-refresh-status-url]").forEach(followRefresh);
    var form = document.getElementById("segment_form");
    if (form) followKind(form);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
