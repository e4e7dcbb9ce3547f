// Service worker, served at /sw.js (scope /) with its version and precache list filled in.
// Caches: "qg-shell-<version>" for the app shell and fingerprinted static assets (cache first),
// "qg-pages" for pages visited (network first, offline fallback), the offline page otherwise.
"use strict";
var VERSION = "__VERSION__";
var SHELL = "qg-shell-" + VERSION;
var PAGES = "qg-pages";
var PRECACHE = ["__PRECACHE__"];
// Pages kept for reading offline: home, the resident's list and requests, the field list and
// task details, the wish board, notifications.
var KEEP = /^\/($|my$|r\/[\w-]+$|staff\/field$|staff\/requests\/\d+$|wishes(\/\d+)?$|notifications$)/;

importScripts(PRECACHE.filter(function (u) { return u.indexOf("/static/js/app.js") === 0; })[0]);

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(PRECACHE); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("qg-shell-") === 0 && k !== SHELL; })
      .map(function (k) { return caches["delete"](k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromNetworkAndKeep(request, cacheName) {
  return fetch(request).then(function (response) {
    if (response.ok && response.type === "basic") {
      var copy = response.clone();
      caches.open(cacheName).then(function (c) { c.put(request, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;

  if (url.pathname.indexOf("/static/") === 0) {
    if (/^v=[0-9a-f]+$/.test(url.search.slice(1))) {
      // Fingerprinted assets never change under one URL: cache first.
      // Offline with a page kept from an older version: any kept version of the asset will do.
      event.respondWith(caches.match(req).then(function (hit) {
        return hit || fromNetworkAndKeep(req, SHELL)["catch"](function () {
          return caches.match(req, { ignoreSearch: true }).then(function (old) { return old || Response.error(); });
        });
      }));
    } else {
      // A plain /static URL may change: network first, the kept copy when offline.
      event.respondWith(fromNetworkAndKeep(req, PAGES)["catch"](function () {
        return caches.match(req).then(function (hit) { return hit || Response.error(); });
      }));
    }
    return;
  }
  if (req.mode === "navigate") {
    var keep = KEEP.test(url.pathname);
    event.respondWith(
      (keep ? fromNetworkAndKeep(req, PAGES) : fetch(req))["catch"](function () {
        return caches.open(PAGES).then(function (c) { return c.match(req, { ignoreVary: true }); })
          .then(function (hit) { return hit || caches.match("/offline"); });
      })
    );
  }
});

// Background Sync (where the browser has it): send what waited in the outbox.
self.addEventListener("sync", function (event) {
  if (event.tag === "qg-outbox") {
    event.waitUntil(self.QGOutbox.flush().then(function (res) {
      if (res.remaining > 0) throw new Error("still waiting"); // the browser retries later
    }));
  }
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "clear-pages") event.waitUntil(caches["delete"](PAGES));
  if (event.data && event.data.type === "flush") event.waitUntil(self.QGOutbox.flush());
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "群工", {
    body: data.body || "", icon: "/static/icons/icon-192.png", badge: "/static/icons/icon-192.png",
    data: { url: data.url || "/notifications" }, lang: "zh-CN"
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (cs) {
    for (var i = 0; i < cs.length; i++) {
      if (new URL(cs[i].url).pathname === target && "focus" in cs[i]) return cs[i].focus();
    }
    return self.clients.openWindow(target);
  }));
});
