// Repeatable form rows (the action items of a meeting's minutes). Without JavaScript the form offers a few blank
// rows; with it, 行を追加 appends another from the <template>, numbered like Django's formset expects
// (__prefix__ → the next index, TOTAL_FORMS counted up), and moves the focus to its first field.
(function () {
  "use strict";

  function setUp(button) {
    var name = button.getAttribute("data-add-row");
    var form = button.closest("form");
    var rows = form.querySelector('[data-rows="' + name + '"]');
    var template = form.querySelector('template[data-row-template="' + name + '"]');
    var total = form.querySelector('input[name="' + name + '-TOTAL_FORMS"]');
    var max = form.querySelector('input[name="' + name + '-MAX_NUM_FORMS"]');
    if (!rows || !template || !total) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10) || 0;
      if (max && index >= parseInt(max.value, 10)) {
        button.disabled = true;
        return;
      }
      var html = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__num__/g, String(index + 1));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      rows.appendChild(row);
      total.value = String(index + 1);
      var first = row.querySelector("select, input, textarea");
      if (first) {
        first.focus();
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-add-row]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
