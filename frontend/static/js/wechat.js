// Inside WeChat's browser: WeChat's JS-SDK for the location and the photos of the report form, and the
// subscription button of the account page. The signed wx.config fields come from the page (#wx-config, only
// rendered inside WeChat); without them nothing here runs and the plain form works as in any browser.
(function () {
  "use strict";
  // weixin-js-sdk from npm is a CommonJS module: cjs-shim.js gave it `module`; take the SDK and tidy up.
  var wx = window.jWeixin || (window.module && window.module.exports && window.module.exports.config ? window.module.exports : null);
  if (window.module && window.module.exports === wx) window.module = undefined;
  var box = document.getElementById("wx-config");
  if (!box || !wx) return;

  function msg(name) { return box.getAttribute("data-msg-" + name) || ""; }
  function list(attr) { var v = box.getAttribute(attr) || ""; return v ? v.split(",") : []; }
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  wx.config({
    debug: false, appId: box.getAttribute("data-app-id"), timestamp: Number(box.getAttribute("data-timestamp")),
    nonceStr: box.getAttribute("data-nonce"), signature: box.getAttribute("data-signature"),
    jsApiList: list("data-apis"), openTagList: list("data-open-tags")
  });

  var failed = false;
  wx.error(function () {
    // WeChat refused the config (a ticket revoked or expired early): the server drops the ticket it signed
    // with, the next page gets a fresh one; here the plain inputs remain.
    failed = true;
    var fd = new FormData();
    fd.append("url", location.href.split("#")[0]);
    fd.append("timestamp", box.getAttribute("data-timestamp"));
    fd.append("nonce", box.getAttribute("data-nonce"));
    fd.append("signature", box.getAttribute("data-signature"));
    fd.append("_csrf_token", cookie("csrftoken"));
    fetch("/wechat/jssdk/refused", { method: "POST", body: fd, credentials: "same-origin" }).catch(function () {});
    Array.prototype.forEach.call(document.querySelectorAll("[data-wx-locate], [data-wx-photos]"), function (b) {
      b.hidden = true;
    });
    var note = document.querySelector("[data-wx-note]");
    if (note) note.textContent = msg("failed");
  });

  // ---------------------------------------------------------------- the report form
  function addReportButtons() {
    var form = document.querySelector("#report form");
    if (!form || failed || form.querySelector("[data-wx-locate]")) return;
    var apis = list("data-apis");
    var locBox = form.querySelector("#location");
    if (locBox && apis.indexOf("getLocation") >= 0) {
      var loc = el("button", { type: "button", "class": "btn btn-primary", "data-wx-locate": "" }, "📍 " + msg("locate"));
      locBox.insertBefore(loc, locBox.querySelector("legend").nextSibling);
    }
    var camera = form.querySelector("#photos-camera");
    if (camera && apis.indexOf("chooseImage") >= 0) {
      var photoBox = camera.closest("fieldset");
      var btn = el("button", { type: "button", "class": "btn btn-primary", "data-wx-photos": "" }, "📷 " + msg("photos"));
      var status = el("p", { "class": "muted", "data-wx-photos-status": "", "aria-live": "polite" });
      photoBox.insertBefore(status, photoBox.querySelector("legend").nextSibling);
      photoBox.insertBefore(btn, status);
    }
    var note = el("p", { "class": "muted", "data-wx-note": "", "aria-live": "polite" });
    form.insertBefore(note, form.firstChild);
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest && ev.target.closest("[data-wx-locate], [data-wx-photos]");
    if (!t) return;
    var form = t.closest("form");
    if (t.hasAttribute("data-wx-locate")) {
      var status = document.querySelector("[data-locate-status]");
      var say = function (name, m) {
        if (status) status.textContent = (status.getAttribute("data-msg-" + name) || "").replace("{m}", m || "");
      };
      say("locating");
      wx.getLocation({
        type: "wgs84",
        success: function (res) {
          form.elements.lat.value = Number(res.latitude).toFixed(6);
          form.elements.lon.value = Number(res.longitude).toFixed(6);
          say("located", String(Math.round(res.accuracy || 0)));
          form.elements.lat.dispatchEvent(new Event("change", { bubbles: true }));  // where it will go
          // The map's pin follows (report-map.js), and the server's answer settles the place.
          form.dispatchEvent(new CustomEvent("qg:located", { detail: { lat: res.latitude, lon: res.longitude } }));
        },
        fail: function () { say("failed"); },
        cancel: function () { say("failed"); }
      });
      return;
    }
    var already = form.querySelectorAll("input[name=wx_media]").length;
    var room = Math.max(1, 9 - already);
    wx.chooseImage({
      count: room, sizeType: ["compressed"], sourceType: ["album", "camera"],
      success: function (res) {
        var ids = (res.localIds || []).slice();
        (function next() {
          var localId = ids.shift();
          if (!localId) return;
          wx.uploadImage({
            localId: localId, isShowProgressTips: 1,
            success: function (up) {
              form.appendChild(el("input", { type: "hidden", name: "wx_media", value: up.serverId }));
              var n = form.querySelectorAll("input[name=wx_media]").length;
              var s = form.querySelector("[data-wx-photos-status]");
              if (s) s.textContent = msg("photos-added").replace("{n}", n);
              next();
            },
            fail: function () { var s = form.querySelector("[data-wx-note]"); if (s) s.textContent = msg("failed"); }
          });
        })();
      }
    });
  });

  // ---------------------------------------------------------------- the subscription button (account page)
  var sub = document.getElementById("wx-subscribe");
  if (sub) {
    sub.addEventListener("success", function () {
      var s = document.querySelector("[data-wx-subscribe-status]");
      if (s) s.textContent = sub.getAttribute("data-msg-done") || "";
    });
  }

  wx.ready(function () {
    addReportButtons();
    // app.js re-shows the form with its errors without a reload: put the buttons back.
    var main = document.getElementById("main");
    if (main && window.MutationObserver) new MutationObserver(addReportButtons).observe(main, { childList: true });
  });
})();
