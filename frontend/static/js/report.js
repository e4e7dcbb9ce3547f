// "使用我的位置": fills the hidden lat/lon; the server finds the community (shown before sending, with
// the grid and the responsible person). Without it, pick a community. Texts come from the page (its language).
// Delegated and re-applied when <main> is replaced (app.js shows the form again with its errors
// without reloading the page, so this file does not run a second time).
(function () {
  "use strict";
  if (!navigator.geolocation) return;

  function reveal() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-locate][hidden]"), function (btn) {
      btn.hidden = false;
    });
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-locate]");
    if (!btn) return;
    var form = btn.form || btn.closest("form");
    var status = document.querySelector("[data-locate-status]");
    function msg(name, fallback) { return status.getAttribute("data-msg-" + name) || fallback; }
    status.textContent = msg("locating", "正在定位…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.elements.lat.value = pos.coords.latitude.toFixed(6);
      form.elements.lon.value = pos.coords.longitude.toFixed(6);
      status.textContent = msg("located", "已获取位置（精度约 {m} 米）").replace("{m}", Math.round(pos.coords.accuracy));
      // The form shows where the report will go (htmx listens for changes in the form).
      form.elements.lat.dispatchEvent(new Event("change", { bubbles: true }));
    }, function () {
      status.textContent = msg("failed", "无法获取位置，请选择所在社区并填写地址");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  reveal();
  var main = document.getElementById("main");
  if (main && window.MutationObserver) new MutationObserver(reveal).observe(main, { childList: true });
})();
