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
      const leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
      const counts = [0, 0, 0, 0, 0];
      leaves.forEach((l) => { counts[Math.min(4, l.properties.rank || 0)] += 1; });
      let start = 0, stops = [];
      for (let r = 4; r >= 0; r--) {
        if (!counts[r]) continue;
        const end = start + (counts[r] / leaves.length) * 360;
        stops.push(colours().rank[r] + " " + start + "deg " + end + "deg");
        start = end;
      }
      const size = 34 + Math.min(26, Math.log2(leaves.length) * 5);
      const html = '<div class="cluster-ring" style="width:' + size + "px;height:" + size +
        "px;background:conic-gradient(" + stops.join(",") + ')"><span>' + feature.properties.point_count + "</span></div>";
      return L.marker(latlng, {icon: L.divIcon({html: html, className: "cluster-icon", iconSize: L.point(size, size)})});
    },
    shapeStyle: function (feature) {
      const c = colour(feature.properties);
      const line = feature.geometry.type.indexOf("LineString") >= 0;
      return {color: c, weight: line ? 7 : 2, opacity: 0.9, fillColor: c, fillOpacity: line ? 0 : 0.25};
    },
    bindPopup: function (feature, layer) {
      const p = feature.properties;
      if (!p || !p.title) return;
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
      layer.bindTooltip(escape(feature.properties.nama), {permanent: true, direction: "center", className: "desa-label"});
    },
    kecamatanLabel: function (feature, layer) {
      // the scenes (assets/scenes.js) fit and move this map: hand it over once it is on one
      layer.once("add", function () { if (window.dmy.scenes) window.dmy.scenes.mapReady(layer._map); });
      layer.bindTooltip(escape(feature.properties.nama).toUpperCase(), {permanent: true, direction: "center", className: "kecamatan-label", offset: [0, -24]});
    },
  };
})();
