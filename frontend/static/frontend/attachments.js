// Attachments in the browser (frontend/_attachment_field.html, frontend/_entry.html). No inline handlers: the
// Content-Security-Policy allows our own files only.
//
// The entry form's files: what the file button, the camera button and a drop on the drop zone add is gathered in
// the file button's own input (a DataTransfer's list), so one multipart request sends them all; the list shows
// each file with its size and a button to take it out again, and the limits are checked as a hint (the server
// decides). Without script, or without DataTransfer, the two inputs simply work on their own.
//
// Upload progress: htmx sends the form as multipart (hx-encoding) and reports htmx:xhr:progress; the form's
// indicator shows a <progress> and 送信中… 45% while it is sent.
//
// The preview: a プレビュー link opens a <dialog> with the file shown from our own origin (<img> for an image,
// <iframe> for a PDF, both the preview URL of the link). Without script the link opens the preview itself.
(function () {
  "use strict";

  var canCollect = (function () {
    try {
      return typeof DataTransfer === "function" && !!new DataTransfer().items;
    } catch (e) {
      return false;
    }
  })();

  function format(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return key in values ? values[key] : whole;
    });
  }

  function humanSize(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1) + " MB";
    if (bytes >= 1024) return (bytes / 1024).toFixed(1) + " KB";
    return bytes + " B";
  }

  // --- the chosen files --------------------------------------------------------------------------------------

  function parts(field) {
    return {
      input: field.querySelector(".file-input"),
      camera: field.querySelector(".camera-input"),
      list: field.querySelector("[data-file-list]"),
      summary: field.querySelector("[data-file-summary]"),
      warnings: field.querySelector("[data-file-warnings]"),
    };
  }

  function chosen(field) {
    if (!field.tsunaguFiles) field.tsunaguFiles = [];
    return field.tsunaguFiles;
  }

  function sync(field) {
    var p = parts(field);
    var files = chosen(field);
    var transfer = new DataTransfer();
    files.forEach(function (file) {
      transfer.items.add(file);
    });
    p.input.files = transfer.files;
    if (p.camera) p.camera.value = ""; // its photo is in the file button's list now
    render(field);
  }

  function add(field, fileList) {
    var files = chosen(field);
    Array.prototype.forEach.call(fileList || [], function (file) {
      files.push(file);
    });
    sync(field);
  }

  function render(field) {
    var p = parts(field);
    var files = chosen(field);
    p.list.textContent = "";
    var total = 0;
    files.forEach(function (file, index) {
      total += file.size;
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "file-name";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "file-size";
      size.textContent = humanSize(file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-sm";
      remove.textContent = field.getAttribute("data-text-remove");
      remove.setAttribute("aria-label", format(field.getAttribute("data-text-remove-name"), { name: file.name }));
      remove.setAttribute("data-file-remove", String(index));
      item.appendChild(name);
      item.appendChild(size);
      item.appendChild(remove);
      p.list.appendChild(item);
    });
    p.list.hidden = files.length === 0;
    p.summary.textContent = files.length
      ? format(field.getAttribute("data-text-count"), { count: files.length, size: humanSize(total) })
      : "";
    warn(field, files, total);
  }

  function warn(field, files, total) {
    var p = parts(field);
    var messages = [];
    var maxFiles = parseInt(field.getAttribute("data-max-files"), 10);
    var maxBytes = parseInt(field.getAttribute("data-max-bytes"), 10);
    var maxTotal = parseInt(field.getAttribute("data-max-entry-bytes"), 10);
    if (files.length > maxFiles) messages.push(field.getAttribute("data-text-too-many"));
    files.forEach(function (file) {
      if (file.size > maxBytes) messages.push(format(field.getAttribute("data-text-too-large"), { name: file.name }));
    });
    if (total > maxTotal) messages.push(field.getAttribute("data-text-total"));
    p.warnings.textContent = "";
    messages.forEach(function (message) {
      var line = document.createElement("p");
      line.className = "file-warning";
      line.textContent = message;
      p.warnings.appendChild(line);
    });
  }

  function fieldOf(element) {
    return element && element.closest ? element.closest("[data-attachments]") : null;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var field = fieldOf(target);
    if (!field || !canCollect) return;
    if (!target.classList.contains("file-input") && !target.classList.contains("camera-input")) return;
    // The browser replaced the input's selection with the new one: what was chosen before is kept in our list.
    var added = Array.prototype.slice.call(target.files || []);
    if (target.classList.contains("file-input")) {
      var known = chosen(field);
      added = added.filter(function (file) {
        return known.indexOf(file) === -1;
      });
    }
    add(field, added);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-file-remove]") : null;
    if (!button) return;
    var field = fieldOf(button);
    if (!field) return;
    var index = parseInt(button.getAttribute("data-file-remove"), 10);
    chosen(field).splice(index, 1);
    sync(field);
    parts(field).input.focus(); // the button is gone; keep the keyboard in the field
  });

  // --- the drop zone -----------------------------------------------------------------------------------------

  function zoneOf(event) {
    return event.target.closest ? event.target.closest("[data-dropzone]") : null;
  }

  function carriesFiles(event) {
    var types = event.dataTransfer ? event.dataTransfer.types : null;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = zoneOf(event);
      if (!zone || !canCollect || !carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dropzone-active");
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("dropzone-active");
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event);
    if (!zone || !canCollect) return;
    event.preventDefault();
    zone.classList.remove("dropzone-active");
    var field = fieldOf(zone);
    if (field && event.dataTransfer) add(field, event.dataTransfer.files);
  });

  // --- upload progress ---------------------------------------------------------------------------------------

  function progressOf(element) {
    return element && element.querySelector ? element.querySelector(".upload-progress") : null;
  }

  function showProgress(indicator, percent) {
    var bar = indicator.querySelector("progress");
    var text = indicator.querySelector(".upload-progress-text");
    var shown = parseInt(indicator.getAttribute("data-percent") || "0", 10);
    if (percent < shown) return; // the response's own progress follows the upload's: never go back
    indicator.setAttribute("data-percent", String(percent));
    bar.value = percent;
    // Announced in steps of ten, not at every event.
    if (percent === 100 || percent - parseInt(text.getAttribute("data-said") || "-10", 10) >= 10) {
      text.setAttribute("data-said", String(percent));
      text.textContent = text.getAttribute("data-label") + " " + percent + "%";
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var indicator = progressOf(event.target);
    if (!indicator) return;
    indicator.setAttribute("data-percent", "0");
    var text = indicator.querySelector(".upload-progress-text");
    text.removeAttribute("data-said");
    showProgress(indicator, 0);
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var indicator = progressOf(event.target);
    var detail = event.detail || {};
    if (!indicator || !detail.lengthComputable || !detail.total) return;
    showProgress(indicator, Math.min(100, Math.round((detail.loaded / detail.total) * 100)));
  });

  // --- the preview -------------------------------------------------------------------------------------------

  function dialog() {
    return document.getElementById("attachment-dialog");
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-preview]") : null;
    var box = dialog();
    if (!link || !box || typeof box.showModal !== "function") return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    var url = new URL(link.getAttribute("href"), window.location.href);
    if (url.origin !== window.location.origin) return; // never a file from another origin
    var body = box.querySelector("[data-dialog-body]");
    body.textContent = "";
    var name = link.getAttribute("data-preview-name");
    var shown;
    if (link.getAttribute("data-preview") === "image") {
      shown = document.createElement("img");
      shown.alt = name;
      shown.className = "preview-image";
    } else {
      shown = document.createElement("iframe");
      shown.title = name;
      shown.className = "preview-frame";
    }
    shown.src = url.pathname;
    body.appendChild(shown);
    box.querySelector("[data-dialog-title]").textContent = name;
    box.querySelector("[data-dialog-download]").setAttribute("href", link.getAttribute("data-download"));
    box.showModal();
  });

  document.addEventListener("click", function (event) {
    var box = dialog();
    if (!box || !box.open) return;
    var close = event.target.closest ? event.target.closest("[data-dialog-close]") : null;
    if (close || event.target === box) box.close(); // the close button, or a click on the backdrop
  });

  document.addEventListener(
    "close",
    function (event) {
      if (event.target && event.target.id === "attachment-dialog") {
        event.target.querySelector("[data-dialog-body]").textContent = ""; // stop loading, free the file
      }
    },
    true
  );
})();
