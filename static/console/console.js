/* Resolver console: keyboard shortcuts, queue selection, dialogs, live state, and care for what
   the agent is doing while pushes arrive. htmx and its ws extension do the requests and swaps;
   this file only adds behaviour. */
(function () {
  "use strict";

  var selectedId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tr.row"));
  }

  function select(row) {
    rows().forEach(function (r) { r.setAttribute("aria-selected", "false"); });
    if (!row) { selectedId = null; return; }
    row.setAttribute("aria-selected", "true");
    selectedId = row.id;
    var link = row.querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }  /* screen readers follow the focus */
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.findIndex(function (r) { return r.id === selectedId; });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[index]);
  }

  function since(iso) {
    var seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) { return Math.floor(seconds) + "s"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + "m"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m"; }
    return Math.floor(seconds / 86400) + "d";
  }

  function refreshTimes() {
    document.querySelectorAll("time[data-since]").forEach(function (t) {
      t.textContent = since(t.getAttribute("datetime"));
    });
  }

  /* The card the agent is working in (focus inside it), else the first one. */
  function currentCard(from) {
    var card = from && from.closest ? from.closest("[data-draft]") : null;
    return card || document.querySelector("#draft-cards [data-draft]");
  }

  function press(key, from) {
    var card = currentCard(from);
    var button = card && card.querySelector('[data-key="' + key + '"]');
    if (button && !button.disabled) { button.click(); return true; }
    return false;
  }

  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog) { return; }
    dialog.showModal();
    var field = dialog.querySelector("textarea, input");
    if (field) { field.focus(); }
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function activates(target) {
    return target.closest("a, button, summary") !== null;
  }

  function showError(text) {
    var box = document.getElementById("action-error");
    if (!box) { return; }
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "flash error";
    p.textContent = text;
    box.appendChild(p);
  }

  /* Approve sends the answer box: nothing to send, nothing to approve (the server refuses it
     too). The server renders the button for the assistant's answer; what the agent types, or a
     kept reply put back after a push, decides it from then on. */
  function syncApprove(box) {
    var card = box.closest("[data-draft]");
    var button = card && card.querySelector("[data-approve]");
    /* A proposed or executing action holds the reply back (the server refuses it too). */
    var waiting = card && card.querySelector("[data-actions-pending]");
    if (button) { button.disabled = !box.value.trim() || !!waiting; }
  }

  function syncAllApprove() {
    document.querySelectorAll("[data-draft] textarea[data-answer]").forEach(syncApprove);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-answer]")) { syncApprove(event.target); }
  });

  function announce(text) {
    var region = document.getElementById("announcer");
    if (region) { region.textContent = text; }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && event.target.matches("[data-answer]")) {
      event.preventDefault();
      press("a", event.target);
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) { return; }
    if (document.querySelector("dialog[open]")) { return; }
    var handled = true;
    switch (event.key) {
      case "?": openDialog("keys-dialog"); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": {
        var row = selectedId && document.getElementById(selectedId);
        /* A focused link or button keeps its own Enter (the selected row's link included). */
        if (row && !activates(event.target)) { window.location.href = row.dataset.href; } else { handled = false; }
        break;
      }
      case "/": {
        var search = document.getElementById("queue-search");
        if (search) { search.focus(); search.select(); } else { handled = false; }
        break;
      }
      case "a": case "r": case "e": case "p": handled = press(event.key, event.target); break;
      case "y": handled = press("y", event.target); break;  /* approve the first proposed action */
      case "n": {
        var next = document.querySelector("[data-next]");
        if (next) { next.click(); } else { handled = false; }
        break;
      }
      case "u": window.location.href = "/console/"; break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) { openDialog(opener.dataset.openDialog); return; }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { closer.closest("dialog").close(); return; }
    if (event.target.closest("[data-keys]")) { openDialog("keys-dialog"); return; }
    var assistant = event.target.closest("[data-use-assistant]");
    if (assistant) {
      var box = document.getElementById(assistant.dataset.useAssistant);
      if (box) { box.value = box.defaultValue; syncApprove(box); box.focus(); }
      assistant.closest(".notice").remove();
      return;
    }
    var row = event.target.closest("#queue-rows tr.row");
    if (row && !event.target.closest("a")) { window.location.href = row.dataset.href; }
  });

  document.addEventListener("submit", function (event) {
    if (event.target.matches("[data-close-on-submit]")) { event.target.closest("dialog").close(); }
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form && event.target.matches("select")) { form.requestSubmit(); }
  });

  /* ---------- pushes while the agent is busy ---------- */

  /* A push replaces the draft cards. While a dialog is open (a reason being typed) pushes wait
     and are applied when it closes; focus and caret survive a push; and a reply the agent
     started on a PENDING draft is kept when the assistant's answer arrives. */
  var held = [];
  var focus = null;
  var ownText = {};
  var statuses = {};

  function applyHeld() {
    var messages = held;
    held = [];
    beforePush();  /* what the agent typed meanwhile is recorded as before any push */
    messages.forEach(function (html) { htmx.swap(document.body, html, { swapStyle: "none" }); });
    afterPush();
  }

  document.addEventListener("close", function (event) {
    if (event.target.matches("dialog") && held.length) { applyHeld(); }
  }, true);

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    if (document.querySelector("dialog[open]")) {
      event.preventDefault();
      held.push(event.detail.message);
      return;
    }
    beforePush();
  });

  function beforePush() {
    var active = document.activeElement;
    focus = active && active.id ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null;
    document.querySelectorAll("textarea[data-answer][id$='-pending']").forEach(function (box) {
      if (box.value.trim() && box.value !== box.defaultValue) { ownText[box.id.replace(/-pending$/, "")] = box.value; }
    });
    document.querySelectorAll("[data-answer-box]:not([id$='-pending']) textarea[data-answer]").forEach(function (box) {
      if (box.value !== box.defaultValue) { editedText[box.id] = { text: box.value, boxId: box.parentNode.id }; }
    });
  }

  /* An answer rewritten under an edit (an action was decided with other arguments: its sentence
     now states them) replaces the box, since the edit would state the old ones. The agent is
     told, and keeps a copy of what they had written. */
  var editedText = {};

  function tellRewrittenEdits() {
    Object.keys(editedText).forEach(function (id) {
      var edited = editedText[id];
      delete editedText[id];
      var box = document.getElementById(id);
      if (!box || box.parentNode.id === edited.boxId) { return; }
      var notice = document.createElement("div");
      notice.className = "notice";
      notice.setAttribute("role", "status");
      var text = document.createElement("p");
      text.textContent = "The answer was rewritten when an action was decided, so your edit was replaced: check the new answer before approving.";
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = "Your edited text";
      var copy = document.createElement("pre");
      copy.className = "edited-copy";
      copy.textContent = edited.text;
      details.appendChild(summary);
      details.appendChild(copy);
      notice.appendChild(text);
      notice.appendChild(details);
      box.parentNode.insertBefore(notice, box);
    });
  }

  function keepOwnText() {
    Object.keys(ownText).forEach(function (id) {
      var box = document.getElementById(id);
      if (!box) { return; }  /* still pending: hx-preserve kept the box */
      var mine = ownText[id];
      delete ownText[id];
      if (box.value !== box.defaultValue) { return; }
      box.value = mine;
      var notice = document.createElement("p");
      notice.className = "notice";
      notice.textContent = "Your reply was kept; the assistant's answer arrived meanwhile. ";
      var use = document.createElement("button");
      use.type = "button";
      use.dataset.useAssistant = id;
      use.textContent = "Use the assistant's answer";
      notice.appendChild(use);
      box.parentNode.insertBefore(notice, box);
    });
  }

  function restoreFocus() {
    if (!focus) { return; }
    var element = document.getElementById(focus.id);
    if (element && element !== document.activeElement) {
      element.focus({ preventScroll: true });
      if (typeof focus.start === "number" && element.setSelectionRange) { element.setSelectionRange(focus.start, focus.end); }
    }
    focus = null;
  }

  function announceStatuses() {
    document.querySelectorAll("[data-draft]").forEach(function (card) {
      var status = card.querySelector("[data-status]").textContent.trim();
      if (statuses[card.id] && statuses[card.id] !== status) { announce("Draft " + status.toLowerCase()); }
      statuses[card.id] = status;
    });
  }

  function afterPush() {
    keepOwnText();
    tellRewrittenEdits();
    syncAllApprove();
    restoreFocus();
    var current = selectedId && document.getElementById(selectedId);
    if (current) { current.setAttribute("aria-selected", "true"); }
    refreshTimes();
    announceStatuses();
  }

  document.addEventListener("htmx:wsAfterMessage", afterPush);

  /* An action's answer carries the refreshed conversation, but the WebSocket push of the same
     change usually lands first and replaces the form that sent the request. Events on a detached
     form no longer reach the document, so the handler is attached to the form itself. */
  function swapIntoDocument(event) {
    if (event.detail.elt.isConnected) { return; }
    event.detail.shouldSwap = false;
    htmx.swap(document.body, event.detail.serverResponse, { swapStyle: "none" });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    beforePush();
    event.detail.elt.addEventListener("htmx:beforeSwap", swapIntoDocument, { once: true });
  });

  document.addEventListener("htmx:afterSwap", afterPush);

  /* Failures that carry no refreshed card (session expired, a proxy error) still say so. */
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.responseText.indexOf('id="action-error"') < 0) {
      showError("The action failed (HTTP " + xhr.status + "). Reload the page and try again.");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form.matches && form.matches("form[data-reset-on-success]")) { form.reset(); }
  });

  document.addEventListener("htmx:sendError", function () {
    showError("Could not reach the server: the action was not applied. Check the connection and try again.");
  });

  /* ---------- live state ---------- */

  /* Say when the socket is down; the server resends the page's state on reconnect. Our close
     codes (4401 logged out, 4403 not an agent) end the session instead: htmx does not retry. */
  var socket = null;
  var typedAt = 0;

  function liveState(text) {
    var state = document.getElementById("live-state");
    if (!state) { return; }
    state.hidden = !text;
    state.textContent = text;
  }

  /* Typing in an answer tells the customer's chat widget (the server relays at most every 2 s). */
  document.addEventListener("input", function (event) {
    var page = document.querySelector("[data-conversation]");
    if (!socket || !page || !event.target.matches("[data-answer]") || Date.now() - typedAt < 2000) { return; }
    typedAt = Date.now();
    socket.send(JSON.stringify({ type: "typing", conversation_id: page.dataset.conversation }));
  });

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    liveState("");
    document.body.dataset.live = "open";
  });

  document.addEventListener("htmx:wsClose", function (event) {
    socket = null;
    document.body.dataset.live = "closed";
    var code = event.detail.event && event.detail.event.code;
    liveState(code >= 4000 ? "Session ended: log in again" : "Reconnecting…");
  });

  document.addEventListener("DOMContentLoaded", function () {
    syncAllApprove();  /* a box the browser refilled on back/forward */
    refreshTimes();
    announceStatuses();
    window.setInterval(refreshTimes, 30000);
  });
})();
