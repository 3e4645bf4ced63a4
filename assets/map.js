/* Map styling for dash-leaflet: marker colours by severity or Siaga level,
   clusters that show their severity mix, boundary labels. */
window.dmy = window.dmy || {};
(function () {
  // colours are CSS variables of style.css, their one owner; read once, when first needed
  let palette = null;
  function colours() {
    if (!palette) {
      const css = getComputedStyle(document.documentElement);
      const v = (name) => css.getPropertyValue(name).trim();
      const sev = {critical: v("--sev-critical"), high: v("--sev-high"), medium: v("--sev-medium"), low: v("--sev-low"), info: v("--sev-info")};
      palette = {
        sev: sev,
        alert: [v("--ok"), sev.medium, sev.high, sev.critical, sev.critical],  // Siaga level 0..4
        rank: [sev.info, sev.low, sev.medium, sev.high, sev.critical],         // severity rank 0..4
        other: v("--position"),                                                  // vehicles, boats
      };
    }
    return palette;
  }

  function colour(p) {
    const c = colours();
    if (p.kind === "incident") return c.sev[p.sev] || c.sev.info;
    if (p.kind === "reading") return c.alert[p.alert || 0];
    return c.other;
  }

  function word(key, values) {
    let text = (window.dmy.messages || {})[key] || key;
    Object.entries(values || {}).forEach(([k, v]) => { text = text.replace("{" + k + "}", v); });
    return text;
  }

  function escape(s) {
    return String(s || "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  /* A boundary's name at its centre, drawn while the boundary is on the map. A marker of
     fixed HTML centred by CSS (style.css), not a permanent tooltip: Leaflet measures each
     tooltip it places (a layout of the whole page per label, 47 of them on a first render). */
  function label(layer, html, className) {
    let marker = null;
    layer.on("add", function () {
      marker = L.marker(layer.getCenter(), {
        icon: L.divIcon({html: html, className: className, iconSize: null}),
        pane: "tooltipPane", interactive: false, keyboard: false,
      }).addTo(layer._map);
    });
    layer.on("remove", function () { if (marker) marker.remove(); marker = null; });
  }

  // a cluster as a ring of its severity mix (counts per rank 0..4), largest rank first
  function ring(latlng, counts, total) {
    const sum = counts.reduce((a, b) => a + b, 0) || 1;
    let start = 0;
    const stops = [];
    for (let r = 4; r >= 0; r--) {
      if (!counts[r]) continue;
      const end = start + (counts[r] / sum) * 360;
      stops.push(colours().rank[r] + " " + start + "deg " + end + "deg");
      start = end;
    }
    const size = 34 + Math.min(26, Math.log2(total) * 5);
    const html = '<div class="cluster-ring" style="width:' + size + "px;height:" + size +
      "px;background:conic-gradient(" + stops.join(",") + ')"><span>' + Number(total) + "</span></div>";
    return L.marker(latlng, {icon: L.divIcon({html: html, className: "cluster-icon", iconSize: L.point(size, size)})});
  }

  /* A browser cluster's counts per rank, summed from its children's and kept per cluster index
     (a new one per layer version): each point is counted once per version, not once per
     cluster drawn, and a zoom or pan redraws from what is known. */
  const rankMemo = new WeakMap();
  function rankCounts(index, clusterId) {
    let known = rankMemo.get(index);
    if (!known) rankMemo.set(index, known = new Map());
    let counts = known.get(clusterId);
    if (counts) return counts;
    counts = [0, 0, 0, 0, 0];
    index.getChildren(clusterId).forEach((child) => {
      const p = child.properties;
      if (p.cluster) rankCounts(index, p.cluster_id).forEach((n, r) => { counts[r] += n; });
      else counts[Math.min(4, p.rank || 0)] += 1;
    });
    known.set(clusterId, counts);
    return counts;
  }

  window.dmy.map = {
    pointToLayer: function (feature, latlng) {
      const p = feature.properties;
      const big = p.kind === "incident" ? 7 + (p.rank || 0) * 1.5 : 8;
      return L.circleMarker(latlng, {
        radius: big, color: "#0b0f14", weight: 2, fillColor: colour(p), className: "dmy-marker dmy-" + p.kind,
        fillOpacity: p.kind === "incident" && !p.open ? 0.45 : 0.95,
      });
    },
    clusterToLayer: function (feature, latlng, index) {
      return ring(latlng, rankCounts(index, feature.properties.cluster_id), feature.properties.point_count);
    },
    // a layer clustered by the server (api/wall_data.py): a cluster carries its counts per rank
    serverPointToLayer: function (feature, latlng) {
      const p = feature.properties;
      return p.cluster ? ring(latlng, p.ranks, p.point_count) : window.dmy.map.pointToLayer(feature, latlng);
    },
    serverFeature: function (feature, layer) {
      if (!feature.properties.cluster) return window.dmy.map.bindPopup(feature, layer);
      layer.on("click", function (e) {
        const map = layer._map;
        if (map) map.setView(e.latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
      });
    },
    shapeStyle: function (feature) {
      const c = colour(feature.properties);
      const line = feature.geometry.type.indexOf("LineString") >= 0;
      return {color: c, weight: line ? 7 : 2, opacity: 0.9, fillColor: c, fillOpacity: line ? 0 : 0.25};
    },
    bindPopup: function (feature, layer) {
      const p = feature.properties;
      if (!p || !p.title) return;
      if (p.uid && p.kind === "incident") layer.on("click", function () { window.dmy.wall.openIncident(p.uid); });
      // a function: the words are looked up when the tooltip opens, from the catalog wall.js was sent
      layer.bindTooltip(function () {
        const cat = p.siaga !== undefined ? word("siaga." + p.siaga) : (p.cat || "");
        const value = p.speed !== undefined ? word("wall.speed", {n: p.speed}) : (p.value || "");
        return "<b>" + escape(p.title) + "</b><br>" + escape(cat) + " " + escape(value) +
          "<br>" + escape(p.desa) + " · " + escape(p.time);
      });
    },
    desaStyle: function (feature, context) {
      // over a configured tile layer the boundaries are outlines, so the tiles show through
      const tiles = context && context.hideout && context.hideout.tiles;
      return {color: tiles ? "#1d4f7a" : "#3a5a7a", weight: tiles ? 1.5 : 1, fillColor: "#13202e", fillOpacity: tiles ? 0.05 : 0.55};
    },
    kecamatanStyle: function () {
      return {color: "#7fb3e0", weight: 2.5, fill: false};
    },
    desaLabel: function (feature, layer) {
      label(layer, escape(feature.properties.nama), "desa-label");
    },
    kecamatanLabel: function (feature, layer) {
      // the scenes (assets/scenes.js) fit and move this map: hand it over once it is on one
      layer.once("add", function () { if (window.dmy.scenes) window.dmy.scenes.mapReady(layer._map); });
      label(layer, escape(feature.properties.nama).toUpperCase(), "kecamatan-label");
    },
  };
})();

/* The wall's map data loader. Each source's layer store (layouts/wall.py, updated by the
   poll in callbacks/wall.py) names the URLs of the layer's current version; the features
   are fetched from there (cacheable, gzip) into a copy held here, keyed by uid, and a poll's
   edits of the records that changed are applied to that copy. A body holds the records as
   of the change-stream id `as_of` (or newer than its URL's version): edits not newer than
   that are already in it and skipped, so a record never goes back in time. A layer
   clustered by the server is fetched per viewport: its clusters again whenever the map
   moves. Each source's work runs one job at a time, so its edits apply in the order the
   poll sent them; sources load side by side. */
(function () {
  const held = {};           // source -> {v, tag, mode, pts, shp, urls}; pts/shp: {byUid: Map, asOf}
  let view = null;           // {zoom, bounds: [[south, west], [north, east]]}
  let hooked = false;        // the Leaflet hook at the end reports the wall map's views itself
  const queues = {};          // source -> the promise of its last job
  const RETRIES = 3;

  function later(source, job) {
    queues[source] = (queues[source] || Promise.resolve()).then(job).catch((err) => { console.warn("map data:", err); });
  }

  function show(type, source, features) {
    window.dash_clientside.set_props({type: type, source: source}, {data: {type: "FeatureCollection", features: features}});
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin"}).then((r) => {
      if (!r.ok) throw new Error(r.status + " " + url);
      return r.json();
    });
  }

  // stream ids "ms-seq", compared as numbers
  function newer(a, b) {
    if (!b) return true;
    const [am, as] = a.split("-").map(Number), [bm, bs] = b.split("-").map(Number);
    return am > bm || (am === bm && as > bs);
  }

  function fromBody(body) {
    const byUid = new Map();
    (body.features || []).forEach((f) => byUid.set(f.properties.uid, f));
    return {byUid: byUid, asOf: body.as_of || null};
  }

  // apply the poll's edits ["u", uid, rev, point, shape] / ["d", uid, rev] to one part
  // (`at`: 3 for points, 4 for shapes); true when something shown changed
  function applyOps(copy, ops, at) {
    let changed = false;
    ops.forEach((op) => {
      if (!newer(op[2], copy.asOf)) return;
      const feature = op[0] === "u" ? op[at] : null;
      if (feature) { copy.byUid.set(op[1], feature); changed = true; }
      else if (copy.byUid.delete(op[1])) changed = true;
    });
    return changed;
  }

  // one part at the message's version: [copy, changed]: the held copy edited, or fetched whole
  function part(h, msg, key, urlKey, at) {
    const ops = msg.ops;
    if (urlKey === "shapes" && msg.shapes === 0) {  // nothing to fetch: most layers have no shapes
      const had = !h[key] || h[key].byUid.size > 0;
      return Promise.resolve([{byUid: new Map(), asOf: null}, had]);
    }
    if (ops && h.v === msg.from && h.mode === msg.mode && h[key]) return Promise.resolve([h[key], applyOps(h[key], ops, at)]);
    return getJSON(msg.urls[urlKey]).then((body) => {
      const copy = fromBody(body);
      if (ops) applyOps(copy, ops, at);
      return [copy, true];
    });
  }

  function features(copy) {
    return Array.from(copy.byUid.values());
  }

  function boundsAround(center, zoom) {
    const box = document.getElementById("wall-map");
    const width = (box && box.clientWidth) || 1920, height = (box && box.clientHeight) || 1080;
    const scale = 256 * Math.pow(2, zoom);
    const x = (center[1] + 180) / 360 * scale;
    const sin = Math.sin(center[0] * Math.PI / 180);
    const y = (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale;
    const lon = (px) => px / scale * 360 - 180;
    const lat = (py) => Math.atan(Math.sinh(Math.PI * (1 - 2 * py / scale))) * 180 / Math.PI;
    return [[lat(y + height / 2), lon(x - width / 2)], [lat(y - height / 2), lon(x + width / 2)]];
  }

  function clustersURL(urls) {
    if (!view || !view.bounds) return null;
    const b = view.bounds, pad = 0.2;
    const dy = (b[1][0] - b[0][0]) * pad, dx = (b[1][1] - b[0][1]) * pad;
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v)).toFixed(6);
    const bbox = [clamp(b[0][1] - dx, -180, 179.9), clamp(b[0][0] - dy, -85, 84.9),
                  clamp(b[1][1] + dx, -179.9, 180), clamp(b[1][0] + dy, -84.9, 85)].join(",");
    return urls.clusters + "?z=" + Math.max(0, Math.floor(view.zoom)) + "&bbox=" + bbox;
  }

  // the clusters the viewport shows: null when there is no viewport yet, or when `h` shows
  // this very URL already (the map reports one view several times as it settles)
  function fetchClusters(h, urls) {
    const url = clustersURL(urls);
    if (!url || url === h.clustersShown) return Promise.resolve(null);
    return getJSON(url).then((fc) => ({url: url, features: fc.features}));
  }

  function showClusters(h, source, clusters) {
    h.clustersShown = clusters.url;
    show("cls", source, clusters.features);
  }

  function loadClusters(source) {
    const h = held[source];
    if (!h || h.mode !== "clusters") return Promise.resolve();
    const v = h.v;
    return fetchClusters(h, h.urls).then((clusters) => { if (clusters && held[source].v === v) showClusters(h, source, clusters); });
  }

  function load(source, msg, tries) {
    const h = held[source] || (held[source] = {v: null, tag: null, mode: null, pts: null, shp: null, urls: null});
    if (h.v === msg.v && h.tag === msg.tag && h.mode === msg.mode) return Promise.resolve();
    if (msg.mode === "gone") {
      ["pts", "cls", "shp"].forEach((type) => show(type, source, []));
      Object.assign(h, {v: 0, tag: null, mode: "gone", pts: null, shp: null, urls: null, clustersShown: null});
      return Promise.resolve();
    }
    const wantPoints = msg.mode === "points";
    return Promise.all([part(h, msg, "shp", "shapes", 4), wantPoints ? part(h, msg, "pts", "points", 3) : null,
                        wantPoints ? null : fetchClusters(h, msg.urls)])
      .then(([shp, pts, clusters]) => {
        const before = h.mode;
        Object.assign(h, {v: msg.v, tag: msg.tag, mode: msg.mode, urls: msg.urls, shp: shp[0], pts: pts ? pts[0] : null});
        if (shp[1]) show("shp", source, features(shp[0]));
        if (wantPoints && (pts[1] || before !== "points")) show("pts", source, features(pts[0]));
        else if (!wantPoints && before === "points") show("pts", source, []);
        if (wantPoints && before === "clusters") show("cls", source, []);
        if (wantPoints) h.clustersShown = null;
        if (clusters) showClusters(h, source, clusters);
      })
      .catch((err) => {
        // a failed fetch: keep what is shown, try again a little later (the next poll may also bring a newer version)
        if (tries < RETRIES) setTimeout(() => later(source, () => retry(source, msg, tries + 1)), 2000 * (tries + 1));
        throw err;
      });
  }

  function keyOf(msg) {
    return [msg.mode, msg.v, msg.tag, msg.from].join(":");
  }

  function retry(source, msg, tries) {
    return (held[source] || {}).wanted === keyOf(msg) ? load(source, msg, tries) : Promise.resolve();
  }

  window.dmy.mapdata = {
    // every layer store's message (Dash's pattern-matching input) with its ids
    receive: function (messages, inputs) {
      (messages || []).forEach((msg, i) => {
        const source = inputs && inputs[i] && inputs[i].id.source;
        if (!msg || source === undefined) return;
        const h = held[source] || (held[source] = {v: null, tag: null, mode: null, pts: null, shp: null, urls: null});
        if (h.wanted === keyOf(msg)) return;  // this store did not change
        h.wanted = keyOf(msg);
        later(source, () => load(source, msg, 0));
      });
      return window.dash_clientside.no_update;
    },
    // the map's zoom and bounds; Dash-leaflet sends no bounds until the map first moves, so at
    // start they are worked out from the centre, the zoom and the map's size
    viewport: function (zoom, bounds, center) {
      // the map's own hook below reports its views; Dash's copy of them can lag (at start it is
      // the layout's `bounds`, not the view those bounds give at the screen's size)
      if (hooked || zoom === undefined || zoom === null) return window.dash_clientside.no_update;
      bounds = bounds || (center ? boundsAround(center, zoom) : null);
      if (bounds) setView(zoom, bounds);
      return window.dash_clientside.no_update;
    },
  };

  function setView(zoom, bounds) {
    view = {zoom: zoom, bounds: bounds};
    // queued behind a source's pending load, so a layer still loading gets the new view too
    Object.keys(held).forEach((source) => later(source, () => loadClusters(source)));
  }

  // The wall's Leaflet map tells its view here as soon as it has one and whenever it settles,
  // without waiting for Dash to carry its zoom and bounds to the callback above (at start that
  // wait held a large layer's first clusters back by half a second behind the page's callbacks).
  if (window.L && window.L.Map) {
    window.L.Map.addInitHook(function () {
      const map = this;
      const here = () => {
        const box = map.getContainer();
        if (!box || box.id !== "wall-map" || !box.offsetWidth) return;
        hooked = true;
        const b = map.getBounds();
        setView(map.getZoom(), [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]]);
      };
      map.whenReady(here);
      map.on("moveend", here);
    });
  }
})();
