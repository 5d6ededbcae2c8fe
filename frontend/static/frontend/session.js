// The idle timeout as the page sees it, and drafts of the entry form that survive it (see frontend/auth.py).
//
// Drafts live in localStorage, not sessionStorage: the way back after a timeout is a sign-in that may happen in
// another tab, or after the browser was closed; sessionStorage is per tab and would lose the text exactly then.
// Because localStorage outlasts the session, a draft is kept only for its author on this computer: keys carry a
// per-user tag (data-draft-owner, derived from the user id with the site's secret), every signed-in page removes
// other users' drafts and drafts older than a day, and signing out removes one's own. Nothing of a draft is sent
// anywhere until the user submits the form.
(function () {
  "use strict";

  var PREFIX = "tsunagu.draft.";
  var SESSION_PREFIX = "tsunagu.session.";
  var DRAFT_MAX_AGE = 24 * 60 * 60 * 1000;
  var GRACE = 2000; // leave the server's own clock a moment to agree that the time is up
  var FIELDS = ["kind", "occurred_at", "body"];

  var timer = document.getElementById("session-timer");
  if (!timer) return; // nobody signed in (the login page): leave the drafts for their owner's return

  var owner = timer.getAttribute("data-draft-owner");
  var ownPrefix = PREFIX + owner + ".";
  var store = null;
  try {
    store = window.localStorage;
  } catch (e) {
    store = null; // storage disabled: no drafts, the timer still works
  }

  // --- drafts ----------------------------------------------------------------------------------------------

  function storedKeys(prefix) {
    var keys = [];
    if (!store) return keys;
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf(prefix) === 0) keys.push(key);
    }
    return keys;
  }

  function read(key) {
    try {
      return JSON.parse(store.getItem(key) || "null");
    } catch (e) {
      return null;
    }
  }

  function tidy() {
    var now = Date.now();
    storedKeys(PREFIX).forEach(function (key) {
      var draft = key.indexOf(ownPrefix) === 0 ? read(key) : null;
      if (!draft || !(now - draft.saved_at < DRAFT_MAX_AGE)) store.removeItem(key);
    });
    storedKeys(SESSION_PREFIX).forEach(function (key) {
      if (key.indexOf(SESSION_PREFIX + owner + ".") !== 0) store.removeItem(key); // another user's timer
    });
  }

  function field(form, name) {
    var element = form.elements.namedItem(name);
    return element && element.nodeType === 1 ? element : null;
  }

  function keyOf(form) {
    var corrects = field(form, "corrects");
    return ownPrefix + form.getAttribute("data-draft") + "." + ((corrects && corrects.value) || "new");
  }

  function save(form) {
    if (!store) return;
    var body = field(form, "body");
    if (!body) return;
    if (!body.value.trim() || body.value === body.defaultValue) {
      store.removeItem(keyOf(form)); // nothing of one's own typed (yet)
      return;
    }
    var draft = { saved_at: Date.now() };
    FIELDS.forEach(function (name) {
      var element = field(form, name);
      draft[name] = element ? element.value : "";
    });
    try {
      store.setItem(keyOf(form), JSON.stringify(draft));
    } catch (e) {
      // storage full or refused: the form itself still holds the text
    }
  }

  function restore(form) {
    if (!store || form.hasAttribute("data-draft-restored")) return;
    var draft = read(keyOf(form));
    var body = field(form, "body");
    if (!draft || !body || !draft.body || draft.body === body.value) return;
    FIELDS.forEach(function (name) {
      var element = field(form, name);
      if (element && draft[name]) element.value = draft[name];
    });
    form.setAttribute("data-draft-restored", "");
    var template = document.getElementById("draft-restored");
    var note = template.content.firstElementChild.cloneNode(true);
    var heading = form.querySelector(".section-head");
    form.insertBefore(note, heading ? heading.nextSibling : form.firstChild);
  }

  function discard(form) {
    store.removeItem(keyOf(form));
    form.reset(); // back to what the page was rendered with (blank, or the entry being corrected)
    var note = form.querySelector(".draft-note");
    if (note) note.remove();
    form.removeAttribute("data-draft-restored");
    var body = field(form, "body");
    if (body) body.focus();
  }

  function restoreAll(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-draft]") : [];
    if (root.matches && root.matches("form[data-draft]")) forms = [root];
    Array.prototype.forEach.call(forms, restore);
  }

  function draftForm(target) {
    return target && target.form && target.form.hasAttribute("data-draft") ? target.form : null;
  }

  document.addEventListener("input", function (event) {
    var form = draftForm(event.target);
    if (form) save(form);
  });
  document.addEventListener("change", function (event) {
    var form = draftForm(event.target);
    if (form) save(form);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-draft-discard]");
    if (button && button.form) discard(button.form);
  });
  // The entry is stored (HX-Trigger from the server, before the fresh form is swapped in): its draft goes.
  document.addEventListener("tsunagu:entry-saved", function (event) {
    var saved = event.detail || {};
    if (store && saved.client) store.removeItem(ownPrefix + saved.client + "." + (saved.corrects || "new"));
  });
  document.addEventListener("htmx:load", function (event) {
    restoreAll(event.target);
  });

  // Signing out on purpose ends the drafts too (a shared computer); say so when there is one.
  var logoutUrl = timer.getAttribute("data-logout-url");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!store || form.getAttribute("action") !== logoutUrl) return;
    var own = storedKeys(ownPrefix);
    if (own.length && !window.confirm(timer.getAttribute("data-logout-confirm"))) {
      event.preventDefault();
      return;
    }
    own.forEach(function (key) {
      store.removeItem(key);
    });
  });

  // --- the idle timer --------------------------------------------------------------------------------------

  var warningMs = Number(timer.getAttribute("data-idle-warning")) * 1000;
  var deadlineKey = SESSION_PREFIX + owner + ".deadline";
  var deadline = 0;
  var expired = false;
  var warning = document.getElementById("session-warning");
  var alertBox = warning.querySelector("[data-session-alert]");
  var lastFocus = null;

  function learn(remainingSeconds) {
    // The server's count of what is left, turned into a time on this clock (and shared with the other tabs).
    deadline = Date.now() + remainingSeconds * 1000;
    if (store) {
      try {
        store.setItem(deadlineKey, String(deadline));
      } catch (e) {
        // not shared; this tab still knows
      }
    }
    tick();
  }

  function twoDigits(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function showWarning() {
    if (!warning.hidden) return;
    alertBox.textContent = "";
    alertBox.appendChild(document.getElementById("session-warning-message").content.cloneNode(true));
    var at = new Date(deadline);
    alertBox.querySelector("[data-session-deadline]").textContent =
      twoDigits(at.getHours()) + ":" + twoDigits(at.getMinutes());
    warning.hidden = false;
  }

  function hideWarning() {
    if (warning.hidden) return;
    warning.hidden = true;
    alertBox.textContent = "";
  }

  function expire() {
    if (expired) return;
    expired = true;
    // The drafts are already stored (on every keystroke). Sign in again and come back here.
    var back = window.location.pathname + window.location.search;
    var next = encodeURIComponent(back).replace(/%2F/g, "/"); // as the server writes it
    window.location.assign(timer.getAttribute("data-login-url") + "?next=" + next);
  }

  function tick() {
    var left = deadline - Date.now();
    if (left <= -GRACE) expire();
    else if (left <= warningMs) showWarning();
    else hideWarning();
  }

  function keepAlive() {
    var button = warning.querySelector("[data-session-keepalive]");
    button.disabled = true;
    fetch(timer.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // after the limit the answer is a redirect to the login page: treat it as the end
      headers: { "X-CSRFToken": timer.getAttribute("data-csrf-token") },
    })
      .then(function (response) {
        button.disabled = false;
        var remaining = response.headers.get("Tsunagu-Idle-Remaining");
        if (response.status !== 204 || remaining === null) {
          expire();
          return;
        }
        learn(Number(remaining));
        if (lastFocus && document.contains(lastFocus)) lastFocus.focus();
      })
      .catch(function () {
        button.disabled = false; // the network is down: the user may try again before the end
      });
  }

  warning.addEventListener("click", function (event) {
    if (event.target.closest("[data-session-keepalive]")) keepAlive();
  });
  document.addEventListener("focusin", function (event) {
    if (!warning.contains(event.target)) lastFocus = event.target;
  });
  // One way to the login page only: once this page is leaving for it (the time is up here, or a server answer
  // sends the window there), no other request or answer of the page may start a second navigation.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (expired) event.preventDefault();
  });
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (expired) event.preventDefault();
    else if (xhr && xhr.getResponseHeader("HX-Redirect")) expired = true;
  });
  // Every answer of a signed-in view says what is left (a poll's answer does not reset it).
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var remaining = xhr && xhr.getResponseHeader("Tsunagu-Idle-Remaining");
    if (remaining !== null && remaining !== undefined && remaining !== "") learn(Number(remaining));
  });
  // Another tab of the same user was active: its deadline holds here too.
  window.addEventListener("storage", function (event) {
    if (event.key === deadlineKey && event.newValue) {
      deadline = Number(event.newValue);
      tick();
    }
  });
  document.addEventListener("visibilitychange", tick);
  // Back to this page from the browser's cache: a later page may have moved the deadline on.
  window.addEventListener("pageshow", function (event) {
    var shared = store && Number(store.getItem(deadlineKey));
    if (event.persisted && shared > deadline) deadline = shared;
    tick();
  });

  tidy();
  learn(Number(timer.getAttribute("data-idle-remaining")));
  window.setInterval(tick, 1000);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      restoreAll(document);
    });
  } else {
    restoreAll(document);
  }
})();
