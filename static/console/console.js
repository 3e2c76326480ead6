/* Resolver console: keyboard shortcuts, queue selection, dialogs, live state.
   htmx and its ws extension do the requests and swaps; this file only adds behaviour. */
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
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.findIndex(function (r) { return r.id === selectedId; });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[index]);
  }

  /* The server pushes the queue whole (in its order): keep the agent's selection across pushes. */
  function restoreSelection() {
    var current = selectedId && document.getElementById(selectedId);
    if (current) { current.setAttribute("aria-selected", "true"); }
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

  function firstOpenCard() {
    return document.querySelector("#draft-cards [data-draft]");
  }

  function press(key) {
    var card = firstOpenCard();
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

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && event.target.matches("[data-answer]")) {
      event.preventDefault();
      press("a");
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
        if (row) { window.location.href = row.dataset.href; } else { handled = false; }
        break;
      }
      case "/": {
        var search = document.getElementById("queue-search");
        if (search) { search.focus(); search.select(); } else { handled = false; }
        break;
      }
      case "a": case "r": case "e": case "p": handled = press(event.key); break;
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

  /* Live state: say when the socket is down; the server resends the page's state on reconnect. */
  function liveState(text) {
    var state = document.getElementById("live-state");
    if (!state) { return; }
    state.hidden = !text;
    state.textContent = text;
  }

  /* An action's answer carries the refreshed conversation, but the WebSocket push of the same
     change usually lands first and replaces the form that sent the request. Events on a detached
     form no longer reach the document, so the handler is attached to the form itself. */
  function swapIntoDocument(event) {
    if (event.detail.elt.isConnected) { return; }
    event.detail.shouldSwap = false;
    htmx.swap(document.body, event.detail.serverResponse, { swapStyle: "none" });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    event.detail.elt.addEventListener("htmx:beforeSwap", swapIntoDocument, { once: true });
  });

  /* Typing in an answer tells the customer's chat widget (the server relays at most every 2 s). */
  var socket = null;
  var typedAt = 0;
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
  document.addEventListener("htmx:wsClose", function () { liveState("Reconnecting…"); document.body.dataset.live = "closed"; });
  document.addEventListener("htmx:wsAfterMessage", function () { restoreSelection(); refreshTimes(); });

  document.addEventListener("DOMContentLoaded", function () {
    refreshTimes();
    window.setInterval(refreshTimes, 30000);
  });
})();
