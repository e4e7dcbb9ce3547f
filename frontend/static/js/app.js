// Progressive enhancement only: every form works without this file.
// Also imported by the service worker (importScripts): the outbox part runs in both contexts,
// the DOM part only in pages.
(function (root) {
  "use strict";

  // ------------------------------------------------------------------ outbox (IndexedDB)
  // A submission made offline is kept here with its photos (as Blobs) until it is sent.
  // The idempotency key (or a generated key) is the record key: the server creates it once.
  var DB_NAME = "qungong";
  var STORE = "outbox";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = root.indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "key" });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var out = fn(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { db.close(); reject(t.error); };
        t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function put(item) { return tx("readwrite", function (s) { s.put(item); }); }
  function remove(key) { return tx("readwrite", function (s) { s["delete"](key); }); }

  function randomKey() {
    if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function getCookie(name) {
    if (typeof document === "undefined") return null;
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }

  // The CSRF token: the cookie in a page; in the service worker, read it from a fresh page.
  function csrfToken() {
    var c = getCookie("csrftoken");
    if (c) return Promise.resolve(c);
    return fetch("/offline", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (t) {
        var m = t.match(/"x-csrftoken":\s*"([^"]+)"/);
        return m ? m[1] : "";
      });
  }

  function toFormData(item, token) {
    var fd = new FormData();
    item.fields.forEach(function (f) {
      if (f.name === "_csrf_token") return;
      if (f.blob) fd.append(f.name, f.blob, f.filename || "photo.jpg");
      else fd.append(f.name, f.value);
    });
    fd.append("_csrf_token", token);
    return fd;
  }

  // Sends one item. Resolves "sent" | "waiting" (network still down / server busy) | "login" | "error".
  function sendItem(item) {
    return csrfToken().then(function (token) {
      return fetch(item.action, {
        method: "POST", body: toFormData(item, token), credentials: "same-origin",
        headers: { "x-csrftoken": token, "x-offline-queue": "1" }, redirect: "follow"
      });
    }).then(function (r) {
      var path = new URL(r.url).pathname;
      if (r.ok && (path === "/login" || path.indexOf("/staff/login") === 0)) return { state: "login" };
      if (r.ok) return { state: "sent", url: r.url };
      if (r.status >= 500 || r.status === 429) return { state: "waiting" };
      return { state: "error", status: r.status };
    }, function () { return { state: "waiting" }; });
  }

  // After a flush by the service worker (Background Sync), the open pages show what was sent.
  function notifyPages(sent) {
    if (typeof document !== "undefined") {
      document.dispatchEvent(new CustomEvent("qg:outbox"));
    } else if (root.clients) {
      root.clients.matchAll({ includeUncontrolled: true }).then(function (cs) {
        cs.forEach(function (c) { c.postMessage({ type: "outbox-changed", sent: sent || [] }); });
      });
    }
  }

  function flushNow() {
    return all().then(function (items) {
      var sent = [];
      var chain = Promise.resolve();
      items.filter(function (i) { return i.state !== "error"; }).forEach(function (item) {
        chain = chain.then(function () {
          return sendItem(item).then(function (res) {
            if (res.state === "sent") {
              sent.push({ label: item.label, url: res.url });
              return remove(item.key);
            }
            if (res.state !== item.state) {
              item.state = res.state;
              item.status = res.status || 0;
              return put(item);
            }
          });
        });
      });
      return chain.then(function () {
        var sentKeys = sent.length;
        var remaining = items.filter(function (i) { return i.state !== "error"; }).length - sentKeys;
        notifyPages(sent);
        return { sent: sent, remaining: remaining };
      });
    });
  }

  // Page and service worker may both try at once: one at a time where Web Locks exist (the
  // idempotency key makes a double send harmless anyway).
  function flush() {
    if (root.navigator && root.navigator.locks && root.navigator.locks.request) {
      return root.navigator.locks.request("qg-outbox", flushNow);
    }
    return flushNow();
  }

  root.QGOutbox = { all: all, put: put, remove: remove, flush: flush, randomKey: randomKey };

  if (typeof document === "undefined") return; // service worker: no DOM below

  // ------------------------------------------------------------------ htmx
  // Show server-rendered 4xx bodies (form errors, conflicts) instead of ignoring them.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var s = e.detail.xhr.status;
    if (s === 400 || s === 409 || s === 422 || s === 429 || s === 403 || s === 404) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  var outboxEl = document.getElementById("outbox");
  function msg(name, fallback) {
    return (outboxEl && outboxEl.getAttribute("data-msg-" + name)) || fallback;
  }

  // ------------------------------------------------------------------ service worker
  var swReady = null;
  if ("serviceWorker" in navigator) {
    swReady = navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    })["catch"](function () { return null; });
    navigator.serviceWorker.addEventListener("message", function (e) {
      if (e.data && e.data.type === "outbox-changed") {
        renderOutbox();
        if (e.data.sent && e.data.sent.length) reportSent(e.data.sent);
      }
    });
  }

  // Signing out forgets the pages kept for offline reading (a phone may be shared).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.getAttribute && f.getAttribute("action") === "/logout" && navigator.serviceWorker &&
        navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "clear-pages" });
    }
  }, true);

  // ------------------------------------------------------------------ photo compression
  var MAX_SIDE = 1600;
  var QUALITY = 0.8;

  function compressFile(file) {
    if (!file || !/^image\/(jpeg|png|webp|bmp)$/i.test(file.type) || !root.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      var w = Math.round(bmp.width * scale), h = Math.round(bmp.height * scale);
      var canvas = document.createElement("canvas");
      canvas.width = w; canvas.height = h;
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h); // transparent PNGs become white, not black
      ctx.drawImage(bmp, 0, 0, w, h);
      if (bmp.close) bmp.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || (scale === 1 && blob.size >= file.size)) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]+$/, "") + ".jpg";
          try { resolve(new File([blob], name, { type: "image/jpeg" })); } catch (err) { blob.name = name; resolve(blob); }
        }, "image/jpeg", QUALITY);
      });
    })["catch"](function () { return file; }); // undecodable (e.g. HEIC): the server converts it
  }

  // Form fields as a list, with photos compressed; a submit button's name/value is kept.
  function collectFields(form, submitter) {
    var fields = [];
    var jobs = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      var type = (el.type || "").toLowerCase();
      if (type === "submit" || type === "button" || type === "reset") return;
      if ((type === "checkbox" || type === "radio") && !el.checked) return;
      if (type === "file") {
        Array.prototype.forEach.call(el.files || [], function (file) {
          var slot = { name: el.name, blob: file, filename: file.name };
          fields.push(slot);
          if (el.hasAttribute("data-compress")) {
            jobs.push(compressFile(file).then(function (f) { slot.blob = f; slot.filename = f.name || file.name; }));
          }
        });
        return;
      }
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { fields.push({ name: el.name, value: o.value }); });
        return;
      }
      fields.push({ name: el.name, value: el.value });
    });
    if (submitter && submitter.name) fields.push({ name: submitter.name, value: submitter.value || "" });
    return Promise.all(jobs).then(function () { return fields; });
  }

  function fieldsToFormData(fields) {
    var fd = new FormData();
    fields.forEach(function (f) {
      if (f.blob) fd.append(f.name, f.blob, f.filename || "photo.jpg");
      else fd.append(f.name, f.value);
    });
    return fd;
  }

  // ------------------------------------------------------------------ outbox list ("等待发送")
  function renderOutbox() {
    if (!outboxEl || !root.indexedDB) return Promise.resolve();
    return all().then(function (items) {
      var list = outboxEl.querySelector("ul");
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "list-item";
        li.setAttribute("data-testid", "outbox-item");
        var state = item.state === "login" ? msg("login", "请先登录，登录后自动发送")
          : item.state === "error" ? msg("error", "发送失败，请重新填写")
          : msg("waiting", "等待发送");
        var strong = document.createElement("strong");
        strong.textContent = item.label || "";
        var small = document.createElement("span");
        small.className = "badge";
        small.textContent = state;
        li.appendChild(strong);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(small);
        if (item.state === "error") {
          var del = document.createElement("button");
          del.type = "button";
          del.className = "link danger";
          del.textContent = msg("delete", "删除");
          del.addEventListener("click", function () { remove(item.key).then(renderOutbox); });
          li.appendChild(del);
        }
        list.appendChild(li);
      });
      outboxEl.hidden = items.length === 0;
    })["catch"](function () { /* private mode without IndexedDB: nothing to show */ });
  }

  function say(text, kind) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.innerHTML = "";
    var div = document.createElement("div");
    div.className = "alert " + (kind === "error" ? "alert-error" : "alert-ok");
    div.textContent = text;
    flash.appendChild(div);
  }

  function flushAndReport() {
    if (!root.indexedDB || !navigator.onLine) return Promise.resolve();
    return flush().then(function (res) {
      renderOutbox();
      if (res.sent.length) reportSent(res.sent);
    })["catch"](function () {});
  }

  function reportSent(sent) {
    say(msg("sent", "已发送") + (sent[0].label ? "：" + sent[0].label : ""));
    var link = sent[sent.length - 1].url;
    var flash = document.getElementById("flash");
    if (link && flash && flash.firstChild) {
      var a = document.createElement("a");
      a.href = link; a.textContent = msg("view", "查看");
      a.setAttribute("data-testid", "outbox-sent-link");
      flash.firstChild.appendChild(document.createTextNode(" "));
      flash.firstChild.appendChild(a);
    }
  }

  function queueSubmission(form, fields) {
    var keyField = fields.filter(function (f) { return f.name === "idempotency_key" && f.value; })[0];
    var desc = fields.filter(function (f) { return f.name === "description" || f.name === "note"; })[0];
    var label = form.getAttribute("data-offline-label") || "";
    if (desc && desc.value) label = (label ? label + "：" : "") + desc.value.slice(0, 30);
    var item = {
      key: keyField ? keyField.value : randomKey(),
      action: form.action,
      fields: fields,
      label: label || document.title,
      created: Date.now(),
      state: "waiting"
    };
    return put(item).then(function () {
      // Background Sync where the browser has it; otherwise the `online` event or the next visit.
      if (swReady) {
        swReady.then(function (reg) {
          if (reg && reg.sync && reg.sync.register) return reg.sync.register("qg-outbox");
        })["catch"](function () {});
      }
      // The form is kept on the phone: clear it, with a fresh key, so a new report is a new one.
      form.reset();
      var keyInput = form.querySelector("input[name=idempotency_key]");
      if (keyInput) keyInput.value = randomKey().replace(/-/g, "");
      renderOutbox();
      var text = msg("queued", "当前没有网络，已保存在手机上，联网后自动发送。");
      say(text);
      // Say it where the person is looking (by the button just pressed), not only at the top of the page.
      var here = form.parentNode && form.parentNode.querySelector("[data-queued-note]");
      if (!here) {
        here = document.createElement("p");
        here.className = "alert alert-ok";
        here.setAttribute("data-queued-note", "");
        here.setAttribute("data-testid", "queued-here");
        here.setAttribute("role", "status");
        here.tabIndex = -1;
        form.parentNode.insertBefore(here, form.nextSibling);
      }
      here.textContent = text;
      here.focus();
      if (here.scrollIntoView) here.scrollIntoView({ block: "center" });
    });
  }

  // Put a server-rendered page (e.g. the form again with its errors) in place of <main>.
  function showPage(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var newMain = doc.getElementById("main");
    var main = document.getElementById("main");
    if (newMain && main) {
      main.innerHTML = newMain.innerHTML;
      if (doc.title) document.title = doc.title;
      var flash = document.getElementById("flash"), newFlash = doc.getElementById("flash");
      if (flash && newFlash) flash.innerHTML = newFlash.innerHTML;
      enhance(main);
      var invalid = main.querySelector("[aria-invalid=true]");
      (invalid || main).focus();
      if (root.htmx) root.htmx.process(main);
    } else {
      document.open(); document.write(html); document.close();
    }
  }

  function sendWithProgress(form, fields) {
    var progress = form.querySelector("progress.upload-progress");
    if (!progress) {
      progress = document.createElement("progress");
      progress.className = "upload-progress";
      progress.max = 100;
      progress.value = 0;
      progress.setAttribute("aria-label", msg("uploading", "正在上传"));
      form.appendChild(progress);
    }
    progress.hidden = false;
    var buttons = form.querySelectorAll("button, input[type=submit]");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    function done() {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      progress.hidden = true;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    var token = getCookie("csrftoken");
    if (token) xhr.setRequestHeader("x-csrftoken", token);
    // The page the redirect leads to is fetched here only to follow it: its one-time confirmation is
    // kept for the page the browser shows next (the header stays on the followed same-origin redirect).
    xhr.setRequestHeader("x-qg-background", "1");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = function () {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        // Field mode goes back to the task list; elsewhere, to where the server redirected.
        window.location.assign(form.getAttribute("data-next") || xhr.responseURL || window.location.href);
      } else if (xhr.status >= 500 || xhr.status === 0) {
        queueSubmission(form, fields);
      } else {
        showPage(xhr.responseText);
      }
    };
    xhr.onerror = function () { done(); queueSubmission(form, fields); }; // the network failed: keep it
    xhr.send(fieldsToFormData(fields));
  }

  function onQueuedFormSubmit(e) {
    var form = e.currentTarget;
    if (!root.indexedDB || !root.FormData || !root.Promise) return; // plain POST
    e.preventDefault();
    var submitter = e.submitter || null;
    collectFields(form, submitter).then(function (fields) {
      if (!navigator.onLine) return queueSubmission(form, fields);
      sendWithProgress(form, fields);
    })["catch"](function () {
      form.submit(); // storage refused (private mode, quota): the plain form still works
    });
  }

  // ------------------------------------------------------------------ push subscription
  function b64ToBytes(s) {
    var pad = "=".repeat((4 - (s.length % 4)) % 4);
    var raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function setupPush(btn) {
    if (btn.__qg) return;
    btn.__qg = true;
    // Without Push (WeChat's browser, iOS outside the home screen) the in-app list remains.
    if (!swReady || !("PushManager" in root) || !("Notification" in root)) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      Notification.requestPermission().then(function (perm) {
        if (perm !== "granted") return;
        return swReady.then(function (reg) {
          return reg.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: b64ToBytes(btn.getAttribute("data-key"))
          });
        }).then(function (sub) {
          return fetch("/push/subscribe", {
            method: "POST", credentials: "same-origin",
            headers: { "content-type": "application/json", "x-csrftoken": getCookie("csrftoken") || "" },
            body: JSON.stringify(sub.toJSON())
          });
        }).then(function (r) {
          if (r && r.ok) { btn.hidden = true; say(btn.getAttribute("data-done") || "OK"); }
        });
      })["catch"](function () {});
    });
  }

  // "分享此心愿": the phone's share sheet (Web Share API), else copy the link.
  function setupShare(btn) {
    if (btn.__qg) return;
    btn.__qg = true;
    if (!navigator.share && !(navigator.clipboard && navigator.clipboard.writeText)) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var url = btn.getAttribute("data-share-url");
      if (navigator.share) {
        navigator.share({ title: btn.getAttribute("data-share-title") || document.title, url: url })["catch"](function () {});
      } else {
        navigator.clipboard.writeText(url).then(function () { say(btn.getAttribute("data-copied") || url); });
      }
    });
  }

  function enhance(scope) {
    Array.prototype.forEach.call(scope.querySelectorAll("form[data-offline-queue]"), function (f) {
      if (f.__qg) return;
      f.__qg = true;
      f.addEventListener("submit", onQueuedFormSubmit);
    });
    Array.prototype.forEach.call(scope.querySelectorAll("[data-push-subscribe]"), setupPush);
    Array.prototype.forEach.call(scope.querySelectorAll("[data-share]"), setupShare);
  }

  function start() {
    enhance(document);
    renderOutbox();
    flushAndReport(); // the next app open sends what waited
    var btn = outboxEl && outboxEl.querySelector("[data-outbox-send]");
    if (btn) btn.addEventListener("click", flushAndReport);
  }

  root.addEventListener("online", flushAndReport);
  document.addEventListener("qg:outbox", renderOutbox);
  document.addEventListener("htmx:afterSwap", function (e) { enhance(e.target); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(typeof self !== "undefined" ? self : this);
