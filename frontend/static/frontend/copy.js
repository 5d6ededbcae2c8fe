// Copy buttons: <button data-copy="#field-id" data-copy-done="…" data-copy-manual="…"> copies the field's value and
// says so in the button's status region (data-copy-status="#status-id"). Where the clipboard API is missing or
// refused (a plain-HTTP intranet address, a browser setting), the text is selected and the user is told to press
// Ctrl+C. No inline handlers: the Content-Security-Policy allows our own files only.
(function () {
  "use strict";

  function say(button, message) {
    var status = document.querySelector(button.getAttribute("data-copy-status"));
    if (!status) return;
    status.textContent = "";
    // A fresh text node each time, so a second click is announced again.
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function selectAll(field) {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
  }

  function fallback(button, field) {
    selectAll(field);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (e) {
      copied = false;
    }
    say(button, button.getAttribute(copied ? "data-copy-done" : "data-copy-manual"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { say(button, button.getAttribute("data-copy-done")); },
        function () { fallback(button, field); }
      );
    } else {
      fallback(button, field);
    }
  });
})();
