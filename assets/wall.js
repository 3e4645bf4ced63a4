/* The wall's browser side: ages and the clock every second, from the times and the
   staleness verdicts the server sent (engine/source_health.py decides what is stale);
   live incident-list transactions. Every word comes from the catalog the server sends. */
window.dmy = window.dmy || {};
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
(function () {
  const WITA_MS = 8 * 3600 * 1000;
  let messages = {};

  function m(key, values) {
    let text = messages[key] || (window.dmy.messages || {})[key] || key.split(".").pop();
    Object.entries(values || {}).forEach(([k, v]) => { text = text.replace("{" + k + "}", v); });
    return text;
  }

  function age(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return m("age.seconds", {n: seconds});
    if (seconds < 3600) return m("age.minutes", {n: Math.floor(seconds / 60)});
    if (seconds < 86400) return m("age.hours", {n: Math.floor(seconds / 3600)});
    return m("age.days", {n: Math.floor(seconds / 86400)});
  }

  function witaTime(date, withSeconds) {
    const d = new Date(date.getTime() + WITA_MS);
    const pad = (n) => String(n).padStart(2, "0");
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + (withSeconds ? ":" + pad(d.getUTCSeconds()) : "");
  }

  function witaDate(date) {
    const d = new Date(date.getTime() + WITA_MS);
    const pad = (n) => String(n).padStart(2, "0");
    return pad(d.getUTCDate()) + "/" + pad(d.getUTCMonth() + 1) + "/" + d.getUTCFullYear();
  }

  /* What a source's chip and the tiles resting on it say, from the server's verdict. */
  function sourceState(h, now) {
    if (!h) return {stale: false, age: null, since: null, waiting: true, failingSince: null};
    const since = h.last_success ? new Date(h.last_success) : null;
    return {
      stale: !!h.stale, waiting: !!h.waiting, since: since, age: since ? (now - since) / 1000 : null,
      failingSince: h.stale && !since && h.failing_since ? new Date(h.failing_since) : null,
    };
  }

  function span(cls, text) {
    return {type: "Span", namespace: "dash_html_components", props: {className: cls, children: text}};
  }

  function tileParts(tile) {
    if (!tile.parts || !tile.parts.length) return tile.detail || "";
    const parts = tile.parts.map((p) => span("part " + (p.cls || ""), p.label + " " + p.value));
    return tile.detail ? [span("part-label", tile.detail), ...parts] : parts;
  }

  window.dmy.wall = {
    tick: function (tiles, healthData, msgs) {
      messages = (msgs && msgs.m) || messages;
      window.dmy.messages = messages;
      const ctx = window.dash_clientside.callback_context;
      const outs = ctx.outputs_list;
      const now = new Date();
      const health = (healthData && healthData.sources) || {};
      const byKey = {};
      ((tiles && tiles.tiles) || []).forEach((t) => { byKey[t.key] = t; });
      const headlines = (tiles && tiles.headlines) || {};
      const values = [], details = [], ages = [], classes = [];
      outs[0].forEach((o) => {
        const tile = byKey[o.id.key] || {sources: []};
        const states = (tile.sources || []).map((s) => sourceState(health[s], now));
        const has = tile.value !== null && tile.value !== undefined;
        values.push(has ? String(tile.value) : "—");
        details.push(tileParts(tile));
        let ageText, stale = false;
        if (!tile.sources || !tile.sources.length) {
          ageText = m("wall.tile.no_source");
        } else if (states.some((s) => s.stale)) {
          stale = true;
          const since = states.filter((s) => s.since).map((s) => s.since).sort((a, b) => a - b)[0];
          ageText = since ? m("stale.since", {time: witaTime(since)}) : m("wall.sources.waiting");
        } else {
          const oldest = Math.max(...states.map((s) => s.age || 0));
          ageText = age(oldest);
        }
        ages.push(ageText);
        classes.push("tile level-" + (tile.level || "normal") + (stale ? " stale" : "") + (has ? "" : " empty"));
      });
      const chips = [];
      let failing = 0, okCount = 0;
      Object.entries(health).forEach(([name, h]) => {
        const s = sourceState(h, now);
        if (s.stale) failing += 1; else if (!s.waiting) okCount += 1;
        const label = s.waiting && !s.stale ? m("wall.sources.waiting")
          : s.failingSince ? m("stale.failing", {time: witaTime(s.failingSince)})
          : s.stale ? m("stale.since", {time: s.since ? witaTime(s.since) : "—"}) : age(s.age);
        const head = headlines[name];
        const parts = [span("chip-title", h.title || name)];
        if (head) parts.push(span("chip-value level-" + head.level, head.value + " " + head.label));
        parts.push(span("chip-age", label));
        chips.push({type: "Span", namespace: "dash_html_components",
                    props: {className: "chip " + (s.stale ? "chip-stale" : s.waiting ? "chip-waiting" : "chip-ok"), children: parts}});
      });
      const summary = [span("ok", okCount + " " + m("wall.sources.ok")), failing ? span("bad", failing + " " + m("wall.sources.failing")) : null]
        .concat(((healthData && healthData.parts) || []).map((note) => span("bad part-down", note)))
        .filter(Boolean);
      const clock = m("wall.clock", {date: witaDate(now), time: witaTime(now, true)});
      // refresh the incident list's age column once every 10 s
      if (now.getSeconds() % 10 === 0 && window.dash_ag_grid) {
        const api = window.dash_ag_grid.getApi ? safeApi("wall-incidents") : null;
        if (api) api.refreshCells({columns: ["age"], force: true});
      }
      return [values, details, ages, classes, chips, summary, clock];
    },

    // a person who may open /insiden (#wall.links, layouts/wall.py) opens an incident from the
    // list or the map in a tab of its own; on a wall screen nothing happens
    openIncident: function (uid) {
      const wall = document.getElementById("wall");
      if (uid && wall && wall.classList.contains("links")) {
        window.open("/insiden?uid=" + encodeURIComponent(uid).replace(/%3A/g, ":"), "_blank", "noopener");
      }
      return window.dash_clientside.no_update;
    },

    applyGridChanges: function (changes) {
      const nu = window.dash_clientside.no_update;
      if (!changes) return nu;
      const api = safeApi("wall-incidents");
      if (!api) return nu;
      if (changes.full) {
        api.setGridOption("rowData", changes.full);
        return nu;
      }
      const add = [], update = [];
      (changes.upsert || []).forEach((row) => { (api.getRowNode(row.uid) ? update : add).push(row); });
      const remove = (changes.remove || []).filter((uid) => api.getRowNode(uid)).map((uid) => ({uid: uid}));
      api.applyTransaction({add: add, update: update, remove: remove});
      // keep the list bounded: drop the oldest rows beyond the configured size
      const limit = changes.limit || 200;
      const rows = [];
      api.forEachNode((n) => rows.push(n.data));
      if (rows.length > limit) {
        rows.sort((a, b) => b.ts - a.ts);
        api.applyTransaction({remove: rows.slice(limit).map((r) => ({uid: r.uid}))});
      }
      return nu;
    },
  };

  function safeApi(id) {
    try { return window.dash_ag_grid.getApi(id); } catch (e) { return null; }
  }

  Object.assign(window.dashAgGridFunctions, {
    dmyAge: function (ts) { return ts ? age(Date.now() / 1000 - ts) : ""; },
    dmyAgeIso: function (iso) { return iso ? age((Date.now() - new Date(iso).getTime()) / 1000) : "—"; },
    dmyLabel: function (key) { return m(key); },
    dmyPlace: function (desa, row) { return desa || m(row && row.outside ? "wall.place.outside" : "wall.place.unknown"); },
    dmyByTs: function (a, b, nodeA, nodeB) { return nodeA.data.ts - nodeB.data.ts; },
  });
})();
