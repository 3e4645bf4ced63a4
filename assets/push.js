/* The wall's push: an EventSource to the push process tells the wall the moment the live
   store changes. A `change` event carries the wall poll's answer, computed once by the
   push process for every screen holding the state it starts `from` (push/fanout.py): the
   wall applies it through Dash's set_props, as the renderer applies the poll's answer
   (stores, patches; the same clientside callbacks then run), when its own state is that
   state and no poll of its own is on the way. Otherwise, and on any doubt, the change only
   wakes the wall's poll callback, whose answer comes through Dash's own request (its CSRF
   header, its role checks). A plain wake (`data: {n, v}`) always polls.

   While the stream is open the poll interval is slowed to a safety poll (a quiet
   screen never freezes); when the stream fails the screen polls at the configured
   interval by itself and reconnects with exponential backoff and jitter.
   Configured by the wall's `push` store: {url, token, poll_ms, safety_ms, min_backoff_ms,
   max_backoff_ms, page_id, poll_id, wake_id, screen}. window.dmy.push.status() tells a test where it is. */
window.dmy = window.dmy || {};
(function () {
  let cfg = null;
  let source = null;       // the open EventSource, if any
  let timer = null;        // the pending reconnect
  let mode = "polling";    // "push" while a stream is open
  let attempt = 0;         // failed connects since the last success
  let wakes = 0;           // wakes handed to Dash (the wake store's counter)
  let connects = 0;
  let applied = 0;         // changes applied from the stream, without a poll
  const POLL_OUTPUT = "wall-state.data";  // the wall poll callback's outputs name this one

  /* The Dash store: what the page holds, and the callbacks on the way (renderer internals, so
     every use is guarded: when they are not as expected the wall polls). */
  function dashState() {
    const stores = window.dash_stores;
    return stores && stores.length === 1 && stores[0].getState ? stores[0].getState() : null;
  }

  function wallState(st) {
    const path = st && st.paths && st.paths.strs && st.paths.strs["wall-state"];
    if (!path) return undefined;
    let node = st.layout;
    for (let i = 0; i < path.length && node; i++) node = node[path[i]];
    return node && node.props ? node.props.data : undefined;
  }

  function pollOnTheWay(st) {
    const cbs = st && st.callbacks;
    if (!cbs) return true;
    return ["requested", "prioritized", "blocked", "executing", "watched", "executed"].some(function (list) {
      return !Array.isArray(cbs[list]) || cbs[list].some(function (cb) {
        return !cb || !cb.callback || String(cb.callback.output).indexOf(POLL_OUTPUT) >= 0;
      });
    });
  }

  function same(a, b) {
    if (a === b) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every(function (k) { return Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k]); });
  }

  function streamId(value) {
    const parts = String(value || "0-0").split("-");
    return [Number(parts[0]) || 0, Number(parts[1]) || 0];
  }

  function streamAtLeast(a, b) {
    const x = streamId(a), y = streamId(b);
    return x[0] > y[0] || (x[0] === y[0] && x[1] >= y[1]);
  }

  function withoutStream(state) {
    const copy = Object.assign({}, state);
    delete copy.screen;
    delete copy.stream;
    return copy;
  }

  /* This wall holds `state`: every field equal but the change stream's position, where it may be
     ahead (its own poll read a change the versions it read did not count yet; the rows a change
     sends are upserts, so taking them again changes nothing). */
  function holds(st, state) {
    const own = wallState(st);
    return !!own && !!state && same(withoutStream(own), withoutStream(state)) && streamAtLeast(own.stream, state.stream);
  }

  function exists(st, id) {
    const keys = Object.keys(id).sort();
    const byKeys = st.paths.objs && st.paths.objs[keys.join(",")];
    return !!byKeys && byKeys.some(function (entry) {
      return entry.values && entry.values.length === keys.length && keys.every(function (k, i) { return entry.values[i] === id[k]; });
    });
  }

  /* Apply a fanned-out change when this wall holds its `from` state; false: poll instead. */
  function applyChange(st, change) {
    if (!change || !change.to) return false;
    if (holds(st, change.to)) return true;  // a poll of its own already brought it here
    if (!holds(st, change.from)) return false;
    const out = change.out || {};
    const set = window.dash_clientside.set_props;
    const screen = wallState(st).screen;
    Object.entries(out.layers || {}).forEach(function ([source, message]) {
      const id = {type: "layer", source: source};  // assets/map.js fetches or edits the layer from it
      if (message && exists(st, id)) set(id, {data: message});
    });
    if (out.tiles !== undefined) set("wall-tiles", {data: out.tiles});
    if (out.health !== undefined) set("wall-health", {data: out.health});
    if (out.grid !== undefined) set("wall-grid-changes", {data: out.grid});
    const stream = streamAtLeast(wallState(st).stream, change.to.stream) ? wallState(st).stream : change.to.stream;
    set("wall-state", {data: Object.assign({}, change.to, {screen: screen, stream: stream})});
    applied += 1;
    return true;
  }

  /* Changes wait while a poll of this wall is on the way (its answer may already hold them,
     or may start from before them); they are taken in order once it is answered. */
  let waiting = [];
  let unsubscribe = null;
  let waitingSince = 0;
  const MAX_WAIT_MS = 10000;

  function takeChanges() {
    const st = dashState();
    if (!st) { waiting = []; wake("push"); return; }
    if (pollOnTheWay(st)) {
      if (Date.now() - waitingSince > MAX_WAIT_MS) { waiting = []; wake("push"); return; }  // on doubt: poll
      if (!unsubscribe && window.dash_stores[0].subscribe) unsubscribe = window.dash_stores[0].subscribe(takeChanges);
      return;
    }
    if (unsubscribe) { unsubscribe(); unsubscribe = null; }
    const changes = waiting;
    waiting = [];
    for (let i = 0; i < changes.length; i++) {
      let done = false;
      try { done = applyChange(dashState(), changes[i]); } catch (e) { done = false; }
      if (!done) { wake("push", changes[i] && changes[i].v); return; }
    }
  }

  function onChange(change) {
    if (!waiting.length) waitingSince = Date.now();
    waiting.push(change);
    if (waiting.length === 1) takeChanges();
  }

  function onPage() {
    return cfg && document.getElementById(cfg.page_id) !== null;  // the wall is still shown
  }

  function setProps(id, props) {
    if (onPage()) window.dash_clientside.set_props(id, props);
  }

  function wake(reason, versions) {
    if (!onPage()) { stop(); return; }
    wakes += 1;
    setProps(cfg.wake_id, {data: {n: wakes, reason: reason, v: versions || null}});
  }

  function toPolling() {
    if (mode === "polling") return;
    mode = "polling";
    setProps(cfg.poll_id, {interval: cfg.poll_ms});
    wake("fallback");  // changes may have come while the stream was failing
  }

  function toPush() {
    mode = "push";
    attempt = 0;
    setProps(cfg.poll_id, {interval: cfg.safety_ms});
  }

  function stop() {
    if (source) source.close();
    source = null;
    clearTimeout(timer);
    timer = null;
    mode = "polling";
  }

  function connect() {
    timer = null;
    if (!onPage() || !cfg.url || !cfg.token) return;
    const sep = cfg.url.indexOf("?") >= 0 ? "&" : "?";
    const es = new EventSource(cfg.url + sep + "token=" + encodeURIComponent(cfg.token));
    source = es;
    connects += 1;
    es.addEventListener("hello", function (event) {
      toPush();
      let hello = null;
      try { hello = JSON.parse(event.data); } catch (e) { hello = null; }
      const st = dashState();
      // catch up on what changed while connecting, unless this wall already holds the current state
      if (!(hello && hello.state && st && !pollOnTheWay(st) && holds(st, hello.state))) wake("hello");
    });
    es.addEventListener("change", function (event) {
      if (!onPage()) { stop(); return; }
      let change = null;
      try { change = JSON.parse(event.data); } catch (e) { change = null; }
      if (change) onChange(change); else wake("push");
    });
    es.onmessage = function (event) {
      let data = null;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      wake("push", data && data.v);
    };
    es.onerror = function () {
      // Take over from EventSource's own fixed-delay retry: poll now, reconnect later.
      es.close();
      if (source === es) source = null;
      toPolling();
      schedule();
    };
  }

  function schedule() {
    if (timer || !onPage()) return;
    const ceiling = Math.min(cfg.max_backoff_ms, cfg.min_backoff_ms * Math.pow(2, attempt));
    attempt += 1;
    // Full jitter over the upper half: walls that lost one push process together do
    // not all knock on the next one in the same instant.
    timer = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  window.dmy.push = {
    /* Called with the wall's push store on load and whenever the page renews the token. */
    configure: function (config) {
      if (!config || !config.url) { stop(); cfg = config; return window.dash_clientside.no_update; }
      const newPage = cfg === null || cfg.screen !== config.screen;  // a wall (re)built: its interval starts fast
      cfg = config;
      if (newPage) { stop(); connect(); } else if (!source && !timer) { connect(); }
      return window.dash_clientside.no_update;
    },
    status: function () {
      return {url: cfg && cfg.url, mode: mode, attempt: attempt, wakes: wakes, connects: connects, applied: applied,
              open: !!source && source.readyState === 1};
    },
  };
})();
