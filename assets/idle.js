/* The wall's idle check (api/wall_idle.py). On every tick of the `wall-poll` interval (slowed
   to the safety interval by assets/push.js while its stream is open) the wall asks
   GET /wall/idle for the counters its Dash poll would compare (the live store's versions, the
   alarms' and operator actions' counters), sending the ETag of the last answer: 304 and no
   body while nothing moved. It wakes the Dash poll (the `wall-wake` store, as push does) only
   when they differ from what the wall holds, or when the server's clock (the answer's Date)
   says the minute moved or a source turned late (the state's `minute` and `due`): the
   conditions under which the poll has something to send. On any doubt (an error, a refusal,
   a redirect, no answer in time) it wakes the poll, whose own request then carries the
   refusal to assets/security.js. window.dmy.idle.status() tells a test where it is. */
window.dmy = window.dmy || {};
(function () {
  const URL = "/wall/idle";
  const WAKE_ID = "wall-wake";
  const PAGE_ID = "wall";
  const POLL_OUTPUT = "wall-state.data";  // the wall poll callback's outputs name this one
  const TIMEOUT_MS = 10000;
  let tag = null;          // the ETag of the last answer with a body
  let counters = null;     // that body
  let pending = false;     // a check on the way
  let checks = 0, unchanged = 0, wakes = 0, doubts = 0;

  function sameCounts(a, b) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every(function (k) { return Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]; });
  }

  /* The server's time of the answer, in epoch seconds (the Date header; else this browser's clock). */
  function serverNow(response) {
    const date = Date.parse(response.headers.get("Date") || "");
    return isNaN(date) ? Date.now() / 1000 : date / 1000;
  }

  /* Whether the Dash poll would send something to a wall holding `state` and `opv` (see
     engine/wall/model.py WallModel.changes and callbacks/wall.py poll). */
  function behind(state, opv, now) {
    if (!state || typeof state !== "object" || !counters) return true;
    if (!sameCounts(state.versions || {}, counters.versions || {})) return true;
    const held = opv || {};
    const current = counters.opversions || {};
    if (Object.keys(current).some(function (k) { return (held[k] || 0) !== current[k]; })) return true;
    if (Math.floor(now / 60) !== state.minute) return true;
    return typeof state.due === "number" && now >= state.due;
  }

  /* A poll of this wall already on the way: its answer brings the wall up to date. */
  function pollOnTheWay() {
    const stores = window.dash_stores;
    const st = stores && stores.length === 1 && stores[0].getState ? stores[0].getState() : null;
    const cbs = st && st.callbacks;
    if (!cbs) return false;  // not known: check
    return ["requested", "prioritized", "blocked", "executing", "watched", "executed"].some(function (list) {
      return Array.isArray(cbs[list]) && cbs[list].some(function (cb) {
        return cb && cb.callback && String(cb.callback.output).indexOf(POLL_OUTPUT) >= 0;
      });
    });
  }

  function wake(reason) {
    if (document.getElementById(PAGE_ID) === null) return;  // the wall is gone
    wakes += 1;
    window.dash_clientside.set_props(WAKE_ID, {data: {n: wakes, reason: reason, idle: true}});
  }

  function answer(response) {
    if (response.status === 304 && counters) { unchanged += 1; return serverNow(response); }
    if (response.status !== 200) throw new Error("idle check answered " + response.status);
    return response.json().then(function (body) {
      if (!body || typeof body.versions !== "object" || typeof body.opversions !== "object") throw new Error("not counters");
      counters = body;
      tag = response.headers.get("ETag");
      return serverNow(response);
    });
  }

  function check(state, opv) {
    pending = true;
    checks += 1;
    const abort = window.AbortController ? new AbortController() : null;
    const timer = setTimeout(function () { if (abort) abort.abort(); }, TIMEOUT_MS);
    const headers = tag ? {"If-None-Match": tag} : {};
    window.fetch(URL, {headers: headers, cache: "no-store", credentials: "same-origin", redirect: "manual",
                       signal: abort ? abort.signal : undefined})
      .then(answer)
      .then(function (now) { if (behind(state, opv, now)) wake("idle"); })
      .catch(function () { doubts += 1; wake("doubt"); })
      .then(function () { clearTimeout(timer); pending = false; });
  }

  window.dmy.idle = {
    /* The clientside callback of the `wall-poll` interval: `state` and `opv` are what the wall holds. */
    tick: function (n, state, opv) {
      if (!pending && !pollOnTheWay()) check(state, opv);
      return window.dash_clientside.no_update;
    },
    status: function () {
      return {checks: checks, unchanged: unchanged, wakes: wakes, doubts: doubts, pending: pending, tag: tag};
    },
  };
})();
