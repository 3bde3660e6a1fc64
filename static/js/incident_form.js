/* MIM Desk — incident form: live priority preview and the affected-CI picker.
 *
 * The priority matrix is not written here: the page renders services.PRIORITY_MATRIX into
 * <script id="priority-matrix" type="application/json">, so the server stays the one source.
 */
(function () {
  "use strict";

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function initPriority(form) {
    var matrix = readJSON("priority-matrix");
    var labels = readJSON("priority-labels") || {};
    var impact = form.querySelector("[name=impact]");
    var urgency = form.querySelector("[name=urgency]");
    var override = form.querySelector("[name=priority]");
    var badge = form.querySelector("[data-priority-badge]");
    var label = form.querySelector("[data-priority-label]");
    var source = form.querySelector("[data-priority-source]");
    var cells = form.querySelectorAll(".matrix__cell");
    if (!matrix || !impact || !urgency || !badge) return;

    function update() {
      var row = matrix[impact.value] || {};
      var computed = row[urgency.value];
      var manual = override && override.value ? parseInt(override.value, 10) : null;
      var shown = manual || computed;
      badge.className = "prio prio--lg prio--" + (shown || "none");
      badge.textContent = shown ? "P" + shown : "–";
      if (label) label.textContent = shown ? labels[String(shown)] || "" : "";
      if (source) {
        source.textContent = manual
          ? "set by hand (matrix says P" + computed + ")"
          : "from impact × urgency";
      }
      cells.forEach(function (cell) {
        var on = cell.dataset.impact === impact.value && cell.dataset.urgency === urgency.value;
        cell.classList.toggle("is-current", on);
      });
    }

    [impact, urgency, override].forEach(function (el) {
      if (el) el.addEventListener("change", update);
    });
    update();
  }

  function initCIPicker(form) {
    var picker = form.querySelector("[data-ci-picker]");
    if (!picker) return;
    var hidden = picker.querySelector("input[name=affected_ci]");
    var search = picker.querySelector("input[name=ci_q]");
    var chosen = picker.querySelector("[data-ci-chosen]");
    var chosenName = picker.querySelector("[data-ci-chosen-name]");
    var chosenKind = picker.querySelector("[data-ci-chosen-kind]");
    var results = picker.querySelector("#ci-results");
    var impactBox = picker.querySelector("#ci-impact");

    function choose(option) {
      hidden.value = option.dataset.ciId;
      chosenName.textContent = option.dataset.ciName;
      chosenKind.textContent = option.dataset.ciKind;
      chosen.hidden = false;
      search.hidden = true;
      search.value = "";
      results.innerHTML = "";
      if (window.htmx) window.htmx.trigger(search, "htmx:abort");
      if (window.htmx && option.dataset.impactUrl) {
        impactBox.innerHTML = '<p class="muted">Counting affected users…</p>';
        window.htmx.ajax("GET", option.dataset.impactUrl, { target: impactBox, swap: "innerHTML" });
      }
    }

    function clear() {
      hidden.value = "";
      chosen.hidden = true;
      search.hidden = false;
      impactBox.innerHTML = "";
      search.focus();
    }

    picker.addEventListener("click", function (event) {
      var option = event.target.closest("[data-ci-option]");
      if (option) {
        event.preventDefault();
        choose(option);
        return;
      }
      if (event.target.closest("[data-ci-clear]")) {
        event.preventDefault();
        clear();
      }
    });

    // Typing again means the earlier choice no longer holds.
    search.addEventListener("input", function () {
      hidden.value = "";
    });

    // Enter in the search box picks the first match instead of submitting the whole form.
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = results.querySelector("[data-ci-option]");
        if (first) {
          event.preventDefault();
          choose(first);
        }
      } else if (event.key === "Escape") {
        results.innerHTML = "";
      }
    });

    document.addEventListener("click", function (event) {
      if (!picker.contains(event.target)) results.innerHTML = "";
    });

    // A search still in flight (or waiting out its typing delay) when a CI is chosen must not
    // reopen the list under the chosen CI.
    search.addEventListener("htmx:beforeRequest", function (event) {
      if (search.hidden) event.preventDefault();
    });
    search.addEventListener("htmx:beforeSwap", function (event) {
      if (search.hidden) event.detail.shouldSwap = false;
    });
  }

  function init() {
    var form = document.querySelector(".incident-form");
    if (!form) return;
    initPriority(form);
    initCIPicker(form);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
