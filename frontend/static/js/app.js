// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  // htmx: show server-rendered 4xx bodies (form errors, conflicts) instead of ignoring them.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var s = e.detail.xhr.status;
    if (s === 400 || s === 409 || s === 422 || s === 429 || s === 403 || s === 404) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
})();
