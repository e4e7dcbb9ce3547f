// The knowledge-base search page: record the search by a POST once the results are shown (the GET that shows
// them changes nothing), and record which result the reader opens. Progressive enhancement: without this file
// the page works and the reader can still press 没有找到答案.
(function () {
  "use strict";

  function body(form, extra) {
    var data = new URLSearchParams(new FormData(form));
    Object.keys(extra || {}).forEach(function (k) { data.set(k, extra[k]); });
    return data;
  }

  function wire(root) {
    var form = root.querySelector("form[data-kb-log]");
    if (!form || form.dataset.sent) return;
    form.dataset.sent = "1";
    fetch(form.action, { method: "POST", body: body(form), credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (res) {
        if (!res || !res.s) return;
        var s = String(res.s);
        form.dataset.searchId = s;
        root.querySelectorAll("[data-kb-search-id]").forEach(function (i) { i.value = s; });
        root.querySelectorAll("a[data-testid=kb-hit]").forEach(function (a) {
          var entry = a.getAttribute("data-entry");
          a.setAttribute("href", "/kb/" + entry + "?s=" + s);  // the entry's "was this helpful?" knows its search
          a.addEventListener("click", function () {
            fetch("/kb/search/" + s + "/click", { method: "POST", keepalive: true, credentials: "same-origin",
                                                  body: body(form, { entry: entry }) });
          });
        });
      })
      .catch(function () { /* best effort: the search still works */ });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function () { wire(document); });
})();
