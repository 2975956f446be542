// The web chat: sign in with a code, then talk to the same bot as on Telegram. Plain JavaScript, no
// framework, no network but this server. Messages come over a WebSocket (reconnecting by itself and asking
// for what it missed); where WebSockets are blocked, by long polling. What the person sends carries an id
// the browser makes, so a message resent after a network failure is taken once.
"use strict";
(function () {
  const TEXTS = JSON.parse(document.body.dataset.texts || "{}");
  const $ = (id) => document.getElementById(id);
  const state = { csrf: "", lastId: 0, socket: null, socketWorked: false, failures: 0, polling: false,
                  signedIn: false, outbox: [], flushing: false, seen: new Set() };

  // ---- helpers
  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);  // works on plain http too, unlike crypto.randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function status(text) {
    const line = $("status");
    line.textContent = text || "";
    line.hidden = !text;
  }
  async function api(path, options) {
    const headers = Object.assign({ "X-CSRF-Token": state.csrf }, (options && options.headers) || {});
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options, { headers }));
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    return { status: response.status, body };
  }
  function postJson(path, data) {
    return api(path, { method: "POST", body: JSON.stringify(data), headers: { "Content-Type": "application/json" } });
  }
  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  // ---- signing in
  async function boot() {
    const { body } = await api("/chat/api/session", {});
    state.csrf = body.csrf || "";
    if (body.signed_in) { startChat(); } else { showSignin(body.signed_out ? TEXTS.js_signed_out : ""); }
  }
  function showSignin(message) {
    state.signedIn = false;
    if (state.socket) { state.socket.close(); }
    $("chat").hidden = true;
    $("signout").hidden = true;
    $("commands-toggle").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    const fromLink = new URLSearchParams(location.hash.slice(1)).get("ma");  // /chat#ma=<code> from an invite
    if (fromLink) { $("code").value = fromLink; }
  }
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    if (!state.csrf) { await boot(); }
    const { status: code, body } = await postJson("/chat/api/signin",
      { code: $("code").value, name: $("name").value });
    if (code === 200) {
      state.csrf = body.csrf;
      history.replaceState(null, "", "/chat");
      startChat();
    } else {
      $("signin-error").textContent = body.error || TEXTS.js_unsent;
      if (code === 403) { boot(); }
    }
  });
  $("signout").addEventListener("click", async () => {
    await postJson("/chat/api/signout", {});
    location.reload();
  });

  // ---- the chat
  function startChat() {
    state.signedIn = true;
    $("signin").hidden = true;
    $("chat").hidden = false;
    $("signout").hidden = false;
    connect();
    flush();
  }
  function connect() {
    if (!state.signedIn) { return; }
    if (state.polling) { poll(); return; }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/chat/ws?since=" + state.lastId);
    let worked = false;  // the server's first frame came through this socket
    state.socket = socket;
    socket.onmessage = (event) => {
      if (!worked) { worked = true; state.socketWorked = true; state.failures = 0; status(""); }
      received(JSON.parse(event.data));
    };
    socket.onclose = () => {
      state.socket = null;
      if (!state.signedIn) { return; }
      state.failures += 1;
      if (!state.socketWorked && state.failures >= 2) {  // never got through: WebSockets are blocked here
        state.polling = true;
        poll();
        return;
      }
      status(TEXTS.js_offline);
      setTimeout(connect, Math.min(15000, 500 * 2 ** state.failures));
    };
  }
  async function poll() {
    let backoff = 1000;
    while (state.signedIn) {
      try {
        const { status: code, body } = await api("/chat/api/messages?wait=1&since=" + state.lastId, {});
        if (code === 401) { showSignin(TEXTS.js_signed_out); return; }
        received(body);
        status("");
        backoff = 1000;
      } catch (e) {
        status(TEXTS.js_offline);
        await sleep(backoff);
        backoff = Math.min(15000, backoff * 2);
      }
    }
  }
  function received(data) {
    if (data.signed_out) { showSignin(TEXTS.js_signed_out); return; }
    for (const message of data.messages || []) {
      if (state.seen.has(message.id)) { continue; }
      state.seen.add(message.id);
      state.lastId = Math.max(state.lastId, message.id);
      draw(message);
    }
  }

  // ---- drawing
  function draw(message) {
    if (message.mine) {
      const pending = document.querySelector('li[data-client="' + message.client + '"]');
      if (pending) { pending.classList.remove("unsent"); pending.querySelector(".note")?.remove(); return; }
    }
    const item = document.createElement("li");
    item.className = message.mine ? "mine" : "bot";
    if (message.photos && message.photos.length) {
      const grid = document.createElement("div");
      grid.className = message.photos.length === 1 ? "photos single" : "photos";  // a chart: full width
      for (const src of message.photos) {
        const link = document.createElement("a");
        link.href = src;
        link.target = "_blank";
        const image = document.createElement("img");
        image.src = src;
        image.alt = TEXTS.js_photos;
        image.loading = "lazy";
        image.addEventListener("load", followLatest);  // a photo or chart grows the list after it is shown
        link.append(image);
        grid.append(link);
      }
      item.append(grid);
    }
    if (message.text) {
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = message.text;
      item.append(bubble);
    }
    if (message.links && message.links.length) {  // an export's files: a download link each
      const links = document.createElement("ul");
      links.className = "links";
      for (const [label, url] of message.links) {
        if (!/^(\/(?!\/)|https?:\/\/)/.test(url)) { continue; }  // this server's paths, or web addresses only
        const entry = document.createElement("li");
        const link = document.createElement("a");
        link.href = url;
        link.textContent = label;
        link.rel = "noopener noreferrer";
        link.setAttribute("download", "");
        entry.append(link);
        links.append(entry);
      }
      item.append(links);
    }
    if (message.choices && message.choices.length) {
      const choices = document.createElement("div");
      choices.className = "choices";
      choices.style.gridTemplateColumns = "repeat(" + Math.min(message.columns || 1, 3) + ", minmax(0, 1fr))";
      for (const [label, value] of message.choices) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.addEventListener("click", () => send({ choice: value, label }, label));
        choices.append(button);
      }
      item.append(choices);
    }
    if (message.menu) { drawMenu(message.menu); }
    if (message.commands) { drawCommands(message.commands); }
    show(item);
  }
  function show(item) {
    const list = $("messages");
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }
  // Keep the newest message in view as pictures load, unless the person scrolled up to read older ones.
  function followLatest() {
    const list = $("messages");
    if (list.scrollHeight - list.scrollTop - list.clientHeight < list.clientHeight) {
      list.scrollTop = list.scrollHeight;
    }
  }
  function drawMenu(labels) {
    const menu = $("menu");
    menu.replaceChildren();
    for (const label of labels) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => send({ text: label }, label));
      menu.append(button);
    }
  }
  function drawCommands(commands) {
    const panel = $("commands");
    panel.replaceChildren();
    for (const [name, description] of commands) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "/" + name + " – " + description;
      button.addEventListener("click", () => { panel.hidden = true; send({ text: "/" + name }, "/" + name); });
      panel.append(button);
    }
    $("commands-toggle").hidden = commands.length === 0;
  }
  function systemNote(text) {
    const item = document.createElement("li");
    item.className = "system";
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.append(bubble);
    show(item);
  }
  $("commands-toggle").addEventListener("click", () => { $("commands").hidden = !$("commands").hidden; });

  // ---- sending: shown at once, kept until the server has it, resent with the same id
  function send(payload, shown) {
    const item = { id: newId(), payload };
    const bubble = document.createElement("li");
    bubble.className = "mine unsent";
    bubble.dataset.client = item.id;
    const text = document.createElement("div");
    text.className = "bubble";
    text.textContent = shown;
    bubble.append(text);
    show(bubble);
    state.outbox.push(item);
    flush();
  }
  async function flush() {
    if (state.flushing) { return; }
    state.flushing = true;
    try {
      while (state.outbox.length && state.signedIn) {
        const item = state.outbox[0];
        let answer;
        try {
          answer = await postJson("/chat/api/send", Object.assign({ id: item.id }, item.payload));
        } catch (e) {
          markUnsent(item.id, TEXTS.js_unsent);
          await sleep(3000);
          continue;
        }
        if (answer.status === 401) { showSignin(TEXTS.js_signed_out); return; }
        if (answer.status === 403) { await boot(); continue; }
        if (answer.status >= 500 || answer.status === 429) { await sleep(3000); continue; }
        state.outbox.shift();
        if (answer.status !== 200) { markUnsent(item.id, answer.body.error || TEXTS.js_unsent); }
      }
    } finally {
      state.flushing = false;
    }
  }
  function markUnsent(id, note) {
    const item = document.querySelector('li[data-client="' + id + '"]');
    if (!item || item.querySelector(".note")) { return; }
    const line = document.createElement("span");
    line.className = "note";
    line.textContent = note;
    item.append(line);
  }
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("text");
    const text = box.value.trim();
    if (!text) { return; }
    box.value = "";
    send({ text }, text);
  });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  window.addEventListener("online", () => { flush(); if (!state.socket && !state.polling) { connect(); } });

  // ---- photos: several at once, with a progress bar
  function upload(files) {
    if (!files.length) { return; }
    const form = new FormData();
    form.append("id", newId());
    for (const file of files) { form.append("photo", file, file.name); }
    const bar = $("progress");
    const meter = bar.querySelector("progress");
    meter.value = 0;
    bar.hidden = false;
    const request = new XMLHttpRequest();
    request.open("POST", "/chat/api/photos");
    request.setRequestHeader("X-CSRF-Token", state.csrf);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) { meter.value = Math.round(100 * event.loaded / event.total); }
    };
    request.onload = () => {
      bar.hidden = true;
      if (request.status === 401) { showSignin(TEXTS.js_signed_out); return; }
      if (request.status !== 200) {
        let error = TEXTS.js_upload_failed;
        try { error = JSON.parse(request.responseText).error || error; } catch (e) { /* not JSON */ }
        systemNote(error);
      }
    };
    request.onerror = () => { bar.hidden = true; systemNote(TEXTS.js_upload_failed); };
    request.send(form);
  }
  for (const input of [$("camera"), $("picker")]) {
    input.addEventListener("change", () => { upload(Array.from(input.files)); input.value = ""; });
  }

  boot();
})();
