/* MIM Desk — the war room's clocks: time since declaration and the next update's countdown.
 *
 * The server renders both (warroom/web/page.py: span); this keeps them ticking without a reload
 * and says them the same way. Times are read from <time datetime> (UTC, ISO 8601), also in the
 * header's live part after htmx swaps it in (every tick looks them up again).
 */
(function () {
  "use strict";

  function span(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 24) return hours + " h " + (minutes < 10 ? "0" : "") + minutes + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-elapsed]").forEach(function (node) {
      node.textContent = span(now - Date.parse(node.getAttribute("datetime")));
    });
    document.querySelectorAll("time[data-countdown]").forEach(function (node) {
      var left = Date.parse(node.getAttribute("datetime")) - now;
      node.textContent = left > 0 ? "in " + span(left) : "overdue by " + span(-left);
      var fact = node.closest(".wr-fact");
      if (fact) fact.classList.toggle("wr-fact--overdue", left <= 0);
    });
  }

  // The live header's poll (templates/warroom/_header_live.html). A session that expired answers
  // it with a redirect to the login page, which must not be swapped into the header: reload, so
  // the browser goes to log in and comes back here.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var url = event.detail.xhr && event.detail.xhr.responseURL;
    if (target && target.id === "wr-head-live" && url && url.indexOf("part=header") === -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

  function start() {
    tick();
    window.setInterval(tick, 5000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
