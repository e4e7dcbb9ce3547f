// The report form's map (issue 17): a draggable pin sets the place; as it moves, the page shows the
// street, community, grid and responsible person it goes to (GET /map/place, which changes nothing) and
// refuses a point outside the district on the spot (the pin goes back). Once a category and a place are
// set, open public requests of the same category nearby are offered (GET /map/nearby) with 我也遇到了.
// Without JavaScript none of this shows: the community select and the address stay the way.
(function () {
  "use strict";
  if (!window.L || !window.QGMap) return;

  function pinIcon() {
    return L.divIcon({ className: "qg-pin", html: "<span></span>", iconSize: [36, 36], iconAnchor: [18, 34] });
  }

  function setup(wrap) {
    var form = wrap.closest("form");
    var el = wrap.querySelector("[data-map=report]");
    var placeText = wrap.querySelector("[data-testid=place]");
    var nearbyBox = document.getElementById("nearby");
    var select = form.elements.community;
    var msg = function (name) { return wrap.getAttribute("data-msg-" + name) || ""; };
    wrap.hidden = false;
    el.setAttribute("data-drawn", "1");
    var last = null; // the last accepted pin position (display datum)
    var seq = 0;

    QGMap.create(el).then(function (m) {
      var map = m.map;
      var marker = L.marker(map.getCenter(), { draggable: true, icon: pinIcon(), autoPan: true,
        keyboard: true, title: msg("pick") }).addTo(map);
      el.qgPin = marker;

      function category() {
        var c = form.querySelector("input[name=category]:checked");
        return c ? c.value : "";
      }

      function nearby() {
        var lat = form.elements.lat.value, lon = form.elements.lon.value, cat = category();
        if (!nearbyBox) return;
        if (!lat || !lon || !cat) { nearbyBox.innerHTML = ""; return; }
        fetch("/map/nearby?category=" + encodeURIComponent(cat) + "&lat=" + lat + "&lon=" + lon,
          { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
          nearbyBox.innerHTML = html;
          if (window.htmx) window.htmx.process(nearbyBox);
        });
      }

      function place(latlng, wgs) {
        var mine = ++seq;
        placeText.classList.remove("bad");
        placeText.textContent = msg("checking");
        var url = "/map/place?lat=" + latlng.lat.toFixed(6) + "&lon=" + latlng.lng.toFixed(6) +
          "&category=" + encodeURIComponent(category()) + (wgs ? "&wgs=1" : "");
        QGMap.getJSON(url).then(function (p) {
          if (mine !== seq) return; // a newer move is on its way
          if (!p.ok) {
            placeText.textContent = p.message;
            placeText.classList.add("bad");
            if (last) marker.setLatLng(last); // refused on the spot: back to the last place in the district
            return;
          }
          last = L.latLng(p.display[0], p.display[1]);
          marker.setLatLng(last);
          form.elements.lat.value = p.lat.toFixed(6);
          form.elements.lon.value = p.lon.toFixed(6);
          if (select && p.community_id) select.value = String(p.community_id);
          var where = [p.street, p.community, p.grid].filter(Boolean).join(" · ");
          placeText.textContent = msg("goes") + " " + where + (p.person ? "，" + msg("person") + "：" + p.person : "");
          placeText.setAttribute("data-community", p.community);
          nearby();
        }, function () {
          if (mine !== seq) return;
          placeText.textContent = msg("failed");
          placeText.classList.add("bad");
        });
      }

      marker.on("dragend", function () { place(marker.getLatLng(), false); });
      map.on("click", function (ev) { marker.setLatLng(ev.latlng); place(ev.latlng, false); });
      form.addEventListener("change", function (ev) {
        if (ev.target.name === "category") {
          if (form.elements.lat.value) place(marker.getLatLng(), false);
          return;
        }
        if (ev.target === select && select.value) { // a community picked by hand: the pin goes to its middle
          var c = QGMap.communityLayer(m.layer, select.value);
          if (c) {
            var centre = c.getBounds().getCenter();
            map.fitBounds(c.getBounds());
            marker.setLatLng(centre);
            place(centre, false);
          }
        }
      });
      // "使用我的位置" (report.js fills the form): the pin follows the GPS position too.
      form.addEventListener("click", function (ev) {
        if (!(ev.target.closest && ev.target.closest("[data-locate]")) || !navigator.geolocation) return;
        navigator.geolocation.getCurrentPosition(function (pos) {
          var p = L.latLng(pos.coords.latitude, pos.coords.longitude);
          map.setView(p, 17);
          place(p, true);
        }, function () {}, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });

      // Located by another source (WeChat's JS-SDK, wechat.js): the pin follows that WGS-84 position too.
      form.addEventListener("qg:located", function (ev) {
        var p = L.latLng(ev.detail.lat, ev.detail.lon);
        map.setView(p, 17);
        place(p, true);
      });

      // Start where the form already is: a place chosen before (re-shown form), or the chosen community.
      var lat = parseFloat(form.elements.lat.value), lon = parseFloat(form.elements.lon.value);
      if (isFinite(lat) && isFinite(lon)) {
        QGMap.toDisplay(lat, lon, m.tiles).then(function (d) {
          marker.setLatLng(d); map.setView(d, 16); place(marker.getLatLng(), false);
        });
      } else if (select && select.value) {
        var c = QGMap.communityLayer(m.layer, select.value);
        if (c) { map.fitBounds(c.getBounds()); marker.setLatLng(c.getBounds().getCenter()); }
      } else if (navigator.permissions && navigator.geolocation) {
        // Centred on the resident's position when they already allowed it (never a prompt on arrival).
        navigator.permissions.query({ name: "geolocation" }).then(function (st) {
          if (st.state !== "granted" || form.elements.lat.value) return;
          navigator.geolocation.getCurrentPosition(function (pos) {
            if (form.elements.lat.value) return;
            var p = L.latLng(pos.coords.latitude, pos.coords.longitude);
            map.setView(p, 16);
            place(p, true);
          }, function () {}, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
        }, function () {});
      }
      wrap.setAttribute("data-ready", "1");
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-report-map]:not([data-ready]):not([data-started])"),
      function (wrap) { wrap.setAttribute("data-started", "1"); setup(wrap); });
  }

  init();
  var main = document.getElementById("main");
  if (main && window.MutationObserver) new MutationObserver(init).observe(main, { childList: true });
})();
