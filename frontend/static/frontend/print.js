// The disclosure report's print button (no inline handlers: the Content-Security-Policy allows our own files only).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
