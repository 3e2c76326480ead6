/* Resolver console: keyboard shortcuts, queue selection, dialogs, live state, and care for what
   the agent is doing while pushes arrive. htmx and its ws extension do the requests and swaps;
   this file only adds behaviour. */
(function () {
  "use strict";

  var selectedId = null;
  var selectedIndex = -1;  /* where the selected row was before a push (it may leave the queue) */

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tr.row"));
  }

  function select(row, quietly) {
    rows().forEach(function (r) { r.setAttribute("aria-selected", "false"); });
    if (!row) { selectedId = null; selectedIndex = -1; return; }
    row.setAttribute("aria-selected", "true");
    selectedId = row.id;
    selectedIndex = rows().indexOf(row);
    if (quietly) { return; }
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

  /* What a push says at once (a status, a rescued text) is said together, not the last only. */
  var saying = [];

  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region) { return; }
    saying.push(text);
    if (saying.length > 1) { return; }
    window.setTimeout(function () { region.textContent = saying.join(" "); saying = []; }, 0);
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
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var kept = dismiss.closest(".notice");
      var beside = kept.parentNode.querySelector("textarea[data-answer]");
      kept.remove();
      var home = beside || document.querySelector("#draft-cards [data-card-heading]");
      if (home) { home.focus(); }
      return;
    }
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

  /* A push replaces the draft cards and the queue's rows. While a dialog is open (a reason being
     typed) pushes wait and are applied when it closes. Focus and caret survive a push: on the
     same element, else on its equivalent (the same button of the same card, the same row's link,
     the row now where the selected one was), else on the card's heading. And nothing the agent
     typed is dropped: a reply started on a PENDING draft is kept when the assistant's answer
     arrives, an edit whose draft someone reprocessed moves into the new draft's empty box, and
     one with nowhere to go is shown with a copy to take. */
  var held = [];
  var applying = false;
  var focus = null;
  var ownText = {};     /* "answer-<id>" -> what the agent wrote in a PENDING draft's box */
  var editedText = {};  /* "answer-<id>" -> an edit of the assistant's answer */
  var sending = {};     /* boxes an action of the agent's is sending (Approve): not lost */
  var movedTo = {};     /* a box that left -> where its text (or its copy) is now */
  var statuses = {};

  function applyHeld() {
    var messages = held;
    held = [];
    beforePush();  /* what the agent typed meanwhile is recorded as before any push */
    applying = true;
    try {
      messages.forEach(function (html) { htmx.swap(document.body, html, { swapStyle: "none" }); });
    } finally {
      applying = false;
    }
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

  /* What a box's text belongs to: its draft's card and the customer message it answers. */
  function record(box) {
    var card = box.closest("[data-draft]");
    return { text: box.value, boxId: box.parentNode.id, card: card ? card.id : "", message: card ? card.dataset.message : "" };
  }

  function signature(element) {
    return [element.tagName, element.getAttribute("name") || "", element.getAttribute("type") || "",
      element.getAttribute("aria-label") || "", element.textContent.trim().slice(0, 80)].join("|");
  }

  /* Where the focus is, described so that its equivalent can be found in the new markup. */
  function focusSpot() {
    var active = document.activeElement;
    if (!active || active === document.body || active === document.documentElement) { return null; }
    var anchor = active.parentElement && active.parentElement.closest("[id]");
    var card = active.closest("[data-draft]");
    var row = active.closest("#queue-rows tr.row");
    return {
      id: active.id || "", start: active.selectionStart, end: active.selectionEnd,
      signature: signature(active), anchor: anchor ? anchor.id : "",
      card: card ? card.id : "", message: card ? card.dataset.message : "", key: active.getAttribute("data-key") || "",
      row: row ? row.id : "", index: row ? rows().indexOf(row) : -1
    };
  }

  function beforePush() {
    focus = focusSpot();
    ownText = {};  /* what is typed now, in the page as it is now */
    editedText = {};
    var selected = selectedId && document.getElementById(selectedId);
    if (selected) { selectedIndex = rows().indexOf(selected); }
    document.querySelectorAll("textarea[data-answer][id$='-pending']").forEach(function (box) {
      if (sending[box.id]) { return; }
      if (box.value.trim() && box.value !== box.defaultValue) { ownText[box.id.replace(/-pending$/, "")] = record(box); }
    });
    document.querySelectorAll("[data-answer-box]:not([id$='-pending']) textarea[data-answer]").forEach(function (box) {
      if (sending[box.id]) { return; }
      if (box.value !== box.defaultValue) { editedText[box.id] = record(box); }
    });
  }

  function notice(text) {
    var element = document.createElement("div");
    element.className = "notice";
    element.setAttribute("role", "status");
    element.tabIndex = -1;
    var p = document.createElement("p");
    p.textContent = text;
    element.appendChild(p);
    return element;
  }

  /* A notice with a copy of the agent's text, to take before it is gone. */
  function copyNotice(text, copied, open) {
    var element = notice(text);
    var details = document.createElement("details");
    details.open = !!open;
    var summary = document.createElement("summary");
    summary.textContent = "Your edited text";
    var copy = document.createElement("pre");
    copy.className = "edited-copy";
    copy.textContent = copied;
    details.appendChild(summary);
    details.appendChild(copy);
    element.appendChild(details);
    return element;
  }

  function dismissable(element) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.dataset.dismiss = "";
    button.textContent = "Dismiss";
    element.appendChild(button);
    return element;
  }

  /* The box the agent was typing in left the page: its draft was reprocessed (a new draft
     answers the same message), sent or closed by someone else, or the conversation resolved.
     The text goes into the new draft's box when that is empty, else it is shown with a copy. */
  function rescue(oldBoxId, kept) {
    var target = null;
    document.querySelectorAll("[data-draft]").forEach(function (card) {
      if (!target && card.id !== kept.card && kept.message && card.dataset.message === kept.message) {
        target = card.querySelector("textarea[data-answer]");
      }
    });
    var said;
    if (target && !target.value.trim()) {
      target.value = kept.text;
      syncApprove(target);
      said = "The draft was reprocessed while you were writing: your text was kept here. Check it before approving.";
      target.parentNode.insertBefore(dismissable(notice(said)), target);
      movedTo[oldBoxId] = target;
      announce(said);
      return;
    }
    var card = document.getElementById(kept.card);
    var status = card && card.querySelector("[data-status]");
    if (target) {
      said = "The draft was reprocessed while you were writing, and the new draft has its own answer: your text was not sent. A copy is below.";
    } else if (status) {
      said = "This draft was " + status.textContent.trim().toLowerCase() + " while you were writing: your text was not sent. A copy is below.";
    } else {
      said = "This draft was closed while you were writing: your text was not sent. A copy is below.";
    }
    var element = dismissable(copyNotice(said, kept.text, true));
    /* Beside the new draft's box (kept through pushes with it), else on the shelf above the
       cards, which no push replaces. */
    var shelf = target ? null : document.getElementById("kept-edits");
    if (target) { target.parentNode.insertBefore(element, target); }
    else if (shelf) { shelf.appendChild(element); }
    else { return; }
    movedTo[oldBoxId] = element;
    announce(said);
  }

  /* An answer rewritten under an edit (an action was decided with other arguments: its sentence
     now states them) replaces the box, since the edit would state the old ones. The agent is
     told, and keeps a copy of what they had written. A box that left altogether is rescued. */
  function tellRewrittenEdits() {
    Object.keys(editedText).forEach(function (id) {
      var edited = editedText[id];
      delete editedText[id];
      var box = document.getElementById(id);
      if (box && box.parentNode.id === edited.boxId) { return; }
      if (!box) { rescue(id, edited); return; }
      var element = copyNotice("The answer was rewritten when an action was decided, so your edit was replaced: check the new answer before approving.", edited.text, false);
      box.parentNode.insertBefore(element, box);
    });
  }

  function keepOwnText() {
    Object.keys(ownText).forEach(function (id) {
      var box = document.getElementById(id);
      var mine = ownText[id];
      if (!box) {
        if (document.getElementById(id + "-pending")) { return; }  /* still pending: hx-preserve kept the box */
        delete ownText[id];
        rescue(id + "-pending", mine);
        return;
      }
      delete ownText[id];
      if (box.value !== box.defaultValue) { return; }
      box.value = mine.text;
      var notice = document.createElement("p");
      notice.className = "notice";
      notice.textContent = "Your reply was kept; the assistant's answer arrived meanwhile. ";
      var use = document.createElement("button");
      use.type = "button";
      use.dataset.useAssistant = id;
      use.textContent = "Use the assistant's answer";
      notice.appendChild(use);
      box.parentNode.insertBefore(notice, box);
      movedTo[id + "-pending"] = box;
    });
  }

  function usable(element) {
    return !!element && element.isConnected && !element.disabled && element.getClientRects().length > 0;
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  /* The element that stands where the focused one was before a push. */
  function equivalent(spot) {
    var element = spot.id && document.getElementById(spot.id);
    if (usable(element)) { return element; }
    if (spot.id && movedTo[spot.id]) { return movedTo[spot.id]; }
    var card = spot.card && document.getElementById(spot.card);
    if (card && spot.key) {
      element = card.querySelector('[data-key="' + spot.key + '"]');
      if (usable(element)) { return element; }
    }
    var anchor = spot.anchor && document.getElementById(spot.anchor);
    if (anchor) {
      element = Array.prototype.find.call(anchor.querySelectorAll(FOCUSABLE), function (e) {
        return signature(e) === spot.signature && usable(e);
      });
      if (element) { return element; }
    }
    if (card) { return card.querySelector("[data-card-heading]"); }  /* its buttons left: sent, say */
    if (spot.row) {
      var all = rows();
      if (!all.length) { return document.querySelector("[data-focus-home]"); }
      var row = document.getElementById(spot.row) || all[Math.min(Math.max(spot.index, 0), all.length - 1)];
      return row.querySelector("a");
    }
    if (spot.card) {  /* the card left (its draft reprocessed): the new one for the same message */
      var cards = Array.prototype.slice.call(document.querySelectorAll("#draft-cards [data-draft]"));
      var same = cards.find(function (c) { return spot.message && c.dataset.message === spot.message; }) || cards[0];
      return same ? same.querySelector("[data-card-heading]") : document.querySelector("[data-focus-home]");
    }
    element = anchor && Array.prototype.find.call(anchor.querySelectorAll(FOCUSABLE), usable);
    return element || document.querySelector("[data-focus-home]");  /* the page's heading */
  }

  /* Only when the push took the focus away (to <body>): a focus kept (hx-preserve) or moved by
     the agent meanwhile stays where it is. */
  function restoreFocus() {
    var spot = focus;
    focus = null;
    var moved = movedTo;
    var active = document.activeElement;
    if (!spot || (active && active !== document.body && active.isConnected)) { movedTo = {}; return; }
    var element = equivalent(spot);
    movedTo = {};
    if (!element) { return; }
    element.focus({ preventScroll: true });
    if (!element.setSelectionRange || element.tagName !== "TEXTAREA" && element.tagName !== "INPUT") { return; }
    try {
      if (element.id === spot.id && typeof spot.start === "number") { element.setSelectionRange(spot.start, spot.end); }
      else if (moved[spot.id] === element) { element.setSelectionRange(element.value.length, element.value.length); }
    } catch (e) { /* an input type without a caret */ }
  }

  /* The selected queue row stays selected; when it left (a colleague took it), the row now at
     its place is, so j/k go on from there. */
  function keepSelection() {
    if (!selectedId) { return; }
    var current = document.getElementById(selectedId);
    if (current) { current.setAttribute("aria-selected", "true"); return; }
    var all = rows();
    if (!all.length) { select(null); return; }
    select(all[Math.min(Math.max(selectedIndex, 0), all.length - 1)], true);
  }

  function announceStatuses() {
    document.querySelectorAll("[data-draft]").forEach(function (card) {
      var status = card.querySelector("[data-status]").textContent.trim();
      if (statuses[card.id] && statuses[card.id] !== status) { announce("Draft " + status.toLowerCase()); }
      statuses[card.id] = status;
    });
  }

  function afterPush() {
    if (applying) { return; }  /* held pushes: once, after the last */
    keepOwnText();
    tellRewrittenEdits();
    syncAllApprove();
    keepSelection();
    restoreFocus();
    refreshTimes();
    announceStatuses();
  }

  document.addEventListener("htmx:wsAfterMessage", afterPush);

  /* The queue's count is a polite live region: rewritten only when it says something new. */
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "queue-summary" && event.detail.fragment &&
        event.detail.fragment.textContent.trim() === target.textContent.trim()) {
      event.detail.shouldSwap = false;
    }
  });

  /* An action's answer carries the refreshed conversation, but the WebSocket push of the same
     change usually lands first and replaces the form that sent the request. Events on a detached
     form no longer reach the document, so the handler is attached to the form itself. */
  function swapIntoDocument(event) {
    if (event.detail.elt.isConnected) { return; }
    event.detail.shouldSwap = false;
    beforePush();
    htmx.swap(document.body, event.detail.serverResponse, { swapStyle: "none" });  /* its afterSwap runs afterPush */
  }

  /* The box an action sends (Approve) is not lost when its card changes; if the action fails
     and the box has left meanwhile, its text is rescued then. Listened to on the form itself:
     a push usually detaches it before the answer. */
  function sends(elt) {
    var box = elt && elt.querySelector ? elt.querySelector("textarea[data-answer]") : null;
    if (!box) { return; }
    var id = box.id;
    sending[id] = record(box);
    var done = function (event) {
      elt.removeEventListener("htmx:afterRequest", done);
      elt.removeEventListener("htmx:sendError", done);
      var kept = sending[id];
      delete sending[id];
      var xhr = event.detail.xhr;
      var failed = event.type === "htmx:sendError" || !event.detail.successful || (xhr && xhr.status >= 400);
      if (kept && failed && !document.getElementById(id)) { rescue(id, kept); movedTo = {}; }
    };
    elt.addEventListener("htmx:afterRequest", done);
    elt.addEventListener("htmx:sendError", done);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    sends(event.detail.elt);
    beforePush();
    event.detail.elt.addEventListener("htmx:beforeSwap", swapIntoDocument, { once: true });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap !== false) { beforePush(); }
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
