// The stakeholder-updates panel: the canned response's copy button. Delegated from the document,
// so a panel swapped in by htmx needs nothing re-bound; loaded again with each swap, it binds once.
(function () {
  "use strict";
  if (window.mimCommsBound) return;
  window.mimCommsBound = true;

  function said(button, text) {
    var status = button.parentNode.querySelector("[data-copy-status]");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var box = document.getElementById(button.getAttribute("data-copy-target"));
    if (!box) return;
    var text = box.value;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { said(button, "Copied."); },
        function () { box.select(); said(button, "Selected: press Ctrl+C to copy."); }
      );
    } else {
      // Plain http (no Clipboard API): select the text and let the user copy it.
      box.focus();
      box.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      said(button, copied ? "Copied." : "Selected: press Ctrl+C to copy.");
    }
  });
})();
