/* The wall on an alarm: the banner (an ARIA live region), the flashing tile, the pulsing
   marker and a tone by level that repeats until the alarm is acknowledged or resolved.
   Everything is redrawn from the wall-alarms store the server fills (callbacks/wall_alarms.py):
   an alarm that is no longer firing there stops flashing and sounding at the next tick.
   Words come from the wall-alarm-words store; colours from style.css through alarms.css. */
window.dmy = window.dmy || {};
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
(function () {
  const LEVELS = ["info", "warning", "critical"];
  const BANNER_ROWS = 3;
  const BLOCKED_AFTER_MS = 1500;  // a context the browser lets run is running by then
  // critical: an urgent two-tone; warning: a softer falling pair; info: no sound
  const TONES = {
    critical: {every: 4000, type: "square", gain: 0.3,
               notes: [[880, 0, 0.18], [660, 0.22, 0.18], [880, 0.44, 0.18], [660, 0.66, 0.18]]},
    warning: {every: 8000, type: "sine", gain: 0.15, notes: [[587, 0, 0.25], [440, 0.32, 0.35]]},
  };

  let words = {};
  let ops = {};
  let lastData = null;
  let audio = null, audioSince = 0, audioMissing = false;
  let playing = [];  // oscillators of the tone being played
  let lastTone = {level: null, at: 0};
  let tonesPlayed = 0;

  function w(key, values) {
    let text = words[key] || key.split(".").pop();
    Object.entries(values || {}).forEach(([k, v]) => { text = text.replace("{" + k + "}", v); });
    return text;
  }

  function age(seconds) {
    const m = (window.dmy.messages || {});
    const say = (key, n) => (m[key] || "{n}").replace("{n}", n);
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return say("age.seconds", seconds);
    if (seconds < 3600) return say("age.minutes", Math.floor(seconds / 60));
    if (seconds < 86400) return say("age.hours", Math.floor(seconds / 3600));
    return say("age.days", Math.floor(seconds / 86400));
  }

  function ringSize() {
    return Math.round(3 * (parseFloat(getComputedStyle(document.documentElement).fontSize) || 16));
  }

  function level(value) {
    return LEVELS.indexOf(value) >= 0 ? value : "info";
  }

  function el(type, cls, children, extra) {
    return {type: type, namespace: "dash_html_components", props: Object.assign({className: cls, children: children}, extra || {})};
  }

  function firing(data) {
    return ((data && data.alarms) || []).filter((a) => a.state === "firing");
  }

  // ---- sound ------------------------------------------------------------------------------
  function context() {
    if (audio || audioMissing) return audio;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) { audioMissing = true; return null; }
    audio = new AC();
    audioSince = Date.now();
    if (audio.state !== "running") audio.resume().catch(() => {});
    return audio;
  }

  function resumeOnGesture() {
    if (audio && audio.state !== "running") audio.resume().catch(() => {});
  }
  ["pointerdown", "keydown", "touchstart"].forEach((e) => window.addEventListener(e, resumeOnGesture, true));

  function stopTone() {
    playing.forEach((o) => { try { o.stop(); } catch (e) { /* already ended */ } });
    playing = [];
  }

  function playTone(tone) {
    const ctx = context();
    if (!ctx || ctx.state !== "running") return false;
    const t0 = ctx.currentTime + 0.02;
    tone.notes.forEach(([freq, start, length]) => {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.type = tone.type;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0, t0 + start);
      gain.gain.linearRampToValueAtTime(tone.gain, t0 + start + 0.02);
      gain.gain.setValueAtTime(tone.gain, t0 + start + length - 0.03);
      gain.gain.linearRampToValueAtTime(0, t0 + start + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + start);
      osc.stop(t0 + start + length + 0.01);
      osc.onended = () => { playing = playing.filter((o) => o !== osc); };
      playing.push(osc);
    });
    tonesPlayed += 1;
    return true;
  }

  /* The loudest firing, non-silent alarm decides the tone; none: silence at once. */
  function sound(alarms) {
    const loud = alarms.filter((a) => !a.silent && TONES[a.level]).map((a) => a.level);
    const wanted = loud.indexOf("critical") >= 0 ? "critical" : loud.length ? "warning" : null;
    if (!wanted) {
      if (lastTone.level) stopTone();
      lastTone = {level: null, at: 0};
      return;
    }
    const now = Date.now();
    if (wanted !== lastTone.level || now - lastTone.at >= TONES[wanted].every) {
      if (playTone(TONES[wanted])) lastTone = {level: wanted, at: now};
      else lastTone = {level: null, at: 0};  // blocked: try again next tick
    }
  }

  function soundNotice() {
    const ctx = context();
    if (!ctx) return [w("wall.alarm.no_audio"), "sound-notice blocked"];
    if (ctx.state !== "running" && Date.now() - audioSince >= BLOCKED_AFTER_MS) {
      return [w("wall.alarm.sound_blocked"), "sound-notice blocked"];
    }
    return ["", "sound-notice quiet"];
  }

  // ---- tiles and the list -----------------------------------------------------------------
  function flashTiles(alarms) {
    const worst = {};
    alarms.forEach((a) => (a.tiles || []).forEach((key) => {
      if (!worst[key] || LEVELS.indexOf(level(a.level)) > LEVELS.indexOf(worst[key])) worst[key] = level(a.level);
    }));
    document.querySelectorAll(".tiles > .tile").forEach((tile) => {
      let key = null;
      try { key = JSON.parse(tile.id).key; } catch (e) { return; }
      // an attribute React does not own, so the tick's className output leaves it alone
      if (worst[key]) tile.setAttribute("data-alarm", worst[key]);
      else tile.removeAttribute("data-alarm");
    });
  }

  function refreshList() {
    try {
      const api = window.dash_ag_grid && window.dash_ag_grid.getApi("wall-incidents");
      if (api) api.refreshCells({columns: ["owner", "ack"], force: true});
    } catch (e) { /* the grid is not drawn yet: its cells read the overlays when it is */ }
  }

  // ---- the banner -------------------------------------------------------------------------
  function bannerRow(a, now) {
    const lv = level(a.level);
    const since = a.first_fired ? (now - new Date(a.first_fired).getTime()) / 1000 : 0;
    const parts = [el("Span", "alarm-level", w("alarm.level." + lv)), el("Span", "alarm-message", a.message)];
    if (a.count > 1) parts.push(el("Span", "alarm-count", w("wall.alarm.count", {n: a.count})));
    if (a.silent) parts.push(el("Span", "alarm-silent", w("wall.alarm.silent")));
    // the age changes every second: hidden from the live region so it is announced once
    parts.push(el("Span", "alarm-age", w("wall.alarm.since", {age: age(since)}), {"aria-hidden": "true"}));
    return el("Div", "alarm-row level-" + lv, parts, {"data-uid": a.uid, "data-alarm-id": String(a.id)});
  }

  function banner(alarms) {
    if (!alarms.length) return [null, "alarm-banner quiet"];
    const now = Date.now();
    const rows = alarms.slice(0, BANNER_ROWS).map((a) => bannerRow(a, now));
    if (alarms.length > BANNER_ROWS) rows.push(el("Div", "alarm-more", w("wall.alarm.more", {n: alarms.length - BANNER_ROWS})));
    return [rows, "alarm-banner active level-" + level(alarms[0].level)];
  }

  function escape(s) {
    return String(s || "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  window.dmy.alarms = {
    /* Every tick and every new store: banner, notice; and, as side effects, tiles and tone. */
    render: function (data, alarmWords) {
      words = alarmWords || words;
      if (data !== lastData) {
        lastData = data;
        ops = (data && data.ops) || {};
        refreshList();
      }
      const now = firing(data);
      flashTiles(now);
      sound(now);
      const [rows, cls] = banner(now);
      const [notice, noticeCls] = soundNotice();
      return [rows, cls, notice, noticeCls];
    },

    pulseLayer: function (data) {
      const features = firing(data).filter((a) => a.position).map((a) => ({
        type: "Feature", geometry: {type: "Point", coordinates: [a.position[1], a.position[0]]},
        properties: {uid: a.uid, level: level(a.level)},
      }));
      return {type: "FeatureCollection", features: features};
    },

    pulseMarker: function (feature, latlng, context) {
      const p = feature.properties;
      const pane = (context && context.hideout && context.hideout.pane) || "markerPane";
      const html = '<span class="dmy-pulse-ring" data-uid="' + escape(p.uid) + '"></span>';
      return L.marker(latlng, {pane: pane, interactive: false, keyboard: false,
        icon: L.divIcon({html: html, className: "dmy-pulse level-" + level(p.level), iconSize: L.point(ringSize(), ringSize())})});
    },

    /* For tests and the kiosk's own checks: what the wall is doing about alarms. */
    status: function () {
      const ctx = context();
      return {audio: ctx ? ctx.state : "unsupported", sounding: lastTone.level, tones: tonesPlayed,
              firing: firing(lastData).map((a) => a.uid)};
    },
  };

  Object.assign(window.dashAgGridFunctions, {
    // the agency's short id (DAMKAR) on the list, read from 5 m; its full name in the tooltip
    dmyOwner: function (row) {
      const o = row && ops[row.uid];
      if (!o) return "";
      return [o.agency_id ? String(o.agency_id).toUpperCase() : null, o.owner].filter(Boolean).join(" · ");
    },
    dmyOwnerFull: function (row) {
      const o = row && ops[row.uid];
      if (!o) return "";
      return [o.agency, o.unit, o.owner].filter(Boolean).join(" · ");
    },
    dmyAck: function (row) {
      const o = row && ops[row.uid];
      return o && o.ack_by ? "✓ " + o.ack_by : "";
    },
  });

  context();  // at load: a kiosk started to allow sound is ready before the first alarm
})();
