/* The wall's scenes in the browser: which panels show, which map layers, where the map
   looks; a playlist's rotation; event mode (the scene an alarm calls up, decided by the
   server in the `wall-event` store); the camera grid, price list and gauges chart; lists
   that scroll by themselves; sizes that follow the screen (1080p to 4K). Every word
   comes from the catalog the server sends; text is never written as HTML. */
window.dmy = window.dmy || {};
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
(function () {
  const state = {
    data: null, event: null, home: [], step: 0, timer: null,
    shown: null, bounds: null, categories: null, map: null,
  };
  const BASE_ROW = 38, BASE_HEADER = 36, BASE_REM = 16;

  // ---- the Leaflet map ---------------------------------------------------------------
  function mapReady(map) {
    if (!map || state.map === map) return;
    state.map = map;
    setTimeout(fit, 0);
  }

  function fit() {
    const map = state.map;
    if (!map || !map.getContainer().offsetWidth) return;
    map.invalidateSize(false);
    const b = state.bounds || (state.data && state.data.city);
    if (b) map.fitBounds(b, {padding: [8, 8], animate: false});
  }

  let firstOverlays = null;  // as the page came (`?layers=` may have left some out): a scene of all layers keeps them
  function setOverlays(flags) {
    const inputs = Array.from(document.querySelectorAll(".wall-map .leaflet-control-layers-overlays input"));
    if (!inputs.length) return;
    if (!firstOverlays) firstOverlays = inputs.map((input) => input.checked);
    const wanted = flags || firstOverlays;
    inputs.forEach((input, i) => {
      const want = !!wanted[i];
      if (input.checked !== want) input.click();  // Leaflet's layer control adds or removes the group
    });
  }

  // ---- scenes --------------------------------------------------------------------------
  function apply(name, bounds) {
    const scenes = (state.data && state.data.scenes) || {};
    const scene = scenes[name];
    if (!scene) return;
    const main = document.getElementById("wall-main");
    if (!main) return;
    const target = bounds || scene.bounds;
    const changed = state.shown !== name || JSON.stringify(state.bounds) !== JSON.stringify(target);
    if (!changed) return;  // the same scene: leave the map where it is
    state.shown = name;
    main.className = "wall-main " + scene.panels.map((p) => "show-" + p).join(" ");
    main.setAttribute("data-scene", name);
    state.bounds = target;
    state.categories = scene.categories && scene.categories.length ? new Set(scene.categories) : null;
    setOverlays(scene.overlays);
    const api = gridApi();
    if (api) api.onFilterChanged();
    scrollStates.clear();
    setTimeout(fit, 0);
  }

  function homeStep() {
    const step = state.home[state.step % Math.max(1, state.home.length)];
    return step ? step[0] : "overview";
  }

  function rotate() {
    clearTimeout(state.timer);
    if (state.home.length < 2) return;
    const seconds = state.home[state.step % state.home.length][1] || 30;
    state.timer = setTimeout(function () {
      state.step = (state.step + 1) % state.home.length;
      if (!state.event) apply(homeStep());
      rotate();
    }, seconds * 1000);
  }

  function update(event, data) {
    if (data && data !== state.data) {
      const first = !state.data;
      state.data = data;
      state.home = data.home || [];
      if (first) { state.step = 0; rotate(); }
    }
    const scenes = (state.data && state.data.scenes) || {};
    state.event = event && scenes[event.scene] ? event : null;
    if (state.event) apply(state.event.scene, state.event.bounds);
    else apply(homeStep());
    return state.shown;
  }

  // ---- the incident list: only a scene's categories, rows that grow with the screen ---
  function gridApi() {
    try { return window.dash_ag_grid && window.dash_ag_grid.getApi("wall-incidents"); } catch (e) { return null; }
  }

  function rem() {
    return parseFloat(getComputedStyle(document.documentElement).fontSize) || BASE_REM;
  }

  function sizeGrid() {
    const api = gridApi();
    if (!api) return false;
    const scale = rem() / BASE_REM;
    api.setGridOption("rowHeight", Math.round(BASE_ROW * scale));
    api.setGridOption("headerHeight", Math.round(BASE_HEADER * scale));
    api.resetRowHeights();
    return true;
  }

  Object.assign(window.dashAgGridFunctions, {
    dmySceneFilterOn: function () { return !!state.categories; },
    dmySceneFilterPass: function (params) { return !state.categories || state.categories.has(params.data.cat); },
  });

  // ---- lists that scroll by themselves (nobody touches a wall) --------------------------
  const scrollStates = new Map();
  const PAUSE_MS = 4000, TICK_MS = 50, SPEED = 15;  // px per second at 1080p

  function scrollers() {
    const main = document.getElementById("wall-main");
    if (!main) return [];
    return Array.from(main.querySelectorAll(".autoscroll, .panel-incidents .ag-body-viewport"))
      .filter((el) => el.offsetParent !== null && el.scrollHeight > el.clientHeight + 2);
  }

  let lastTick = Date.now();
  function scrollTick() {
    const now = Date.now();
    const dt = Math.min(1000, now - lastTick);
    lastTick = now;
    const step = rem() / BASE_REM * SPEED * dt / 1000;  // by the clock: a busy page scrolls as fast
    scrollers().forEach((el) => {
      let s = scrollStates.get(el);
      if (!s) { s = {pos: el.scrollTop, until: now + PAUSE_MS, top: true}; scrollStates.set(el, s); }
      if (now < s.until) return;
      if (s.top === false && el.scrollTop + el.clientHeight >= el.scrollHeight - 1) {  // at the end: pause, then back to the top
        el.scrollTop = 0; s.pos = 0; s.top = true; s.until = now + PAUSE_MS;
        return;
      }
      s.top = false;
      s.pos += step;
      el.scrollTop = s.pos;
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) s.until = now + PAUSE_MS;
    });
  }

  // ---- panels: camera grid, prices, gauges ---------------------------------------------
  let messages = {};
  function m(key, values) {
    let text = messages[key] || key.split(".").pop();
    Object.entries(values || {}).forEach(([k, v]) => { text = text.replace("{" + k + "}", v); });
    return text;
  }

  function el(type, className, children, extra) {
    return {type: type, namespace: "dash_html_components", props: Object.assign({className: className, children: children}, extra || {})};
  }

  function age(ts) {
    if (!ts) return "";
    const s = Math.max(0, Math.floor(Date.now() / 1000 - ts));
    if (s < 60) return m("age.seconds", {n: s});
    if (s < 3600) return m("age.minutes", {n: Math.floor(s / 60)});
    if (s < 86400) return m("age.hours", {n: Math.floor(s / 3600)});
    return m("age.days", {n: Math.floor(s / 86400)});
  }

  function cameraCard(c) {
    const stateWord = !c.known ? m("wall.scene.cam.unknown") : c.online ? m("wall.scene.cam.online") : m("wall.scene.cam.offline");
    const parts = [el("Div", "cam-name", c.name), el("Div", "cam-place", c.place || "")];
    if (c.snapshot) parts.push(el("Img", "cam-snapshot", null, {src: c.snapshot, alt: ""}));
    parts.push(el("Div", "cam-foot", [
      el("Span", "cam-state", stateWord),
      c.link ? el("A", "cam-link", m("wall.scene.cam.stream"), {href: c.link, target: "_blank", rel: "noopener noreferrer"}) : null,
      el("Span", "cam-age", age(c.ts)),
    ].filter(Boolean)));
    return el("Div", "cam-card " + (c.online ? "cam-online" : "cam-offline"), parts, {key: c.uid});
  }

  function priceRow(p) {
    const pct = p.pct === null || p.pct === undefined ? "—" : (p.pct > 0 ? "+" : "") + p.pct.toFixed(1) + "%";
    const level = p.pct === null || p.pct === undefined ? "" : Math.abs(p.pct) >= 5 ? " level-high" : Math.abs(p.pct) >= 2 ? " level-medium" : "";
    return el("Div", "price-row", [
      el("Span", "price-commodity", p.commodity),
      el("Span", "price-market", p.market),
      el("Span", "price-value", Math.round(p.value).toLocaleString("id-ID") + (p.unit ? " /" + p.unit : "")),
      el("Span", "price-change" + level, pct),
    ], {key: p.commodity + "|" + p.market});
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  const LINE_VARS = ["--chart-bar", "--sev-medium", "--ok", "--position", "--sev-high", "--sev-low", "--chart-area"];
  const LEVEL_VARS = ["--ok", "--sev-medium", "--sev-high", "--sev-critical", "--sev-critical"];

  let drawn = {lines: null, w: 0, h: 0};
  function drawGauges(lines) {
    const canvas = document.getElementById("wall-gauge-chart");
    if (!canvas || !canvas.parentElement || canvas.offsetParent === null) return;
    const box = canvas.parentElement;
    const ratio = window.devicePixelRatio || 1;
    const w = box.clientWidth, h = box.clientHeight;
    if (drawn.lines === lines && drawn.w === w && drawn.h === h) return;  // the same picture
    drawn = {lines: lines, w: w, h: h};
    canvas.width = Math.max(1, Math.round(w * ratio));
    canvas.height = Math.max(1, Math.round(h * ratio));
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pts = (lines || []).flatMap((l) => l.points);
    if (!pts.length) return;
    const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 60);
    const vmax = Math.max(...pts.map((p) => p[1]), 1) * 1.1;
    const fontPx = rem() * 0.8, pad = fontPx * 3;
    const x = (t) => pad + (t - t0) / (t1 - t0) * (w - pad * 1.5);
    const y = (v) => h - pad * 0.8 - v / vmax * (h - pad * 1.4);
    ctx.strokeStyle = cssVar("--chart-grid"); ctx.fillStyle = cssVar("--muted"); ctx.lineWidth = 1;
    ctx.font = fontPx + "px sans-serif";
    [0, 0.5, 1].forEach((f) => {
      const v = vmax / 1.1 * f;
      ctx.beginPath(); ctx.moveTo(pad, y(v)); ctx.lineTo(w - pad * 0.5, y(v)); ctx.stroke();
      ctx.fillText(Math.round(v) + "", 2, y(v) + fontPx / 3);
    });
    ctx.lineWidth = Math.max(2, rem() / 6);
    lines.forEach((l, i) => {
      ctx.strokeStyle = cssVar(LINE_VARS[i % LINE_VARS.length]);
      ctx.beginPath();
      l.points.forEach((p, j) => { if (j) ctx.lineTo(x(p[0]), y(p[1])); else ctx.moveTo(x(p[0]), y(p[1])); });
      ctx.stroke();
    });
  }

  function gaugeLegend(lines) {
    return (lines || []).map((l, i) => {
      const last = l.points.length ? l.points[l.points.length - 1][1] : null;
      return el("Span", "gauge-item", [
        el("Span", "gauge-swatch line-" + (i % LINE_VARS.length), ""),
        el("Span", "gauge-name", l.name + " "),
        el("Span", "gauge-value level-" + Math.min(l.level, 3), (last === null ? "—" : Math.round(last) + " " + l.unit) + " · " + m("siaga." + Math.min(l.level, 3))),
      ], {key: l.uid});
    });
  }

  let lastGauges = null, lastPrices = null, lastCams = null, camsDrawnAt = 0;
  function panels(data, msgs) {
    messages = (msgs && msgs.m) || messages;
    const nu = window.dash_clientside.no_update;
    if (!data) return [nu, nu, nu];
    const main = document.getElementById("wall-main");
    const visible = (p) => main && main.classList.contains("show-" + p);
    const now = Date.now();
    let cams = nu, prices = nu;
    // cards again when the data changed, when shown anew, and every 10 s for their ages
    if (data.cctv && visible("cctv") && (data.cctv !== lastCams || now - camsDrawnAt >= 10000)) {
      lastCams = data.cctv; camsDrawnAt = now;
      cams = data.cctv.length ? data.cctv.map(cameraCard) : el("Div", "panel-empty", m("wall.scene.none"));
    } else if (!visible("cctv")) camsDrawnAt = 0;
    if (data.prices && visible("prices") && data.prices !== lastPrices) {
      lastPrices = data.prices;
      prices = data.prices.length ? data.prices.map(priceRow) : el("Div", "panel-empty", m("wall.scene.none"));
    }
    let legend = nu;
    if (data.gauges && visible("gauges")) {
      if (data.gauges !== lastGauges) { lastGauges = data.gauges; legend = gaugeLegend(data.gauges); }
      drawGauges(data.gauges);
    }
    return [cams, prices, legend];
  }

  // ---- sizes that follow the screen -------------------------------------------------------
  let resizeTimer = null;
  function onResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { fit(); sizeGrid(); if (lastGauges) drawGauges(lastGauges); }, 150);
  }

  if (window.L && window.L.Map) window.L.Map.addInitHook(function () { mapReady(this); });
  window.addEventListener("resize", onResize);
  setInterval(scrollTick, TICK_MS);
  // the grid appears after the first render: size its rows once it is there
  let tries = 0;
  const sizer = setInterval(function () { if (sizeGrid() || ++tries > 120) clearInterval(sizer); }, 250);

  window.dmy.scenes = {
    update: update, panels: panels, mapReady: mapReady, fit: fit,
    current: function () { return {scene: state.shown, event: state.event, bounds: state.bounds}; },
    map: function () { return state.map; },
  };
})();
