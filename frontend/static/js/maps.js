// Maps (issue 17), on the vendored Leaflet 1.9.4. The base map is the district's own boundaries from
// /map/boundaries.json (no tile server, works on a LAN); a tile layer is added only when the server is
// configured with one (QG_MAP_TILES). Every [data-map] element is drawn once, also when app.js or htmx
// replaces <main>. The server does every datum conversion: what it sends is in the map's datum.
(function () {
  "use strict";
  if (!window.L) return;
  var boundariesPromise = null;
  var STYLE = {
    street: { color: "#8a1c1c", weight: 3, fill: false },
    community: { color: "#2a5d9f", weight: 2, fillColor: "#dfe9f7", fillOpacity: 0.35 },
    grid: { color: "#7f93ad", weight: 1, dashArray: "3 3", fill: false }
  };
  var LIGHT_COLORS = ["#2a7ae2", "#f5a623", "#d0021b"];
  var LIGHT_NAMES = ["none", "yellow", "red"];

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function boundaries() {
    if (!boundariesPromise) boundariesPromise = getJSON("/map/boundaries.json");
    return boundariesPromise;
  }

  // A map on `el` with the district drawn; resolves to {map, layer, data, tiles}.
  function create(el, opts) {
    opts = opts || {};
    var map = L.map(el, { zoomControl: true, attributionControl: true });
    el.qgMap = map; // for the browser tests and the page scripts
    return boundaries().then(function (data) {
      map.invalidateSize(); // the container may have got its size (stylesheet, layout) after the map was made
      var tiles = data.tiles || {};
      if (tiles.url) {
        L.tileLayer(tiles.url, { subdomains: tiles.subdomains || "abc", attribution: tiles.attribution || "",
          maxZoom: 18 }).addTo(map);
      }
      var layer = L.geoJSON(data, {
        style: function (f) { return STYLE[f.properties.kind] || {}; },
        onEachFeature: function (f, l) {
          if (f.properties.kind === "community" && opts.labels !== false) {
            l.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "unit-label" });
          }
        }
      }).addTo(map);
      // Community names only when they fit (zoomed in); the district view shows the outlines alone.
      var labels = function () { el.classList.toggle("labels-off", map.getZoom() < 14); };
      map.on("zoomend", labels);
      var b = layer.getBounds();
      if (b.isValid()) map.fitBounds(b, { padding: [8, 8] });
      else map.setView([37.86, 112.56], 13);
      labels();
      return { map: map, layer: layer, data: data, tiles: tiles };
    });
  }

  // Stored WGS-84 → the map's datum (only a GCJ-02 tile source needs the server's conversion).
  function toDisplay(lat, lon, tiles) {
    if (!tiles || !tiles.url || tiles.crs !== "gcj02") return Promise.resolve([lat, lon]);
    return getJSON("/map/place?wgs=1&lat=" + lat + "&lon=" + lon).then(function (p) { return p.display; });
  }

  function communityLayer(layer, id) {
    var found = null;
    layer.eachLayer(function (l) {
      if (l.feature && l.feature.properties.kind === "community" && String(l.feature.properties.id) === String(id)) found = l;
    });
    return found;
  }

  function pinOptions(light, id, renderer) {
    var o = { radius: 8, weight: 2, color: "#fff", fillColor: LIGHT_COLORS[light] || LIGHT_COLORS[0], fillOpacity: 0.95,
      className: "pin pin-" + (LIGHT_NAMES[light] || "none") + (id ? " pin-id-" + id : "") };
    if (renderer) o.renderer = renderer;
    return o;
  }

  // Show where the pins are (not the whole district) when there are any.
  function fitTo(map, points) {
    if (points.length) map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 16, animate: false });
  }

  // Thousands of pins drawn on one canvas in one pass (a Leaflet path per pin costs seconds at 10,000):
  // redrawn after every move or zoom; a tap opens the nearest pin within reach of a finger.
  var MANY = 1500;
  var PinCanvas = L.Layer.extend({
    initialize: function (points, pins, onOpen) {
      this._latlngs = points.map(function (p) { return L.latLng(p[0], p[1]); });
      this._pins = pins;
      this._onOpen = onOpen;
    },
    onAdd: function (map) {
      this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide pin-canvas");
      map.getPanes().overlayPane.appendChild(this._canvas);
      map.on("moveend zoomend resize", this._draw, this);
      map.on("click", this._click, this);
      this._draw();
    },
    onRemove: function (map) {
      L.DomUtil.remove(this._canvas);
      map.off("moveend zoomend resize", this._draw, this);
      map.off("click", this._click, this);
    },
    _draw: function () {
      var map = this._map, size = map.getSize(), ratio = window.devicePixelRatio || 1;
      var canvas = this._canvas, n = this._latlngs.length;
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = size.x + "px";
      canvas.style.height = size.y + "px";
      var ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      this._xy = new Float32Array(n * 2);
      for (var i = 0; i < n; i++) {
        var pt = map.latLngToContainerPoint(this._latlngs[i]);
        this._xy[2 * i] = pt.x;
        this._xy[2 * i + 1] = pt.y;
      }
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#fff";
      for (var light = 0; light < 3; light++) { // red last, on top
        ctx.beginPath();
        for (var j = 0; j < n; j++) {
          if ((this._pins[j][3] || 0) !== light) continue;
          var x = this._xy[2 * j], y = this._xy[2 * j + 1];
          if (x < -8 || y < -8 || x > size.x + 8 || y > size.y + 8) continue;
          ctx.moveTo(x + 6, y);
          ctx.arc(x, y, 6, 0, 2 * Math.PI);
        }
        ctx.fillStyle = LIGHT_COLORS[light];
        ctx.fill();
        ctx.stroke();
      }
    },
    _click: function (ev) {
      var best = -1, bestD = 15 * 15, x = ev.containerPoint.x, y = ev.containerPoint.y;
      for (var i = 0; i < this._latlngs.length; i++) {
        var dx = this._xy[2 * i] - x, dy = this._xy[2 * i + 1] - y, d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = i; }
      }
      if (best >= 0) this._onOpen(this._pins[best][0]);
    }
  });

  function drawPublic(el) {
    create(el).then(function (m) {
      return getJSON(el.getAttribute("data-pins")).then(function (data) {
        var open = el.getAttribute("data-msg-open") || "View";
        data.pins.forEach(function (p) {
          var marker = L.circleMarker([p.lat, p.lon], pinOptions(p.light, null)).addTo(m.map);
          var box = document.createElement("div");
          var a = document.createElement("a");
          a.href = "/p/" + encodeURIComponent(p.code);
          a.textContent = p.code + " · " + p.category + " · " + open;
          box.appendChild(a);
          marker.bindPopup(box);
        });
        fitTo(m.map, data.pins.map(function (p) { return [p.lat, p.lon]; }));
        el.setAttribute("data-ready", "1");
      });
    });
  }

  function drawStaff(el) {
    create(el, { labels: true }).then(function (m) {
      var pinsLayer = L.featureGroup(); // a feature group passes its pins' clicks on (ev.layer)
      var densityLayer = L.layerGroup();
      var overlays = {};
      overlays[el.getAttribute("data-msg-pins") || "pins"] = pinsLayer;
      overlays[el.getAttribute("data-msg-density") || "density"] = densityLayer;
      L.control.layers(null, overlays, { collapsed: false }).addTo(m.map);
      var pins = getJSON(el.getAttribute("data-pins")).then(function (data) {
        var o = data.origin;
        // Thousands of pins: one canvas instead of one SVG element each (fast); few pins stay SVG (clickable DOM).
        var points = data.pins.map(function (p) { return [o[0] + p[1] / 1e5, o[1] + p[2] / 1e5]; });
        var open = function (id) { window.location.href = "/staff/requests/" + id; };
        fitTo(m.map, points);
        if (data.pins.length > MANY) {
          pinsLayer.addLayer(new PinCanvas(points, data.pins, open));
        } else { // few pins: one SVG element each (clickable, and the browser tests can see them)
          data.pins.forEach(function (p, i) {
            var marker = L.circleMarker(points[i], pinOptions(p[3], p[0], null));
            marker.requestId = p[0];
            pinsLayer.addLayer(marker);
          });
          pinsLayer.on("click", function (ev) { open(ev.layer.requestId); });
        }
        pinsLayer.addTo(m.map);
        el.setAttribute("data-pins-count", String(data.pins.length));
      });
      var unit = el.getAttribute("data-msg-count") || "";
      var density = getJSON(el.getAttribute("data-density")).then(function (data) {
        var max = data.max || 1;
        L.geoJSON(data, {
          style: function (f) {
            var share = f.properties.count / max;
            return { color: "#7a0014", weight: 1, fillColor: "#d0021b", fillOpacity: f.properties.count ? 0.1 + 0.6 * share : 0 };
          },
          onEachFeature: function (f, l) { l.bindTooltip(f.properties.name + "：" + f.properties.count + " " + unit); }
        }).addTo(densityLayer);
      });
      return Promise.all([pins, density]).then(function () {
        el.setAttribute("data-ready", String(Math.round(performance.now()))); // ms since navigation (the bench reads it)
      });
    });
  }

  function drawRequest(el) {
    var lat = parseFloat(el.getAttribute("data-lat")), lon = parseFloat(el.getAttribute("data-lon"));
    create(el, { labels: true }).then(function (m) {
      var community = communityLayer(m.layer, el.getAttribute("data-community"));
      if (community) {
        community.setStyle({ weight: 4, fillOpacity: 0.5 });
        m.map.fitBounds(community.getBounds(), { padding: [8, 8] });
      }
      return toDisplay(lat, lon, m.tiles).then(function (p) {
        L.circleMarker(p, pinOptions(2, null)).addTo(m.map);
        if (!community) m.map.setView(p, 16);
        el.setAttribute("data-ready", "1");
      });
    });
  }

  var DRAW = { public: drawPublic, staff: drawStaff, request: drawRequest };

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-map]:not([data-drawn])"), function (el) {
      var draw = DRAW[el.getAttribute("data-map")];
      if (!draw) return;
      el.setAttribute("data-drawn", "1");
      draw(el);
    });
  }

  window.QGMap = { create: create, toDisplay: toDisplay, getJSON: getJSON, communityLayer: communityLayer };
  init();
  var main = document.getElementById("main");
  if (main && window.MutationObserver) new MutationObserver(init).observe(main, { childList: true, subtree: true });
})();
