/* A refused callback (403 with X-Damamaya-Denied) is said on screen instead of failing silently:
   a revoked wall screen shows "screen revoked" and stops; an ended session goes to sign-in. */
(function () {
  if (!window.fetch || window.dmyDeniedWatch) { return; }
  window.dmyDeniedWatch = true;
  const original = window.fetch.bind(window);

  function show(reason, text) {
    let box = document.getElementById("dmy-denied");
    if (!box) {
      box = document.createElement("div");
      box.id = "dmy-denied";
      document.body.appendChild(box);
    }
    box.dataset.reason = reason;
    box.textContent = text;  // text, never HTML
  }

  window.fetch = function (input, init) {
    return original(input, init).then(function (response) {
      const url = typeof input === "string" ? input : (input && input.url) || "";
      const reason = response.headers.get("X-Damamaya-Denied");
      if (response.status === 403 && reason && url.indexOf("_dash-update-component") !== -1) {
        response.clone().json().then(function (body) {
          show(reason, (body && body.message) || reason);
          if (reason === "signed-out") {
            setTimeout(function () {
              window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
            }, 3000);
          }
        }).catch(function () { show(reason, reason); });
      }
      return response;
    });
  };
})();
