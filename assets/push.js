/* The wall's push: an EventSource to the push process wakes the wall's poll callback the
   moment the live store changes. Nothing but versions comes this way; the data still
   comes through Dash's own request (its CSRF header, its role checks, its caching).

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
    es.addEventListener("hello", function () {
      toPush();
      wake("hello");  // catch up on what changed while connecting
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
      return {url: cfg && cfg.url, mode: mode, attempt: attempt, wakes: wakes, connects: connects, open: !!source && source.readyState === 1};
    },
  };
})();
