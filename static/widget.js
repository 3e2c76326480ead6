/* Resolver chat widget. Paste one tag into a page:
     <script src="https://HOST/static/widget.js" data-key="pk_…" defer></script>
   A logged-in customer: the host page's server adds data-customer-ref="…" and
   data-customer-hash="…" (hex HMAC-SHA256 of the ref under WIDGET_IDENTITY_SECRET; README,
   "Identity"). A ref without its valid hash starts an anonymous conversation.
   The panel opens with the key's settings (GET /widget/config) and starts a conversation only
   when the visitor sends their first message: a visitor a help article answered, or one who
   only looked, leaves no conversation behind. A saved conversation (localStorage) resumes.
   Vanilla JS, no build step, no third-party requests, no inline script on the host page. The UI
   lives in a Shadow DOM (no CSS leaks either way). Everything a customer, an agent or the AI wrote
   is rendered with textContent, never as HTML. While the visitor types, up to three help articles
   that may answer them are offered (GET /widget/suggest, debounced); one opens inside the panel
   and asks "Did this answer your question?": yes records a deflection (no message is sent) and
   closes the panel, no goes back to the chat with the text kept. On a phone (<=480px) the open
   panel covers the page and is a modal dialog: the launcher is hidden under it, Tab stays in it.
   A message that could not be sent says so and is sent again in the same bubble. */
(function () {
  "use strict";

  var script = document.currentScript;
  /* The visitor's language (ISO 639-1) for the help articles offered: the KB's own are preferred. */
  var BROWSER_LANGUAGE = ((navigator.language || "").slice(0, 2).toLowerCase().match(/^[a-z]{2}$/) || [""])[0];
  if (!script || !script.dataset.key || window.__resolverWidget) { return; }
  window.__resolverWidget = true;

  var KEY = script.dataset.key;
  var CUSTOMER_REF = script.dataset.customerRef || "";
  var CUSTOMER_HASH = script.dataset.customerHash || "";
  var BASE = new URL(script.src, document.baseURI).origin;
  var API = BASE + "/api/v1/widget";
  var STORE = "resolver-widget:" + KEY;
  var MAX_BACKOFF = 30000;
  var SOCKET_WAIT = 3000;  /* ms a new conversation's first message waits for its socket at most */

  var CSS = [
    ":host{all:initial;--accent:#2f5bd3;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330}",
    "*{box-sizing:border-box}",
    "button{font:inherit;cursor:pointer}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:999px;padding:12px 18px;background:var(--accent);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".launcher:focus-visible,.panel button:focus-visible,textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:370px;max-width:calc(100vw - 24px);height:540px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);overflow:hidden}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--accent);color:#fff}",
    "header h2{font-size:16px;margin:0;flex:1}",
    "header button{background:transparent;border:1px solid rgba(255,255,255,.6);color:#fff;border-radius:6px;padding:3px 8px;font-size:13px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9;margin:0;list-style:none}",
    ".msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.customer{align-self:flex-end;background:var(--accent);color:#fff;border-bottom-right-radius:4px}",
    ".msg.agent,.msg.greeting{align-self:flex-start;background:#fff;border:1px solid #e2e5ea;border-bottom-left-radius:4px}",
    ".msg.sending{opacity:.6}",
    ".msg.failed{background:#fdecea;color:#b42318;border:1px solid #f2a39c}",
    ".notsent{display:block;font-size:12px;font-weight:600;margin-top:3px}",
    ".msg .retry{margin-top:4px;border:1px solid #b42318;background:#fff;color:#b42318;border-radius:8px;padding:2px 10px;font-size:13px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".meta{display:block;font-size:11px;opacity:.75;margin-top:3px}",
    ".status{padding:6px 14px;font-size:13px;color:#667085;min-height:1.6em;background:#f6f7f9}",
    ".typing{font-style:italic}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e2e5ea;align-items:flex-end}",
    "label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "textarea{flex:1;resize:none;font:inherit;padding:8px 10px;border:1px solid #cfd4dc;border-radius:10px;max-height:120px;min-height:40px}",
    ".send{border:0;border-radius:10px;padding:9px 14px;background:var(--accent);color:#fff}",
    ".error{color:#b42318;font-size:13px;padding:0 12px 8px}",
    ".error:empty{display:none}",
    ".rate{align-self:flex-start;display:flex;gap:6px;align-items:center;font-size:12px;color:#667085;list-style:none}",
    ".rate button{border:1px solid #cfd4dc;background:#fff;border-radius:8px;padding:2px 8px}",
    ".rate button[aria-pressed=true]{border:2px solid var(--accent);background:#e8eefb}",
    ".rate.rated{flex-direction:column;align-items:stretch;width:85%}",
    ".rate p{margin:0}",
    ".rate-comment{display:flex;flex-direction:column;align-items:stretch;gap:4px;padding:0;border:0}",
    ".rate-comment label{position:static;width:auto;height:auto;overflow:visible;clip:auto}",
    ".rate-comment textarea{flex:none;min-height:56px;font-size:13px}",
    ".rate-comment button{align-self:flex-start;border:0;background:var(--accent);color:#fff}",
    ".suggest{border-top:1px solid #e2e5ea;padding:8px 10px 0;background:#fff;max-height:45%;overflow-y:auto}",
    ".suggest[hidden],.article[hidden],.log[hidden],form[hidden]{display:none}",
    ".suggest p{margin:0 0 4px;font-size:12px;color:#4f5868}",
    ".suggest ul{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:4px}",
    ".suggest button{display:block;width:100%;text-align:left;border:1px solid #cfd4dc;background:#fff;border-radius:8px;padding:6px 9px;color:#1d2330}",
    ".suggest button strong{display:block;font-size:14px;color:#1b4fc4}",
    ".suggest button span{display:block;font-size:12px;color:#4f5868;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".suggest button:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}",
    ".article{flex:1;overflow-y:auto;padding:12px 14px;background:#fff;display:flex;flex-direction:column;gap:8px}",
    ".article h3{margin:0;font-size:16px}",
    ".article h3:focus{outline:none}",
    ".article .content{white-space:pre-wrap;overflow-wrap:anywhere;font-size:14px}",
    ".article a{color:#1b4fc4;font-size:13px}",
    ".article .back{align-self:flex-start;border:0;background:transparent;color:#1b4fc4;padding:0;text-decoration:underline}",
    ".answered{border:1px solid #e2e5ea;border-radius:10px;padding:8px 10px;display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0}",
    ".answered legend{padding:0 4px;font-weight:600}",
    ".answered button{border:0;border-radius:8px;padding:6px 14px;background:var(--accent);color:#fff}",
    ".answered button.no{background:#fff;color:#1d2330;border:1px solid #cfd4dc}",
    ".article button:focus-visible,.article a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}.launcher{right:12px;bottom:12px}.launcher[aria-expanded=true]{display:none}}"
  ].join("\n");
  /* The panel covers the page (the media rule above): the launcher is hidden under it while it
     is open (✕ and Escape close it) and Tab stays inside it, as in a modal dialog. */
  var PHONE = window.matchMedia ? window.matchMedia("(max-width:480px)") : null;

  /* ---------- state ---------- */

  var state = { session: null, config: null, socket: null, retries: 0, seen: {}, typingTimer: 0, open: false,
    suggestTimer: 0, suggested: "", asked: 0, declined: "", announced: "" };

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "null"); } catch (e) { return null; }
  }

  function save(session) {
    state.session = session;
    try {
      if (session) { window.localStorage.setItem(STORE, JSON.stringify(session)); } else { window.localStorage.removeItem(STORE); }
    } catch (e) { /* storage disabled: the conversation lasts as long as the page */ }
  }

  /* ---------- DOM ---------- */

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var host = el("div", { "data-resolver-widget": "" });
  var root = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);  /* constructed sheets need no 'unsafe-inline' style-src */
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", {}, CSS));
  }

  var launcher = el("button", { "class": "launcher", type: "button", "aria-expanded": "false", "aria-controls": "resolver-panel" }, "Open chat");
  var panel = el("section", { "class": "panel", id: "resolver-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "resolver-title", hidden: "" });
  var header = el("header");
  var title = el("h2", { id: "resolver-title" }, "Support");
  var restart = el("button", { type: "button" }, "New conversation");
  var close = el("button", { type: "button", "aria-label": "Close chat" }, "✕");
  header.append(title, restart, close);
  var log = el("ol", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var status = el("div", { "class": "status", role: "status", "aria-live": "polite" });
  var error = el("div", { "class": "error", role: "alert" });
  /* Says once per new set of suggestions how many there are (not on every keystroke). */
  var announcer = el("div", { "class": "sr", role: "status", "aria-live": "polite" });
  var form = el("form");
  var label = el("label", { "for": "resolver-message" }, "Message");
  var input = el("textarea", { id: "resolver-message", name: "message", rows: "1", placeholder: "Type your message…", autocomplete: "off" });
  var send = el("button", { "class": "send", type: "submit" }, "Send");
  form.append(label, input, send);
  /* Help articles matching what the visitor types (GET /widget/suggest), and the one opened. */
  var suggestBox = el("section", { "class": "suggest", "aria-label": "Suggested articles", hidden: "" });
  var suggestIntro = el("p", { id: "resolver-suggest-intro" }, "These articles may answer your question:");
  var suggestList = el("ul", { "aria-labelledby": "resolver-suggest-intro" });
  suggestBox.append(suggestIntro, suggestList);
  var reader = el("section", { "class": "article", "aria-labelledby": "resolver-article-title", hidden: "" });
  panel.append(header, log, reader, status, error, announcer, suggestBox, form);
  root.append(launcher, panel);

  /* ---------- rendering ---------- */

  function timeOf(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function who(message) {
    if (message.role === "customer") { return "You"; }
    return (state.config && state.config.company_name || "Support") + (message.automated ? " (automated)" : "");
  }

  function bubble(message, extra) {
    var item = el("li", { "class": "msg " + message.role + (extra ? " " + extra : "") });
    item.appendChild(document.createTextNode(message.body));
    var meta = el("span", { "class": "meta" }, who(message) + (message.created_at ? " · " + timeOf(message.created_at) : ""));
    item.appendChild(meta);
    if (message.id) { item.dataset.id = message.id; }
    return item;
  }

  function show(message) {
    if (message.id && state.seen[message.id]) { return; }
    if (message.id) { state.seen[message.id] = true; }
    var lost = message.role === "customer" && failedBubble(message.body);
    if (lost) {  /* it reached the server, its answer did not reach us: that bubble is it */
      sent(lost, message.id);
      return;
    }
    log.appendChild(bubble(message));
    if (message.role === "agent") { offerRating(message.id); }
    log.scrollTop = log.scrollHeight;
  }

  /* Thumbs up or down on the latest agent reply (rating it again changes the rating), then an
     optional comment, sent as the same rating again with the comment. */
  var COMMENT_MAX = 2000;  /* the API's limit (support/api/widget.py RatingIn) */

  function postRating(score, comment) {
    var body = comment ? { score: score, comment: comment } : { score: score };
    return authed("POST", "/conversations/" + state.session.conversation_id + "/rating", body);
  }

  function offerRating(messageId) {
    var old = log.querySelector(".rate");
    if (old) { old.remove(); }
    var bar = el("li", { "class": "rate", role: "group", "aria-label": "Rate this answer" });
    bar.dataset.message = messageId || "";
    bar.appendChild(el("span", { "class": "ask" }, "Helpful?"));
    [[1, "👍", "Helpful"], [-1, "👎", "Not helpful"]].forEach(function (choice) {
      var button = el("button", { type: "button", "aria-label": choice[2], "aria-pressed": "false" }, choice[1]);
      button.dataset.score = String(choice[0]);
      button.addEventListener("click", function () {
        postRating(choice[0]).then(function () { offerComment(bar, choice[0]); },
          function () { bar.textContent = "Your rating could not be sent."; });
      });
      bar.appendChild(button);
    });
    log.appendChild(bar);
  }

  /* A reply rated before (a reload, another visit): the bar shows the rating instead of asking
     again; a thumb still changes it. */
  function showRated(rating) {
    var bar = log.querySelector(".rate");
    var ask = bar && bar.querySelector(".ask");  /* none once rated here, or a rating failed */
    if (!rating || !ask || bar.dataset.message !== String(rating.message_id)) { return; }
    ask.textContent = rating.score > 0 ? "You found this helpful." : "You found this not helpful.";
    bar.querySelectorAll("button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.score) === rating.score));
    });
  }

  function offerComment(bar, score) {
    var said = el("p", { role: "status", "aria-live": "polite" });
    var box = el("form", { "class": "rate-comment" });
    var name = el("label", { "for": "resolver-rating-comment" }, "Tell us more (optional)");
    var text = el("textarea", { id: "resolver-rating-comment", name: "comment", rows: "2", maxlength: String(COMMENT_MAX) });
    var submit = el("button", { type: "submit" }, "Send feedback");
    box.append(name, text, submit);
    bar.textContent = "";
    bar.classList.add("rated");
    bar.append(said, box);
    said.textContent = "Thanks for your feedback.";  /* after insertion, so that it is announced */
    text.focus();  /* the thumb that had the focus is gone */
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var comment = text.value.trim();
      if (!comment) { return; }
      submit.disabled = true;
      postRating(score, comment).then(function () {
        box.remove();
        said.textContent = "Thanks for your feedback. We received your comment.";
        input.focus();
      }, function (failure) {
        submit.disabled = false;
        said.textContent = "Your comment could not be sent: " + failure.message;
      });
    });
  }

  function greet() {
    var text = state.config && state.config.greeting;
    if (text) { log.appendChild(el("li", { "class": "msg greeting" }, text)); }
  }

  /* The status region is announced whenever it is written: written only when its text changes
     (an agent typing sends a frame every 2 s). */
  function say(text, typing) {
    status.classList.toggle("typing", !!typing);
    if (status.textContent !== text) { status.textContent = text; }
  }

  function setWaiting(waiting) {
    say(waiting ? "An agent is reviewing your question." : "");
  }

  function applyConfig(config) {
    state.config = config;
    title.textContent = config.company_name || "Support";
    if (/^#[0-9a-fA-F]{6}$/.test(config.colour || "")) { host.style.setProperty("--accent", config.colour); }
  }

  /* ---------- HTTP ---------- */

  function request(method, path, body, headers) {
    var options = { method: method, headers: Object.assign({ "Content-Type": "application/json" }, headers || {}), credentials: "omit" };
    if (body !== undefined) { options.body = JSON.stringify(body); }
    return fetch(API + path, options).catch(function () {
      /* CORS refusals and network errors look the same to a script. */
      throw new Error("Could not reach the chat service: this site may not be allowed to use it, or you are offline.");
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var failure = new Error(typeof data.detail === "string" ? data.detail : "Something went wrong (" + response.status + ").");
          failure.status = response.status;
          throw failure;
        }
        return data;
      });
    });
  }

  function authed(method, path, body, extraHeaders) {
    var call = function () {
      return request(method, path, body, Object.assign({ Authorization: "Bearer " + state.session.token }, extraHeaders || {}));
    };
    return call().catch(function (failure) {
      if (failure.status !== 401) { throw failure; }
      return refresh().then(call);
    });
  }

  function refresh() {
    return request("POST", "/token", undefined, { Authorization: "Bearer " + state.session.token }).then(function (data) {
      save(Object.assign({}, state.session, { token: data.token }));
    }, function (failure) {
      if (failure.status === 401 || failure.status === 404) { save(null); }
      throw failure;
    });
  }

  /* The key's name, colour, greeting and limit: read once, without starting a conversation. */
  function configured() {
    if (state.config) { return Promise.resolve(); }
    return request("GET", "/config", undefined, { "X-Widget-Key": KEY }).then(applyConfig);
  }

  function start() {
    var identity = CUSTOMER_REF ? { customer_ref: CUSTOMER_REF, customer_hash: CUSTOMER_HASH } : {};
    return request("POST", "/conversations", identity, { "X-Widget-Key": KEY }).then(function (data) {
      applyConfig(data);
      save({ conversation_id: data.conversation_id, token: data.token, config: data, ref: CUSTOMER_REF });
    });
  }

  function history() {
    return authed("GET", "/conversations/" + state.session.conversation_id).then(function (data) {
      data.messages.forEach(show);
      showRated(data.rating);
      setWaiting(data.waiting);
    });
  }

  /* ---------- live replies ---------- */

  /* Settles once the socket is open or has failed (never rejects): a new conversation's first
     message waits for it, so that a quick reply is not pushed to nobody. */
  function connect() {
    if (!state.session || state.socket) { return Promise.resolve(); }
    var url = BASE.replace(/^http/, "ws") + "/ws/widget/" + state.session.conversation_id + "/?token=" + encodeURIComponent(state.session.token);
    var socket = new WebSocket(url);
    var settle;
    var settled = new Promise(function (resolve) { settle = resolve; });
    window.setTimeout(settle, SOCKET_WAIT);
    socket.addEventListener("open", function () { settle(); });
    socket.addEventListener("close", function () { settle(); });
    state.socket = socket;
    socket.onopen = function () {
      if (state.retries > 0) { history().catch(function () {}); }  /* catch up on what we missed */
      state.retries = 0;
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "message" && data.message) {
        show(data.message);
        setWaiting(false);
      } else if (data.type === "typing") {
        say((state.config && state.config.company_name || "An agent") + " is typing…", true);
        window.clearTimeout(state.typingTimer);  /* typing goes on: the indicator stays longer */
        state.typingTimer = window.setTimeout(function () { if (status.classList.contains("typing")) { setWaiting(true); } }, 5000);
      }
    };
    socket.onclose = function (event) {
      state.socket = null;
      if (event.code === 4403 || !state.session) { return; }  /* not ours: stop */
      var retry = function () {
        state.retries += 1;
        var delay = Math.min(MAX_BACKOFF, 500 * Math.pow(2, state.retries)) * (0.5 + Math.random() / 2);
        window.setTimeout(connect, delay);
      };
      if (event.code === 4401) { refresh().then(retry, function () {}); } else { retry(); }
    };
    return settled;
  }

  function disconnect() {
    if (state.socket) { var socket = state.socket; state.socket = null; socket.onclose = null; socket.close(); }
  }

  /* ---------- actions ---------- */

  /* `shown`: the panel is ready to type in (greeting and settings, a saved conversation's
     history and socket); `ready`: there is a conversation to write to. Until the first message
     only `shown` exists: opening the panel creates nothing. */
  var shown = null;
  var ready = null;

  function failed(failure) {
    error.textContent = failure.message;
    throw failure;
  }

  function resume(saved) {
    state.session = saved;
    if (saved.config) { applyConfig(saved.config); }
    /* Again after a failed attempt: the history redraws everything (no second greeting). */
    log.textContent = "";
    state.seen = {};
    greet();
    ready = history().then(connect, function (failure) {
      if (state.session) { ready = null; throw failure; }
      /* The old conversation is gone or expired for good: the next message starts another. */
      ready = null;
      log.textContent = "";
      return configured().then(greet);
    });
    return ready;
  }

  function showPanel() {
    if (shown) { return shown; }
    var saved = load();
    /* Another customer logged in on this browser (or one logged out): not their conversation. */
    if (saved && (saved.ref || "") !== CUSTOMER_REF) { save(null); saved = null; }
    shown = (saved && saved.conversation_id && saved.token) ? resume(saved) : configured().then(greet);
    shown = shown.catch(function (failure) { shown = null; return failed(failure); });
    return shown;
  }

  function ensureSession() {
    if (ready) { return ready; }
    if (state.session) { return connect(); }  /* resumed, its history or socket failed: retry the socket */
    ready = start().then(connect).catch(function (failure) {
      ready = null;
      return failed(failure);
    });
    return ready;
  }

  function covers() {
    return state.open && !!(PHONE && PHONE.matches);
  }

  function setModal() {
    panel.setAttribute("aria-modal", covers() ? "true" : "false");
  }

  /* What Tab can reach in the panel now (hidden parts left out). */
  function focusables() {
    var all = panel.querySelectorAll("button, textarea, input, select, a[href], [tabindex]:not([tabindex='-1'])");
    return Array.prototype.filter.call(all, function (node) {
      return !node.disabled && node.getClientRects().length > 0;
    });
  }

  function containFocus(event) {
    var items = focusables();
    if (!items.length) { return; }
    var first = items[0];
    var last = items[items.length - 1];
    var active = root.activeElement;
    if (event.shiftKey && active === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && active === last) { event.preventDefault(); first.focus(); }
  }

  function openPanel() {
    state.open = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.textContent = "Hide chat";
    setModal();
    input.focus();
    showPanel().catch(function () {});
  }

  function closePanel() {
    state.open = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.textContent = "Open chat";
    setModal();
    launcher.focus();
  }

  /* Forgets the conversation; the next message starts another (nothing is created before). */
  function newConversation() {
    disconnect();
    save(null);
    state.seen = {};
    log.textContent = "";
    setWaiting(false);
    error.textContent = "";
    ready = null;
    shown = null;
    showPanel().catch(function () {});
    input.focus();
  }

  function limit() {
    return (state.config && state.config.max_chars) || 4000;
  }

  function submit() {
    var text = input.value.trim();
    error.textContent = "";
    if (!text) { return; }
    if (text.length > limit()) {
      error.textContent = "Your message is too long: " + text.length + " characters, the limit is " + limit() + ".";
      return;
    }
    input.value = "";
    window.clearTimeout(state.suggestTimer);
    state.asked += 1;  /* a suggestion still on its way is no longer wanted */
    state.suggested = "";
    hideSuggestions();
    /* The same text again after it failed: that bubble is sent again (no duplicate). */
    var pending = failedBubble(text);
    if (!pending) {
      pending = bubble({ role: "customer", body: text, created_at: new Date().toISOString() });
      pending.dataset.text = text;
      /* Kept with the bubble: a retry whose first try did reach the server is the same message. */
      pending.dataset.key = "w-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    }
    deliver(pending);
  }

  function failedBubble(text) {
    var found = null;
    Array.prototype.forEach.call(log.querySelectorAll(".msg.customer.failed"), function (item) {
      if (item.dataset.text === text) { found = item; }
    });
    return found;
  }

  function clearFailure(item) {
    item.classList.remove("failed");
    Array.prototype.forEach.call(item.querySelectorAll(".notsent,.retry"), function (node) { node.remove(); });
  }

  function sent(item, id) {
    clearFailure(item);
    item.classList.remove("sending");
    item.dataset.id = id;
    state.seen[id] = true;
  }

  function deliver(pending) {
    var text = pending.dataset.text;
    clearFailure(pending);
    pending.classList.add("sending");
    if (log.lastElementChild !== pending) { log.appendChild(pending); }
    log.scrollTop = log.scrollHeight;
    (shown || Promise.resolve()).catch(function () {}).then(ensureSession).then(function () {
      return authed("POST", "/messages", { body: text }, { "Idempotency-Key": pending.dataset.key });
    }).then(function (data) {
      sent(pending, data.id);
      setWaiting(true);
    }, function (failure) {
      pending.classList.remove("sending");
      if (pending.dataset.id) { return; }  /* the history showed it arrived after all */
      pending.classList.add("failed");
      /* Said in words, not only by colour, with a way to send it again. */
      var retry = el("button", { type: "button", "class": "retry" }, "Retry");
      retry.addEventListener("click", function () {
        if (input.value.trim() === text) { input.value = ""; }
        error.textContent = "";
        input.focus();  /* the button goes away */
        deliver(pending);
      });
      pending.append(el("span", { "class": "notsent" }, "Not sent."), retry);
      error.textContent = failure.status === 429 ? "You are sending messages too fast. Please wait a moment." : failure.message;
      if (!input.value) { input.value = text; }
    });
  }

  /* ---------- answers as they type ---------- */

  var SUGGEST_DELAY = 350;  /* ms after the last keystroke */
  var SUGGEST_MIN = 3;      /* characters; the API suggests nothing below */

  function keyed(method, path, body) {
    return request(method, path, body, { "X-Widget-Key": KEY });
  }

  function hideSuggestions() {
    suggestBox.hidden = true;
    suggestList.textContent = "";
    state.announced = "";
    announcer.textContent = "";
  }

  function showSuggestions(items) {
    suggestList.textContent = "";
    items.forEach(function (item) {
      var li = el("li");
      var button = el("button", { type: "button" });
      button.append(el("strong", {}, item.title), el("span", {}, item.snippet));
      button.addEventListener("click", function () { openArticle(item); });
      li.appendChild(button);
      suggestList.appendChild(li);
    });
    suggestBox.hidden = items.length === 0;
    var set = items.map(function (item) { return item.id; }).join(",");
    if (set !== state.announced) {  /* once per new set, not per keystroke */
      state.announced = set;
      announcer.textContent = !items.length ? "" : items.length === 1 ? "1 article may answer your question."
        : items.length + " articles may answer your question.";
    }
  }

  function suggestLater() {
    window.clearTimeout(state.suggestTimer);
    var text = input.value.trim().replace(/\s+/g, " ");
    if (text.length < SUGGEST_MIN || text === state.declined) { state.suggested = ""; hideSuggestions(); return; }
    if (text === state.suggested) { return; }
    state.suggestTimer = window.setTimeout(function () {
      var asked = ++state.asked;
      state.suggested = text;
      keyed("GET", "/suggest?q=" + encodeURIComponent(text) + "&lang=" + BROWSER_LANGUAGE).then(function (data) {
        if (asked === state.asked && reader.hidden && input.value.trim()) { showSuggestions(data.items || []); }
      }, function () { if (asked === state.asked) { hideSuggestions(); } });  /* suggestions are a help, never an error */
    }, SUGGEST_DELAY);
  }

  function showChat() {
    reader.hidden = true;
    reader.textContent = "";
    log.hidden = false;
    form.hidden = false;
  }

  function openArticle(item) {
    var query = input.value;
    hideSuggestions();
    log.hidden = true;
    form.hidden = true;
    reader.textContent = "";
    reader.hidden = false;
    var back = el("button", { type: "button", "class": "back" }, "Back to chat");
    var heading = el("h3", { id: "resolver-article-title", tabindex: "-1" }, item.title);
    var content = el("div", { "class": "content" }, item.snippet);
    var link = el("a", { href: item.url, target: "_blank", rel: "noopener" }, "Open in the help center");
    var ask = el("fieldset", { "class": "answered" });
    var yes = el("button", { type: "button" }, "Yes");
    var no = el("button", { type: "button", "class": "no" }, "No");
    ask.append(el("legend", {}, "Did this answer your question?"), yes, no);
    reader.append(back, heading, content, link, ask);
    heading.focus();
    keyed("GET", "/articles/" + encodeURIComponent(item.slug)).then(function (article) {
      content.textContent = article.content;
    }, function () { /* the snippet stays: still worth reading */ });
    function declined() {
      state.declined = query.trim().replace(/\s+/g, " ");  /* do not offer the same again */
      showChat();
      input.value = query;
      input.focus();
    }
    back.addEventListener("click", declined);
    no.addEventListener("click", declined);
    yes.addEventListener("click", function () {
      yes.disabled = true;
      no.disabled = true;
      keyed("POST", "/deflections", { article_id: item.id, query: query.slice(0, 500) }).catch(function () {});
      showChat();
      input.value = "";
      state.suggested = "";
      status.textContent = "Glad that helped.";
      closePanel();
    });
  }

  input.addEventListener("input", suggestLater);

  launcher.addEventListener("click", function () { if (state.open) { closePanel(); } else { openPanel(); } });
  close.addEventListener("click", closePanel);
  restart.addEventListener("click", newConversation);
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); closePanel(); }
    else if (event.key === "Tab" && covers()) { containFocus(event); }
  });
  if (PHONE) {  /* turned or resized: the panel covers the page, or no longer does */
    if (PHONE.addEventListener) { PHONE.addEventListener("change", setModal); } else if (PHONE.addListener) { PHONE.addListener(setModal); }
  }

  function mount() { document.body.appendChild(host); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
