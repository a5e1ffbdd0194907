/* Maps of the dashboard and the case page (issue 14), on the vendored Leaflet (static/vendor/leaflet/).
   Points arrive already in the tiles' coordinate system (the server converts; cases.maps), so nothing here
   converts coordinates. With no tile reachable the map keeps its plain background and still draws the points. */
(function () {
  "use strict";
  var COLORS = { open: "#1f6feb", overdue: "#d62728", closed: "#8c959f", village: "#2da44e" };
  var CLOSED = { resolved: 1, closed: 1, cancelled: 1 };

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }
  function latlng(coords) { return [coords[1], coords[0]]; }
  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function draw(el, cfg) {
    var map = L.map(el, { zoomControl: true, attributionControl: true, preferCanvas: false });
    map.setView(latlng(cfg.center), 13);
    var note = document.querySelector("[data-testid='" + el.id + "-note']");
    if (cfg.tiles) {
      var failed = 0, loaded = 0;
      var base = L.tileLayer(cfg.tiles.url, { subdomains: cfg.tiles.subdomains, maxZoom: 18,
        attribution: cfg.tiles.attribution || "" });
      base.on("tileerror", function () { failed += 1; if (!loaded && note) { note.hidden = false; el.classList.add("map-offline"); } });
      base.on("tileload", function () { loaded += 1; if (note) { note.hidden = true; } el.classList.remove("map-offline"); });
      base.addTo(map);
      if (cfg.tiles.labels) { L.tileLayer(cfg.tiles.labels, { subdomains: cfg.tiles.subdomains, maxZoom: 18 }).addTo(map); }
    } else {
      el.classList.add("map-offline");
    }
    var bounds = [];
    var layers = L.layerGroup().addTo(map);
    el.dataset.pins = "0";
    el.dataset.villages = "0";
    el.dataset.loaded = "0";  // answers received (villages, cases, hotspots): tests wait on it
    function done() { el.dataset.loaded = String(Number(el.dataset.loaded) + 1); }

    if (cfg.villages_url) {
      getJSON(cfg.villages_url).then(function (fc) {
        fc.features.forEach(function (f) {
          var m = L.circleMarker(latlng(f.geometry.coordinates), { radius: 5, color: COLORS.village, weight: 2,
            fillColor: "#ffffff", fillOpacity: 1, className: "village-point" });
          m.bindTooltip(escapeHtml(f.properties.name));
          m.addTo(layers);
          bounds.push(latlng(f.geometry.coordinates));
        });
        el.dataset.villages = String(fc.features.length);
        fit();
      }).catch(function () {}).then(done);
    }
    if (cfg.cases_url) {
      getJSON(cfg.cases_url).then(function (fc) {
        fc.features.forEach(function (f) {
          var p = f.properties;
          var color = p.overdue ? COLORS.overdue : (CLOSED[p.status] ? COLORS.closed : COLORS.open);
          var m = L.circleMarker(latlng(f.geometry.coordinates), { radius: p.overdue ? 9 : 7, color: "#ffffff",
            weight: 2, fillColor: color, fillOpacity: 0.95,
            className: "case-pin" + (p.overdue ? " case-pin-overdue" : "") });
          m.bindPopup('<a href="' + escapeHtml(p.url) + '">' + escapeHtml(p.number) + "</a><br>" + escapeHtml(p.title) +
            "<br>" + escapeHtml(p.village) + " · " + escapeHtml(p.status_label));
          m.addTo(layers);
          bounds.push(latlng(f.geometry.coordinates));
        });
        el.dataset.pins = String(fc.features.length);
        fit();
      }).catch(function () { el.dataset.pins = "error"; }).then(done);
    }
    if (cfg.hotspots_url && L.heatLayer) {
      getJSON(cfg.hotspots_url).then(function (fc) {
        var pts = fc.features.map(function (f) {
          return [f.geometry.coordinates[1], f.geometry.coordinates[0], f.properties.heat || 1];
        });
        if (pts.length) { L.heatLayer(pts, { radius: 30, blur: 20, maxZoom: 16 }).addTo(map); }
        el.dataset.hotspots = String(pts.length);
      }).catch(function () {}).then(done);
    }
    var own = null;
    if (cfg.point) {
      own = L.circleMarker(latlng(cfg.point), { radius: 9, color: "#ffffff", weight: 2, fillColor: COLORS.open,
        fillOpacity: 0.95, className: "case-pin case-pin-own" }).addTo(map);
      bounds.push(latlng(cfg.point));
      el.dataset.pins = "1";
    }
    function fit() {
      // no animation: a first view should not zoom in over a second (and screenshots catch no half-way scale)
      if (bounds.length > 1) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15, animate: false }); }
      else if (bounds.length === 1) { map.setView(bounds[0], 15, { animate: false }); }
    }
    fit();
    if (cfg.pick_url) { picker(map, cfg, own); }
    return map;
  }

  function picker(map, cfg, own) {
    var box = document.querySelector("[data-testid='map-pick']");
    if (!box) { return; }
    var save = box.querySelector("[data-pick='save']"), gps = box.querySelector("[data-pick='gps']");
    var status = box.querySelector("[data-pick-status]");
    var chosen = null, marker = own;
    function mark(ll, body) {
      chosen = body;
      if (marker) { marker.setLatLng(ll); } else {
        marker = L.circleMarker(ll, { radius: 9, color: "#ffffff", weight: 2, fillColor: "#bf8700", fillOpacity: 0.95,
          className: "case-pin case-pin-own" }).addTo(map);
      }
      save.disabled = false;
    }
    map.on("click", function (e) {
      mark(e.latlng, { lng: e.latlng.lng, lat: e.latlng.lat, crs: cfg.crs, source: "map" });
      status.textContent = "";
    });
    gps.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = gps.dataset.unavailable || "定位不可用"; return; }
      status.textContent = "…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        // The browser gives WGS-84: sent as such, the server converts; the pin waits for the saved answer.
        chosen = { lng: pos.coords.longitude, lat: pos.coords.latitude, crs: "wgs84", source: "gps",
          accuracy_m: pos.coords.accuracy };
        send();
      }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
    save.addEventListener("click", send);
    function send() {
      if (!chosen) { return; }
      save.disabled = true;
      fetch(cfg.pick_url, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
        body: JSON.stringify(chosen) })
        .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (a) {
          if (!a.ok) { throw new Error(a.body.detail || JSON.stringify(a.body)); }
          status.textContent = "✓";
          box.dataset.saved = a.body.lng + "," + a.body.lat;
          if (chosen.source === "gps") { window.location.reload(); }
        })
        .catch(function (e) { status.textContent = e.message; save.disabled = false; });
    }
  }

  document.querySelectorAll("[data-map]").forEach(function (el) {
    var node = document.getElementById(el.dataset.map);
    if (!node || !window.L) { return; }
    var cfg = JSON.parse(node.textContent);
    el._map = draw(el, cfg);
  });
})();
